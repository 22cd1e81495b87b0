//! The OpenID provider surface (docs/design/oidc-provider.md): discovery, the authorization
//! endpoint with its consent and org pages, the token, userinfo, introspection and revocation
//! endpoints, and logout. Each handler maps the wire to a core [`Provider`] call and its answer
//! (or typed error) back to the wire; no protocol decision is made here.
//!
//! | path | what |
//! |---|---|
//! | `GET /.well-known/openid-configuration`, `/.well-known/oauth-authorization-server` | metadata |
//! | `GET/POST /oauth2/authorize` | authorization endpoint (code flow, PKCE S256) |
//! | `GET /oauth2/authorize/resume?r=` | back from the sign-in page |
//! | `POST /oauth2/authorize/decide` | the consent and org pages' forms |
//! | `POST /oauth2/token` | `authorization_code`, `refresh_token` |
//! | `GET/POST /oauth2/userinfo` | claims of the bearer's user |
//! | `POST /oauth2/introspect`, `POST /oauth2/revoke` | RFC 7662, RFC 7009 |
//! | `GET/POST /oauth2/logout` | RP-initiated logout |
#![forbid(unsafe_code)]

mod authorize;
mod backchannel;
mod discovery;
mod form;
mod logout;
mod pages;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::HeaderMap;
use portcullis_core::oidc::{BrowserSignIn, Provider};
use portcullis_edge::html;

pub use backchannel::HttpLogoutSender;

/// The request parsers of this surface, reachable by the fuzz targets; not an API.
#[doc(hidden)]
pub mod __fuzz {
    use std::collections::BTreeMap;

    use http::HeaderMap;
    use portcullis_core::oidc::{AuthorizeParams, ClientAuthRequest, OAuthError};

    /// A query string or form body, one value per name.
    pub fn parse_form(raw: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
        super::form::Params::parse(raw).map(super::form::Params::into_map)
    }

    /// The authorization endpoint's parameters, as the handler builds them from a query.
    pub fn authorize_params(raw: &[u8]) -> Result<AuthorizeParams, OAuthError> {
        super::form::Params::parse(raw).map(super::authorize::params_of)
    }

    /// The client credentials of a token, introspection or revocation request.
    pub fn client_auth(headers: &HeaderMap, form: &[u8]) -> Result<ClientAuthRequest, OAuthError> {
        let p = super::form::Params::parse(form)?;
        super::form::client_auth(headers, &p)
    }
}

pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const RESUME_PATH: &str = "/oauth2/authorize/resume";
pub const DECIDE_PATH: &str = "/oauth2/authorize/decide";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
pub const REVOKE_PATH: &str = "/oauth2/revoke";
pub const LOGOUT_PATH: &str = "/oauth2/logout";
/// The sign-in page the authorization endpoint sends a browser to (the `web` surface's).
pub const SIGN_IN_PATH: &str = "/login";
const CSRF_COOKIE: &str = "portcullis-oidc-csrf";
/// A token request body is a few hundred bytes; a client assertion a few kilobytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub(crate) struct Oidc {
    provider: Arc<Provider>,
    /// `core.public_url` without a trailing slash: the issuer and the base of every endpoint.
    issuer: String,
    /// Cookies get `Secure` and the `__Host-` prefix when the public URL is HTTPS.
    secure: bool,
}

pub(crate) type Ctx = axum::extract::State<Arc<Oidc>>;

impl Oidc {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    fn session_cookie(&self) -> String {
        html::cookie_name(html::SESSION_COOKIE, self.secure)
    }

    fn csrf_cookie(&self) -> String {
        html::cookie_name(CSRF_COOKIE, self.secure)
    }

    /// The browser's sign-in, from its session cookie.
    async fn browser(&self, headers: &HeaderMap) -> Option<BrowserSignIn> {
        let token = html::cookie(headers, &self.session_cookie())?;
        self.provider.browser_sign_in(&token).await
    }
}

/// The surface, state applied.
pub fn router(provider: Arc<Provider>) -> Router {
    let issuer = provider.issuer().to_string();
    let oidc = Oidc {
        secure: issuer.starts_with("https://"),
        issuer,
        provider,
    };
    Router::new()
        .route(discovery::OPENID_CONFIGURATION, get(discovery::metadata))
        .route(discovery::AUTHORIZATION_SERVER, get(discovery::metadata))
        .route(AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route(RESUME_PATH, get(authorize::resume))
        .route(DECIDE_PATH, post(authorize::decide))
        .route(TOKEN_PATH, post(token::token))
        .route(USERINFO_PATH, get(userinfo::get).post(userinfo::post))
        .route(INTROSPECT_PATH, post(token::introspect))
        .route(REVOKE_PATH, post(token::revoke))
        .route(LOGOUT_PATH, get(logout::get).post(logout::post))
        .with_state(Arc::new(oidc))
}
