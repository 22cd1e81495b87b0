//! The federated functions: `loginWithIdp*` (upstream access token in `Idp-Authorization`),
//! `loginWithSSO` (provider `OKTA`) and the IdP / web-SSO answers of `startLogin`
//! (PARSABLE.md §8). Token validation, identity resolution and team rules are
//! `portcullis-federation`'s, sessions the engine's; this module maps
//! (`docs/design/federation.md`, "Error mapping").

use std::sync::Arc;

use portcullis_core::engine::LoginRequest;
use portcullis_core::model::User;
use portcullis_federation::{Federation, FederationError, UpstreamIdentity};

use crate::convert;
use crate::errors::ApiError;
use crate::handlers::{
    CallContext, HandlerResult, core, login_request, nonblank_email, rate_limit, team_id,
    team_select_result,
};
use crate::wire::{self, ErrorCode, LoginOptions, Method, Outcome};

const IDP_NOT_CONFIGURED: &str = "identity provider login is not configured";

/// `FederationError` → `SystemException` code: expired 498; forged, foreign or malformed 497;
/// no account (or no email to find one) 401; no team or a refused team 476; bad argument 400;
/// provider down or internal 500.
pub(crate) fn federation_error(e: FederationError, method: Method) -> ApiError {
    use FederationError as F;
    if e.is_token_failure() {
        tracing::info!(method = method.name(), error = %e, "upstream token refused");
    }
    match e {
        F::Expired => ApiError::new(
            ErrorCode::TOKEN_EXPIRED,
            "token-expired",
            "Identity provider token expired",
        ),
        F::MissingClaims(_) | F::NoAccount(_) => ApiError::new(
            ErrorCode::UNAUTHORIZED,
            "no-account",
            "No account matches this identity",
        ),
        F::NoMembership => ApiError::from_core(portcullis_core::CoreError::NoMembership, method),
        F::NotAuthorized(why) => ApiError::new(
            ErrorCode::INSUFFICIENT_PERMISSIONS,
            "insufficient-permissions",
            format!("Insufficient permissions: {why}"),
        ),
        F::InvalidArgument(m) => ApiError::bad_request(m),
        F::WorkspaceNotFound(_) => ApiError::not_found("workspace"),
        F::ProviderUnavailable(d) => {
            ApiError::internal(format!("identity provider unavailable: {d}"))
        }
        F::Config(d) => ApiError::internal(format!("federation configuration: {d}")),
        F::Store(s) => ApiError::from_core(portcullis_core::CoreError::Store(s), method),
        F::Core(c) => ApiError::from_core(c, method),
        F::Malformed(_)
        | F::UnknownIssuer { .. }
        | F::UnknownProvider(_)
        | F::DisallowedAlgorithm(_)
        | F::BadSignature
        | F::BadAudience { .. }
        | F::NotYetValid
        | F::UserinfoRejected
        | F::TokenInactive
        | F::OpaqueTokenUnverifiable(_)
        | F::UserinfoMismatch => ApiError::new(
            ErrorCode::INVALID_TOKEN,
            "invalid-token",
            "Invalid identity provider token",
        ),
    }
}

fn fed_err(method: Method) -> impl Fn(FederationError) -> ApiError {
    move |e| federation_error(e, method)
}

fn not_configured() -> ApiError {
    ApiError::new(
        ErrorCode::UNAUTHORIZED,
        "idp-not-configured",
        IDP_NOT_CONFIGURED,
    )
}

/// The upstream token of `Idp-Authorization`, or 401.
fn idp_token(cx: &CallContext) -> Result<&str, ApiError> {
    cx.idp_token.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::UNAUTHORIZED,
            "missing-idp-token",
            "Authentication required: send 'Idp-Authorization: Bearer <token>'",
        )
    })
}

fn configured(cx: &CallContext) -> Result<&Arc<Federation>, ApiError> {
    cx.federation
        .as_ref()
        .filter(|f| !f.is_empty())
        .ok_or_else(not_configured)
}

/// Verifies the upstream access token and maps it to an account.
async fn identify(
    cx: &CallContext,
    fed: &Federation,
    token: &str,
    provider: Option<&str>,
    m: Method,
) -> Result<(UpstreamIdentity, User), ApiError> {
    let id = fed
        .verify_access_token(token, provider)
        .await
        .map_err(fed_err(m))?;
    let user = fed.resolve_user(&id, &cx.audit).await.map_err(fed_err(m))?;
    Ok((id, user))
}

/// What the `loginWithIdp*` methods share once the IdP token (and any team id) is read: the
/// login options, then the account the token proves.
async fn idp_login<'c>(
    cx: &'c CallContext,
    m: Method,
    token: &str,
    options: &LoginOptions,
) -> Result<(&'c Arc<Federation>, UpstreamIdentity, User, LoginRequest), ApiError> {
    let request = login_request(cx, m, options)?;
    let fed = configured(cx)?;
    let (id, user) = identify(cx, fed, token, None, m).await?;
    Ok((fed, id, user, request))
}

/// `loginWithIdp`: a session token.
pub(crate) async fn login_with_idp(cx: &CallContext, options: &LoginOptions) -> HandlerResult {
    let m = Method::LoginWithIdp;
    rate_limit(cx, m)?;
    let token = idp_token(cx)?;
    let (fed, id, user, request) = idp_login(cx, m, token, options).await?;
    let outcome = fed
        .login(&id, user, &request, &cx.audit)
        .await
        .map_err(fed_err(m))?;
    Ok(Outcome::LoginResult(convert::login_result(&outcome.result)))
}

/// `loginWithIdpAndTeam`: a team token for `teamId` (its session is the login's).
pub(crate) async fn login_with_idp_and_team(
    cx: &CallContext,
    team: &str,
    options: &LoginOptions,
) -> HandlerResult {
    let m = Method::LoginWithIdpAndTeam;
    rate_limit(cx, m)?;
    let token = idp_token(cx)?;
    let org = team_id(team)?;
    let (fed, id, user, request) = idp_login(cx, m, token, options).await?;
    let outcome = fed
        .login_with_org(&id, user, org, &request, &cx.audit)
        .await
        .map_err(fed_err(m))?;
    Ok(Outcome::LoginResult(convert::login_result(&outcome.result)))
}

/// `loginWithIdpAndTeamSelect`: with two or more teams, the team list and no token; else a
/// session login as `loginWithIdp`.
pub(crate) async fn login_with_idp_and_team_select(
    cx: &CallContext,
    options: &LoginOptions,
) -> HandlerResult {
    let m = Method::LoginWithIdpAndTeamSelect;
    rate_limit(cx, m)?;
    let token = idp_token(cx)?;
    let (fed, id, user, request) = idp_login(cx, m, token, options).await?;
    let outcome = fed
        .login_with_org_select(&id, user, &request, &cx.audit)
        .await
        .map_err(fed_err(m))?;
    Ok(team_select_result(outcome))
}

/// `loginWithSSO`: provider `OKTA` only, served by the first `okta` provider; the token is
/// verified against that provider alone.
pub(crate) async fn login_with_sso(cx: &CallContext, request: &wire::SSORequest) -> HandlerResult {
    let m = Method::LoginWithSso;
    rate_limit(cx, m)?;
    if request.provider != wire::SSOProvider::OKTA {
        return Err(ApiError::bad_request(format!(
            "unknown SSO provider {}",
            request.provider.0
        )));
    }
    let Some(token) = request.token.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::bad_request("SSORequest.token is required"));
    };
    let Some((fed, alias)) = cx
        .federation
        .as_ref()
        .and_then(|f| f.okta_alias().map(|a| (f, a.to_owned())))
    else {
        return Err(ApiError::bad_request("SSO provider OKTA is not configured"));
    };
    let (id, user) = identify(cx, fed, token, Some(&alias), m).await?;
    let request = login_request(cx, m, &LoginOptions::default())?;
    let outcome = fed
        .login(&id, user, &request, &cx.audit)
        .await
        .map_err(fed_err(m))?;
    Ok(Outcome::LoginResult(convert::login_result(&outcome.result)))
}

/// `isMultiTeam` of every `startLogin` answer (PARSABLE.md §8 says "for users on more than one
/// team"; the unauthenticated caller must not learn that, so this is this project's choice).
/// Always `true`: it sends clients to `loginWithIdpAndTeamSelect`, which serves every user (a
/// team list for two teams or more, else a login result), so no one is misled.
const START_LOGIN_MULTI_TEAM: bool = true;

/// `startLogin` for an address whose domain a provider serves: the provider's endpoints
/// (discovery is fetched when not cached; a provider that is down leaves them out), whoever
/// asks, with nothing that depends on the account: `isMultiTeam` is always true (see
/// [`START_LOGIN_MULTI_TEAM`]). `None`: no provider serves the domain.
pub(crate) async fn start_login_types(
    cx: &CallContext,
    email: &str,
) -> Result<Option<wire::ValidAuthTypes>, ApiError> {
    let m = Method::StartLogin;
    let email = nonblank_email(email)?;
    let Some(fed) = cx.federation.as_ref() else {
        return Ok(None);
    };
    let Some(mut summary) = fed.provider_for_email_domain(email) else {
        return Ok(None);
    };
    if summary.authorization_endpoint.is_none()
        && let Ok(s) = fed.describe(&summary.alias).await
    {
        summary = s;
    }
    let jit = fed
        .providers()
        .find(|p| p.alias == summary.alias)
        .map(|p| p.jit_provisioning);
    // Browser SSO: a relative URL with a fresh single-use start token (docs/design/browser-sso.md).
    let web_sso = if fed.browser_sso_enabled(&summary.alias) {
        let t = cx
            .engine
            .sso_start_token(&summary.alias, Some(email))
            .await
            .map_err(core(m))?;
        Some(wire::WebSSOAuth {
            url: format!("/login/sso/start?t={t}"),
        })
    } else {
        None
    };
    Ok(Some(wire::ValidAuthTypes {
        password_auth: None,
        is_automatically_provisioned: jit,
        is_sso: Some(web_sso.is_some()),
        web_sso,
        idp_auth: Some(wire::IdpAuth {
            idp_alias: Some(summary.alias),
            issuer: Some(summary.issuer),
            authorization_endpoint: summary.authorization_endpoint,
            token_endpoint: summary.token_endpoint,
            is_multi_team: Some(START_LOGIN_MULTI_TEAM),
            end_session_endpoint: summary.end_session_endpoint,
        }),
        is_idp_auth: Some(true),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: FederationError) -> i32 {
        federation_error(e, Method::LoginWithIdp).code.0
    }

    #[test]
    fn error_table() {
        use FederationError as F;
        assert_eq!(code(F::Expired), 498);
        for e in [
            F::Malformed("x"),
            F::UnknownIssuer {
                issuer: "https://x".into(),
            },
            F::UnknownProvider("x".into()),
            F::DisallowedAlgorithm("none".into()),
            F::BadSignature,
            F::BadAudience {
                audience: "x".into(),
            },
            F::NotYetValid,
            F::UserinfoRejected,
            F::TokenInactive,
            F::OpaqueTokenUnverifiable("okta".into()),
            F::UserinfoMismatch,
        ] {
            assert_eq!(code(e), 497);
        }
        assert_eq!(code(F::NoAccount("x")), 401);
        assert_eq!(code(F::MissingClaims(vec!["email".into()])), 401);
        assert_eq!(code(F::NoMembership), 476);
        assert_eq!(code(F::NotAuthorized("x")), 476);
        assert_eq!(code(F::InvalidArgument("x".into())), 400);
        assert_eq!(code(F::ProviderUnavailable("down".into())), 500);
        assert_eq!(code(F::Config("x".into())), 500);
        let down = portcullis_core::store::StoreError::Unavailable("refused".into());
        assert_eq!(code(F::Store(down)), 503);
        let x = federation_error(
            F::ProviderUnavailable("secret detail".into()),
            Method::LoginWithIdp,
        )
        .into_exception("r".into());
        assert!(!x.message.contains("secret"));
    }
}
