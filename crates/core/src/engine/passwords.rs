//! Password checks, changes and resets: the throttle, lockout, the locked-account padding and
//! the one failure counter they share (docs/design/lockout.md).

use super::*;

/// How long one password check holds its login key against parallel attempts.
const CLAIM_HOLD: chrono::Duration = chrono::Duration::seconds(10);
/// Longer than any reset code the admin CLI prints; refused without a look-up.
const MAX_RESET_CODE: usize = 128;

/// Why a password is checked. Every purpose goes through the same throttle and lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PasswordCheck {
    /// A password login: an account flagged for a reset is refused.
    Login,
    /// A signed-in user proving the current password to change it. An account flagged for a
    /// reset is refused too: the admin forced the reset because the old password may be known
    /// to someone else, so only the one-time code may replace it.
    Change(UserId),
    /// A reset by email and admin-issued one-time code, without a session: how an account
    /// flagged for a reset (which cannot log in) chooses a new password.
    Reset,
    /// A signed-in user confirming the password again (the recent-authentication rule of
    /// docs/design/mfa.md).
    Reauth(UserId),
}

impl PasswordCheck {
    /// The `via` of a `password.change` audit event; `None` for logins.
    fn via(self) -> Option<&'static str> {
        match self {
            PasswordCheck::Login => None,
            PasswordCheck::Change(_) => Some("session"),
            PasswordCheck::Reset => Some("reset"),
            PasswordCheck::Reauth(_) => Some("password"),
        }
    }
    fn caller(self) -> Option<UserId> {
        match self {
            PasswordCheck::Change(user) | PasswordCheck::Reauth(user) => Some(user),
            PasswordCheck::Login | PasswordCheck::Reset => None,
        }
    }
    /// The audited action: logins, changes and re-authentications each have their own.
    fn action(self) -> AuditAction {
        match self {
            PasswordCheck::Login => AuditAction::LoginPassword,
            PasswordCheck::Change(_) | PasswordCheck::Reset => AuditAction::PasswordChange,
            PasswordCheck::Reauth(_) => AuditAction::SessionReauth,
        }
    }
}

/// A granted password check: the reserved hashing place, when the check started, the
/// throttle's failure count so far and the account (if the email has one).
struct Claimed<'a> {
    slot: crate::password::HashSlot<'a>,
    started: Instant,
    now: Timestamp,
    failures: i32,
    user: Option<User>,
}

/// A running average of how long a refused password check takes (hash included), so that a
/// refusal which skips the hash — a locked account — can take as long.
pub(super) struct RefusalTime(std::sync::atomic::AtomicU64);

impl RefusalTime {
    pub(super) fn new(seed: Duration) -> RefusalTime {
        RefusalTime(std::sync::atomic::AtomicU64::new(seed.as_nanos() as u64))
    }

    /// Folds in one measured refusal (weight 1/8). Racing updates may lose a sample; the
    /// average stays a plausible duration either way.
    fn record(&self, took: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let old = self.0.load(Relaxed);
        let took = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.0.store(old - old / 8 + took / 8, Relaxed);
    }

    fn typical(&self) -> Duration {
        Duration::from_nanos(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl Engine {
    /// Checks an email and password with brute-force throttling. Unknown emails cost the same
    /// (a dummy hash) and share the same throttle, so neither message nor timing tells them apart.
    /// A success is a sign-in: pending invitations are accepted before any org is chosen. An
    /// account whose sign-in needs a second factor (or an enrolment) is refused here with
    /// [`MfaRefusal`](crate::MfaRefusal), after the password: a caller that can ask for the
    /// second factor uses [`Engine::sign_in_password`] instead.
    pub async fn authenticate_password(
        &self,
        email: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> CoreResult<User> {
        let (user, requirement) = self.authenticate_first_factor(email, password, ctx).await?;
        self.refuse_unmet_requirement(&user, &requirement, ctx)
            .await?;
        Ok(user)
    }

    /// The password as a first factor: the user and what the sign-in needs next. The throttle
    /// is cleared only when nothing follows; when a second factor follows it is released but
    /// keeps its failures, so wrong codes and wrong passwords add up to one lockout.
    pub(crate) async fn authenticate_first_factor(
        &self,
        email: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> CoreResult<(User, MfaRequirement)> {
        let (user, failures) = self
            .verify_password(email, password, PasswordCheck::Login, ctx)
            .await?;
        let next = match self.accept_invitations(&user, ctx).await {
            Ok(()) => self.mfa_requirement(&user).await,
            Err(e) => Err(e),
        };
        let key = normalize_email(email);
        match &next {
            Ok(MfaRequirement::None) => self.store.throttle_reset(&key).await?,
            _ if failures == 0 => self.store.throttle_reset(&key).await?,
            _ => self.store.throttle_release(&key, Utc::now()).await?,
        }
        Ok((user, next?))
    }

    /// Re-checks the caller's password on their own session (the recent-authentication rule),
    /// through the same throttle and lockout as logins.
    pub(crate) async fn reauthenticate_password(
        &self,
        user: &User,
        password: &str,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let purpose = PasswordCheck::Reauth(user.id);
        let (checked, _) = self
            .verify_password(&user.email, password, purpose, ctx)
            .await?;
        if checked.id != user.id {
            return Err(CoreError::InvalidCredentials);
        }
        let key = normalize_email(&user.email);
        // A right password does not clear failures a wrong second factor added.
        self.store.throttle_release(&key, Utc::now()).await?;
        Ok(())
    }

    /// The one throttled password check behind logins and password changes. Every purpose
    /// claims the same per-email key, so attempts through any endpoint share one budget of
    /// delays and one lockout.
    async fn verify_password(
        &self,
        email: &str,
        password: &str,
        purpose: PasswordCheck,
        ctx: &AuditContext,
    ) -> CoreResult<(User, i32)> {
        let key = normalize_email(email);
        if key.is_empty()
            || password.is_empty()
            || password.len() > crate::password::MAX_PASSWORD_BYTES
        {
            return Err(CoreError::InvalidCredentials);
        }
        let claim = self.claim_password_check(ctx, purpose, &key).await?;
        let (slot, user) = (claim.slot, claim.user);
        let (started, now, failures) = (claim.started, claim.now, claim.failures);
        let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = slot.verify(password, phc).await?;
        // Neither a login nor a signed-in change may use the password of an account flagged
        // for a reset (the reset by code does not come here).
        let usable = user
            .as_ref()
            .is_some_and(|u| !u.deactivated && !u.password_reset_required);
        match (verified, user) {
            (Verified::Yes | Verified::YesNeedsRehash, Some(user)) if usable => {
                // A login's caller decides: a second factor may still follow (and a
                // re-authentication releases without clearing).
                if matches!(purpose, PasswordCheck::Change(_) | PasswordCheck::Reset) {
                    self.store.throttle_reset(&key).await?;
                }
                // A change stores a new hash anyway.
                if verified == Verified::YesNeedsRehash && purpose == PasswordCheck::Login {
                    match self.hasher.hash(password).await {
                        Ok(phc) => {
                            let update = UserUpdate {
                                password_hash: Some(Some(phc)),
                                ..UserUpdate::default()
                            };
                            if let Err(e) = self.store.update_user(user.id, update).await {
                                tracing::warn!(error = %e, "could not store a rehashed password");
                            }
                        }
                        // The login stands; a later one upgrades the hash.
                        Err(crate::password::HashError::Busy) => {
                            tracing::debug!("hashing queue full; rehash deferred");
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok((user, failures))
            }
            (_, user) => {
                self.record_password_failure(ctx, purpose, &key, failures, user.map(|u| u.id), now)
                    .await?;
                self.refusal_time.record(started.elapsed());
                Err(CoreError::InvalidCredentials)
            }
        }
    }

    /// The start every password check shares: a place in the hashing queue first (when the
    /// pool is saturated the answer is "rate limited" at once, before any throttle state is
    /// touched), then the claim on the email's throttle key, then the account look-up.
    async fn claim_password_check(
        &self,
        ctx: &AuditContext,
        purpose: PasswordCheck,
        key: &str,
    ) -> CoreResult<Claimed<'_>> {
        let started = Instant::now();
        let slot = self.hasher.try_reserve()?;
        let now = Utc::now();
        let failures = match self
            .store
            .throttle_claim(key, now, now + CLAIM_HOLD)
            .await?
        {
            ThrottleClaim::Granted { failures } => failures,
            ThrottleClaim::Wait { until } => {
                return Err(self.throttled(ctx, purpose, key, until, now).await);
            }
            ThrottleClaim::Locked { .. } => {
                drop(slot);
                return Err(self.locked(ctx, purpose, key, started).await);
            }
        };
        let user = match self.store.get_user_by_email(key).await {
            Ok(u) => u,
            Err(e) => {
                // Release the claim so a store hiccup does not lock the account out.
                let _ = self.store.throttle_reset(key).await;
                return Err(e.into());
            }
        };
        Ok(Claimed {
            slot,
            started,
            now,
            failures,
            user,
        })
    }

    /// The answer to a check of a locked key: the same answer and the same time as a wrong
    /// password, but no hash, so a locked account is neither an oracle nor a way to keep the
    /// hashing threads busy. The caller has released its hashing slot.
    async fn locked(
        &self,
        ctx: &AuditContext,
        purpose: PasswordCheck,
        key: &str,
        started: Instant,
    ) -> CoreError {
        self.audit_password_denied(ctx, purpose, key, "locked")
            .await;
        tokio::time::sleep_until((started + self.refusal_time.typical()).into()).await;
        CoreError::InvalidCredentials
    }

    /// Audits one outcome of a password check: `login.password` for logins, `password.change`
    /// for changes (with `via`). The target is the account when it exists, else the email key.
    /// A password check refused before any verification (throttled or locked).
    async fn audit_password_denied(
        &self,
        ctx: &AuditContext,
        purpose: PasswordCheck,
        key: &str,
        reason: &'static str,
    ) {
        let detail = json!({ "reason": reason });
        self.audit_password(ctx, purpose, None, key, AuditOutcome::Denied, detail)
            .await;
    }

    async fn audit_password(
        &self,
        ctx: &AuditContext,
        purpose: PasswordCheck,
        actor: Option<UserId>,
        key: &str,
        outcome: AuditOutcome,
        mut detail: serde_json::Value,
    ) {
        let actor = actor.or(purpose.caller());
        let action = purpose.action();
        let target = match purpose.via() {
            None => key.to_owned(),
            Some(via) => {
                detail["via"] = json!(via);
                actor.map_or_else(|| key.to_owned(), |u| u.to_string())
            }
        };
        self.audit
            .log(
                ctx,
                Utc::now(),
                actor,
                action,
                Some(target),
                outcome,
                detail,
            )
            .await;
    }

    /// Admin unlock of a login key (an email).
    pub async fn unlock(&self, email: &str, ctx: &AuditContext) -> CoreResult<()> {
        let key = normalize_email(email);
        crate::use_cases::unlock_login(&self.use_case(None, ctx), &key).await
    }

    /// Changes the caller's password: the current one is required and checked through the
    /// login throttle. Other sessions end when asked (the account API asks by default), and
    /// with `revoke_credentials` every API key and persistent token of the user is revoked.
    /// Only the user's own session may do this, and not for an account flagged for a reset,
    /// however the session was started (an IdP sign-in is not refused by the flag): that
    /// account needs the one-time code (`reset_password_with_code`).
    #[allow(clippy::too_many_arguments)]
    pub async fn change_password(
        &self,
        p: &Principal,
        current: &str,
        new: &str,
        end_other_sessions: bool,
        revoke_credentials: bool,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        require_own_session(p, "change a password")?;
        let user = self
            .store
            .get_user(p.user)
            .await?
            .ok_or(CoreError::InvalidToken("unknown user"))?;
        if user.password_reset_required {
            // Refused before the throttle and the hash: the session's own account, so the
            // answer reveals nothing, and the session cannot be used to test passwords.
            return Err(CoreError::PermissionDenied(
                "a password reset is required: use the one-time reset code from the administrator",
            ));
        }
        self.check_new_password(current, new, &user.email)?;
        let (checked, _) = self
            .verify_password(&user.email, current, PasswordCheck::Change(user.id), ctx)
            .await?;
        if checked.id != user.id {
            // Emails are unique; a mismatch means the account changed under us.
            return Err(CoreError::InvalidCredentials);
        }
        self.store_new_password(&checked, new, PasswordCheck::Change(user.id), ctx)
            .await?;
        if end_other_sessions {
            self.end_user_sessions(user.id, p.session(), Some(user.id), ctx)
                .await?;
        }
        if revoke_credentials {
            self.revoke_user_credentials(user.id, Some(user.id), ctx)
                .await?;
        }
        Ok(())
    }

    /// Completes an admin-forced reset (`admin user force-password-reset`): the email, the
    /// one-time code the admin handed over, and a new password. The old password is neither
    /// needed nor enough. On success the code is spent, the password replaced, the flag cleared
    /// and every session of the user ended.
    ///
    /// Unknown emails, deactivated accounts and wrong, spent or expired codes all answer
    /// `InvalidCredentials` after the same work (a throttle claim, a user look-up, an argon2
    /// hash of the new password and one redeem statement against a real or a made-up user id),
    /// and share the per-email throttle with logins. A locked key answers the same after the
    /// same time, without the hash (as a login does).
    pub async fn reset_password_with_code(
        &self,
        email: &str,
        code: &str,
        new: &str,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        const PURPOSE: PasswordCheck = PasswordCheck::Reset;
        // Depends only on the input, so it reveals nothing about the account.
        self.config
            .passwords
            .policy
            .check(new, Some(email))
            .map_err(|r| CoreError::InvalidArgument(r.to_string()))?;
        let key = normalize_email(email);
        if key.is_empty() || code.is_empty() || code.len() > MAX_RESET_CODE {
            return Err(CoreError::InvalidCredentials);
        }
        // As in `verify_password`: a full pool answers "rate limited" before the throttle is
        // touched, and a locked key costs no hash.
        let claim = self.claim_password_check(ctx, PURPOSE, &key).await?;
        let (slot, user) = (claim.slot, claim.user);
        let (started, now, failures) = (claim.started, claim.now, claim.failures);
        // The same statements whether or not the account exists.
        let target = user.as_ref().map_or_else(UserId::new, |u| u.id);
        let phc = slot.hash(new).await?;
        let code_hash = crypto::sha256(code.as_bytes());
        let redeemed = self
            .store
            .redeem_password_reset(target, &code_hash, &phc, now)
            .await?;
        let (Some(ended), Some(user)) = (redeemed, user.as_ref()) else {
            self.record_password_failure(ctx, PURPOSE, &key, failures, user.map(|u| u.id), now)
                .await?;
            self.refusal_time.record(started.elapsed());
            return Err(CoreError::InvalidCredentials);
        };
        self.store.throttle_reset(&key).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), user.id, now)
            .await?;
        self.audit_password(
            ctx,
            PURPOSE,
            Some(user.id),
            &key,
            AuditOutcome::Success,
            json!({"was_reset_required": user.password_reset_required, "sessions_ended": ended}),
        )
        .await;
        Ok(())
    }

    /// The answer to a password check that came before the email's next allowed attempt:
    /// audited, and "rate limited" for at least a second.
    async fn throttled(
        &self,
        ctx: &AuditContext,
        purpose: PasswordCheck,
        key: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> CoreError {
        self.audit_password_denied(ctx, purpose, key, "throttled")
            .await;
        let retry_after = (until - now)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1));
        CoreError::RateLimited { retry_after }
    }

    /// Counts a failed password check against the email's throttle: the next delay, the lock
    /// once `lock_after` is reached (audited once, as `account.lock`), and the failure's audit.
    async fn record_password_failure(
        &self,
        ctx: &AuditContext,
        purpose: PasswordCheck,
        key: &str,
        failures: i32,
        actor: Option<UserId>,
        now: Timestamp,
    ) -> CoreResult<()> {
        let failures = self
            .count_throttle_failure(ctx, key, failures, actor, now)
            .await?;
        self.audit_password(
            ctx,
            purpose,
            actor,
            key,
            AuditOutcome::Failure,
            json!({"failures": failures}),
        )
        .await;
        Ok(())
    }

    /// Counts one failure against a login key (a wrong password or a wrong second factor):
    /// the next delay, and the lock once `lock_after` is reached (audited once, as
    /// `account.lock`). Returns the new count.
    pub(super) async fn count_throttle_failure(
        &self,
        ctx: &AuditContext,
        key: &str,
        failures: i32,
        actor: Option<UserId>,
        now: Timestamp,
    ) -> CoreResult<i32> {
        let failures = failures + 1;
        let lock = &self.config.lockout;
        let idx = (failures as usize - 1).min(lock.delays_secs.len().saturating_sub(1));
        let delay = lock.delays_secs.get(idx).copied().unwrap_or(1) as i64;
        let locked_until = (failures >= lock.lock_after)
            .then(|| (lock.lock_secs != 0).then(|| now + secs(lock.lock_secs as i64)));
        self.store
            .throttle_fail(key, Utc::now() + secs(delay), locked_until)
            .await?;
        if locked_until.is_some() && failures == lock.lock_after {
            self.audit
                .log(
                    ctx,
                    now,
                    actor,
                    AuditAction::AccountLock,
                    Some(key.to_owned()),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Ok(failures)
    }

    /// The policy for a new password, checked before the current one so that a refused choice
    /// costs no attempt of the throttle.
    fn check_new_password(&self, current: &str, new: &str, email: &str) -> CoreResult<()> {
        if new == current {
            return Err(CoreError::InvalidArgument(
                "the new password must differ from the current one".into(),
            ));
        }
        self.config
            .passwords
            .policy
            .check(new, Some(email))
            .map_err(|r| CoreError::InvalidArgument(r.to_string()))
    }

    async fn store_new_password(
        &self,
        user: &User,
        new: &str,
        purpose: PasswordCheck,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let phc = self.hasher.hash(new).await?;
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    password_hash: Some(Some(phc)),
                    password_reset_required: Some(false),
                    ..UserUpdate::default()
                },
            )
            .await?;
        let key = normalize_email(&user.email);
        self.audit_password(
            ctx,
            purpose,
            Some(user.id),
            &key,
            AuditOutcome::Success,
            json!({"was_reset_required": user.password_reset_required}),
        )
        .await;
        Ok(())
    }
}
