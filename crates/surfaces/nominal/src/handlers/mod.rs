//! Endpoint handlers, one module per Conjure service (plus the federation-backed endpoints).

pub mod apikeys;
pub mod authentication;
pub mod authorization;
pub mod federation;
pub mod mediamtx;
pub mod paging;
pub mod sandbox;
pub mod workspace;
