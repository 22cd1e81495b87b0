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
fn auth_error(state: &NominalState, credential: &str, e: CoreError) -> ApiError {
    let is_key = credential.starts_with(&state.engine.config().credentials.prefix);
    let refusal = match e {
        CoreError::Store(_) | CoreError::Internal(_) => return fault(e),
        CoreError::Unauthenticated => ConjureError::permission_denied(),
        _ if is_key => ConjureError::authorization_not_authorized(),
        CoreError::TokenExpired => ConjureError::authorization_invalid_jwt_expired(),
        CoreError::InvalidToken(_) if e.token_failure() == Some(TokenFailure::Malformed) => {
            ConjureError::authorization_invalid_jwt_format()
        }
        other => ConjureError::authorization_not_authorized().with_detail(other.to_string()),
    };
    refusal.into()
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
            Err(e) => Err(auth_error(state, bearer.as_str(), e)),
        }
    }
}

/// Where a request came from, for audit and rate limits.
pub use portcullis_edge::Origin as Ctx;

/// A handler failure: a Conjure error, 429 with `Retry-After`, or 503 while the database cannot
/// serve (the detail is logged, never sent).
#[derive(Debug)]
pub enum ApiError {
    Conjure(ConjureError),
    RateLimited(Duration),
    Unavailable(String),
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
            other if other.is_unavailable() => ApiError::Unavailable(other.to_string()),
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
            ApiError::Unavailable(detail) => {
                // 503 is what the Conjure clients retry (NOMINAL.md §1): the outage is transient.
                let mut resp = ConjureError::unavailable()
                    .with_detail(detail)
                    .into_response();
                *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
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

/// A server-side failure: 503 `Default:Unavailable` while the database cannot serve, else a
/// 500 `Default:Internal`.
pub fn fault(e: CoreError) -> ApiError {
    if e.is_unavailable() {
        ApiError::Unavailable(e.to_string())
    } else {
        internal(e).into()
    }
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

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use portcullis_core::store::StoreError;

    use super::*;

    async fn answer(e: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let resp = e.into_response();
        let status = resp.status();
        let retry = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or_default();
        (status, retry, body)
    }

    #[tokio::test]
    async fn an_unavailable_store_is_a_503_the_clients_retry() {
        let down = || CoreError::Store(StoreError::Unavailable("refused by 10.0.0.7".into()));
        for e in [fault(down()), ApiError::from(down())] {
            let (status, retry, body) = answer(e).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(retry.as_deref(), Some("1"));
            assert_eq!(body["errorName"], "Default:Unavailable");
            assert_eq!(body["errorCode"], "CUSTOM_SERVER");
            assert!(!body.to_string().contains("10.0.0.7"), "{body}");
        }
    }

    #[tokio::test]
    async fn other_faults_stay_internal() {
        let (status, retry, body) = answer(fault(CoreError::Internal("bug".into()))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry, None);
        assert_eq!(body["errorName"], "Default:Internal");
    }
}
