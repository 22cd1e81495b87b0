//! TOTP enrolment: a secret sealed and stored pending, shown once as an `otpauth://` URI and a
//! QR code, usable only after a valid code confirms it. The first confirmed factor comes with
//! recovery codes. Self-service (recent authentication) and a stopped sign-in's enrolment
//! (`sign_in.rs`) share these steps.

use chrono::Utc;
use serde_json::json;
use zeroize::Zeroizing;

use super::{FactorView, own_session, recovery_hashes};
use crate::audit::{AuditAction, AuditContext};
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult, MfaRefusal};
use crate::model::*;
use crate::tokens::Principal;
use crate::totp;

/// How long a started enrolment waits for its confirming code.
pub const PENDING_TTL_SECS: i64 = 600;
/// A TOTP factor's name when none is given.
pub(super) const TOTP_NAME: &str = "Authenticator app";
/// Longest factor name.
const MAX_NAME_CHARS: usize = 64;

/// A started TOTP enrolment: what the user's authenticator app needs. The URI holds the
/// secret: show it once, never log it.
#[derive(Clone)]
pub struct TotpEnrolment {
    pub factor: FactorId,
    pub otpauth_uri: Zeroizing<String>,
    /// The URI as a standalone SVG QR code.
    pub qr_svg: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("factor", &self.factor)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A confirmed TOTP factor, and the recovery codes when these are the user's first (shown only
/// now).
#[derive(Clone)]
pub struct ConfirmedTotp {
    pub factor: FactorView,
    pub recovery_codes: Option<Vec<Zeroizing<String>>>,
}

impl std::fmt::Debug for ConfirmedTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmedTotp")
            .field("factor", &self.factor)
            .field(
                "recovery_codes",
                &self.recovery_codes.as_ref().map(Vec::len),
            )
            .finish()
    }
}

pub(super) fn factor_name(name: Option<&str>, default: &str) -> CoreResult<String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    match name {
        None => Ok(default.into()),
        Some(n) if n.chars().count() <= MAX_NAME_CHARS && !n.chars().any(char::is_control) => {
            Ok(n.to_owned())
        }
        Some(_) => Err(CoreError::InvalidArgument(format!(
            "name must be 1 to {MAX_NAME_CHARS} printable characters"
        ))),
    }
}

impl Engine {
    /// Starts a TOTP enrolment on the caller's own, recently authenticated session. Refused
    /// when the policy allows passkeys only. A new start replaces an unconfirmed one.
    pub async fn start_totp_enrolment(
        &self,
        p: &Principal,
        name: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<TotpEnrolment> {
        let name = factor_name(name, TOTP_NAME)?;
        let (user, state) = self
            .recent_own_session(p, AuditAction::FactorEnrol, ctx)
            .await?;
        self.begin_totp(&user, &state, name, ctx).await
    }

    /// Confirms the caller's pending TOTP factor with a code of it. Its start needed the
    /// recent authentication and it lives [`PENDING_TTL_SECS`], so the user has that long to
    /// scan and type. The confirming code's step is recorded, so it cannot also sign in.
    pub async fn confirm_totp_enrolment(
        &self,
        p: &Principal,
        factor: FactorId,
        code: &str,
        ctx: &AuditContext,
    ) -> CoreResult<ConfirmedTotp> {
        own_session(p)?;
        let user = self.active_user(p.user).await?;
        let state = self.mfa_state(user.id).await?;
        self.finish_totp(&user, &state, factor, code, ctx).await
    }

    /// Makes and stores the pending factor (secret sealed under the master key).
    pub(super) async fn begin_totp(
        &self,
        user: &User,
        state: &MfaState,
        name: String,
        ctx: &AuditContext,
    ) -> CoreResult<TotpEnrolment> {
        if !state.policy().allows(FactorKind::Totp) {
            self.audit_enrol(
                ctx,
                user,
                "start",
                AuditOutcome::Denied,
                json!({"reason": "passkeys only"}),
            )
            .await;
            return Err(CoreError::Mfa(MfaRefusal::KindNotAllowed));
        }
        let now = Utc::now();
        let pending_before = now - chrono::Duration::seconds(PENDING_TTL_SECS);
        self.store().purge_mfa_pending(now, pending_before).await?;
        let secret = totp::new_secret();
        let id = FactorId::new();
        let uri = totp::otpauth_uri(&secret, &user.email)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let qr_svg = totp::qr_svg(&uri).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.store()
            .insert_pending_factor(Factor {
                id,
                user_id: user.id,
                kind: FactorKind::Totp,
                name: name.clone(),
                secret: Some(self.seal_factor_secret(id, user.id, &secret)),
                credential_id: None,
                credential: None,
                counter: 0,
                confirmed_at: None,
                created_at: now,
                last_used_at: None,
            })
            .await?;
        self.audit_enrol(
            ctx,
            user,
            "start",
            AuditOutcome::Success,
            json!({"factor": id, "kind": "totp", "name": name}),
        )
        .await;
        Ok(TotpEnrolment {
            factor: id,
            otpauth_uri: Zeroizing::new(uri),
            qr_svg,
            expires_at: now + chrono::Duration::seconds(PENDING_TTL_SECS),
        })
    }

    /// Checks the code against the pending factor and confirms it (with first recovery codes
    /// when the user has none left).
    pub(super) async fn finish_totp(
        &self,
        user: &User,
        state: &MfaState,
        id: FactorId,
        code: &str,
        ctx: &AuditContext,
    ) -> CoreResult<ConfirmedTotp> {
        let now = Utc::now();
        let since = now - chrono::Duration::seconds(PENDING_TTL_SECS);
        let pending = state
            .factors
            .iter()
            .find(|f| f.id == id && !f.is_confirmed() && f.kind == FactorKind::Totp)
            .filter(|f| f.created_at > since)
            .ok_or(CoreError::NotFound("pending enrolment"))?;
        if !state.policy().allows(FactorKind::Totp) {
            return Err(CoreError::Mfa(MfaRefusal::KindNotAllowed));
        }
        let secret = self.open_factor_secret(pending)?;
        let unix = u64::try_from(now.timestamp()).unwrap_or_default();
        let step =
            totp::check(&secret, code, unix).map_err(|e| CoreError::Internal(e.to_string()))?;
        let Some(step) = step else {
            self.audit_enrol(
                ctx,
                user,
                "confirm",
                AuditOutcome::Failure,
                json!({"factor": id, "reason": "wrong code"}),
            )
            .await;
            return Err(CoreError::Mfa(MfaRefusal::InvalidCode));
        };
        let codes = (state.recovery_codes_left == 0).then(totp::new_recovery_codes);
        let hashes = codes.as_deref().map(recovery_hashes);
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let confirmed = self
            .store()
            .confirm_factor(user.id, id, step, since, hashes.as_deref(), now)
            .await?;
        if !confirmed {
            return Err(CoreError::NotFound("pending enrolment"));
        }
        self.audit_enrol(
            ctx,
            user,
            "confirm",
            AuditOutcome::Success,
            json!({"factor": id, "kind": "totp", "recovery_codes": codes.as_ref().map(Vec::len)}),
        )
        .await;
        let mut view = FactorView::from(pending);
        view.last_used_at = Some(now);
        Ok(ConfirmedTotp {
            factor: view,
            recovery_codes: codes,
        })
    }

    async fn audit_enrol(
        &self,
        ctx: &AuditContext,
        user: &User,
        stage: &str,
        outcome: AuditOutcome,
        mut detail: serde_json::Value,
    ) {
        detail["stage"] = json!(stage);
        self.audit_own(ctx, user, AuditAction::FactorEnrol, outcome, detail)
            .await;
    }
}
