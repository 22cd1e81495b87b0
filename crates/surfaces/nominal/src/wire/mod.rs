//! The Conjure wire layer of the Nominal surface (NOMINAL.md §1-4, §10).
//!
//! - [`types`]: every IR type, generated from `conjure/nominal-auth.conjure.json`
//!   by `build.rs`, with strict serde (§2).
//! - [`lenient`]: lenient variants of the Okta hook request types (§9).
//! - [`primitives`]: [`Rid`], [`SafeLong`], [`ConjureDateTime`], [`ConjureUuid`].
//! - [`error`]: [`ConjureError`] and its `IntoResponse` (§10).
//! - [`extract`]: body/header/path/query extractors (§1, §4).
//! - [`response`]: 200/204 response helpers (§1).
//! - [`endpoints`]: the IR endpoint table.

pub mod endpoints;
pub mod error;
pub mod extract;
pub mod lenient;
pub mod primitives;
pub mod response;
pub mod types;

pub use endpoints::{ENDPOINTS, EndpointAuth, EndpointSpec};
pub use error::{ConjureError, ConjureResult, ErrorCode, SerializableError};
pub use extract::{
    BearerToken, ConjureJson, GetWorkspacesQuery, LenientBody, LenientJson, MAX_BODY_BYTES,
    RidPath, SandboxSharedSecret, decode_lenient, decode_strict, parse_bearer, parse_query_bool,
    read_body,
};
pub use primitives::{
    ConjureDateTime, ConjureUuid, DateTimeError, Rid, RidError, SafeLong, SafeLongError,
    UnknownEnumValue, UuidError,
};
pub use response::{JsonOk, NoContent, OptionalJson};
pub use types::*;
