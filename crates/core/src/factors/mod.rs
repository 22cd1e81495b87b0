//! Second factors, self-service (docs/design/mfa.md): list, TOTP enrolment (start, confirm),
//! removal, recovery codes and re-authentication, all on the caller's own session. Adding or
//! removing a factor (and new recovery codes) needs a recent authentication. The sign-in that
//! stops after its first factor is `sign_in.rs`; TOTP enrolment itself `enrol.rs`.

mod enrol;
mod passkey_sign_in;
mod passkeys;
mod sign_in;

pub use crate::engine::passkey_check::PasskeyAnswer;
pub use enrol::{ConfirmedTotp, PENDING_TTL_SECS, TotpEnrolment};
pub use passkeys::{CEREMONY_TTL_SECS, ConfirmedPasskey, PasskeyCeremony};
pub use sign_in::{CHALLENGE_TTL_SECS, MfaChallenge, SignInStep};

use chrono::Utc;
use serde_json::json;
use zeroize::Zeroizing;

use crate::audit::{AuditAction, AuditContext};
use crate::engine::{Engine, RECENT_AUTH_SECS, SecondFactorProof};
use crate::error::{CoreError, CoreResult, MfaRefusal};
use crate::model::*;
use crate::tokens::Principal;

/// A factor as its owner (or an operator) sees it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorView {
    pub id: FactorId,
    pub kind: FactorKind,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl From<&Factor> for FactorView {
    fn from(f: &Factor) -> Self {
        FactorView {
            id: f.id,
            kind: f.kind,
            name: f.name.clone(),
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        }
    }
}

/// A user's MFA standing: confirmed factors, codes left, the policy that applies, and what a
/// sign-in needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaOverview {
    pub factors: Vec<FactorView>,
    pub recovery_codes_left: u32,
    pub policy: MfaPolicy,
    pub requirement: MfaRequirement,
}

impl MfaOverview {
    pub fn of(state: &MfaState, super_admin: bool) -> MfaOverview {
        MfaOverview {
            factors: state
                .factors
                .iter()
                .filter(|f| f.is_confirmed())
                .map(FactorView::from)
                .collect(),
            recovery_codes_left: state.recovery_codes_left,
            policy: state.policy(),
            requirement: state.requirement(super_admin),
        }
    }
}

/// What a re-authentication proves.
#[derive(Debug, Clone, Copy)]
pub enum ReauthProof<'a> {
    Password(&'a str),
    Factor(SecondFactorProof<'a>),
}

/// Reads may come from an impersonating admin's session (read-only, like the session list);
/// a credential may not.
fn readable(p: &Principal) -> CoreResult<()> {
    if p.is_credential_based() {
        return Err(CoreError::CredentialNotAllowed("manage second factors"));
    }
    Ok(())
}

/// Changes need the user's own sign-in: not a credential, not an impersonation.
fn own_session(p: &Principal) -> CoreResult<()> {
    readable(p)?;
    if p.actor.is_some() {
        return Err(CoreError::PermissionDenied(
            "an impersonation session cannot change second factors",
        ));
    }
    Ok(())
}

fn unknown_user() -> CoreError {
    CoreError::InvalidToken("unknown user")
}

impl Engine {
    pub(crate) async fn active_user(&self, id: UserId) -> CoreResult<User> {
        self.store()
            .get_user(id)
            .await?
            .filter(|u| !u.deactivated)
            .ok_or_else(unknown_user)
    }

    /// The caller's factors (confirmed only), codes left, policy and requirement.
    pub async fn list_factors(&self, p: &Principal) -> CoreResult<MfaOverview> {
        readable(p)?;
        let user = self.active_user(p.user).await?;
        let state = self.mfa_state(user.id).await?;
        Ok(MfaOverview::of(&state, user.super_admin))
    }

    /// The caller's own session, recently authenticated (docs/design/mfa.md): returns the user
    /// and their state. Refusals are audited under `action`.
    async fn recent_own_session(
        &self,
        p: &Principal,
        action: AuditAction,
        ctx: &AuditContext,
    ) -> CoreResult<(User, MfaState)> {
        own_session(p)?;
        let user = self.active_user(p.user).await?;
        let state = self.mfa_state(user.id).await?;
        if !self.recently_authenticated(p, &state).await? {
            let detail = json!({"reason": "no recent authentication"});
            self.audit_own(ctx, &user, action, AuditOutcome::Denied, detail)
                .await;
            return Err(CoreError::Mfa(MfaRefusal::RecentAuthenticationRequired));
        }
        Ok((user, state))
    }

    /// Records a fresh password or factor check on the caller's session; adding or removing a
    /// factor is then allowed for [`RECENT_AUTH_SECS`]. A password counts only for a user
    /// without a usable factor. Both go through the login throttle and lockout. Returns until
    /// when the check counts.
    pub async fn reauthenticate(
        &self,
        p: &Principal,
        proof: ReauthProof<'_>,
        ctx: &AuditContext,
    ) -> CoreResult<Timestamp> {
        own_session(p)?;
        if p.session().is_none() {
            return Err(CoreError::CredentialNotAllowed("re-authenticate"));
        }
        let user = self.active_user(p.user).await?;
        let methods = match proof {
            ReauthProof::Password(password) => {
                self.reauthenticate_password(&user, password, ctx).await?;
                vec![amr::PWD.to_owned()]
            }
            ReauthProof::Factor(proof) => {
                let purpose = crate::engine::FactorPurpose::Reauth;
                let mut methods = self
                    .verify_second_factor(&user, proof, purpose, ctx)
                    .await?;
                if !methods.iter().any(|m| m == amr::MFA) {
                    methods.push(amr::MFA.to_owned());
                }
                methods
            }
        };
        let at = self.record_reauth(p, methods, ctx).await?;
        Ok(at + chrono::Duration::seconds(RECENT_AUTH_SECS))
    }

    /// Removes one of the caller's factors (recent authentication needed). Removing the last
    /// usable factor is refused while an org requires one (enrol another first); with no
    /// confirmed factor left the recovery codes are deleted too.
    pub async fn remove_factor(
        &self,
        p: &Principal,
        id: FactorId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let action = AuditAction::FactorRemove;
        let (user, state) = self.recent_own_session(p, action, ctx).await?;
        let Some(factor) = state.factors.iter().find(|f| f.id == id) else {
            return Err(CoreError::NotFound("factor"));
        };
        let usable_left = state.usable().filter(|f| f.id != id).count();
        let was_usable = state.usable().any(|f| f.id == id);
        if was_usable && usable_left == 0 && state.policy().mode == MfaMode::Required {
            return Err(CoreError::Conflict(
                "the organisation requires a second factor: enrol another one first".into(),
            ));
        }
        if !self.store().delete_factor(user.id, id).await? {
            return Err(CoreError::NotFound("factor"));
        }
        let detail = json!({"factor": id, "kind": factor.kind.as_str(), "name": factor.name});
        self.audit_own(ctx, &user, action, AuditOutcome::Success, detail)
            .await;
        Ok(())
    }

    /// New recovery codes for the caller (recent authentication needed; at least one usable
    /// factor): the old ones stop working. The codes are shown only now.
    pub async fn regenerate_recovery_codes(
        &self,
        p: &Principal,
        ctx: &AuditContext,
    ) -> CoreResult<Vec<Zeroizing<String>>> {
        let action = AuditAction::RecoveryCodesRegenerate;
        let (user, state) = self.recent_own_session(p, action, ctx).await?;
        if state.usable().next().is_none() {
            return Err(CoreError::Conflict(
                "recovery codes need an enrolled second factor".into(),
            ));
        }
        let codes = self.replace_recovery_codes(user.id).await?;
        let detail = json!({"count": codes.len()});
        self.audit_own(ctx, &user, action, AuditOutcome::Success, detail)
            .await;
        Ok(codes)
    }

    /// Audits an event of the user on their own account (actor and target: the user).
    pub(crate) async fn audit_own(
        &self,
        ctx: &AuditContext,
        user: &User,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: serde_json::Value,
    ) {
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(user.id),
                action,
                Some(user.id.to_string()),
                outcome,
                detail,
            )
            .await;
    }

    /// Fresh codes, stored as hashes in one transaction that deletes the old ones.
    async fn replace_recovery_codes(&self, user: UserId) -> CoreResult<Vec<Zeroizing<String>>> {
        let codes = crate::totp::new_recovery_codes();
        let hashes = recovery_hashes(&codes);
        self.store()
            .replace_recovery_codes(user, &hashes, Utc::now())
            .await?;
        Ok(codes)
    }
}

pub(crate) fn recovery_hashes(codes: &[Zeroizing<String>]) -> Vec<[u8; 32]> {
    codes
        .iter()
        .filter_map(|c| crate::totp::recovery_code_hash(c))
        .collect()
}
