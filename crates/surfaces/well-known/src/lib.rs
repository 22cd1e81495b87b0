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
use http::{HeaderValue, header};
use portcullis_core::engine::{Engine, KEY_REFRESH_EVERY};
use portcullis_core::tokens::TOKEN_TYPE;
use portcullis_edge::openapi::{ApiDoc, ApiRoutes, Op, schema};
use serde_json::json;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const METADATA_PATH: &str = "/.well-known/portcullis";
/// The online check of a bearer (account API): 200 while it is valid and not revoked.
pub const SESSION_CHECK_PATH: &str = "/account/v1/sessions/current";
pub const JWK_SET_CONTENT_TYPE: &str = "application/jwk-set+json";

/// The surface, state applied. No fallback: other paths stay with the server's 404.
pub fn router(engine: Arc<Engine>) -> Router {
    table().into_parts().0.with_state(engine)
}

/// The surface's OpenAPI description (the same table mounts the routes).
pub fn api() -> ApiDoc {
    table().into_parts().1
}

fn table() -> ApiRoutes<Arc<Engine>> {
    ApiRoutes::new()
        .mount(
            Op::get(JWKS_PATH, "jwks")
                .tag("well-known")
                .summary("The token-signing public keys (RFC 7517)")
                .answer(200, JWK_SET_CONTENT_TYPE, schema(jwk_set())),
            jwks,
        )
        .mount(
            Op::get(METADATA_PATH, "portcullisMetadata")
                .tag("well-known")
                .summary("How to verify Portcullis tokens offline, and for how long that misses a revocation")
                .json(200, schema(metadata_schema())),
            metadata,
        )
}

/// A JSON Web Key Set (RFC 7517 §5).
fn jwk_set() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": { "type": "array", "items": {
                "type": "object",
                "required": ["kty", "kid"],
                "properties": {
                    "kty": { "type": "string" }, "kid": { "type": "string" },
                    "alg": { "type": "string" }, "use": { "type": "string" },
                },
            } },
        },
    })
}

fn metadata_schema() -> serde_json::Value {
    let int = json!({ "type": "integer" });
    json!({
        "type": "object",
        "required": ["issuer", "jwks_uri", "audience", "token_signing_alg_values_supported",
                     "access_token_type", "token_lifetimes_secs", "idle_timeout_secs",
                     "offline_revocation_lag_max_secs", "session_check_endpoint"],
        "properties": {
            "issuer": { "type": "string" },
            "jwks_uri": { "type": "string" },
            "audience": { "type": "string" },
            "token_signing_alg_values_supported": { "type": "array", "items": { "type": "string" } },
            "access_token_type": { "type": "string" },
            "token_lifetimes_secs": {
                "type": "object",
                "required": ["session", "access", "api_key_access", "impersonation"],
                "properties": { "session": int, "access": int, "api_key_access": int, "impersonation": int },
            },
            "idle_timeout_secs": int,
            "offline_revocation_lag_max_secs": int,
            "session_check_endpoint": { "type": "string" },
        },
    })
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
