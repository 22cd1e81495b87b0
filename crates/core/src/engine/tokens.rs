//! Access tokens: validating a bearer (with the idle timeout), re-issuing in another org and
//! issuing without a login.

use super::*;

/// A freshly issued access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: Timestamp,
    pub user: UserId,
    pub org: OrgId,
    pub guest: bool,
}

/// The two ways a session token is re-issued in another org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reissue {
    /// Parsable createTeamToken: scoped to the one team, same expiry.
    OrgToken,
    /// Nominal setUserOrg: acts in the org, at most 24 h.
    SwitchOrg,
}

impl Engine {
    /// Validates an access token or a credential secret.
    pub async fn authenticate(&self, token: &str) -> CoreResult<Principal> {
        self.authenticate_from(token, None).await
    }

    /// [`Engine::authenticate`] for a request from `ip`: a credential secret that is not in the
    /// read cache costs a store look-up, so it is charged to the per-IP limit first.
    pub async fn authenticate_from(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> CoreResult<Principal> {
        let token = token.trim();
        if token.is_empty() {
            return Err(CoreError::Unauthenticated);
        }
        if token.starts_with(&self.config.credentials.prefix) {
            let (_, p) = self.credential_principal(token, ip).await?;
            return Ok(p);
        }
        let now = Utc::now();
        let p = match self.tokens.validate(token, now) {
            Ok((_, p)) => p,
            Err(TokenFailure::UnknownKey) => {
                if self.reload_keys_rate_limited().await {
                    self.tokens.validate(token, now).map(|(_, p)| p)?
                } else {
                    return Err(TokenFailure::UnknownKey.into());
                }
            }
            Err(f) => return Err(f.into()),
        };
        self.check_idle(&p, now).await?;
        Ok(p)
    }

    /// Enforces the session's idle timeout and records the use (see `idle.rs`). An idle session
    /// is ended for good, here and, through the feed, everywhere.
    pub(crate) async fn check_idle(&self, p: &Principal, now: Timestamp) -> CoreResult<()> {
        let Via::Session { session, .. } = &p.via else {
            return Ok(());
        };
        // Off: no look-up at all on the hot path.
        if self.config.tokens.idle_timeout_secs <= 0 {
            return Ok(());
        }
        if self
            .idle
            .use_session(self.store.as_ref(), session, now)
            .await?
            == Use::Live
        {
            return Ok(());
        }
        if self.store.revoke_session(session, now).await? {
            // The session's own expiry, which may outlast this token's.
            let exp = match self.store.get_session(session).await? {
                Some(s) => s.expires_at,
                None => p.expires_at.unwrap_or(now),
            };
            self.revocations.revoke_session(session.clone(), exp);
            self.audit
                .log(
                    &AuditContext::default(),
                    now,
                    Some(p.user),
                    AuditAction::SessionIdleTimeout,
                    Some(session.0.clone()),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Err(CoreError::InvalidToken("session ended after inactivity"))
    }

    /// Exchanges a session or team token for one scoped to `org` (Parsable createTeamToken):
    /// same session and expiry.
    pub async fn org_token(
        &self,
        p: &Principal,
        org: OrgId,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        let exp = p
            .expires_at
            .ok_or(CoreError::InvalidToken("token without expiry"))?;
        self.reissue_in_org(p, org, exp, Reissue::OrgToken, ctx)
            .await
    }

    /// Mints a token for the same user and session in another org (Nominal setUserOrg): the
    /// calling token's remaining lifetime, never beyond 24 h.
    pub async fn switch_org(
        &self,
        p: &Principal,
        org: OrgId,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        let cap = Utc::now() + secs(self.config.tokens.access_secs);
        let exp = p.expires_at.map_or(cap, |e| e.min(cap));
        self.reissue_in_org(p, org, exp, Reissue::SwitchOrg, ctx)
            .await
    }

    /// A new token for the caller's session in `org`: the shared part of team tokens and org
    /// switches. Credentials (and tokens minted from them) are bound to one org.
    async fn reissue_in_org(
        &self,
        p: &Principal,
        org: OrgId,
        exp: Timestamp,
        kind: Reissue,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        if p.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed(match kind {
                Reissue::OrgToken => "switch team",
                Reissue::SwitchOrg => "switch org",
            }));
        }
        let session = p
            .session()
            .cloned()
            .ok_or(CoreError::InvalidToken("not a session token"))?;
        let (org, m) = self.resolve_org(p.user, OrgChoice::Specific(org)).await?;
        let now = Utc::now();
        let guest = m.kind == MembershipKind::Guest;
        let mut claims =
            self.tokens
                .claims(p.user, org.id, &session.0, now, exp, p.amr.clone(), guest);
        // A team token stays bound when it switches org: never an org-wide (super-admin) token.
        claims.team = kind == Reissue::OrgToken || p.is_org_bound();
        claims.act = p.actor.map(|a| Actor::user(a.0));
        let token = self.tokens.sign(&claims)?;
        let action = match kind {
            Reissue::OrgToken => AuditAction::TokenOrg,
            Reissue::SwitchOrg => {
                // Coalesced: written within about a minute, and on shutdown (`last_login.rs`).
                self.last_logins.record(p.user, org.id, now);
                AuditAction::TokenSwitchOrg
            }
        };
        self.audit
            .log(
                ctx,
                now,
                Some(p.user),
                action,
                Some(org.id.to_string()),
                AuditOutcome::Success,
                json!({"session": session.0}),
            )
            .await;
        Ok(IssuedToken {
            token,
            expires_at: exp,
            user: p.user,
            org: org.id,
            guest,
        })
    }

    /// Issues an access token for a user in an org without a new login (federation and sandbox
    /// flows, which create their own session record first).
    pub async fn issue_access_token(
        &self,
        user: &User,
        choice: OrgChoice,
        amr: Vec<String>,
        max_expiry: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        let (org, m) = self.resolve_org(user.id, choice).await?;
        let now = Utc::now();
        let t = &self.config.tokens;
        let cap = now + secs(t.access_secs);
        let exp = max_expiry.map_or(cap, |e| e.min(cap));
        // A session like any login's: the idle timeout applies to it too.
        let idle = (t.idle_timeout_secs > 0).then_some(t.idle_timeout_secs);
        let session = self
            .record_session(
                user.id,
                org.id,
                SessionKind::Login,
                amr.clone(),
                None,
                (now, exp),
                idle,
                ctx,
            )
            .await?;
        let guest = m.kind == MembershipKind::Guest;
        let claims = self
            .tokens
            .claims(user.id, org.id, &session.id.0, now, exp, amr, guest);
        let token = self.tokens.sign(&claims)?;
        self.audit
            .log(
                ctx,
                now,
                Some(user.id),
                AuditAction::TokenIssue,
                Some(user.id.to_string()),
                AuditOutcome::Success,
                json!({"org": org.id, "session": session.id.0}),
            )
            .await;
        Ok(IssuedToken {
            token,
            expires_at: exp,
            user: user.id,
            org: org.id,
            guest,
        })
    }
}
