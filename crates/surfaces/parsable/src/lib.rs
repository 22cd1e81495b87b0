//! Parsable-compatible `AuthenticationService` surface (`POST /api/auth`).
#![forbid(unsafe_code)]

pub mod wire;
