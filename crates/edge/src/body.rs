//! Bounded body reading: the one reader for surfaces that take the raw body. It says what went
//! wrong; each surface maps [`BodyError`] to its own wire format (Parsable a plain-text 413/400,
//! Nominal `Default:RequestEntityTooLarge` / `Default:InvalidArgument`).

use std::fmt;

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit, declared (`Content-Length`) or as sent.
    TooLarge,
    /// The body could not be read (the client went away, a broken chunk); the cause is for logs.
    Unreadable(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("request body too large"),
            BodyError::Unreadable(cause) => write!(f, "request body unreadable: {cause}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Reads a request body of at most `limit` bytes. A declared `Content-Length` over the limit is
/// refused before anything is read.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if is_length_limit(e.as_ref()) => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Unreadable(e.to_string())),
    }
}

/// Our own limit, or the server's body limit layer below it (its error arrives wrapped). Both are
/// `http_body_util::Limited`, so the error's type tells, never its text.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src = Some(e);
    while let Some(err) = src {
        if err.is::<LengthLimitError>() {
            return true;
        }
        src = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(len: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, len.into());
        h
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read() {
        let got = read_body(&HeaderMap::new(), Body::from("abcd"), 4).await;
        assert_eq!(got, Ok(Bytes::from_static(b"abcd")));
    }

    #[tokio::test]
    async fn a_longer_body_is_too_large() {
        let got = read_body(&HeaderMap::new(), Body::from("abcde"), 4).await;
        assert_eq!(got, Err(BodyError::TooLarge));
    }

    #[tokio::test]
    async fn a_longer_declared_length_is_refused_unread() {
        let got = read_body(&declared(5), Body::from("ab"), 4).await;
        assert_eq!(got, Err(BodyError::TooLarge));
        let got = read_body(&declared(2), Body::from("ab"), 4).await;
        assert_eq!(got, Ok(Bytes::from_static(b"ab")));
    }

    #[tokio::test]
    async fn a_wrapped_limit_error_is_too_large() {
        // What the server's body limit layer yields through axum's body.
        let inner = Limited::new(Body::from("abcde"), 2);
        let got = read_body(&HeaderMap::new(), Body::new(inner), 16).await;
        assert_eq!(got, Err(BodyError::TooLarge));
    }
}
