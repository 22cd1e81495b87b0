//! `admin user mfa list|reset` and the `--mfa` / `--passkeys-only` options of `admin org
//! update` (docs/design/mfa.md).

use clap::Subcommand;
use portcullis_core::factors::MfaOverview;
use portcullis_core::{FactorId, FactorKind, MfaMode, MfaPolicy, MfaRequirement, UserId};

use super::*;

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// List the user's second factors (never a secret), recovery codes left, the policy of
    /// their orgs and what their next sign-in needs.
    List { user: String },
    /// Delete every factor and recovery code of the user and end every session (audited
    /// factor.reset). The next sign-in starts over (enrolment where an org requires MFA).
    Reset { user: String },
}

#[derive(Serialize)]
struct FactorOut {
    id: FactorId,
    kind: FactorKind,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct MfaOut {
    user_id: UserId,
    email: String,
    factors: Vec<FactorOut>,
    recovery_codes_left: u32,
    policy: MfaPolicy,
    /// `password`, `second_factor` or `enrolment_required`.
    sign_in: &'static str,
}

fn mfa_out(user_id: UserId, email: String, o: MfaOverview) -> MfaOut {
    MfaOut {
        user_id,
        email,
        factors: o
            .factors
            .into_iter()
            .map(|f| FactorOut {
                id: f.id,
                kind: f.kind,
                name: f.name,
                created_at: f.created_at,
                last_used_at: f.last_used_at,
            })
            .collect(),
        recovery_codes_left: o.recovery_codes_left,
        policy: o.policy,
        sign_in: match o.requirement {
            MfaRequirement::None => "password",
            MfaRequirement::SecondFactor { .. } => "second_factor",
            MfaRequirement::Enrolment { .. } => "enrolment_required",
        },
    }
}

pub(super) async fn user_mfa(admin: &Admin, json: bool, cmd: &MfaCommand) -> anyhow::Result<()> {
    match cmd {
        MfaCommand::List { user } => {
            let (u, overview) = admin.user_mfa(user).await?;
            let out = mfa_out(u.id, u.email, overview);
            emit(json, &out, || {
                let mut s = format!(
                    "{}  {}  sign-in: {}  policy: mfa={} passkeys-only={}  recovery codes left: {}\n",
                    out.user_id,
                    out.email,
                    out.sign_in,
                    out.policy.mode.as_str(),
                    out.policy.passkeys_only,
                    out.recovery_codes_left
                );
                for f in &out.factors {
                    s += &format!(
                        "  {}  {}  {:?}  created {}  last used {}\n",
                        f.id,
                        f.kind.as_str(),
                        f.name,
                        f.created_at,
                        f.last_used_at.map_or("never".into(), |t| t.to_string())
                    );
                }
                s
            })
        }
        MfaCommand::Reset { user } => {
            let (u, r) = admin.reset_user_mfa(user).await?;
            emit(json, &r, || {
                format!(
                    "reset MFA of {} {}: {} factor(s) removed, {} session(s) ended",
                    u.id, u.email, r.factors_removed, r.sessions_ended
                )
            })
        }
    }
}

/// `admin org update ORG --mfa … --passkeys-only …`: the policy part of the update.
pub(super) async fn org_mfa(
    admin: &Admin,
    json: bool,
    org: &str,
    mode: Option<MfaMode>,
    passkeys_only: Option<bool>,
) -> anyhow::Result<()> {
    let (o, policy) = admin.set_org_mfa_policy(org, mode, passkeys_only).await?;
    #[derive(Serialize)]
    struct PolicyOut<'a> {
        org: &'a Org,
        mfa_policy: MfaPolicy,
    }
    let out = PolicyOut {
        org: &o,
        mfa_policy: policy,
    };
    emit(json, &out, || {
        format!(
            "org {} {}: mfa={} passkeys-only={}",
            o.id,
            o.name,
            policy.mode.as_str(),
            policy.passkeys_only
        )
    })
}
