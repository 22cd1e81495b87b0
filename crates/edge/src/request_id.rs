//! The request id: the one generator and the one type every surface and the access log use.
//! The server's outermost middleware picks it (the client's `x-request-id` when well-formed,
//! else a fresh one), puts it in the request extensions and echoes it on the response.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{Extensions, HeaderMap};

/// The request id header, read from the client when well-formed and always echoed.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest client-sent id that is kept.
const MAX_CLIENT_ID_LEN: usize = 128;

/// The id of one request, in the request extensions (and in every log line of the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh id: a v4 UUID from the thread-local CSPRNG, so no system call per request.
    pub fn generate() -> RequestId {
        RequestId(
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string(),
        )
    }

    /// The client's `x-request-id` when it is 1–128 visible ASCII characters, else a fresh id.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= MAX_CLIENT_ID_LEN
                    && v.bytes().all(|b| b.is_ascii_graphic())
            })
            .map(|v| RequestId(v.to_owned()))
            .unwrap_or_else(RequestId::generate)
    }

    /// The id the server's middleware put in the extensions; `None` without one (a surface
    /// router tested on its own).
    pub fn from_extensions(extensions: &Extensions) -> Option<RequestId> {
        extensions
            .get::<RequestId>()
            .filter(|r| !r.0.is_empty())
            .cloned()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id from the extensions, or an empty one when there is none.
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(String::new())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, value.parse().unwrap());
        h
    }

    #[test]
    fn a_well_formed_client_id_is_kept() {
        assert_eq!(
            RequestId::from_headers(&with_header("client-id-42")).as_str(),
            "client-id-42"
        );
    }

    #[test]
    fn a_missing_or_malformed_client_id_is_replaced() {
        for h in [
            HeaderMap::new(),
            with_header(""),
            with_header("has space"),
            with_header(&"x".repeat(MAX_CLIENT_ID_LEN + 1)),
        ] {
            let id = RequestId::from_headers(&h);
            assert!(uuid::Uuid::parse_str(id.as_str()).is_ok(), "{id:?}");
        }
        assert_ne!(RequestId::generate(), RequestId::generate());
    }

    #[test]
    fn an_empty_id_in_the_extensions_is_none() {
        let mut ext = Extensions::new();
        assert_eq!(RequestId::from_extensions(&ext), None);
        ext.insert(RequestId(String::new()));
        assert_eq!(RequestId::from_extensions(&ext), None);
        ext.insert(RequestId("r1".into()));
        assert_eq!(
            RequestId::from_extensions(&ext),
            Some(RequestId("r1".into()))
        );
    }
}
