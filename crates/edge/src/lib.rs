//! The HTTP edge below the surfaces (docs/design/architecture.md): the one `Authorization`
//! parser, and the RFC 9457 problem type, JSON body and authenticated-caller extractors and the
//! `finish` middleware that the account and org-admin surfaces share. Depends on the core and
//! the server crate, never on a surface; every surface maps the parser's typed error to its own
//! wire format.
#![forbid(unsafe_code)]

pub mod authorization;
mod extract;
mod problem;

pub use authorization::{Authorization, AuthorizationError, Scheme};
pub use extract::{Caller, JsonBody};
pub use problem::{PROBLEM_CONTENT_TYPE, Problem, finish};
