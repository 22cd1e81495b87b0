//! `POST /api/auth`: transport checks, encoding selection, decoding, versioning, credentials
//! and dispatch, in the order of PARSABLE.md §2.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use portcullis_core::audit::AuditContext;
use portcullis_core::engine::Engine;
use portcullis_core::password::Requester;
use portcullis_federation::Federation;
use portcullis_server::{ClientIp, RequestId};

use crate::errors::ApiError;
use crate::handlers::{self, AuthHeader, CallContext};
use crate::wire::{self, CallHeader, ErrorCode, Outcome};

/// The path of the service.
pub const PATH: &str = "/api/auth";
/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The server's own Thrift API version, on every response.
pub const SERVER_VERSION: &str = "1.22.13";
const VERSION_HEADER: &str = "wi-thrift-version";

#[derive(Clone)]
struct AppState {
    engine: Arc<Engine>,
    federation: Option<Arc<Federation>>,
}

/// The Parsable surface. Certificate signing uses the engine's CA when it has one;
/// `federation` serves `loginWithIdp*`, `loginWithSSO` and the IdP answers of `startLogin`.
pub fn router(engine: Arc<Engine>, federation: Option<Arc<Federation>>) -> Router {
    Router::new()
        .route(PATH, any(serve))
        .with_state(AppState { engine, federation })
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(VERSION_HEADER, HeaderValue::from_static(SERVER_VERSION));
    r
}

/// A call's reply. Replies may carry tokens and credential secrets, so none is cached.
fn reply(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(VERSION_HEADER, HeaderValue::from_static(SERVER_VERSION));
    portcullis_server::mark_no_store(h);
    r
}

/// Only `identity` (or no header) is accepted.
fn content_encoding_ok(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONTENT_ENCODING).iter().all(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .map(str::trim)
                .all(|t| t.is_empty() || t.eq_ignore_ascii_case("identity"))
        })
    })
}

enum BodyError {
    TooLarge,
    Unreadable,
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, BodyError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        && len > MAX_BODY_BYTES as u64
    {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            // The server's own body limit layer (also `Limited`) may wrap the error.
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e.as_ref());
            while let Some(err) = src {
                if err.is::<LengthLimitError>() {
                    return Err(BodyError::TooLarge);
                }
                src = err.source();
            }
            Err(BodyError::Unreadable)
        }
    }
}

/// `Wi-Thrift-Version`: absent is fine; malformed → 420; major ≠ 1 → 421.
fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(VERSION_HEADER) else {
        return Ok(());
    };
    let malformed = || {
        ApiError::new(
            ErrorCode::INVALID_VERSION,
            "invalid-version",
            "Malformed Wi-Thrift-Version header (expected MAJOR.MINOR.PATCH)",
        )
    };
    let s = v.to_str().map_err(|_| malformed())?.trim();
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(malformed());
    }
    let major = parts
        .first()
        .map(|p| p.trim_start_matches('0'))
        .unwrap_or("");
    if major != "1" {
        return Err(ApiError::new(
            ErrorCode::UNSUPPORTED_VERSION,
            "unsupported-version",
            format!("Unsupported Wi-Thrift-Version {s}: this server speaks major version 1"),
        ));
    }
    Ok(())
}

fn client_ip(req: &Request) -> Option<IpAddr> {
    if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>() {
        return Some(*ip);
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
}

fn err_outcome(e: ApiError, header: &CallHeader, request_id: &str) -> Outcome {
    let rq_id = uuid::Uuid::new_v4().to_string();
    tracing::info!(
        rq_id = %rq_id,
        request_id,
        method = header.method.name(),
        code = e.code.0,
        slug = e.slug,
        "parsable call answered with err"
    );
    Outcome::Err(e.into_exception(rq_id))
}

async fn serve(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != HttpMethod::POST {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use POST\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if !content_encoding_ok(req.headers()) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Encoding: send the body uncompressed\n",
        );
    }
    let ip = client_ip(&req);
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let body = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body larger than 1 MiB\n",
            );
        }
        Err(BodyError::Unreadable) => {
            return text(StatusCode::BAD_REQUEST, "request body unreadable\n");
        }
    };
    let choice = match wire::select_encoding(
        headers
            .get_all(header::CONTENT_TYPE)
            .iter()
            .map(|v| v.as_bytes()),
        &body,
    ) {
        Ok(c) => c,
        Err(_) => {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported encoding: use Thrift compact, Thrift JSON or the Parsable JSON envelope\n",
            );
        }
    };
    let encoding = choice.encoding;
    let ct = choice.response_content_type;
    let (call_header, call) = match wire::decode_call(encoding, &body) {
        Ok(x) => x,
        Err(rejection) => {
            tracing::info!(
                request_id = %request_id,
                name = %rejection.header.name,
                tae = ?rejection.kind,
                "parsable call rejected"
            );
            return reply(ct, rejection.body);
        }
    };
    if let Err(e) = check_version(&headers) {
        let out = err_outcome(e, &call_header, &request_id);
        return reply(ct, wire::encode_reply(encoding, &call_header, out));
    }
    let cx = CallContext {
        engine: state.engine.clone(),
        federation: state.federation.clone(),
        auth: AuthHeader::parse(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes())),
        idp_token: handlers::parse_idp_header(
            headers.get("idp-authorization").map(|v| v.as_bytes()),
        ),
        ip,
        audit: AuditContext {
            ip: ip.map(|i| i.to_string()),
            request_id: Some(request_id.clone()),
        },
    };
    // The handler runs in its own task: a client that goes away does not cut a login in
    // half, and a panic becomes an err 500 in the request's encoding. Its password hash,
    // though, is skipped if the client is gone before it starts: the guard is dropped with
    // this future when the connection closes.
    let requester = Requester::new();
    let _client = requester.guard();
    let task = tokio::spawn(requester.scope(async move { handlers::dispatch(&cx, call).await }));
    let outcome = match task.await {
        Ok(o) => o,
        Err(join) => err_outcome(
            ApiError::internal(format!("handler task failed: {join}")),
            &call_header,
            &request_id,
        ),
    };
    reply(ct, wire::encode_reply(encoding, &call_header, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(v: &str) -> Result<(), i32> {
        let mut h = HeaderMap::new();
        h.insert(VERSION_HEADER, HeaderValue::from_str(v).map_err(|_| 0)?);
        check_version(&h).map_err(|e| e.code.0)
    }

    #[test]
    fn version_rules() {
        assert_eq!(check_version(&HeaderMap::new()), Ok(()));
        assert_eq!(version("1.22.13"), Ok(()));
        assert_eq!(version(" 1.0.999 "), Ok(()));
        assert_eq!(version("1.22"), Err(420));
        assert_eq!(version("1.x.3"), Err(420));
        assert_eq!(version("v1.2.3"), Err(420));
        assert_eq!(version("1.2.3.4"), Err(420));
        assert_eq!(version(""), Err(420));
        assert_eq!(version("2.0.0"), Err(421));
        assert_eq!(version("0.22.13"), Err(421));
    }

    #[test]
    fn content_encoding_rules() {
        let mut h = HeaderMap::new();
        assert!(content_encoding_ok(&h));
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("Identity"),
        );
        assert!(content_encoding_ok(&h));
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(!content_encoding_ok(&h));
    }
}
