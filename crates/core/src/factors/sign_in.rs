//! A sign-in that stops after its first factor (docs/design/mfa.md). When the policy wants a
//! second factor, or an enrolment first, no session starts: the caller gets a short-lived,
//! single-use challenge handle, stored (as its hash) in the store so any node can finish it.
//! Finishing checks the factor through the login throttle, takes the challenge with one atomic
//! delete, and starts the session with the `amr` of both factors.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{ConfirmedTotp, TotpEnrolment};
use crate::audit::AuditContext;
use crate::crypto;
use crate::engine::{Engine, FactorPurpose, LoginGrant, OrgChoice, SecondFactorProof};
use crate::error::{CoreError, CoreResult};
use crate::model::*;

/// How long a stopped sign-in waits for its second step.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// When this process last purged expired challenges and stale pending factors (Unix seconds).
static LAST_PURGE: AtomicI64 = AtomicI64::new(0);
/// Longest handle accepted (ours are 43 characters); checked before any look-up.
const MAX_HANDLE_LEN: usize = 128;

/// The outcome of a first factor.
#[derive(Debug)]
pub enum SignInStep {
    /// Nothing more was needed: the session started.
    SignedIn(Box<LoginGrant>),
    /// A second factor is needed: finish with [`Engine::complete_second_factor`].
    SecondFactor(MfaChallenge),
    /// The policy requires a factor the user does not have: enrol one with
    /// [`Engine::start_challenge_enrolment`] and [`Engine::complete_challenge_enrolment`].
    Enrolment(MfaChallenge),
}

/// A stopped sign-in, as its client sees it.
#[derive(Clone)]
pub struct MfaChallenge {
    /// The secret handle the client presents to finish (single use, never logged).
    pub handle: String,
    pub user: UserId,
    /// The account's email (for the page to show whose sign-in this is).
    pub email: String,
    pub kind: MfaChallengeKind,
    /// `SecondFactor`: the kinds the user may answer with; `Enrolment`: the kinds they may
    /// enrol.
    pub kinds: Vec<FactorKind>,
    /// A recovery code is accepted too.
    pub recovery_codes: bool,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("user", &self.user)
            .field("kind", &self.kind)
            .field("kinds", &self.kinds)
            .field("recovery_codes", &self.recovery_codes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How the stopped sign-in continues (stored as JSON with the challenge).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Continuation {
    amr: Vec<String>,
    choice: StoredChoice,
    proxied_email: Option<String>,
    not_after: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredChoice {
    Default,
    Specific { org: OrgId },
    DefaultOrNone,
}

impl From<OrgChoice> for StoredChoice {
    fn from(c: OrgChoice) -> Self {
        match c {
            OrgChoice::Default => StoredChoice::Default,
            OrgChoice::Specific(org) => StoredChoice::Specific { org },
            OrgChoice::DefaultOrNone => StoredChoice::DefaultOrNone,
        }
    }
}

impl From<StoredChoice> for OrgChoice {
    fn from(c: StoredChoice) -> Self {
        match c {
            StoredChoice::Default => OrgChoice::Default,
            StoredChoice::Specific { org } => OrgChoice::Specific(org),
            StoredChoice::DefaultOrNone => OrgChoice::DefaultOrNone,
        }
    }
}

pub(super) fn hash_hex(handle: &str) -> String {
    hex::encode(crypto::sha256(handle.as_bytes()))
}

pub(super) fn well_formed(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= MAX_HANDLE_LEN
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One answer for every unusable handle, so probing learns nothing.
const EXPIRED: CoreError = CoreError::InvalidToken("the sign-in is invalid, finished or expired");

/// A loaded challenge: the record, its user and how it continues.
pub(super) struct Loaded {
    record: MfaChallengeRecord,
    pub(super) user: User,
    next: Continuation,
}

impl Engine {
    /// A password sign-in that may stop half-way: the password (same throttle, lockout and
    /// answers as every login), then the session when nothing more is needed, else a
    /// challenge for the second factor or for an enrolment.
    pub async fn sign_in_password(
        &self,
        email: &str,
        password: &str,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<SignInStep> {
        let (user, requirement) = self.authenticate_first_factor(email, password, ctx).await?;
        let next = Continuation {
            amr: vec![amr::PWD.into()],
            choice: choice.into(),
            proxied_email: proxied_email.map(str::to_owned),
            not_after: None,
        };
        self.continue_sign_in(user, requirement, next, ctx).await
    }

    /// A sign-in whose first factor was verified elsewhere (a federated browser sign-in): as
    /// [`Engine::sign_in_password`]; an `amr` that already shows `mfa` (a trusted upstream)
    /// needs nothing more.
    pub async fn sign_in_verified(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        not_after: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<SignInStep> {
        let requirement = if amr_has_second_factor(&amr) {
            MfaRequirement::None
        } else {
            self.mfa_requirement(&user).await?
        };
        let next = Continuation {
            amr,
            choice: choice.into(),
            proxied_email: None,
            not_after,
        };
        self.continue_sign_in(user, requirement, next, ctx).await
    }

    async fn continue_sign_in(
        &self,
        user: User,
        requirement: MfaRequirement,
        next: Continuation,
        ctx: &AuditContext,
    ) -> CoreResult<SignInStep> {
        let (kind, kinds, recovery_codes) = match requirement {
            MfaRequirement::None => {
                let grant = self.finish(user, next, ctx).await?;
                return Ok(SignInStep::SignedIn(Box::new(grant)));
            }
            MfaRequirement::SecondFactor {
                kinds,
                recovery_codes,
            } => (MfaChallengeKind::Verify, kinds, recovery_codes),
            MfaRequirement::Enrolment { kinds } => (MfaChallengeKind::Enrol, kinds, false),
        };
        let now = Utc::now();
        self.purge_mfa_now_and_then(now).await?;
        let handle = crypto::random_token(32);
        let expires_at = now + chrono::Duration::seconds(CHALLENGE_TTL_SECS);
        let login = serde_json::to_value(&next).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.store()
            .insert_mfa_challenge(MfaChallengeRecord {
                key_hash: hash_hex(&handle),
                user_id: user.id,
                kind,
                login,
                created_at: now,
                expires_at,
            })
            .await?;
        let challenge = MfaChallenge {
            handle,
            user: user.id,
            email: user.email,
            kind,
            kinds,
            recovery_codes,
            expires_at,
        };
        Ok(match kind {
            MfaChallengeKind::Verify => SignInStep::SecondFactor(challenge),
            MfaChallengeKind::Enrol => SignInStep::Enrolment(challenge),
        })
    }

    /// Housekeeping, not a rule (expired rows are never returned): at most once a minute per
    /// process, so it costs a sign-in (or a passkey ceremony) nothing.
    pub(super) async fn purge_mfa_now_and_then(&self, now: Timestamp) -> CoreResult<()> {
        let last = LAST_PURGE.load(Ordering::Relaxed);
        if now.timestamp() - last >= 60
            && LAST_PURGE
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let pending_before = now - chrono::Duration::seconds(super::PENDING_TTL_SECS);
            self.store().purge_mfa_pending(now, pending_before).await?;
        }
        Ok(())
    }

    async fn finish(
        &self,
        user: User,
        next: Continuation,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let proxied = next.proxied_email.as_deref();
        self.finish_login_checked(
            user,
            next.amr,
            next.choice.into(),
            proxied,
            next.not_after,
            ctx,
        )
        .await
    }

    /// The unexpired challenge of `handle` (of `kind` when given) and its active user.
    async fn find_challenge(
        &self,
        handle: &str,
        kind: Option<MfaChallengeKind>,
    ) -> CoreResult<(MfaChallengeRecord, User)> {
        if !well_formed(handle) {
            return Err(EXPIRED);
        }
        let record = self
            .store()
            .get_mfa_challenge(&hash_hex(handle), Utc::now())
            .await?
            .filter(|r| kind.is_none_or(|k| r.kind == k))
            .ok_or(EXPIRED)?;
        let user = self
            .active_user(record.user_id)
            .await
            .map_err(|_| EXPIRED)?;
        Ok((record, user))
    }

    pub(super) async fn load_challenge(
        &self,
        handle: &str,
        kind: MfaChallengeKind,
    ) -> CoreResult<Loaded> {
        let (record, user) = self.find_challenge(handle, Some(kind)).await?;
        let next: Continuation = serde_json::from_value(record.login.clone())
            .map_err(|e| CoreError::Internal(format!("mfa challenge: {e}")))?;
        Ok(Loaded { record, user, next })
    }

    /// Takes the challenge (one atomic delete: of racing completions one wins) and starts the
    /// session with `added` joined to the first factor's `amr`, plus `mfa`.
    pub(super) async fn take_and_finish(
        &self,
        handle: &str,
        loaded: Loaded,
        added: Vec<String>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let taken = self
            .store()
            .take_mfa_challenge(&hash_hex(handle), Utc::now())
            .await?;
        if taken.is_none_or(|t| t.user_id != loaded.record.user_id) {
            return Err(EXPIRED);
        }
        let mut next = loaded.next;
        for m in added.into_iter().chain([amr::MFA.to_owned()]) {
            if !next.amr.contains(&m) {
                next.amr.push(m);
            }
        }
        self.finish(loaded.user, next, ctx).await
    }

    /// What a stopped sign-in waits for (for a page to render), without using it.
    pub async fn mfa_challenge(&self, handle: &str) -> CoreResult<MfaChallenge> {
        let (record, user) = self.find_challenge(handle, None).await?;
        let state = self.mfa_state(user.id).await?;
        let (kinds, recovery_codes) = match state.requirement(user.super_admin) {
            MfaRequirement::SecondFactor {
                kinds,
                recovery_codes,
            } => (kinds, recovery_codes),
            MfaRequirement::Enrolment { kinds } => (kinds, false),
            MfaRequirement::None => (Vec::new(), false),
        };
        Ok(MfaChallenge {
            handle: handle.to_owned(),
            user: user.id,
            email: user.email,
            kind: record.kind,
            kinds,
            recovery_codes,
            expires_at: record.expires_at,
        })
    }

    /// Finishes a stopped sign-in with a second factor: the code goes through the login
    /// throttle (a wrong one counts toward the lockout and leaves the challenge for another
    /// try); a right one takes the challenge and starts the session, `amr` e.g.
    /// `["pwd", "otp", "mfa"]` (TOTP) or `["pwd", "mfa"]` (recovery code).
    pub async fn complete_second_factor(
        &self,
        handle: &str,
        proof: SecondFactorProof<'_>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let loaded = self
            .load_challenge(handle, MfaChallengeKind::Verify)
            .await?;
        let added = self
            .verify_second_factor(&loaded.user, proof, FactorPurpose::SignIn, ctx)
            .await?;
        self.take_and_finish(handle, loaded, added, ctx).await
    }

    /// Starts the TOTP enrolment a stopped sign-in needs (policy `required`, no factor yet).
    pub async fn start_challenge_enrolment(
        &self,
        handle: &str,
        name: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<TotpEnrolment> {
        let name = super::enrol::factor_name(name, super::enrol::TOTP_NAME)?;
        let loaded = self.load_challenge(handle, MfaChallengeKind::Enrol).await?;
        let state = self.mfa_state(loaded.user.id).await?;
        self.begin_totp(&loaded.user, &state, name, ctx).await
    }

    /// Confirms that enrolment with a code and finishes the sign-in (`amr` `["pwd", "otp",
    /// "mfa"]`); the recovery codes to show come with it.
    pub async fn complete_challenge_enrolment(
        &self,
        handle: &str,
        factor: FactorId,
        code: &str,
        ctx: &AuditContext,
    ) -> CoreResult<(LoginGrant, ConfirmedTotp)> {
        let loaded = self.load_challenge(handle, MfaChallengeKind::Enrol).await?;
        let state = self.mfa_state(loaded.user.id).await?;
        let confirmed = self
            .finish_totp(&loaded.user, &state, factor, code, ctx)
            .await?;
        let grant = self
            .take_and_finish(handle, loaded, vec![amr::OTP.into()], ctx)
            .await?;
        Ok((grant, confirmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked_before_any_lookup() {
        assert!(well_formed(&crypto::random_token(32)));
        assert!(!well_formed(""));
        assert!(!well_formed("a b"));
        assert!(!well_formed(&"a".repeat(MAX_HANDLE_LEN + 1)));
    }

    #[test]
    fn choices_round_trip() {
        let org = OrgId::new();
        for c in [
            OrgChoice::Default,
            OrgChoice::Specific(org),
            OrgChoice::DefaultOrNone,
        ] {
            let stored = serde_json::to_value(StoredChoice::from(c)).unwrap();
            let back: StoredChoice = serde_json::from_value(stored).unwrap();
            assert_eq!(OrgChoice::from(back), c);
        }
    }
}
