//! Request extractors: the authenticated caller, and JSON bodies whose every failure is a problem
//! document. Where a request came from is [`crate::Origin`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use portcullis_core::CoreError;
use portcullis_core::engine::Engine;
use portcullis_core::tokens::Principal;
use serde::de::DeserializeOwned;

use crate::authorization::{Authorization, AuthorizationError};
use crate::client_ip::ClientIp;
use crate::problem::Problem;

/// The caller of an authenticated endpoint: an access token from either API, or a credential
/// secret (which the engine then refuses for account changes).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// The caller's credential from the one `Authorization` header: `Bearer <t>`, or Parsable's
/// `Token <t>` (any case).
fn bearer(headers: &HeaderMap) -> Result<String, Problem> {
    use AuthorizationError as E;
    match Authorization::from_headers(headers) {
        Ok(auth) => Ok(auth.into_credential()),
        Err(E::Missing | E::NotAscii | E::NoCredential(_)) => {
            Err(Problem::from(CoreError::Unauthenticated))
        }
        // More than one header, or not `Bearer <token>`.
        Err(E::Repeated | E::Blank | E::UnknownScheme) => Err(Problem::bad_token("invalid_token")),
    }
}

impl FromRequestParts<Arc<Engine>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &Arc<Engine>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)?;
        let ip = ClientIp::from_extensions(&parts.extensions);
        match engine.authenticate_from(&token, ip).await {
            Ok(p) => Ok(Caller(p)),
            Err(
                e @ (CoreError::Store(_)
                | CoreError::Internal(_)
                | CoreError::TokenExpired
                | CoreError::RateLimited { .. }),
            ) => Err(e.into()),
            // Whatever the reason (forged, revoked, idle, unknown key), the answer is one.
            Err(e) => {
                tracing::debug!(error = %e, "token refused");
                Err(Problem::bad_token("invalid_token"))
            }
        }
    }
}

/// A JSON request body (`application/json` or any `+json` type).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| Problem::new(r.status(), "invalid_request", r.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))
    }
}
