//! The userinfo endpoint (OIDC Core §5.3): a bearer access token of this provider (header, or
//! RFC 6750 §2.2 form body on POST), answered with the claims its scopes allow.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::oidc::OAuthError;
use portcullis_edge::{Authorization, AuthorizationError, Scheme};

use super::form::Params;
use super::token::json_response;
use super::*;

/// RFC 6750 §3: the error in `WWW-Authenticate`, and as JSON for people reading it.
fn bearer_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut r = json_response(
        status,
        &serde_json::json!({ "error": e.code, "error_description": e.description }),
    );
    let challenge = format!(
        "Bearer realm=\"portcullis\", error=\"{}\", error_description=\"{}\"",
        e.code,
        e.description.replace('"', "'")
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn header_token(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    match Authorization::from_headers(headers) {
        Ok(a) if a.scheme() == Scheme::Bearer => Ok(Some(a.into_credential())),
        Ok(_) => Err(OAuthError::invalid_request("use the Bearer scheme")),
        Err(AuthorizationError::Missing) => Ok(None),
        Err(e) => Err(OAuthError::invalid_request(e.to_string())),
    }
}

async fn answer(o: &Oidc, token: Option<String>) -> Response {
    let Some(token) = token else {
        let mut r = json_response(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({ "error": "invalid_request", "error_description": "no access token" }),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"portcullis\""),
        );
        return r;
    };
    match o.provider.userinfo(&token).await {
        Ok(claims) => json_response(StatusCode::OK, &claims),
        Err(e) => bearer_error(&e),
    }
}

pub(crate) async fn get(State(o): Ctx, headers: HeaderMap) -> Response {
    match header_token(&headers) {
        Ok(t) => answer(&o, t).await,
        Err(e) => bearer_error(&e),
    }
}

pub(crate) async fn post(State(o): Ctx, headers: HeaderMap, body: Body) -> Response {
    let from_header = match header_token(&headers) {
        Ok(t) => t,
        Err(e) => return bearer_error(&e),
    };
    let has_form = headers.contains_key(header::CONTENT_TYPE);
    let from_body = if has_form {
        match Params::from_body(&headers, body).await {
            Ok(p) => p.owned("access_token"),
            Err(e) => return bearer_error(&e),
        }
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => bearer_error(&OAuthError::invalid_request(
            "send the access token once (header or body)",
        )),
        (a, b) => answer(&o, a.or(b)).await,
    }
}
