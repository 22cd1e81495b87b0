//! One handler per `AuthenticationService` function (PARSABLE.md §8). Each validates its
//! arguments, calls the engine, and maps the result; the logic lives in the core.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use portcullis_core::audit::AuditContext;
use portcullis_core::engine::{Engine, LoginCredential, LoginRequest, OrgChoice, OrgSelectOutcome};
use portcullis_core::model::{OrgId, UserId};
use portcullis_core::tokens::Principal;
use portcullis_federation::Federation;

use crate::convert;
use crate::errors::ApiError;
use crate::federated;
use crate::wire::{self, Call, LoginOptions, Method, Outcome};

/// What the `Authorization` header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthHeader {
    /// Absent or empty (the CLI sends `Authorization: ` before it has a token).
    Absent,
    /// `Token <t>`.
    Token(String),
    /// Present with another scheme (or garbage): an invalid token.
    WrongScheme,
}

impl AuthHeader {
    /// Parses one header value (the edge parser): scheme `Token` (any case), spaces, the token.
    pub fn parse(value: Option<&[u8]>) -> AuthHeader {
        use portcullis_edge::{AuthorizationError as E, Scheme};
        let Some(raw) = value else {
            return AuthHeader::Absent;
        };
        let Ok(value) = http::HeaderValue::from_bytes(raw) else {
            return AuthHeader::WrongScheme;
        };
        match portcullis_edge::Authorization::parse(&value) {
            Ok(auth) if auth.scheme() == Scheme::Token => AuthHeader::Token(auth.into_credential()),
            Ok(_) => AuthHeader::WrongScheme,
            Err(E::Blank | E::NoCredential(Scheme::Token) | E::Missing) => AuthHeader::Absent,
            Err(E::NotAscii | E::UnknownScheme | E::NoCredential(Scheme::Bearer) | E::Repeated) => {
                AuthHeader::WrongScheme
            }
        }
    }
}

/// Parses `Idp-Authorization: Bearer <t>` (the edge parser); anything else counts as absent.
pub fn parse_idp_header(value: Option<&[u8]>) -> Option<String> {
    let value = http::HeaderValue::from_bytes(value?).ok()?;
    portcullis_edge::Authorization::parse(&value)
        .ok()
        .filter(|auth| auth.scheme() == portcullis_edge::Scheme::Bearer)
        .map(portcullis_edge::Authorization::into_credential)
}

/// Everything a handler needs about its request.
pub struct CallContext {
    pub engine: Arc<Engine>,
    /// The upstream OpenID providers (`None` or empty: IdP and SSO logins are not configured).
    pub federation: Option<Arc<Federation>>,
    pub auth: AuthHeader,
    pub idp_token: Option<String>,
    pub ip: Option<IpAddr>,
    pub audit: AuditContext,
}

pub(crate) type HandlerResult = Result<Outcome, ApiError>;

/// Runs one decoded call.
pub async fn dispatch(cx: &CallContext, call: Call) -> Outcome {
    let method = call.method();
    let result = match call {
        Call::Login(a) => login(cx, &a.email, &a.password, &a.options)
            .await
            .map(Outcome::LoginResult),
        Call::LoginWithTeamSelect(a) => {
            login_with_team_select(cx, &a.email, &a.password, &a.options).await
        }
        Call::LoginWithSso(a) => federated::login_with_sso(cx, &a.request).await,
        Call::LoginWithIdp(a) => federated::login_with_idp(cx, &a.options).await,
        Call::LoginWithIdpAndTeam(a) => {
            federated::login_with_idp_and_team(cx, &a.team_id, &a.options).await
        }
        Call::LoginWithIdpAndTeamSelect(a) => {
            federated::login_with_idp_and_team_select(cx, &a.options).await
        }
        Call::Logout => logout(cx).await,
        Call::CreateTeamToken(a) => create_team_token(cx, &a.team_id).await,
        Call::LoginWithToken(a) => login_with_token(cx, &a.auth_token).await,
        Call::StartLogin(a) => start_login(cx, &a.email).await,
        Call::Refresh => refresh(cx).await,
        Call::GetCurrentUser => get_current_user(cx).await,
        Call::CreatePersistentAuth(a) => create_persistent_auth(cx, &a.user_id).await,
        Call::RevokePersistentAuth(a) => revoke_persistent_auth(cx, &a.user_id).await,
        Call::FetchPersistentAuthTokensMeta(a) => {
            fetch_persistent_meta(cx, &a.team_id, &a.user_ids).await
        }
    };
    match result {
        Ok(o) => o,
        Err(e) => answer_err(e, method, cx.audit.request_id.as_deref()),
    }
}

/// An err reply: a fresh `rqId` (UUID) for the client, logged with the request id; an internal
/// error's detail goes to the logs only.
pub(crate) fn answer_err(e: ApiError, method: Method, request_id: Option<&str>) -> Outcome {
    let rq_id = uuid::Uuid::new_v4().to_string();
    let request_id = request_id.unwrap_or("");
    let code = e.code.0;
    match &e.detail {
        Some(detail) => tracing::error!(
            rq_id = %rq_id,
            request_id,
            method = method.name(),
            code,
            slug = e.slug,
            detail = %detail,
            "parsable call failed on the server"
        ),
        None => tracing::info!(
            rq_id = %rq_id,
            request_id,
            method = method.name(),
            code,
            slug = e.slug,
            "parsable call answered with err"
        ),
    }
    Outcome::Err(e.into_exception(rq_id))
}

pub(crate) fn core(method: Method) -> impl Fn(portcullis_core::CoreError) -> ApiError {
    move |e| ApiError::from_core(e, method)
}

pub(crate) fn rate_limit(cx: &CallContext, method: Method) -> Result<(), ApiError> {
    cx.engine.check_ip_rate(cx.ip).map_err(core(method))
}

/// The caller's principal from `Authorization`.
async fn principal(cx: &CallContext, method: Method) -> Result<(Principal, String), ApiError> {
    match &cx.auth {
        AuthHeader::Absent => Err(ApiError::missing_token()),
        AuthHeader::WrongScheme => Err(ApiError::invalid_token()),
        AuthHeader::Token(t) => {
            let p = cx
                .engine
                .authenticate_from(t, cx.ip)
                .await
                .map_err(core(method))?;
            Ok((p, t.clone()))
        }
    }
}

pub(crate) fn nonblank_email(email: &str) -> Result<&str, ApiError> {
    let e = email.trim();
    if e.is_empty() {
        return Err(ApiError::bad_request("email must not be empty"));
    }
    Ok(e)
}

/// A teamId argument: blank → 400; not a team id → 404 (unknown team).
pub(crate) fn team_id(s: &str) -> Result<OrgId, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ApiError::bad_request("teamId must not be empty"));
    }
    OrgId::from_str(s).map_err(|_| ApiError::not_found("team"))
}

/// A userId argument: blank → 400; not a user id → 404.
fn user_id(s: &str) -> Result<UserId, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ApiError::bad_request("userId must not be empty"));
    }
    UserId::from_str(s).map_err(|_| ApiError::not_found("user"))
}

fn proxied_email(options: &LoginOptions) -> Option<&str> {
    options
        .proxied_user_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// The CSR of the options, if any (`userPrivateKey` is never read).
fn csr(options: &LoginOptions) -> Option<&str> {
    options
        .certificate_signing_request
        .as_deref()
        .filter(|c| !c.trim().is_empty())
}

/// The core's request for a login with these options; its rules (no client certificate for a
/// proxy login) are checked here, before anything is read or written.
pub(crate) fn login_request(
    cx: &CallContext,
    method: Method,
    options: &LoginOptions,
) -> Result<LoginRequest, ApiError> {
    cx.engine
        .login_request(proxied_email(options), csr(options))
        .map_err(core(method))
}

/// A team-select login's answer: the team list, or the login result.
pub(crate) fn team_select_result(outcome: OrgSelectOutcome) -> Outcome {
    Outcome::TeamSelectResult(match outcome {
        OrgSelectOutcome::Choose(choices) => wire::TeamSelectResult {
            login_result: None,
            team_info: Some(convert::team_choices(&choices)),
        },
        OrgSelectOutcome::LoggedIn(login) => wire::TeamSelectResult {
            login_result: Some(convert::login_result(&login.result)),
            team_info: None,
        },
    })
}

async fn login(
    cx: &CallContext,
    email: &str,
    password: &str,
    options: &LoginOptions,
) -> Result<wire::LoginResult, ApiError> {
    let m = Method::Login;
    rate_limit(cx, m)?;
    let email = nonblank_email(email)?;
    let request = login_request(cx, m, options)?;
    let credential = LoginCredential::Password { email, password };
    let outcome = cx
        .engine
        .login(credential, OrgChoice::Default, &request, &cx.audit)
        .await
        .map_err(core(m))?;
    Ok(convert::login_result(&outcome.result))
}

async fn login_with_team_select(
    cx: &CallContext,
    email: &str,
    password: &str,
    options: &LoginOptions,
) -> HandlerResult {
    let m = Method::LoginWithTeamSelect;
    rate_limit(cx, m)?;
    let email = nonblank_email(email)?;
    let request = login_request(cx, m, options)?;
    let credential = LoginCredential::Password { email, password };
    let outcome = cx
        .engine
        .login_with_org_select(credential, &request, &cx.audit)
        .await
        .map_err(core(m))?;
    Ok(team_select_result(outcome))
}

async fn logout(cx: &CallContext) -> HandlerResult {
    let m = Method::Logout;
    match &cx.auth {
        AuthHeader::Absent => Err(ApiError::missing_token()),
        AuthHeader::WrongScheme => Err(ApiError::invalid_token()),
        AuthHeader::Token(t) => {
            cx.engine.logout(t, &cx.audit).await.map_err(core(m))?;
            Ok(Outcome::Void)
        }
    }
}

async fn create_team_token(cx: &CallContext, team: &str) -> HandlerResult {
    let m = Method::CreateTeamToken;
    let (p, _) = principal(cx, m).await?;
    let org = team_id(team)?;
    let e = &cx.engine;
    let issued = e.org_token(&p, org, &cx.audit).await.map_err(core(m))?;
    let data = e
        .login_data_for_org_token(&p, &issued)
        .await
        .map_err(core(m))?;
    Ok(Outcome::LoginResult(convert::login_result(&data)))
}

async fn login_with_token(cx: &CallContext, token: &str) -> HandlerResult {
    let m = Method::LoginWithToken;
    rate_limit(cx, m)?;
    let p = cx.engine.authenticate(token).await.map_err(core(m))?;
    token_result(cx, m, &p, token).await
}

async fn refresh(cx: &CallContext) -> HandlerResult {
    let m = Method::Refresh;
    let (p, token) = principal(cx, m).await?;
    token_result(cx, m, &p, &token).await
}

async fn token_result(cx: &CallContext, m: Method, p: &Principal, token: &str) -> HandlerResult {
    let data = cx
        .engine
        .login_data_for_principal(p, token)
        .await
        .map_err(core(m))?;
    Ok(Outcome::LoginResult(convert::login_result(&data)))
}

async fn get_current_user(cx: &CallContext) -> HandlerResult {
    let m = Method::GetCurrentUser;
    let (p, _) = principal(cx, m).await?;
    let user = cx
        .engine
        .current_user(&p)
        .await
        .map_err(|e| ApiError::from_core(e, m))?;
    Ok(Outcome::User(convert::user(&user)))
}

async fn start_login(cx: &CallContext, email: &str) -> HandlerResult {
    rate_limit(cx, Method::StartLogin)?;
    let email = nonblank_email(email)?;
    // A domain an identity provider serves gets the provider's answer, whoever asks; every
    // other address gets password login plus Portcullis's own browser sign-in (where a second
    // factor can be asked; `login` refuses accounts that need one), known or not, so accounts
    // cannot be enumerated (docs/design/mfa.md, "Browser sign-in").
    if let Some(types) = federated::start_login_types(cx, email).await? {
        return Ok(Outcome::ValidAuthTypes(types));
    }
    let t = cx
        .engine
        .own_sign_in_token(Some(email))
        .await
        .map_err(core(Method::StartLogin))?;
    Ok(Outcome::ValidAuthTypes(wire::ValidAuthTypes {
        password_auth: Some(wire::PasswordAuth {}),
        web_sso: Some(wire::WebSSOAuth {
            url: format!("/login?t={t}"),
        }),
        is_sso: Some(false),
        ..wire::ValidAuthTypes::default()
    }))
}

async fn create_persistent_auth(cx: &CallContext, user: &str) -> HandlerResult {
    let m = Method::CreatePersistentAuth;
    let (p, _) = principal(cx, m).await?;
    let target = user_id(user)?;
    let e = &cx.engine;
    let (cred, secret, _org) = e
        .create_persistent_token(&p, target, &cx.audit)
        .await
        .map_err(core(m))?;
    let data = e
        .login_data_for_persistent(&cred, &secret)
        .await
        .map_err(core(m))?;
    Ok(Outcome::LoginResult(convert::login_result(&data)))
}

async fn revoke_persistent_auth(cx: &CallContext, user: &str) -> HandlerResult {
    let m = Method::RevokePersistentAuth;
    let (p, _) = principal(cx, m).await?;
    let target = user_id(user)?;
    cx.engine
        .revoke_persistent_tokens(&p, target, &cx.audit)
        .await
        .map_err(core(m))?;
    Ok(Outcome::Void)
}

async fn fetch_persistent_meta(cx: &CallContext, team: &str, users: &[String]) -> HandlerResult {
    let m = Method::FetchPersistentAuthTokensMeta;
    let (p, _) = principal(cx, m).await?;
    let org = team_id(team)?;
    if users.len() > portcullis_core::org_views::MAX_META_USER_IDS {
        return Err(ApiError::bad_request(format!(
            "at most {} userIds per call",
            portcullis_core::org_views::MAX_META_USER_IDS
        )));
    }
    // Ids that are not user ids cannot match a token: skipped like unknown users.
    let ids: Vec<UserId> = users
        .iter()
        .filter_map(|u| UserId::from_str(u.trim()).ok())
        .collect();
    let list = cx
        .engine
        .persistent_tokens_meta(&p, org, &ids)
        .await
        .map_err(core(m))?;
    Ok(Outcome::AuthTokenMetaList(
        list.iter().map(convert::token_meta).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_forms() {
        let p = |s: &str| AuthHeader::parse(Some(s.as_bytes()));
        assert_eq!(AuthHeader::parse(None), AuthHeader::Absent);
        assert_eq!(p(""), AuthHeader::Absent);
        assert_eq!(p("   "), AuthHeader::Absent);
        assert_eq!(p("Token"), AuthHeader::Absent);
        assert_eq!(p("Token abc"), AuthHeader::Token("abc".into()));
        assert_eq!(p("token    abc "), AuthHeader::Token("abc".into()));
        assert_eq!(p("TOKEN\tabc"), AuthHeader::Token("abc".into()));
        assert_eq!(p("Bearer abc"), AuthHeader::WrongScheme);
        assert_eq!(p("Tokenabc"), AuthHeader::WrongScheme);
        assert_eq!(
            AuthHeader::parse(Some(&[0xff, 0xfe])),
            AuthHeader::WrongScheme
        );
    }

    #[test]
    fn idp_header_forms() {
        let p = |s: &str| parse_idp_header(Some(s.as_bytes()));
        assert_eq!(p("Bearer x.y.z"), Some("x.y.z".into()));
        assert_eq!(p("bearer   x"), Some("x".into()));
        assert_eq!(p("Bearer "), None);
        assert_eq!(p("Token x"), None);
        assert_eq!(parse_idp_header(None), None);
    }
}
