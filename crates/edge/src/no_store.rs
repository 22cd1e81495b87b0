//! Responses that carry a token or a secret: no cache, shared or private, may keep them (RFC 9111
//! `no-store`; `Pragma` for HTTP/1.0 caches), as OAuth 2.0 requires of token responses.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

/// Middleware marking every response of a router [`mark_no_store`].
pub async fn no_store(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    mark_no_store(resp.headers_mut());
    resp
}

/// Sets `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn mark_no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
