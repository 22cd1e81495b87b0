//! The second factor inside the engine (docs/design/mfa.md): what a sign-in needs after its first
//! factor (the pure rule `MfaState::requirement` over what the store holds), the refusal for
//! callers that cannot ask for more, the throttled check of a TOTP or recovery code (the same
//! per-email throttle and lockout as passwords), the sealing of TOTP secrets, and the
//! recent-authentication rule.

use zeroize::Zeroizing;

use super::*;
use crate::error::MfaRefusal;
use crate::totp;

/// "Recent authentication": adding or removing a factor needs a password or factor check (or
/// a sign-in) at most this long ago.
pub const RECENT_AUTH_SECS: i64 = 300;
/// How long one factor check holds its login key against parallel attempts.
const CLAIM_HOLD: chrono::Duration = chrono::Duration::seconds(10);

/// What a user gives as a second factor.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactorProof<'a> {
    /// A 6-digit code of an enrolled TOTP factor.
    Totp(&'a str),
    /// One of the user's recovery codes (spent by the use).
    RecoveryCode(&'a str),
    /// The browser's answer to a passkey ceremony started for this user
    /// (`Engine::start_second_factor_passkey`, `start_passkey_reauth`, `start_passkey_sign_in`).
    Passkey(super::passkey_check::PasskeyAnswer<'a>),
}

impl SecondFactorProof<'_> {
    fn method(self) -> &'static str {
        match self {
            SecondFactorProof::Totp(_) => "totp",
            SecondFactorProof::RecoveryCode(_) => "recovery_code",
            SecondFactorProof::Passkey(_) => "passkey",
        }
    }

    /// The RFC 8176 values a verified proof adds to the password's `pwd`: `otp` for TOTP;
    /// nothing of its own for a recovery code (no registered value fits), so its sign-in is
    /// `["pwd", "mfa"]`.
    /// A passkey's values depend on the authenticator: see `passkey_check::check_passkey`.
    pub fn amr(self) -> Vec<String> {
        match self {
            SecondFactorProof::Totp(_) => vec![amr::OTP.into()],
            SecondFactorProof::RecoveryCode(_) | SecondFactorProof::Passkey(_) => Vec::new(),
        }
    }
}

/// Why a factor is checked (the audit detail's `purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FactorPurpose {
    SignIn,
    Reauth,
    /// A passkey as the whole sign-in.
    Passwordless,
}

impl FactorPurpose {
    fn as_str(self) -> &'static str {
        match self {
            FactorPurpose::SignIn => "sign_in",
            FactorPurpose::Reauth => "reauth",
            FactorPurpose::Passwordless => "passwordless_sign_in",
        }
    }
}

/// Binds a sealed secret to its factor and user, so blobs cannot be moved between rows.
fn seal_context(id: FactorId, user: UserId) -> Vec<u8> {
    format!("factor:{id}:{user}").into_bytes()
}

/// What a factor check found: accepted (the factor, the `amr` values it adds), a wrong
/// answer, or one already used (a TOTP step, a passkey counter that did not move forward).
pub(crate) enum CheckOutcome {
    Accepted(Option<FactorId>, Vec<String>),
    Wrong,
    Replayed,
}

impl Engine {
    /// The user's factors, their orgs' policies and recovery codes left.
    pub async fn mfa_state(&self, user: UserId) -> CoreResult<MfaState> {
        Ok(self.store.mfa_state(user).await?)
    }

    /// What a sign-in of `user` needs after its first factor.
    pub async fn mfa_requirement(&self, user: &User) -> CoreResult<MfaRequirement> {
        Ok(self.mfa_state(user.id).await?.requirement(user.super_admin))
    }

    /// For a sign-in whose first factor was verified elsewhere (federation): refuses, with the
    /// [`MfaRefusal`] a surface maps to "use web sign-in", when the policy needs a second
    /// factor that `amr` does not show. An upstream `mfa` counts only when the provider is
    /// trusted for it (the federation crate decides what it passes).
    pub async fn require_mfa_satisfied(
        &self,
        user: &User,
        amr: &[String],
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        if amr_has_second_factor(amr) {
            return Ok(());
        }
        let requirement = self.mfa_requirement(user).await?;
        self.refuse_unmet_requirement(user, &requirement, ctx).await
    }

    /// `Ok` when nothing more is needed; else the refusal, audited as a denied `login`.
    pub(crate) async fn refuse_unmet_requirement(
        &self,
        user: &User,
        requirement: &MfaRequirement,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let refusal = match requirement {
            MfaRequirement::None => return Ok(()),
            MfaRequirement::SecondFactor { .. } => MfaRefusal::SecondFactorRequired,
            MfaRequirement::Enrolment { .. } => MfaRefusal::EnrolmentRequired,
        };
        self.audit
            .log(
                ctx,
                Utc::now(),
                Some(user.id),
                AuditAction::Login,
                Some(user.id.to_string()),
                AuditOutcome::Denied,
                json!({"reason": refusal.to_string()}),
            )
            .await;
        Err(CoreError::Mfa(refusal))
    }

    pub(crate) fn seal_factor_secret(&self, id: FactorId, user: UserId, secret: &[u8]) -> Vec<u8> {
        self.factor_seal.seal(&seal_context(id, user), secret)
    }

    pub(crate) fn open_factor_secret(&self, f: &Factor) -> CoreResult<Zeroizing<Vec<u8>>> {
        let sealed = f
            .secret
            .as_deref()
            .ok_or_else(|| CoreError::Internal(format!("factor {} has no secret", f.id)))?;
        self.factor_seal
            .open(&seal_context(f.id, f.user_id), sealed)
            .map_err(|e| CoreError::Internal(format!("factor {}: {e}", f.id)))
    }

    /// Checks a second factor of `user` through the user's login throttle: a wrong, replayed
    /// or spent code counts one failure toward the same delays and lock as a wrong password;
    /// a locked key is refused without a check. TOTP codes are accepted once (the factor's
    /// step only moves forward, atomically in the store), recovery codes once (spent
    /// atomically). Returns the `amr` values the proof adds. Audited as `factor.verify`.
    pub(crate) async fn verify_second_factor(
        &self,
        user: &User,
        proof: SecondFactorProof<'_>,
        purpose: FactorPurpose,
        ctx: &AuditContext,
    ) -> CoreResult<Vec<String>> {
        let state = self.store.mfa_state(user.id).await?;
        if matches!(proof, SecondFactorProof::Totp(_)) && !state.policy().allows(FactorKind::Totp) {
            self.audit_factor(
                ctx,
                user,
                proof,
                purpose,
                AuditOutcome::Denied,
                "kind not allowed",
            )
            .await;
            return Err(CoreError::Mfa(MfaRefusal::KindNotAllowed));
        }
        let key = normalize_email(&user.email);
        let now = Utc::now();
        let failures = match self
            .store
            .throttle_claim(&key, now, now + CLAIM_HOLD)
            .await?
        {
            ThrottleClaim::Granted { failures } => failures,
            ThrottleClaim::Wait { until } => {
                self.audit_factor(ctx, user, proof, purpose, AuditOutcome::Denied, "throttled")
                    .await;
                let retry_after = (until - now)
                    .to_std()
                    .unwrap_or(Duration::from_secs(1))
                    .max(Duration::from_secs(1));
                return Err(CoreError::RateLimited { retry_after });
            }
            ThrottleClaim::Locked { .. } => {
                self.audit_factor(ctx, user, proof, purpose, AuditOutcome::Denied, "locked")
                    .await;
                return Err(CoreError::Mfa(MfaRefusal::InvalidCode));
            }
        };
        let checked = self.check_proof(user.id, &state, proof, now).await;
        let outcome = match checked {
            Ok(o) => o,
            Err(e) => {
                // Release the claim so a store hiccup does not hold the account off.
                let _ = self.store.throttle_release(&key, Utc::now()).await;
                return Err(e);
            }
        };
        let reason = match outcome {
            CheckOutcome::Accepted(factor, methods) => {
                self.store.throttle_reset(&key).await?;
                self.audit.log(
                    ctx,
                    now,
                    Some(user.id),
                    AuditAction::FactorVerify,
                    Some(user.id.to_string()),
                    AuditOutcome::Success,
                    json!({"purpose": purpose.as_str(), "method": proof.method(), "factor": factor}),
                )
                .await;
                return Ok(methods);
            }
            CheckOutcome::Wrong => "wrong code",
            CheckOutcome::Replayed => "code already used",
        };
        let reason = match (proof, reason) {
            (SecondFactorProof::Passkey(_), "wrong code") => "passkey rejected",
            (SecondFactorProof::Passkey(_), _) => "passkey counter did not advance",
            _ => reason,
        };
        let failures = self
            .count_throttle_failure(ctx, &key, failures, Some(user.id), now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                Some(user.id),
                AuditAction::FactorVerify,
                Some(user.id.to_string()),
                AuditOutcome::Failure,
                json!({"purpose": purpose.as_str(), "method": proof.method(),
                       "reason": reason, "failures": failures}),
            )
            .await;
        Err(CoreError::Mfa(MfaRefusal::InvalidCode))
    }

    async fn check_proof(
        &self,
        user: UserId,
        state: &MfaState,
        proof: SecondFactorProof<'_>,
        now: Timestamp,
    ) -> CoreResult<CheckOutcome> {
        match proof {
            SecondFactorProof::Totp(code) => {
                let unix = u64::try_from(now.timestamp()).unwrap_or_default();
                for f in state.usable().filter(|f| f.kind == FactorKind::Totp) {
                    let secret = self.open_factor_secret(f)?;
                    let step = totp::check(&secret, code, unix)
                        .map_err(|e| CoreError::Internal(e.to_string()))?;
                    let Some(step) = step else { continue };
                    let step = i64::try_from(step).unwrap_or(i64::MAX);
                    // The store accepts each step once, whichever node asks first.
                    return Ok(
                        if self.store.advance_factor_counter(f.id, step, now).await? {
                            CheckOutcome::Accepted(Some(f.id), proof.amr())
                        } else {
                            CheckOutcome::Replayed
                        },
                    );
                }
                Ok(CheckOutcome::Wrong)
            }
            SecondFactorProof::RecoveryCode(code) => {
                let Some(hash) = totp::recovery_code_hash(code) else {
                    return Ok(CheckOutcome::Wrong);
                };
                // Codes count only next to a usable factor.
                let spent = state.usable().next().is_some()
                    && self.store.use_recovery_code(user, &hash, now).await?;
                Ok(if spent {
                    CheckOutcome::Accepted(None, proof.amr())
                } else {
                    CheckOutcome::Wrong
                })
            }
            SecondFactorProof::Passkey(answer) => {
                super::passkey_check::check_passkey(self, user, state, answer, now).await
            }
        }
    }

    async fn audit_factor(
        &self,
        ctx: &AuditContext,
        user: &User,
        proof: SecondFactorProof<'_>,
        purpose: FactorPurpose,
        outcome: AuditOutcome,
        reason: &str,
    ) {
        self.audit
            .log(
                ctx,
                Utc::now(),
                Some(user.id),
                AuditAction::FactorVerify,
                Some(user.id.to_string()),
                outcome,
                json!({"purpose": purpose.as_str(), "method": proof.method(), "reason": reason}),
            )
            .await;
    }

    /// Whether the caller's own session proved itself within [`RECENT_AUTH_SECS`]: its sign-in
    /// or its last re-authentication, and with a second factor when the user has a usable one
    /// (a password alone is enough only for a user without factors).
    pub(crate) async fn recently_authenticated(
        &self,
        p: &Principal,
        state: &MfaState,
    ) -> CoreResult<bool> {
        let Some(sid) = p.session() else {
            return Ok(false);
        };
        let since = Utc::now() - secs(RECENT_AUTH_SECS);
        let needs_factor = state.usable().next().is_some();
        let enough = |amr: &[String]| !needs_factor || amr_has_second_factor(amr);
        if let Some(session) = self.store.get_session(sid).await?
            && session.created_at >= since
            && enough(&session.amr)
        {
            return Ok(true);
        }
        Ok(match self.store.get_session_reauth(sid).await? {
            Some((at, methods)) => at >= since && enough(&methods),
            None => false,
        })
    }

    /// Records a fresh check on the caller's session (`methods`: `pwd`, or the factor's `amr`
    /// with `mfa`) and audits it as `session.reauth`.
    pub(crate) async fn record_reauth(
        &self,
        p: &Principal,
        methods: Vec<String>,
        ctx: &AuditContext,
    ) -> CoreResult<Timestamp> {
        let sid = p.session().ok_or(CoreError::CredentialNotAllowed(
            "re-authenticate (sign in with a session)",
        ))?;
        let now = Utc::now();
        self.store.record_session_reauth(sid, now, &methods).await?;
        self.audit
            .log(
                ctx,
                now,
                Some(p.user),
                AuditAction::SessionReauth,
                Some(p.user.to_string()),
                AuditOutcome::Success,
                json!({"session": sid.0, "methods": methods}),
            )
            .await;
        Ok(now)
    }

    /// Creating a credential (API key, persistent token) needs a session that shows a second
    /// factor when the user's policy asks for one: its `amr`, or a factor re-authentication
    /// within [`RECENT_AUTH_SECS`]. A user who must enrol first is refused until then.
    pub(crate) async fn require_second_factor_session(&self, p: &Principal) -> CoreResult<()> {
        if amr_has_second_factor(&p.amr) {
            return Ok(());
        }
        let super_admin = self
            .store
            .get_user(p.user)
            .await?
            .is_some_and(|u| u.super_admin);
        let state = self.store.mfa_state(p.user).await?;
        match state.requirement(super_admin) {
            MfaRequirement::None => Ok(()),
            MfaRequirement::Enrolment { .. } => Err(CoreError::Mfa(MfaRefusal::EnrolmentRequired)),
            MfaRequirement::SecondFactor { .. } => {
                if self.recently_authenticated(p, &state).await? {
                    Ok(())
                } else {
                    Err(CoreError::Mfa(MfaRefusal::SessionWithoutSecondFactor))
                }
            }
        }
    }
}
