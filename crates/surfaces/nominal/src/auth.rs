//! Request authentication (NOMINAL.md §4), the request context, and the mapping of core
//! errors to Conjure errors.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::CoreError;
use portcullis_core::tokens::{Principal, TokenFailure};

use crate::routes::NominalState;
use crate::wire::{ConjureError, ErrorCode, parse_bearer};

/// The authenticated caller of a Bearer endpoint: an access token or an API key, resolved to
/// `(user, org, guest)`. The session org is the token's `org` claim (or the key's org).
#[derive(Debug, Clone)]
pub struct Session(pub Principal);

/// Maps an authentication failure per NOMINAL.md §4.
fn auth_error(state: &NominalState, credential: &str, e: CoreError) -> ConjureError {
    let is_key = credential.starts_with(&state.engine.config().credentials.prefix);
    match e {
        CoreError::Store(_) | CoreError::Internal(_) => internal(e),
        CoreError::Unauthenticated => ConjureError::permission_denied(),
        _ if is_key => ConjureError::authorization_not_authorized(),
        CoreError::TokenExpired => ConjureError::authorization_invalid_jwt_expired(),
        CoreError::InvalidToken(_) if e.token_failure() == Some(TokenFailure::Malformed) => {
            ConjureError::authorization_invalid_jwt_format()
        }
        other => ConjureError::authorization_not_authorized().with_detail(other.to_string()),
    }
}

impl FromRequestParts<NominalState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &NominalState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parse_bearer(&parts.headers)?;
        // An API key not in the read cache costs a store look-up: charged to the client's IP.
        let ip = portcullis_edge::ClientIp::from_extensions(&parts.extensions);
        match state.engine.authenticate_from(bearer.as_str(), ip).await {
            Ok(p) => Ok(Session(p)),
            Err(CoreError::RateLimited { retry_after }) => Err(ApiError::RateLimited(retry_after)),
            Err(e) => Err(auth_error(state, bearer.as_str(), e).into()),
        }
    }
}

/// Where a request came from, for audit and rate limits.
pub use portcullis_edge::Origin as Ctx;

/// A handler failure: a Conjure error, or 429 with `Retry-After`.
#[derive(Debug)]
pub enum ApiError {
    Conjure(ConjureError),
    RateLimited(Duration),
}

impl From<ConjureError> for ApiError {
    fn from(e: ConjureError) -> Self {
        ApiError::Conjure(e)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::RateLimited { retry_after } => ApiError::RateLimited(retry_after),
            other => ApiError::Conjure(core_error(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Conjure(e) => e.into_response(),
            ApiError::RateLimited(wait) => {
                let mut resp =
                    ConjureError::new(ErrorCode::CustomClient, "Default:TooManyRequests")
                        .into_response();
                *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                resp
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A 500 whose detail is logged, never sent.
pub fn internal(e: impl std::fmt::Display) -> ConjureError {
    ConjureError::internal().with_detail(e.to_string())
}

/// The default mapping of core errors; endpoints that need other names map first.
pub fn core_error(e: CoreError) -> ConjureError {
    match e {
        CoreError::InvalidArgument(m) => ConjureError::invalid_argument().with_detail(m),
        CoreError::Conflict(m) => ConjureError::invalid_argument().with_detail(m),
        CoreError::LimitExceeded { limit, .. } => {
            ConjureError::authorization_api_key_limit_exceeded(limit)
        }
        CoreError::NoMembership => ConjureError::authorization_no_membership(),
        CoreError::NotFound(what) => ConjureError::not_found().with_detail(what),
        CoreError::Store(_) | CoreError::Internal(_) => internal(e),
        CoreError::RateLimited { .. } => ConjureError::authorization_not_authorized(),
        other => ConjureError::authorization_not_authorized().with_detail(other.to_string()),
    }
}

/// Per-client-IP limit on credential endpoints.
pub fn check_rate(state: &NominalState, ctx: &Ctx) -> ApiResult<()> {
    state.engine.check_ip_rate(ctx.ip).map_err(ApiError::from)
}
