//! The caller's own sessions: logout, listing and ending them; ending all of a user's.

use super::*;

/// One of the caller's live sessions.
#[derive(Debug, Clone)]
pub struct OwnSession {
    pub session: Session,
    /// The session of the calling token.
    pub current: bool,
    /// The last use known (stored, or newer in this process).
    pub last_seen: Timestamp,
    /// When the session ends if unused until then (`None` without an idle timeout).
    pub idle_expires_at: Option<Timestamp>,
}

/// The session behind a bearer ([`Engine::current_session`]).
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// `None` for a credential or a token minted from one.
    pub session: Option<Session>,
    /// When the bearer stops being valid at the latest: its own expiry or its session's.
    pub expires_at: Option<Timestamp>,
    /// When the session ends if unused until then (`None` without an idle timeout).
    pub idle_expires_at: Option<Timestamp>,
}

impl Engine {
    /// Ends the token's session. Idempotent: an expired or already-ended token succeeds.
    /// A credential (or a token minted from one) is left alone.
    pub async fn logout(&self, token: &str, ctx: &AuditContext) -> CoreResult<()> {
        let token = token.trim();
        if token.is_empty() {
            return Err(CoreError::Unauthenticated);
        }
        if token.starts_with(&self.config.credentials.prefix) {
            return self.credential_principal(token, None).await.map(|_| ());
        }
        let claims = match self.tokens.verify_ignoring_expiry(token) {
            Ok(c) => c,
            Err(TokenFailure::UnknownKey) if self.reload_keys_rate_limited().await => {
                self.tokens.verify_ignoring_expiry(token)?
            }
            Err(f) => return Err(f.into()),
        };
        if claims.akr.is_some() {
            return Ok(());
        }
        let sid = SessionId(claims.sid.clone());
        let now = Utc::now();
        if self.store.revoke_session(&sid, now).await? {
            let exp = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            self.revocations.revoke_session(sid.clone(), exp);
            self.see_ended_grants(UserId(claims.sub), now).await;
            self.audit
                .log(
                    ctx,
                    now,
                    Some(UserId(claims.sub)),
                    AuditAction::Logout,
                    Some(sid.0),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Ok(())
    }

    /// The caller's live sessions, the calling one marked. An impersonating admin may look
    /// (the CLI shows the same); a credential may not, as it is no sign-in of the user.
    pub async fn list_my_sessions(&self, p: &Principal) -> CoreResult<Vec<OwnSession>> {
        if p.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed("manage sessions"));
        }
        let now = Utc::now();
        let sessions = self.store.list_user_sessions(p.user, false, now).await?;
        let enforced = self.config.tokens.idle_timeout_secs > 0;
        Ok(sessions
            .into_iter()
            // Idle past its timeout: ended at its next use, so not listed as live.
            .filter(|s| !(enforced && self.idle.is_idle(s, now)))
            .map(|session| {
                let activity = self.idle.activity(&session);
                OwnSession {
                    current: p.session() == Some(&session.id),
                    last_seen: activity.last_seen,
                    idle_expires_at: activity.idle_expires_at.filter(|_| enforced),
                    session,
                }
            })
            .collect())
    }

    /// What a valid bearer stands for, for resource servers that check a token online instead
    /// of (or besides) verifying it offline. The caller has passed [`Engine::authenticate`], so
    /// it is genuine, unexpired and not revoked, and the check counted as a use.
    pub async fn current_session(&self, p: &Principal) -> CoreResult<CurrentSession> {
        let token_expires_at = p.expires_at;
        let Some(sid) = p.session() else {
            // A credential, or a token minted from one: it has no session and no idle timeout.
            return Ok(CurrentSession {
                session: None,
                expires_at: token_expires_at,
                idle_expires_at: None,
            });
        };
        let session = self
            .store
            .get_session(sid)
            .await?
            .ok_or(CoreError::InvalidToken("unknown session"))?;
        let enforced = self.config.tokens.idle_timeout_secs > 0;
        let activity = self.idle.activity(&session);
        Ok(CurrentSession {
            expires_at: Some(
                token_expires_at.map_or(session.expires_at, |t| t.min(session.expires_at)),
            ),
            idle_expires_at: activity.idle_expires_at.filter(|_| enforced),
            session: Some(session),
        })
    }

    /// Ends one of the caller's own sessions. Another user's session is `NotFound`, like an
    /// unknown id, so ids cannot be probed.
    pub async fn end_my_session(
        &self,
        p: &Principal,
        sid: &SessionId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        require_own_session(p, "manage sessions")?;
        let s = self
            .store
            .get_session(sid)
            .await?
            .filter(|s| s.user_id == p.user)
            .ok_or(CoreError::NotFound("session"))?;
        self.end_session(&s, Some(p.user), ctx).await
    }

    /// Ends every session of the caller but the calling one. Returns how many ended.
    pub async fn end_my_other_sessions(
        &self,
        p: &Principal,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        require_own_session(p, "manage sessions")?;
        self.end_user_sessions(p.user, p.session(), Some(p.user), ctx)
            .await
    }

    async fn end_session(
        &self,
        s: &Session,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        if self.store.revoke_session(&s.id, now).await? {
            self.revocations.revoke_session(s.id.clone(), s.expires_at);
            self.see_ended_grants(s.user_id, now).await;
            self.audit
                .log(
                    ctx,
                    now,
                    actor,
                    AuditAction::SessionEnd,
                    Some(s.id.0.clone()),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Ok(())
    }

    /// Ending a browser sign-in ends the OpenID grants it parents (in the same store write):
    /// this process learns of them at once rather than at the next feed poll.
    async fn see_ended_grants(&self, user: UserId, now: Timestamp) {
        if let Err(e) = self
            .revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await
        {
            tracing::warn!(error = %e, "revocation view refresh failed; the feed will catch up");
        }
    }

    /// Ends every session of a user (admin), or all but `keep` (password change).
    pub async fn end_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        crate::use_cases::end_user_sessions(&self.use_case(actor, ctx), user, keep).await
    }
}
