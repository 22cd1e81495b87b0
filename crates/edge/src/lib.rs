//! The HTTP edge below the surfaces (docs/design/architecture.md): what every surface needs at the
//! edge, and the server's middleware fills in.
//!
//! - the client IP and proxy trust ([`ClientIp`], [`Origin`], [`TrustedProxies`], [`Cidr`]);
//! - the request id ([`RequestId`]: its one generator, its header and its extractor);
//! - bounded body reading ([`read_body`]);
//! - the one `Authorization` parser ([`Authorization`]);
//! - the page primitives of the browser-facing surfaces ([`html`]: CSP, cookies, escaping;
//!   [`page_layout`]: the one layout and form pieces; [`assets`]: the stylesheets they link);
//! - `no-store` marking of responses that carry secrets;
//! - the OpenAPI 3.1 route tables that mount a surface's JSON routes and describe them
//!   ([`openapi`]);
//! - the RFC 9457 problem type, JSON body and authenticated-caller extractors and the `finish`
//!   middleware that the account and org-admin surfaces share.
//!
//! The common error kinds are typed ([`BodyError`], [`AuthorizationError`]); every surface maps
//! them to its own wire format. Depends on the core only, never on the server or a surface.
#![forbid(unsafe_code)]

pub mod assets;
pub mod authorization;
mod body;
mod cidr;
pub mod client_ip;
mod extract;
pub mod html;
mod no_store;
pub mod openapi;
pub mod page_layout;
mod problem;
mod request_id;

pub use authorization::{Authorization, AuthorizationError, Scheme};
pub use body::{BodyError, read_body};
pub use cidr::Cidr;
pub use client_ip::{ClientIp, Origin, ProxyHeader, TrustedProxies};
pub use extract::{Caller, JsonBody};
pub use no_store::{mark_no_store, no_store};
pub use problem::{PROBLEM_CONTENT_TYPE, Problem, finish};
pub use request_id::{REQUEST_ID_HEADER, RequestId};
