//! The OpenID Connect provider's core (docs/design/oidc-provider.md): the client registry,
//! authorization requests and codes, the token grants, ID tokens, introspection, revocation and
//! logout. The `oidc` surface is a thin adapter over it.

pub mod clients;
mod config;
mod declared;

pub use clients::{
    ClientPatch, ClientSpec, IssuedSecret, generate_client_secret, hash_client_secret,
    match_post_logout_redirect_uri, match_redirect_uri, verify_client_secret,
};
pub use config::OidcConfig;
pub use declared::{DeclaredClient, LoadedClient};
