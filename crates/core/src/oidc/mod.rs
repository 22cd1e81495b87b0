//! The OpenID Connect provider's core (docs/design/oidc-provider.md): the client registry,
//! authorization requests and codes, the token grants, ID tokens and userinfo, introspection,
//! revocation and logout. The `oidc` surface and the pages are thin adapters over [`Provider`].

mod acr;
mod claims;
mod client_auth;
mod client_cache;
mod client_credentials;
pub mod client_metadata_document;
mod consents;
mod device;
mod device_verification;
mod error;
mod grants;
mod introspection;
mod logout;
mod provider;
mod registration;
mod request;
mod token_exchange;
mod user_code;

/// The client registry lives in [`crate::oidc_clients`] (the settings name it, and the
/// provider names the engine, which names the settings); re-exported here.
pub use crate::oidc_clients as clients;
pub use crate::oidc_clients::{
    ClientPatch, ClientSpec, DeclaredClient, IssuedSecret, LoadedClient, OidcConfig,
    generate_client_secret, hash_client_secret, match_post_logout_redirect_uri, match_redirect_uri,
    verify_client_secret,
};
pub use acr::{
    ACR_MFA, ACR_PAPE_MFA, ACR_SINGLE_FACTOR, ACR_VALUES_SUPPORTED, acr_for, requires_mfa,
};
pub use claims::at_hash;
pub use client_auth::{ClientAuthRequest, JWT_BEARER_ASSERTION};
pub use device::{
    DEVICE_CODE_GRANT, DEVICE_CODE_TTL_SECS, DEVICE_POLL_INTERVAL_SECS, DEVICE_VERIFICATION_PATH,
    DeviceAuthorization, SLOW_DOWN_STEP_SECS,
};
pub use device_verification::{
    DeviceConfirmation, DeviceDecisionError, GUESS_WINDOW_SECS, GUESSES_PER_NETWORK,
    GUESSES_SERVER_WIDE, UserCodeError,
};
pub use error::OAuthError;
pub use grants::TokenSet;
pub use logout::{BACKCHANNEL_EVENT, EndSessionParams, EndSessionStep, LogoutSender, PURGE_EVERY};
pub use provider::{AuthorizeStep, BrowserSignIn, CODE_TTL_SECS, Provider};
pub use registration::REGISTRATION_PATH;
/// The authorization request's validation without the engine (what `Provider::authorize`
/// runs first); for the fuzz targets.
#[doc(hidden)]
pub use request::validate as validate_authorize_params;
pub use request::{
    AuthorizationRequest, AuthorizeError, AuthorizeParams, PENDING_REQUEST_SECS, Prompt,
    RequestSeal, SUPPORTED_SCOPES, pkce_matches,
};
pub use token_exchange::{
    ExchangedToken, GRANT_TOKEN_EXCHANGE, MAX_ACT_DEPTH, TOKEN_TYPE_ACCESS, TOKEN_TYPE_ID,
    TokenExchangeRequest, UpstreamIdToken, UpstreamIdTokens, UpstreamRefusal,
};
pub use user_code::{
    USER_CODE_ALPHABET, USER_CODE_LEN, display as display_user_code,
    normalise as normalise_user_code,
};

/// application/x-www-form-urlencoded escaping of one value (RFC 3986 unreserved kept).
pub(crate) fn url_component(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
