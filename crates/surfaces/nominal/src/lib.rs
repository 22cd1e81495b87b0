//! Portcullis' Nominal (Conjure) authorization surface.
//!
//! [`wire`] holds the wire layer: the IR-generated types, strict/lenient JSON
//! decoding, Conjure errors, request extractors and response helpers.
#![forbid(unsafe_code)]

pub mod wire;

pub use wire::{ConjureError, ConjureResult, ErrorCode};
