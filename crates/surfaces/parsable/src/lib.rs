//! Parsable-compatible `AuthenticationService` surface (`POST /api/auth`).
//!
//! [`router`] serves the endpoint; see `docs/design/parsable-surface.md`. The wire layer
//! ([`wire`]) decodes and encodes the three encodings; the handlers map calls onto the
//! [`portcullis_core::engine::Engine`] and its team views ([`portcullis_core::teams`]).
#![forbid(unsafe_code)]

mod convert;
mod errors;
mod federated;
mod handlers;
mod http;
pub mod wire;

pub use errors::{ApiError, INVALID_CREDENTIALS};
pub use handlers::AuthHeader;
pub use http::{MAX_BODY_BYTES, PATH, SERVER_VERSION, router};
