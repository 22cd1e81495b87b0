//! Page sizes and opaque page tokens (NOMINAL.md §8).

use portcullis_core::engine::Engine;
use sha2::{Digest, Sha256};

use crate::wire::{ConjureError, Token};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// `pageSize` for API-key listings: default 100, < 1 → 400, > 1000 → 1000.
pub fn clamped(size: Option<i32>) -> Result<u32, ConjureError> {
    match size {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 1 => Err(ConjureError::invalid_argument().with_detail("pageSize < 1")),
        Some(n) => Ok((n as u32).min(MAX_PAGE_SIZE)),
    }
}

/// `pageSize` for search and login activity: default 100, < 1 → 400, > 1000 → `too_big`.
pub fn limited(
    size: Option<i32>,
    too_big: impl FnOnce(i32) -> ConjureError,
) -> Result<u32, ConjureError> {
    match size {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 1 => Err(ConjureError::invalid_argument().with_detail("pageSize < 1")),
        Some(n) if n as u32 > MAX_PAGE_SIZE => Err(too_big(n)),
        Some(n) => Ok(n as u32),
    }
}

/// A listing's scope string, with any long parts fingerprinted.
pub fn scope(parts: &[&str]) -> String {
    let joined = parts.join("|");
    let digest = Sha256::digest(joined.as_bytes());
    format!("nominal|{}", hex::encode(digest))
}

/// The offset a page token stands for; a forged, altered or foreign token gives 400.
pub fn offset(engine: &Engine, scope: &str, token: Option<&Token>) -> Result<u64, ConjureError> {
    match token {
        None => Ok(0),
        Some(t) => engine
            .page_tokens()
            .open(scope, &t.0)
            .map_err(|e| ConjureError::invalid_argument().with_detail(e.to_string())),
    }
}

/// The next page's token, when more rows follow.
pub fn next(
    engine: &Engine,
    scope: &str,
    offset: u64,
    len: usize,
    has_more: bool,
) -> Option<Token> {
    has_more.then(|| Token(engine.page_tokens().seal(scope, offset + len as u64)))
}
