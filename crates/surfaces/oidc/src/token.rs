//! The token, introspection and revocation endpoints: form in, client authenticated by the
//! core, JSON out with `no-store` (RFC 6749 §5.1), errors as RFC 6749 §5.2 JSON.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::model::OAuthClient;
use portcullis_core::oidc::{DEVICE_CODE_GRANT, GRANT_TOKEN_EXCHANGE, OAuthError, TokenSet};
use portcullis_edge::{Origin, mark_no_store};
use serde_json::{Value, json};

use super::form::{Params, client_auth};
use super::*;

/// A JSON answer that is never cached.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    mark_no_store(r.headers_mut());
    r
}

/// RFC 6749 §5.2: `{"error", "error_description"}`; a failed Basic authentication also gets
/// `WWW-Authenticate` (401).
pub(crate) fn oauth_error(e: &OAuthError, basic_used: bool) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json_response(
        status,
        &json!({ "error": e.code, "error_description": e.description }),
    );
    if status == StatusCode::UNAUTHORIZED && basic_used {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"portcullis\""),
        );
    }
    r
}

fn token_body(t: TokenSet) -> Value {
    let mut body = json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    });
    if let Some(rt) = t.refresh_token {
        body["refresh_token"] = json!(rt);
    }
    if let Some(id) = t.id_token {
        body["id_token"] = json!(id);
    }
    body
}

/// Reads the form and authenticates the client; `Err` is the finished error response.
pub(crate) async fn authenticated(
    o: &Oidc,
    headers: &HeaderMap,
    body: Body,
    endpoint: &str,
    origin: &Origin,
) -> Result<(OAuthClient, Params), Response> {
    let basic_used = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("basic "));
    let p = Params::from_body(headers, body)
        .await
        .map_err(|e| oauth_error(&e, basic_used))?;
    let auth = client_auth(headers, &p).map_err(|e| oauth_error(&e, basic_used))?;
    let client = o
        .provider
        .authenticate_client(&auth, &o.url(endpoint), &origin.audit)
        .await
        .map_err(|e| oauth_error(&e, basic_used))?;
    Ok((client, p))
}

pub(crate) async fn token(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (client, p) = match authenticated(&o, &headers, body, TOKEN_PATH, &origin).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let required = |name: &str| {
        p.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    };
    let result = match p.get("grant_type") {
        Some("authorization_code") => match (
            required("code"),
            required("redirect_uri"),
            required("code_verifier"),
        ) {
            (Ok(code), Ok(uri), Ok(verifier)) => {
                o.provider
                    .exchange_code(&client, code, uri, verifier, &origin.audit)
                    .await
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
        },
        Some("refresh_token") => match required("refresh_token") {
            Ok(rt) => {
                o.provider
                    .refresh(&client, rt, p.get("scope"), &origin.audit)
                    .await
            }
            Err(e) => Err(e),
        },
        Some("client_credentials") => {
            o.provider
                .client_credentials(&client, p.get("scope"), &origin.audit)
                .await
        }
        Some(GRANT_TOKEN_EXCHANGE) => {
            return super::token_exchange::exchange(&o, &client, &p, &origin).await;
        }
        Some(DEVICE_CODE_GRANT) => match required("device_code") {
            Ok(device_code) => {
                o.provider
                    .redeem_device_code(&client, device_code, &origin.audit)
                    .await
            }
            Err(e) => Err(e),
        },
        Some(_) => Err(OAuthError::unsupported_grant_type(format!(
            "supported grants: authorization_code, refresh_token, client_credentials, \
             {DEVICE_CODE_GRANT}, {GRANT_TOKEN_EXCHANGE}"
        ))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    };
    match result {
        Ok(t) => json_response(StatusCode::OK, &token_body(t)),
        Err(e) => oauth_error(&e, false),
    }
}

pub(crate) async fn introspect(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (client, p) = match authenticated(&o, &headers, body, INTROSPECT_PATH, &origin).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(token) = p.get("token") else {
        return oauth_error(&OAuthError::invalid_request("token is required"), false);
    };
    match o
        .provider
        .introspect(&client, token, p.get("token_type_hint"))
        .await
    {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => oauth_error(&e, false),
    }
}

pub(crate) async fn revoke(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (client, p) = match authenticated(&o, &headers, body, REVOKE_PATH, &origin).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(token) = p.get("token") else {
        return oauth_error(&OAuthError::invalid_request("token is required"), false);
    };
    match o
        .provider
        .revoke(&client, token, p.get("token_type_hint"), &origin.audit)
        .await
    {
        Ok(()) => json_response(StatusCode::OK, &json!({})),
        Err(e) => oauth_error(&e, false),
    }
}
