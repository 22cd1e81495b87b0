//! Portcullis' Nominal (Conjure) authorization surface (NOMINAL.md).
//!
//! - [`wire`]: the wire layer: the IR-generated types, strict/lenient JSON decoding, Conjure
//!   errors, request extractors and response helpers.
//! - [`router`]: every endpoint of NOMINAL.md §7 under `/api`, mapping wire types to
//!   [`portcullis_core::engine::Engine`] calls and `CoreError`s to Conjure errors. The logic
//!   lives in the core.
#![forbid(unsafe_code)]

mod auth;
mod convert;
mod handlers;
mod openapi;
mod routes;
pub mod wire;

pub use auth::{ApiError, Session};
pub use openapi::api;
pub use routes::{NominalState, router, router_with};
pub use wire::{ConjureError, ConjureResult, ErrorCode};
