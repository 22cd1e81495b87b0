//! A login, whole: the request's own rules (checked before anything is read or written), the
//! credential, the session, the complete result (token, org views, CA and user certificates)
//! and the rollback of a login refused after its session was written. Surfaces map their wire
//! arguments onto a [`LoginRequest`] and a [`LoginCredential`], and the outcome onto the wire.

use super::certificates::PROXY_CERTIFICATE;
use super::login_result::{LoginData, OrgOption};
use super::*;

/// What a login asks for besides its credential and org: a proxy target, a CSR, a team token.
/// Made only by [`Engine::login_request`], which checks its rules first, so no login skips them.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    proxied_email: Option<String>,
    csr: Option<String>,
    org_token: Option<OrgId>,
}

impl LoginRequest {
    /// The user to impersonate (trimmed, never blank).
    pub fn proxied_email(&self) -> Option<&str> {
        self.proxied_email.as_deref()
    }

    /// The result is a team token for `org` on the new session (Parsable loginWithIdpAndTeam).
    pub fn with_org_token(mut self, org: OrgId) -> LoginRequest {
        self.org_token = Some(org);
        self
    }
}

/// How a login proves who it is.
#[derive(Debug, Clone)]
pub enum LoginCredential<'a> {
    Password {
        email: &'a str,
        password: &'a str,
    },
    /// An identity verified elsewhere (federation): the user, the session's `amr`, and the
    /// latest end of the session (the upstream token's).
    Verified {
        user: User,
        amr: Vec<String>,
        not_after: Option<Timestamp>,
    },
}

/// A completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The new session and its first token.
    pub grant: LoginGrant,
    /// What the caller gets: the token (the team token when one was asked for), the org views
    /// and the certificates.
    pub result: LoginData,
}

/// A team-select login: the teams to choose from, or a login when there is at most one.
#[derive(Debug, Clone)]
pub enum OrgSelectOutcome {
    Choose(Vec<OrgOption>),
    LoggedIn(Box<LoginOutcome>),
}

impl Engine {
    /// A login's request, with its rules checked before anything is read or written: an
    /// impersonation (proxy) login may not ask for a client certificate, which would carry the
    /// target's identity, outlive the audited proxy session and prove nothing of who holds it.
    /// Without signing a CSR is ignored, so nothing is refused. Blank values count as absent.
    pub fn login_request(
        &self,
        proxied_email: Option<&str>,
        csr: Option<&str>,
    ) -> CoreResult<LoginRequest> {
        let proxied_email = proxied_email
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        let csr = csr.filter(|c| !c.trim().is_empty()).map(str::to_owned);
        if self.ca.is_some() && proxied_email.is_some() && csr.is_some() {
            return Err(CoreError::PermissionDenied(PROXY_CERTIFICATE));
        }
        Ok(LoginRequest {
            proxied_email,
            csr,
            org_token: None,
        })
    }

    /// A login, whole: checks the credential, starts the session in `choice` (as the proxied
    /// user when asked, under the impersonation policy), and builds the result. A failure after
    /// the session was written (a refused CSR, a refused team) ends that session: no token of a
    /// failed login stays usable.
    pub async fn login(
        &self,
        credential: LoginCredential<'_>,
        choice: OrgChoice,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> CoreResult<LoginOutcome> {
        let (user, amr, not_after) = self.check_login_credential(credential, ctx).await?;
        self.complete_login(user, amr, choice, not_after, request, ctx)
            .await
    }

    /// A team-select login (Parsable loginWithTeamSelect): with two teams or more (of the
    /// proxied user, when impersonating), the teams and no session; else a login in the only
    /// team, or a team-less session for a user on no team.
    pub async fn login_with_org_select(
        &self,
        credential: LoginCredential<'_>,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> CoreResult<OrgSelectOutcome> {
        let (user, amr, not_after) = self.check_login_credential(credential, ctx).await?;
        let subject = match request.proxied_email() {
            Some(target) => self.impersonation_target(&user, target, ctx).await?.id,
            None => user.id,
        };
        let choices = self.org_options(subject).await?;
        if choices.len() >= 2 {
            return Ok(OrgSelectOutcome::Choose(choices));
        }
        let outcome = self
            .complete_login(user, amr, OrgChoice::DefaultOrNone, not_after, request, ctx)
            .await?;
        Ok(OrgSelectOutcome::LoggedIn(Box::new(outcome)))
    }

    async fn check_login_credential(
        &self,
        credential: LoginCredential<'_>,
        ctx: &AuditContext,
    ) -> CoreResult<(User, Vec<String>, Option<Timestamp>)> {
        match credential {
            // Both refuse, before any session, a sign-in the MFA policy wants more from.
            LoginCredential::Password { email, password } => {
                let user = self.authenticate_password(email, password, ctx).await?;
                Ok((user, vec![amr::PWD.into()], None))
            }
            LoginCredential::Verified {
                user,
                amr,
                not_after,
            } => {
                self.require_mfa_satisfied(&user, &amr, ctx).await?;
                Ok((user, amr, not_after))
            }
        }
    }

    async fn complete_login(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        not_after: Option<Timestamp>,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> CoreResult<LoginOutcome> {
        let grant = self
            .finish_login_checked(user, amr, choice, request.proxied_email(), not_after, ctx)
            .await?;
        match self.login_result(&grant, request, ctx).await {
            Ok(result) => Ok(LoginOutcome { grant, result }),
            Err(e) => {
                self.undo_login(&grant, &e, ctx).await;
                Err(e)
            }
        }
    }

    /// The result of a fresh session: its token or a team token, the views, and the user
    /// certificate for a CSR (validity: min(configured, the token's remaining lifetime)).
    async fn login_result(
        &self,
        grant: &LoginGrant,
        request: &LoginRequest,
        ctx: &AuditContext,
    ) -> CoreResult<LoginData> {
        let mut data = match request.org_token {
            None => self.login_data_for_grant(grant).await?,
            Some(org) => {
                let p = self.authenticate(&grant.token.token).await?;
                let issued = self.org_token(&p, org, ctx).await?;
                self.login_data_for_org_token(&p, &issued).await?
            }
        };
        if let Some(csr) = &request.csr {
            let exp = data
                .expires_at
                .unwrap_or_else(|| Utc::now() + secs(self.config.certificates.validity_secs));
            let proxied = data.proxy_admin_email.is_some();
            data.user_certificate = self.sign_csr(&data.user, csr, exp, proxied, ctx).await?;
        }
        Ok(data)
    }

    /// Ends the session of a login refused after it was written, and audits the refusal once.
    async fn undo_login(&self, grant: &LoginGrant, why: &CoreError, ctx: &AuditContext) {
        let now = Utc::now();
        let session = &grant.session.id;
        let expires_at = grant.session.expires_at;
        // Refused here at once, whatever the store says; nobody was given its token.
        self.revocations.revoke_session(session.clone(), expires_at);
        if let Err(e) = self.store.revoke_session(session, now).await {
            // The store failed under the login (an outage): end the session once it answers
            // again, so no session is left that no client holds.
            tracing::warn!(error = %e, "could not end the session of a refused login; retrying");
            let (store, session) = (self.store.clone(), session.clone());
            let give_up = (expires_at - now).to_std().unwrap_or_default();
            self.spawn_background(async move {
                crate::retry::until_ok("end the session of a refused login", give_up, || {
                    store.revoke_session(&session, Utc::now())
                })
                .await;
            });
        }
        let actor = grant.proxy_admin.as_ref().map_or(grant.user.id, |a| a.id);
        self.audit
            .log(
                ctx,
                now,
                Some(actor),
                AuditAction::Login,
                Some(grant.user.id.to_string()),
                AuditOutcome::Failure,
                json!({"session": session.0, "reason": why.to_string(), "session_ended": true}),
            )
            .await;
    }
}
