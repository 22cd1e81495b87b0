//! Portcullis' `/.well-known` surface: what a resource server needs to verify access tokens
//! offline.
//!
//! - `GET /.well-known/jwks.json`: every published token-signing public key (RFC 7517): the
//!   EdDSA keys of access tokens and the RS256 and ES256 keys of ID tokens, including retired
//!   keys whose tokens may still be live.
//! - `GET /.well-known/portcullis`: the issuer, audience, algorithm and JWKS location, how long
//!   an offline check may accept a revoked token, and where to check a token online.
//!
//! The OpenID provider's `openid-configuration` and `oauth-authorization-server` documents are
//! the `oidc` surface's: they describe its endpoints, and point here for the keys.
#![forbid(unsafe_code)]

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};
use portcullis_core::engine::{Engine, KEY_REFRESH_EVERY};
use portcullis_core::tokens::TOKEN_TYPE;
use serde_json::json;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const METADATA_PATH: &str = "/.well-known/portcullis";
/// The online check of a bearer (account API): 200 while it is valid and not revoked.
pub const SESSION_CHECK_PATH: &str = "/account/v1/sessions/current";
pub const JWK_SET_CONTENT_TYPE: &str = "application/jwk-set+json";

/// The surface, state applied. No fallback: other paths stay with the server's 404.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route(JWKS_PATH, get(jwks))
        .route(METADATA_PATH, get(metadata))
        .with_state(engine)
}

/// No cache may hold the keys longer than the engine takes to pick up a rotation made
/// elsewhere, so a verifier that refetches on an unknown `kid` never waits long.
fn cache_control() -> HeaderValue {
    let secs = KEY_REFRESH_EVERY.as_secs();
    HeaderValue::from_str(&format!("public, max-age={secs}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
}

fn json_doc(content_type: &'static str, body: &serde_json::Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, cache_control()),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn jwks(State(engine): State<Arc<Engine>>) -> Response {
    json_doc(JWK_SET_CONTENT_TYPE, &engine.jwks())
}

async fn metadata(State(engine): State<Arc<Engine>>) -> Response {
    let cfg = engine.config();
    let t = &cfg.tokens;
    let base = cfg.public_url.trim_end_matches('/');
    json_doc(
        "application/json",
        &json!({
            "issuer": cfg.public_url,
            "jwks_uri": format!("{base}{JWKS_PATH}"),
            "audience": cfg.audience,
            "token_signing_alg_values_supported": ["EdDSA"],
            "access_token_type": TOKEN_TYPE,
            // An offline check (signature and `exp`) cannot see logout, session ends, member
            // removal, deactivation, idle timeout or a password change: a revoked token passes
            // it until it expires. These say for how long, and where to ask instead.
            "token_lifetimes_secs": {
                "session": t.session_secs,
                "access": t.access_secs,
                "api_key_access": t.api_key_access(),
                "impersonation": t.proxy_secs,
            },
            "idle_timeout_secs": t.idle_timeout_secs,
            "offline_revocation_lag_max_secs": t.max_signed_lifetime().num_seconds(),
            "session_check_endpoint": format!("{base}{SESSION_CHECK_PATH}"),
        }),
    )
}
