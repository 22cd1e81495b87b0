//! The OpenID Connect provider's core (docs/design/oidc-provider.md): the client registry,
//! authorization requests and codes, the token grants, ID tokens, introspection, revocation and
//! logout. The `oidc` surface is a thin adapter over it.

mod config;

pub use config::OidcConfig;
