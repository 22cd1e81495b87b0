//! The OpenID provider service and the authorization endpoint's decisions: is the user signed
//! in recently enough, has a third-party client been granted these scopes, which org, and the
//! code that ends the front-channel part of the flow.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;

use super::client_auth::FailedAuth;
use super::error::OAuthError;
use super::request::{AuthorizationRequest, AuthorizeError, AuthorizeParams, RequestSeal};
use crate::audit::{AuditAction, AuditContext};
use crate::crypto;
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::tokens::Principal;

/// Codes live one minute (OIDC Core recommends short; RFC 6749 §4.1.2 caps at ten).
pub const CODE_TTL_SECS: i64 = 60;

/// The provider: what the `oidc` surface and the pages call.
pub struct Provider {
    pub(super) engine: Arc<Engine>,
    pub(super) seal: RequestSeal,
    pub(super) failed_auth: FailedAuth,
    clients: super::client_cache::ClientCache,
    pub(super) service_accounts: super::client_credentials::AccountCache,
    /// Verifies upstream ID tokens for token exchange; unset: none is trusted.
    pub(super) upstream: std::sync::OnceLock<Arc<dyn super::UpstreamIdTokens>>,
    /// Dynamic registration and metadata documents (`registration/`).
    pub(super) registration: super::registration::RegistrationState,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").finish()
    }
}

/// The person signed in to this browser, from the session cookie.
#[derive(Debug, Clone)]
pub struct BrowserSignIn {
    pub principal: Principal,
    pub session: Session,
}

/// What the authorization endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeStep {
    /// Send the browser to the sign-in page with this pending request.
    SignIn {
        pending: String,
        login_hint: Option<String>,
    },
    /// Ask the user to allow a third-party client these scopes.
    Consent {
        pending: String,
        client_name: String,
        scopes: Vec<String>,
    },
    /// Ask the user which org to sign in with.
    ChooseOrg {
        pending: String,
        client_name: String,
        orgs: Vec<Org>,
    },
    /// Redirect the browser to the client (a code or an error), `iss` included (RFC 9207).
    Redirect(String),
}

impl Provider {
    pub fn new(engine: Arc<Engine>) -> Arc<Provider> {
        let seal = RequestSeal::of(&engine);
        let registration =
            super::registration::RegistrationState::new(&engine.config().oidc.registration);
        Arc::new(Provider {
            engine,
            seal,
            failed_auth: FailedAuth::default(),
            clients: Default::default(),
            service_accounts: Default::default(),
            upstream: std::sync::OnceLock::new(),
            registration,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The issuer identifier: the public URL, no trailing slash.
    pub fn issuer(&self) -> &str {
        self.engine.config().public_url.trim_end_matches('/')
    }

    /// An enabled client by id.
    pub async fn client(&self, client_id: &str) -> CoreResult<Option<OAuthClient>> {
        if client_id.is_empty() || client_id.len() > 256 {
            return Ok(None);
        }
        // The stamp is read before the store: a change committed after it bumps it.
        let epoch = self.engine.revocations().clients_epoch();
        if let Some(client) = self.clients.get(client_id, epoch) {
            return Ok(Some(client));
        }
        let client = self.engine.store().get_oauth_client(client_id).await?;
        let client = client.filter(|c| !c.is_disabled());
        if let Some(c) = &client {
            self.clients.put(c, epoch);
        }
        Ok(client)
    }

    /// Drops every cached client: call after changing one (other nodes hear of it through the
    /// revocation feed).
    pub fn clients_changed(&self) {
        self.engine.revocations().bump_clients();
    }

    /// The browser's sign-in, when its session token is valid, unrevoked and the user's own
    /// (an impersonation session never signs in to other applications).
    pub async fn browser_sign_in(&self, session_token: &str) -> Option<BrowserSignIn> {
        let principal = self.engine.authenticate(session_token).await.ok()?;
        if principal.actor.is_some() || principal.is_credential_based() {
            return None;
        }
        let sid = principal.session()?.clone();
        let session = self.engine.store().get_session(&sid).await.ok()??;
        (session.grant.is_none() && session.is_live(Utc::now()))
            .then_some(BrowserSignIn { principal, session })
    }

    /// Opens a pending request sealed by an earlier step.
    pub fn open_pending(&self, pending: &str) -> Option<AuthorizationRequest> {
        self.seal.open(pending, Utc::now())
    }

    /// The authorization endpoint: validates the request, then decides the next step.
    pub async fn authorize(
        &self,
        params: &AuthorizeParams,
        browser: Option<&BrowserSignIn>,
        ctx: &AuditContext,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let client_id = params.client_id.as_deref().unwrap_or_default().trim();
        let client = if super::client_metadata_document::is_url_client_id(client_id) {
            Some(self.metadata_document_client(client_id, ctx).await?)
        } else {
            self.client(client_id).await.map_err(|_| {
                AuthorizeError::Page("The server could not look up the application.".into())
            })?
        };
        let req = super::request::validate(params, client.as_ref(), Utc::now())?;
        match client {
            Some(client) => self.proceed(&client, req, browser, ctx).await,
            None => Err(AuthorizeError::Page("This application is unknown.".into())),
        }
    }

    /// Continues a pending request after the sign-in page.
    pub async fn resume(
        &self,
        pending: &str,
        browser: Option<&BrowserSignIn>,
        ctx: &AuditContext,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let (client, req) = self.pending(pending).await?;
        self.proceed(&client, req, browser, ctx).await
    }

    /// The consent page's answer.
    pub async fn decide_consent(
        &self,
        pending: &str,
        approved: bool,
        browser: Option<&BrowserSignIn>,
        ctx: &AuditContext,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let (client, mut req) = self.pending(pending).await?;
        let Some(b) = browser else {
            return self.proceed(&client, req, None, ctx).await;
        };
        if !approved {
            self.audit_authorize(ctx, b.principal.user, &client, "consent denied")
                .await;
            return Err(redirect_error(
                &req,
                OAuthError::access_denied("the user did not allow access"),
            ));
        }
        let consent = Consent {
            user_id: b.principal.user,
            client_id: client.client_id.clone(),
            scopes: req.scopes.iter().cloned().collect(),
            granted_at: Utc::now(),
        };
        super::consents::remember(&self.engine, consent, ctx)
            .await
            .map_err(|e| redirect_error(&req, e.into()))?;
        req.consented = true;
        self.proceed(&client, req, browser, ctx).await
    }

    /// The org page's answer.
    pub async fn choose_org(
        &self,
        pending: &str,
        org: OrgId,
        browser: Option<&BrowserSignIn>,
        ctx: &AuditContext,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let (client, mut req) = self.pending(pending).await?;
        req.org = Some(org);
        self.proceed(&client, req, browser, ctx).await
    }

    async fn pending(
        &self,
        pending: &str,
    ) -> Result<(OAuthClient, AuthorizationRequest), AuthorizeError> {
        let req = self.open_pending(pending).ok_or_else(|| {
            AuthorizeError::Page(
                "This sign-in request expired. Go back to the application and start again.".into(),
            )
        })?;
        // The client may have been disabled or changed since the request began.
        let client = self
            .client(&req.client_id)
            .await
            .ok()
            .flatten()
            .filter(|c| super::clients::match_redirect_uri(c, &req.redirect_uri).is_some())
            .ok_or_else(|| {
                AuthorizeError::Page("This application is unknown or disabled.".into())
            })?;
        Ok((client, req))
    }

    async fn proceed(
        &self,
        client: &OAuthClient,
        req: AuthorizationRequest,
        browser: Option<&BrowserSignIn>,
        ctx: &AuditContext,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let now = Utc::now();
        let Some(b) = browser.filter(|b| signed_in_recently_enough(b, &req)) else {
            if req.prompt.none {
                return Err(redirect_error(
                    &req,
                    OAuthError::login_required("the user is not signed in"),
                ));
            }
            return Ok(AuthorizeStep::SignIn {
                pending: self.seal.seal(&req, now),
                login_hint: req.login_hint.clone(),
            });
        };
        if let Some(step) = self.second_factor_step(&req, b, now).await? {
            return Ok(step);
        }
        let user = b.principal.user;
        let org = match self.org_for(client, req.org, user).await {
            Ok(OrgDecision::Use(org)) => org,
            Ok(OrgDecision::Ask(orgs)) => {
                if req.prompt.none {
                    return Err(redirect_error(
                        &req,
                        OAuthError::account_selection_required("the user must choose an org"),
                    ));
                }
                return Ok(AuthorizeStep::ChooseOrg {
                    pending: self.seal.seal(&req, now),
                    client_name: client.name.clone(),
                    orgs,
                });
            }
            Err(e) => {
                self.audit_authorize(ctx, user, client, &e.description)
                    .await;
                return Err(redirect_error(&req, e));
            }
        };
        if !client.first_party && !req.consented {
            let remembered = self
                .engine
                .store()
                .get_consent(user, &client.client_id)
                .await
                .map_err(|e| redirect_error(&req, CoreError::from(e).into()))?;
            let covered =
                remembered.is_some_and(|c| req.scopes.iter().all(|s| c.scopes.contains(s)));
            if !covered || req.prompt.consent {
                if req.prompt.none {
                    return Err(redirect_error(
                        &req,
                        OAuthError::consent_required("the user has not allowed this application"),
                    ));
                }
                return Ok(AuthorizeStep::Consent {
                    pending: self.seal.seal(&req, now),
                    client_name: client.name.clone(),
                    scopes: req.scopes.clone(),
                });
            }
        }
        let code = self
            .issue_code(client, &req, b, org, ctx)
            .await
            .map_err(|e| redirect_error(&req, e.into()))?;
        Ok(AuthorizeStep::Redirect(self.redirect_url(
            &req.redirect_uri,
            &[
                ("code", Some(code.as_str())),
                ("state", req.state.as_deref()),
            ],
        )))
    }

    /// `acr_values` asking for a second factor that the browser's sign-in lacks: sign in again
    /// (the sign-in page asks for the factor), or `unmet_authentication_requirements` when the
    /// user has none to give and the policy does not make them enrol one.
    async fn second_factor_step(
        &self,
        req: &AuthorizationRequest,
        b: &BrowserSignIn,
        now: Timestamp,
    ) -> Result<Option<AuthorizeStep>, AuthorizeError> {
        if !super::requires_mfa(&req.acr_values) || amr_has_second_factor(&b.session.amr) {
            return Ok(None);
        }
        let requirement = match self.engine.active_user(b.principal.user).await {
            Ok(user) => self.engine.mfa_requirement(&user).await,
            Err(e) => Err(e),
        }
        .map_err(|e| redirect_error(req, e.into()))?;
        if requirement == MfaRequirement::None {
            return Err(redirect_error(
                req,
                OAuthError::unmet_authentication_requirements(
                    "the user has no second factor for the requested acr",
                ),
            ));
        }
        if req.prompt.none {
            return Err(redirect_error(
                req,
                OAuthError::login_required("the sign-in needs a second factor"),
            ));
        }
        Ok(Some(AuthorizeStep::SignIn {
            pending: self.seal.seal(req, now),
            login_hint: req.login_hint.clone(),
        }))
    }

    /// The org a grant is for: the client's own when it is org-bound, else the one `chosen`,
    /// else the user's only active org; several without a choice ask.
    pub(super) async fn org_for(
        &self,
        client: &OAuthClient,
        chosen: Option<OrgId>,
        user: UserId,
    ) -> Result<OrgDecision, OAuthError> {
        let mut orgs = self.active_orgs(user).await?;
        let wanted = client.org_id.or(chosen);
        if let Some(wanted) = wanted {
            return orgs
                .into_iter()
                .find(|o| o.id == wanted)
                .map(|o| OrgDecision::Use(o.id))
                .ok_or_else(|| {
                    OAuthError::access_denied("the user is not an active member of the org")
                });
        }
        match orgs.len() {
            0 => Err(OAuthError::access_denied(
                "the user belongs to no active org",
            )),
            1 => Ok(OrgDecision::Use(orgs[0].id)),
            _ => {
                orgs.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(OrgDecision::Ask(orgs))
            }
        }
    }

    /// The enabled orgs the user is an active member of.
    pub(super) async fn active_orgs(&self, user: UserId) -> Result<Vec<Org>, OAuthError> {
        let store = self.engine.store();
        let memberships = store
            .list_user_memberships(user, false)
            .await
            .map_err(CoreError::from)?;
        let mut orgs = Vec::new();
        for m in memberships.into_iter().filter(Membership::is_active) {
            if let Some(org) = store.get_org(m.org_id).await.map_err(CoreError::from)?
                && !org.disabled
                && !self
                    .engine
                    .revocations()
                    .is_membership_deactivated(user, org.id)
            {
                orgs.push(org);
            }
        }
        Ok(orgs)
    }

    /// Stores the code's hash with everything the token request must match; returns the code.
    async fn issue_code(
        &self,
        client: &OAuthClient,
        req: &AuthorizationRequest,
        b: &BrowserSignIn,
        org: OrgId,
        ctx: &AuditContext,
    ) -> CoreResult<String> {
        let now = Utc::now();
        let code = crypto::random_token(32);
        let record = AuthorizationCode {
            code_hash: hex::encode(crypto::sha256(code.as_bytes())),
            client_id: client.client_id.clone(),
            browser_session: b.session.id.clone(),
            user_id: b.principal.user,
            org_id: org,
            redirect_uri: req.redirect_uri.clone(),
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            code_challenge: Some(req.code_challenge.clone()),
            auth_time: b.session.created_at,
            amr: b.session.amr.clone(),
            acr: Some(super::acr_for(&req.acr_values, &b.session.amr)),
            created_at: now,
            expires_at: now + Duration::seconds(CODE_TTL_SECS),
            consumed_at: None,
            grant_session: None,
        };
        self.engine
            .store()
            .insert_authorization_code(record)
            .await?;
        self.engine
            .audit()
            .log(
                ctx,
                now,
                Some(b.principal.user),
                AuditAction::OidcAuthorize,
                Some(client.client_id.clone()),
                AuditOutcome::Success,
                json!({ "org": org.0, "scopes": req.scopes, "session": b.session.id.0 }),
            )
            .await;
        Ok(code)
    }

    async fn audit_authorize(
        &self,
        ctx: &AuditContext,
        user: UserId,
        client: &OAuthClient,
        reason: &str,
    ) {
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                Some(user),
                AuditAction::OidcAuthorize,
                Some(client.client_id.clone()),
                AuditOutcome::Denied,
                json!({ "reason": reason }),
            )
            .await;
    }

    /// `uri` with the parameters added to its query, and `iss` (RFC 9207).
    pub fn redirect_url(&self, uri: &str, params: &[(&str, Option<&str>)]) -> String {
        let mut out = uri.to_string();
        let mut sep = if uri.contains('?') { '&' } else { '?' };
        let iss = [("iss", Some(self.issuer()))];
        for (k, v) in params.iter().chain(iss.iter()) {
            if let Some(v) = v {
                out.push(sep);
                out.push_str(k);
                out.push('=');
                out.push_str(&super::url_component(v));
                sep = '&';
            }
        }
        out
    }

    /// An authorization error as the client's redirect.
    pub fn error_redirect(
        &self,
        redirect_uri: &str,
        error: &OAuthError,
        state: Option<&str>,
    ) -> String {
        self.redirect_url(
            redirect_uri,
            &[
                ("error", Some(error.code)),
                ("error_description", Some(error.description.as_str())),
                ("state", state),
            ],
        )
    }
}

pub(super) enum OrgDecision {
    Use(OrgId),
    Ask(Vec<Org>),
}

/// `prompt=login` wants a sign-in after the request began; `max_age` one within that many
/// seconds (OIDC Core §3.1.2.1).
fn signed_in_recently_enough(b: &BrowserSignIn, req: &AuthorizationRequest) -> bool {
    let auth_time = b.session.created_at.timestamp();
    if (req.prompt.login || req.prompt.select_account) && auth_time < req.received_at {
        return false;
    }
    match req.max_age {
        Some(max) => Utc::now().timestamp() - auth_time <= max,
        None => true,
    }
}

fn redirect_error(req: &AuthorizationRequest, error: OAuthError) -> AuthorizeError {
    AuthorizeError::Redirect {
        redirect_uri: req.redirect_uri.clone(),
        error,
        state: req.state.clone(),
    }
}
