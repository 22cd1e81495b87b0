//! The OIDC-backed endpoints: getAccessToken, refreshAccessToken, getUserOrgs and
//! getIdpEndSessionEndpoint (NOMINAL.md §5–§7).
//!
//! The bodies are validated here (malformed requests get 400); token validation, identity
//! resolution and org selection are `portcullis-federation`'s, token issuing the engine's. This
//! module only maps: the error table is the one of `docs/design/federation.md`. Without a
//! federation (a router built with `None`), every well-formed request answers
//! `Authorization:NotAuthorized`, as for an unknown provider.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use portcullis_core::CoreError;
use portcullis_core::engine::IssuedToken;
use portcullis_federation::{Federation, FederationError, NominalOrgRequest, UpstreamIdentity};

use crate::auth::{ApiError, ApiResult, Ctx, check_rate, fault, internal};
use crate::convert;
use crate::routes::NominalState;
use crate::wire::{
    ConjureError, ConjureJson, ConjureUuid, GetAccessTokenRequest, GetAccessTokenResponse,
    GetIdpEndSessionEndpointRequest, GetIdpEndSessionEndpointResponse, GetUserOrgsRequest,
    GetUserOrgsResponse, JsonOk, RefreshAccessTokenRequest, RefreshAccessTokenResponse,
};

fn federation(st: &NominalState) -> ApiResult<&Arc<Federation>> {
    st.federation.as_ref().ok_or_else(|| {
        ConjureError::authorization_not_authorized()
            .with_detail("no OIDC provider is configured")
            .into()
    })
}

/// Which endpoint a failure is mapped for (the columns of the design doc's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    GetAccessToken,
    RefreshAccessToken,
    GetUserOrgs,
    EndSession,
}

fn not_authorized(e: &FederationError) -> ConjureError {
    ConjureError::authorization_not_authorized().with_detail(e.to_string())
}

/// Engine failures after the org was chosen (issuing the token).
fn engine_error(e: CoreError) -> ApiError {
    match e {
        CoreError::NoMembership => ConjureError::authorization_no_membership().into(),
        CoreError::PermissionDenied(_) | CoreError::OrgDisabled | CoreError::NotFound(_) => {
            ConjureError::authorization_not_authorized()
                .with_detail(e.to_string())
                .into()
        }
        other => other.into(),
    }
}

/// `FederationError` → Conjure error, per endpoint (docs/design/federation.md, "Error mapping").
fn map(endpoint: Endpoint, e: FederationError) -> ApiError {
    use Endpoint::*;
    use FederationError as F;
    let e = match e {
        F::Core(c) => {
            return match (endpoint, c) {
                (_, c @ (CoreError::Store(_) | CoreError::Internal(_))) => fault(c),
                (_, c @ CoreError::RateLimited { .. }) => c.into(),
                (GetUserOrgs | EndSession, c) => ConjureError::authorization_not_authorized()
                    .with_detail(c.to_string())
                    .into(),
                (_, c) => engine_error(c),
            };
        }
        F::Store(s) => return fault(CoreError::Store(s)),
        other => other,
    };
    let err = match (&e, endpoint) {
        // Internal faults and an unreachable provider: 500 everywhere, detail logged only.
        (F::ProviderUnavailable(_) | F::Store(_) | F::Config(_), _) => internal(&e),
        // Only getUserOrgs and getIdpEndSessionEndpoint name nothing but NotAuthorized.
        (F::Malformed(_), GetAccessToken | EndSession) => {
            ConjureError::authorization_invalid_jwt_format()
        }
        (_, GetUserOrgs | EndSession) => not_authorized(&e),
        (F::MissingClaims(c), _) => ConjureError::authorization_missing_claims(c.iter()),
        (F::NoAccount(_) | F::NoMembership, _) => ConjureError::authorization_no_membership(),
        (F::WorkspaceNotFound(ws), _) => ConjureError::authorization_workspace_not_found(ws),
        (F::InvalidArgument(m), _) => ConjureError::invalid_argument().with_detail(m.clone()),
        (F::UnknownIssuer { issuer }, GetAccessToken) => {
            ConjureError::authorization_invalid_jwt_issuer(issuer)
        }
        (F::UnknownProvider(alias), GetAccessToken) => {
            ConjureError::authorization_invalid_jwt_issuer(alias)
        }
        (F::BadAudience { audience }, GetAccessToken) => {
            ConjureError::authorization_invalid_jwt_audience(audience)
        }
        (F::Expired, GetAccessToken) => ConjureError::authorization_invalid_jwt_expired(),
        // Bad signature, disallowed algorithm, not yet valid, userinfo refusal or mismatch,
        // a disabled or deactivated org; and every token failure of refreshAccessToken.
        _ => not_authorized(&e),
    };
    if e.is_token_failure() {
        tracing::info!(endpoint = ?endpoint, error = %e, "upstream token refused");
    }
    err.into()
}

/// The Nominal token for a verified upstream identity: its user, the org asked for, the token.
async fn issue(
    fed: &Federation,
    id: &UpstreamIdentity,
    org: NominalOrgRequest<'_>,
    ctx: &Ctx,
    endpoint: Endpoint,
) -> ApiResult<IssuedToken> {
    let m = |e| map(endpoint, e);
    let user = fed.resolve_user(id, &ctx.audit).await.map_err(m)?;
    let choice = fed.nominal_choice(id, &user, org).await.map_err(m)?;
    fed.issue_token(id, &user, choice, &ctx.audit)
        .await
        .map_err(m)
}

fn response(t: &IssuedToken) -> ApiResult<GetAccessTokenResponse> {
    Ok(convert::access_token_response(t)?)
}

/// Exchanges an upstream ID token for a Nominal access token of the configured access lifetime
/// (24 h by default), capped at the ID token's remaining life.
pub async fn get_access_token(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<GetAccessTokenRequest>,
) -> ApiResult<JsonOk<GetAccessTokenResponse>> {
    check_rate(&st, &ctx)?;
    let fed = federation(&st)?;
    let m = |e| map(Endpoint::GetAccessToken, e);
    let id = fed
        .verify_id_token(&req.id_token, req.access_token.as_deref())
        .await
        .map_err(m)?;
    let org = NominalOrgRequest {
        workspace_rid: req.workspace_rid.as_ref().map(|r| r.0.as_str()),
        org_rid: req.org_rid.as_ref().map(|r| r.0.as_str()),
    };
    let issued = issue(fed, &id, org, &ctx, Endpoint::GetAccessToken).await?;
    Ok(JsonOk(response(&issued)?))
}

/// Exchanges an upstream access token (which must carry `email`) for a Nominal access token
/// that ends at min(now + 24 h, the upstream token's `exp`); an opaque token whose expiry is
/// unknown counts as expiring now, plus the provider's session cap.
pub async fn refresh_access_token(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<RefreshAccessTokenRequest>,
) -> ApiResult<JsonOk<RefreshAccessTokenResponse>> {
    check_rate(&st, &ctx)?;
    let fed = federation(&st)?;
    let m = |e| map(Endpoint::RefreshAccessToken, e);
    let id = fed
        .verify_access_token(&req.access_token, None)
        .await
        .map_err(m)?;
    id.require_email().map_err(m)?;
    let org = NominalOrgRequest {
        workspace_rid: None,
        org_rid: req.org_rid.as_ref().map(|r| r.0.as_str()),
    };
    let issued = issue(fed, &id, org, &ctx, Endpoint::RefreshAccessToken).await?;
    let r = response(&issued)?;
    Ok(JsonOk(RefreshAccessTokenResponse {
        access_token: r.access_token,
        expires_at_seconds: r.expires_at_seconds,
        user_uuid: r.user_uuid,
        org_uuid: r.org_uuid,
        is_guest: r.is_guest,
    }))
}

/// The orgs the ID-token user may log into through its provider.
pub async fn get_user_orgs(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<GetUserOrgsRequest>,
) -> ApiResult<JsonOk<GetUserOrgsResponse>> {
    check_rate(&st, &ctx)?;
    let fed = federation(&st)?;
    let m = |e| map(Endpoint::GetUserOrgs, e);
    let id = fed
        .verify_id_token(&req.id_token, req.access_token.as_deref())
        .await
        .map_err(m)?;
    let user = fed.resolve_user(&id, &ctx.audit).await.map_err(m)?;
    let orgs = fed.login_orgs(&id, &user).await.map_err(m)?;
    let mut names = BTreeMap::new();
    let mut display_names = BTreeMap::new();
    for o in orgs {
        let key = ConjureUuid(o.org.id.0);
        if let Some(d) = o.org.display_name.filter(|d| !d.trim().is_empty()) {
            display_names.insert(key, d);
        }
        names.insert(key, o.org.name);
    }
    Ok(JsonOk(GetUserOrgsResponse {
        orgs: names,
        org_display_names: display_names,
    }))
}

/// The provider's end-session URL for an ID token (signature checked, `exp` ignored); `{}`
/// when the provider has none.
pub async fn get_idp_end_session_endpoint(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<GetIdpEndSessionEndpointRequest>,
) -> ApiResult<JsonOk<GetIdpEndSessionEndpointResponse>> {
    check_rate(&st, &ctx)?;
    let fed = federation(&st)?;
    let end_session_endpoint = fed
        .end_session_endpoint(&req.id_token)
        .await
        .map_err(|e| map(Endpoint::EndSession, e))?;
    Ok(JsonOk(GetIdpEndSessionEndpointResponse {
        end_session_endpoint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(endpoint: Endpoint, e: FederationError) -> String {
        match map(endpoint, e) {
            ApiError::Conjure(c) => c.name().to_owned(),
            ApiError::RateLimited(_) => "429".into(),
            ApiError::Unavailable(_) => "503".into(),
        }
    }

    fn all() -> Vec<FederationError> {
        use FederationError as F;
        vec![
            F::Malformed("x"),
            F::UnknownIssuer {
                issuer: "https://evil".into(),
            },
            F::UnknownProvider("x".into()),
            F::DisallowedAlgorithm("HS256".into()),
            F::BadSignature,
            F::BadAudience {
                audience: "other".into(),
            },
            F::Expired,
            F::NotYetValid,
            F::UserinfoRejected,
            F::UserinfoMismatch,
            F::TokenInactive,
            F::OpaqueTokenUnverifiable("corp".into()),
            F::MissingClaims(vec!["email".into()]),
            F::NoAccount("x"),
            F::WorkspaceNotFound("ri.x".into()),
            F::NoMembership,
            F::NotAuthorized("x"),
            F::InvalidArgument("x".into()),
            F::ProviderUnavailable("down".into()),
            F::Config("x".into()),
            F::Store(portcullis_core::store::StoreError::Unavailable(
                "down".into(),
            )),
        ]
    }

    #[test]
    fn get_access_token_table() {
        let got: Vec<String> = all()
            .into_iter()
            .map(|e| name(Endpoint::GetAccessToken, e))
            .collect();
        assert_eq!(
            got,
            [
                "Authorization:InvalidJwtFormat",
                "Authorization:InvalidJwtIssuer",
                "Authorization:InvalidJwtIssuer",
                "Authorization:NotAuthorized",
                "Authorization:NotAuthorized",
                "Authorization:InvalidJwtAudience",
                "Authorization:InvalidJwtExpired",
                "Authorization:NotAuthorized",
                "Authorization:NotAuthorized",
                "Authorization:NotAuthorized",
                "Authorization:NotAuthorized",
                "Authorization:NotAuthorized",
                "Authorization:MissingClaims",
                "Authorization:NoMembership",
                "Authorization:WorkspaceNotFound",
                "Authorization:NoMembership",
                "Authorization:NotAuthorized",
                "Default:InvalidArgument",
                "Default:Internal",
                "Default:Internal",
                "503",
            ]
        );
        match map(
            Endpoint::GetAccessToken,
            FederationError::UnknownIssuer {
                issuer: "https://evil".into(),
            },
        ) {
            ApiError::Conjure(c) => {
                assert_eq!(
                    c.params().get("issuer").map(String::as_str),
                    Some("https://evil")
                )
            }
            other => panic!("not a Conjure error: {other:?}"),
        }
    }

    #[test]
    fn refresh_table() {
        for e in all() {
            let token = e.is_token_failure();
            let n = name(Endpoint::RefreshAccessToken, e);
            if token {
                assert_eq!(n, "Authorization:NotAuthorized");
            }
        }
        assert_eq!(
            name(
                Endpoint::RefreshAccessToken,
                FederationError::MissingClaims(vec!["email".into()])
            ),
            "Authorization:MissingClaims"
        );
        assert_eq!(
            name(
                Endpoint::RefreshAccessToken,
                FederationError::NoAccount("x")
            ),
            "Authorization:NoMembership"
        );
    }

    #[test]
    fn user_orgs_and_end_session_tables() {
        for e in all() {
            let internal = matches!(
                e,
                FederationError::ProviderUnavailable(_) | FederationError::Config(_)
            );
            let down = matches!(e, FederationError::Store(_));
            let s = e.to_string();
            let n = name(Endpoint::GetUserOrgs, e);
            if internal {
                assert_eq!(n, "Default:Internal", "{s}");
            } else if down {
                assert_eq!(n, "503", "{s}");
            } else {
                assert_eq!(n, "Authorization:NotAuthorized", "{s}");
            }
        }
        for e in all() {
            let want = match e {
                FederationError::Malformed(_) => "Authorization:InvalidJwtFormat",
                FederationError::ProviderUnavailable(_) | FederationError::Config(_) => {
                    "Default:Internal"
                }
                FederationError::Store(_) => "503",
                _ => "Authorization:NotAuthorized",
            };
            assert_eq!(name(Endpoint::EndSession, e), want);
        }
    }
}
