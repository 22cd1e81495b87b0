//! The OIDC-backed endpoints: getAccessToken, refreshAccessToken, getUserOrgs and
//! getIdpEndSessionEndpoint (NOMINAL.md §6, §7).
//!
//! The bodies are validated here (malformed requests get 400); the OIDC provider validation is
//! `portcullis-federation`'s. Until it is wired, every well-formed request answers
//! `Authorization:NotAuthorized`, which is also what these endpoints answer for an unknown
//! provider. Wiring one endpoint means replacing the `not_wired()` line of its handler with the
//! federation call and mapping its result (the rate limit and body handling stay).

use axum::extract::State;

use crate::auth::{ApiResult, Ctx, check_rate};
use crate::routes::NominalState;
use crate::wire::{
    ConjureError, ConjureJson, GetAccessTokenRequest, GetAccessTokenResponse,
    GetIdpEndSessionEndpointRequest, GetIdpEndSessionEndpointResponse, GetUserOrgsRequest,
    GetUserOrgsResponse, JsonOk, RefreshAccessTokenRequest, RefreshAccessTokenResponse,
};

fn not_wired<T>() -> ApiResult<T> {
    Err(ConjureError::authorization_not_authorized()
        .with_detail("no OIDC provider is wired to the Nominal surface")
        .into())
}

pub async fn get_access_token(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(_req): ConjureJson<GetAccessTokenRequest>,
) -> ApiResult<JsonOk<GetAccessTokenResponse>> {
    check_rate(&st, &ctx)?;
    not_wired()
}

pub async fn refresh_access_token(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(_req): ConjureJson<RefreshAccessTokenRequest>,
) -> ApiResult<JsonOk<RefreshAccessTokenResponse>> {
    check_rate(&st, &ctx)?;
    not_wired()
}

pub async fn get_user_orgs(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(_req): ConjureJson<GetUserOrgsRequest>,
) -> ApiResult<JsonOk<GetUserOrgsResponse>> {
    check_rate(&st, &ctx)?;
    not_wired()
}

pub async fn get_idp_end_session_endpoint(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(_req): ConjureJson<GetIdpEndSessionEndpointRequest>,
) -> ApiResult<JsonOk<GetIdpEndSessionEndpointResponse>> {
    check_rate(&st, &ctx)?;
    not_wired()
}
