//! The identity core of Portcullis: users, orgs, memberships, credentials, sessions, tokens,
//! federation, certificates and policy. It knows no HTTP and no SQL; storage is the [`store::Store`]
//! port, implemented by `portcullis-store`.
#![forbid(unsafe_code)]

pub mod admin;
pub mod allowlist;
pub mod audit;
pub mod authz;
pub mod branding;
pub mod brands;
pub mod certs;
pub mod config;
pub mod consents;
pub mod crypto;
pub mod directory;
pub mod engine;
pub mod error;
pub mod factors;
pub mod federated_accounts;
pub mod hash_share;
pub mod idle;
pub mod invitations;
pub mod keys;
pub mod last_login;
pub mod mediamtx;
pub mod model;
pub mod oidc;
pub mod oidc_clients;
pub mod org_settings;
pub mod org_views;
pub mod paging;
pub mod password;
pub mod read_cache;
pub mod retry;
pub mod revocation;
pub mod rid;
pub mod sandbox;
pub mod store;
pub mod tokens;
pub mod totp;
pub mod use_cases;
pub mod websso;
pub mod workspaces;

pub use audit::AuditAction;
pub use error::{CoreError, CoreResult, MfaRefusal};
pub use model::*;
