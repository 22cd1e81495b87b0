//! Dynamic client registration (RFC 7591) and its management (RFC 7592): JSON in, the core's
//! [`Provider`] decides, JSON out with `no-store`. Off (`core.oidc.registration.mode`), every
//! route answers 404. docs/design/oidc-provider.md, "Registration".

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::oidc::OAuthError;
use portcullis_core::oidc_clients::RegistrationMode;
use portcullis_edge::{Authorization, AuthorizationError, Origin, Scheme, read_body};
use serde_json::json;

use super::token::json_response;
use super::*;

/// Client metadata is a few kilobytes; a JWK Set of 16 RSA keys stays well under this.
const MAX_METADATA_BYTES: usize = 32 * 1024;

/// An RFC 7591 §3.2.2 / RFC 6750 §3 error; a 401 carries the Bearer challenge.
fn error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json_response(
        status,
        &json!({ "error": e.code, "error_description": e.description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!("Bearer realm=\"portcullis\", error=\"{}\"", e.code);
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

fn off() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({ "error": "invalid_request", "error_description": "client registration is off on this server" }),
    )
}

/// The bearer token, if any; another scheme or a malformed header is `invalid_token`.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    match Authorization::from_headers(headers) {
        Ok(a) if a.scheme() == Scheme::Bearer => Ok(Some(a.into_credential())),
        Err(AuthorizationError::Missing) => Ok(None),
        _ => Err(OAuthError::invalid_token(
            "send the token as Authorization: Bearer",
        )),
    }
}

async fn body_bytes(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, OAuthError> {
    read_body(headers, body, MAX_METADATA_BYTES)
        .await
        .map_err(|e| OAuthError::invalid_client_metadata(e.to_string()))
}

fn enabled(o: &Oidc) -> bool {
    o.provider.registration_mode() != RegistrationMode::Off
}

/// `POST /oauth2/register` (RFC 7591 §3.1): 201 with the client information.
pub(crate) async fn register(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !enabled(&o) {
        return off();
    }
    let token = match bearer(&headers) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let body = match body_bytes(&headers, body).await {
        Ok(b) => b,
        Err(e) => return error(&e),
    };
    match o
        .provider
        .register_client(&body, token.as_deref(), origin.ip, &origin.audit)
        .await
    {
        Ok(info) => json_response(StatusCode::CREATED, &info),
        Err(e) => error(&e),
    }
}

/// `GET /oauth2/register/{client_id}` (RFC 7592 §2.1).
pub(crate) async fn read(
    State(o): Ctx,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !enabled(&o) {
        return off();
    }
    let result = match bearer(&headers) {
        Ok(t) => o.provider.read_registration(&client_id, t.as_deref()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(info) => json_response(StatusCode::OK, &info),
        Err(e) => error(&e),
    }
}

/// `PUT /oauth2/register/{client_id}` (RFC 7592 §2.2): the answer has a new registration
/// access token.
pub(crate) async fn update(
    State(o): Ctx,
    Path(client_id): Path<String>,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !enabled(&o) {
        return off();
    }
    let token = match bearer(&headers) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let body = match body_bytes(&headers, body).await {
        Ok(b) => b,
        Err(e) => return error(&e),
    };
    match o
        .provider
        .update_registration(&client_id, token.as_deref(), &body, &origin.audit)
        .await
    {
        Ok(info) => json_response(StatusCode::OK, &info),
        Err(e) => error(&e),
    }
}

/// `DELETE /oauth2/register/{client_id}` (RFC 7592 §2.3): 204.
pub(crate) async fn delete(
    State(o): Ctx,
    Path(client_id): Path<String>,
    origin: Origin,
    headers: HeaderMap,
) -> Response {
    if !enabled(&o) {
        return off();
    }
    let result = match bearer(&headers) {
        Ok(t) => {
            o.provider
                .delete_registration(&client_id, t.as_deref(), &origin.audit)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            portcullis_edge::mark_no_store(r.headers_mut());
            r
        }
        Err(e) => error(&e),
    }
}

fn uris() -> serde_json::Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

/// RFC 7591 §2 client metadata, as far as this server understands it (other members are
/// ignored, as §2 requires; the answer lists what was kept).
pub(crate) fn client_metadata() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "client_id": { "type": "string" },
            "redirect_uris": uris(),
            "post_logout_redirect_uris": uris(),
            "token_endpoint_auth_method": {
                "enum": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
            },
            "grant_types": { "type": "array", "items": { "enum": ["authorization_code", "refresh_token"] } },
            "response_types": { "type": "array", "items": { "const": "code" } },
            "application_type": { "enum": ["web", "native"] },
            "client_name": { "type": "string" },
            "client_uri": { "type": "string" },
            "logo_uri": { "type": "string" },
            "policy_uri": { "type": "string" },
            "tos_uri": { "type": "string" },
            "scope": { "type": "string" },
            "contacts": uris(),
            "jwks": { "type": "object" },
            "software_id": { "type": "string" },
            "software_version": { "type": "string" },
            "id_token_signed_response_alg": { "enum": ["RS256", "ES256", "EdDSA"] },
        },
    })
}

/// RFC 7591 §3.2.1 / RFC 7592 §3: the metadata as accepted, and the credentials.
pub(crate) fn client_information() -> serde_json::Value {
    let mut s = client_metadata();
    let props = &mut s["properties"];
    props["client_id_issued_at"] = json!({ "type": "integer" });
    props["client_secret"] = json!({ "type": "string" });
    props["client_secret_expires_at"] = json!({ "type": "integer" });
    props["registration_access_token"] = json!({ "type": "string" });
    props["registration_client_uri"] = json!({ "type": "string", "format": "uri" });
    s["required"] = json!(["client_id", "redirect_uris", "registration_client_uri"]);
    s
}
