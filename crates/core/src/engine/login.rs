//! Logins: choosing the org, starting the session and issuing its first token, proxy logins.

use super::impersonation::{AMR_PROXY, session_kind_and_life};
use super::*;

/// The result of a login: a new session and its first token.
#[derive(Debug, Clone)]
pub struct LoginGrant {
    pub token: IssuedToken,
    pub session: Session,
    pub user: User,
    /// The super-admin behind a proxy login.
    pub proxy_admin: Option<User>,
}

/// Which org a login should act in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgChoice {
    /// The user's default org: the oldest active membership in an enabled org.
    Default,
    /// A specific org; the user must be an active member of it.
    Specific(OrgId),
    /// As `Default`, but a user on no enabled team gets a team-less session
    /// ([`OrgId::NONE`]) instead of `NoMembership` (Parsable team-select logins, §8).
    DefaultOrNone,
}

impl Engine {
    /// Picks the membership a session acts in.
    pub async fn resolve_org(
        &self,
        user: UserId,
        choice: OrgChoice,
    ) -> CoreResult<(Org, Membership)> {
        match choice {
            OrgChoice::Specific(org_id) => {
                // One round trip: this decides whether a token may be issued, so it is read
                // fresh (team tokens, org switches and logins alike), and refreshes the cache.
                let stamp = self.cache.epoch(user);
                let (org, m) = self
                    .store
                    .get_org_membership(user, org_id)
                    .await?
                    .ok_or(CoreError::NotFound("org"))?;
                self.cache.put_membership(user, org_id, m.clone(), stamp);
                let m = m
                    .filter(Membership::is_active)
                    .ok_or(CoreError::PermissionDenied(
                        "not an active member of the org",
                    ))?;
                if org.disabled {
                    return Err(CoreError::OrgDisabled);
                }
                Ok((org, m))
            }
            OrgChoice::Default | OrgChoice::DefaultOrNone => {
                let mut ms: Vec<Membership> = self
                    .store
                    .list_user_memberships(user, false)
                    .await?
                    .into_iter()
                    .filter(Membership::is_active)
                    .collect();
                ms.sort_by_key(|m| (m.created_at, m.org_id));
                for m in ms {
                    if let Some(org) = self.store.get_org(m.org_id).await?
                        && !org.disabled
                    {
                        return Ok((org, m));
                    }
                }
                Err(CoreError::NoMembership)
            }
        }
    }

    /// Creates a session for an authenticated user and issues its first token.
    /// `proxy_admin` makes it an impersonation session (limited lifetime, `act` claim).
    pub async fn start_session(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        org_scoped: bool,
        proxy_admin: Option<User>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        self.start_session_until(user, amr, choice, org_scoped, proxy_admin, None, ctx)
            .await
    }

    /// [`Engine::start_session`] whose session ends no later than `not_after` (federated
    /// logins: bounded by the upstream token). A bound not in the future is `TokenExpired`.
    #[allow(clippy::too_many_arguments)]
    async fn start_session_until(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        org_scoped: bool,
        proxy_admin: Option<User>,
        not_after: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        if user.deactivated {
            return Err(CoreError::InvalidCredentials);
        }
        let resolved = match self.resolve_org(user.id, choice).await {
            Ok(found) => Some(found),
            Err(CoreError::NoMembership) if choice == OrgChoice::DefaultOrNone => None,
            Err(e) => return Err(e),
        };
        let org_id = resolved.as_ref().map_or(OrgId::NONE, |(o, _)| o.id);
        let now = Utc::now();
        let t = &self.config.tokens;
        let (kind, life) = session_kind_and_life(proxy_admin.is_some(), t);
        let idle = (t.idle_timeout_secs > 0).then_some(t.idle_timeout_secs);
        let end = not_after.map_or(now + secs(life), |n| n.min(now + secs(life)));
        if end <= now {
            return Err(CoreError::TokenExpired);
        }
        let session = self
            .record_session(
                user.id,
                org_id,
                kind,
                amr.clone(),
                proxy_admin.as_ref().map(|a| a.id),
                (now, end),
                idle,
                ctx,
            )
            .await?;
        let guest = resolved
            .as_ref()
            .is_some_and(|(_, m)| m.kind == MembershipKind::Guest);
        let mut claims = self.tokens.claims(
            user.id,
            org_id,
            &session.id.0,
            now,
            session.expires_at,
            amr,
            guest,
        );
        claims.team = org_scoped;
        claims.act = proxy_admin.as_ref().map(|a| Actor::user(a.id.0));
        let token = self.tokens.sign(&claims)?;
        let (action, actor) = match &proxy_admin {
            Some(a) => (AuditAction::ImpersonationStart, Some(a.id)),
            None => (AuditAction::Login, Some(user.id)),
        };
        self.audit
            .log(
                ctx,
                now,
                actor,
                action,
                Some(user.id.to_string()),
                AuditOutcome::Success,
                json!({"session": session.id.0, "org": resolved.as_ref().map(|(o, _)| o.id), "amr": session.amr}),
            )
            .await;
        Ok(LoginGrant {
            token: IssuedToken {
                token,
                expires_at: session.expires_at,
                user: user.id,
                org: org_id,
                guest,
            },
            session,
            user,
            proxy_admin,
        })
    }

    /// Stores a new session and marks the login in its org.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_session(
        &self,
        user: UserId,
        org: OrgId,
        kind: SessionKind,
        amr: Vec<String>,
        actor: Option<UserId>,
        (created_at, expires_at): (Timestamp, Timestamp),
        idle_timeout_secs: Option<i64>,
        ctx: &AuditContext,
    ) -> CoreResult<Session> {
        let session = Session {
            id: SessionId::generate(),
            user_id: user,
            org_id: org,
            kind,
            amr,
            actor_id: actor,
            created_at,
            expires_at,
            idle_timeout_secs,
            last_seen_at: created_at,
            revoked_at: None,
            ip: ctx.ip.clone(),
            user_agent: None,
            grant: None,
        };
        // One unit: a login that fails here leaves neither a session nor a login time.
        let mut unit = self.store.begin_write().await?;
        unit.create_session(session.clone()).await?;
        if !org.is_none() {
            unit.touch_last_login(user, org, created_at).await?;
        }
        unit.commit().await?;
        Ok(session)
    }

    /// Password login, optionally as a proxy for another user (the policy of
    /// `impersonation.rs`). An account whose sign-in needs a second factor is refused with
    /// [`MfaRefusal`](crate::MfaRefusal) (`Engine::sign_in_password` can stop half-way instead).
    pub async fn login_password(
        &self,
        email: &str,
        password: &str,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let user = self.authenticate_password(email, password, ctx).await?;
        self.finish_login_checked(
            user,
            vec![amr::PWD.into()],
            choice,
            proxied_email,
            None,
            ctx,
        )
        .await
    }

    /// Completes a login whose credential has been checked (password or federation).
    pub async fn finish_login(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        self.finish_login_until(user, amr, choice, proxied_email, None, ctx)
            .await
    }

    /// [`Engine::finish_login`] whose session (proxy sessions included) ends no later than
    /// `not_after`: federated logins, bounded by the upstream token's expiry. The MFA policy
    /// applies: when `amr` shows no second factor and the user's sign-in needs one, refused with
    /// [`MfaRefusal`](crate::MfaRefusal).
    pub async fn finish_login_until(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        not_after: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        self.require_mfa_satisfied(&user, &amr, ctx).await?;
        self.finish_login_checked(user, amr, choice, proxied_email, not_after, ctx)
            .await
    }

    /// [`Engine::finish_login_until`] for a caller that has applied the MFA policy itself.
    pub(crate) async fn finish_login_checked(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        not_after: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let Some(target_email) = proxied_email.filter(|e| !e.trim().is_empty()) else {
            return self
                .start_session_until(user, amr, choice, false, None, not_after, ctx)
                .await;
        };
        let target = self.impersonation_target(&user, target_email, ctx).await?;
        let mut amr = amr;
        amr.push(AMR_PROXY.into());
        self.start_session_until(target, amr, choice, false, Some(user), not_after, ctx)
            .await
    }
}
