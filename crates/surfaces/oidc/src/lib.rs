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
//! | `POST /oauth2/token` | `authorization_code`, `refresh_token`, token exchange (RFC 8693) |
//! | `GET/POST /oauth2/userinfo` | claims of the bearer's user |
//! | `POST /oauth2/introspect`, `POST /oauth2/revoke` | RFC 7662, RFC 7009 |
//! | `GET/POST /oauth2/logout` | RP-initiated logout |
//! | `POST /oauth2/register`, `GET/PUT/DELETE /oauth2/register/{client_id}` | RFC 7591, RFC 7592 |
#![forbid(unsafe_code)]

mod authorize;
mod backchannel;
mod discovery;
mod form;
mod logout;
mod metadata_fetch;
mod pages;
mod registration;
mod schemas;
mod token;
mod token_exchange;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::HeaderMap;
use portcullis_core::oidc::{BrowserSignIn, Provider};
use portcullis_edge::html;
use portcullis_edge::openapi::{ApiDoc, ApiRoutes, Op, schema};
use serde_json::json;

pub use backchannel::HttpLogoutSender;
pub use metadata_fetch::HttpMetadataFetcher;

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
pub use portcullis_core::oidc::REGISTRATION_PATH;
/// One registration, managed with its registration access token (RFC 7592).
pub const REGISTRATION_CLIENT_PATH: &str = "/oauth2/register/{client_id}";
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

/// The surface, state applied: the JSON endpoints of [`api`]'s table, and the browser's
/// authorization, consent and logout endpoints (pages and redirects, not JSON).
pub fn router(provider: Arc<Provider>) -> Router {
    let issuer = provider.issuer().to_string();
    let oidc = Oidc {
        secure: issuer.starts_with("https://"),
        issuer,
        provider,
    };
    let (json_routes, _) = table().into_parts();
    json_routes
        .route(AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route(RESUME_PATH, get(authorize::resume))
        .route(DECIDE_PATH, post(authorize::decide))
        .route(LOGOUT_PATH, get(logout::get).post(logout::post))
        .with_state(Arc::new(oidc))
}

/// The OpenAPI description of the provider's JSON endpoints (the same table mounts them).
pub fn api() -> ApiDoc {
    table().into_parts().1
}

/// The JSON endpoints.
fn table() -> ApiRoutes<Arc<Oidc>> {
    use schemas::*;
    let client = |op: Op| {
        op.tag("oidc")
            .security("clientBasic")
            // client_secret_post, private_key_jwt and public clients authenticate in the form.
            .security_none()
    };
    ApiRoutes::new()
        .mount(
            Op::get(discovery::OPENID_CONFIGURATION, "openidConfiguration")
                .tag("oidc")
                .summary("OpenID Provider metadata (OIDC Discovery 1.0)")
                .answer(200, JSON, schema(provider_metadata())),
            discovery::metadata,
        )
        .mount(
            Op::get(discovery::AUTHORIZATION_SERVER, "oauthAuthorizationServer")
                .tag("oidc")
                .summary("OAuth 2.0 authorization server metadata (RFC 8414)")
                .answer(200, JSON, schema(provider_metadata())),
            discovery::metadata,
        )
        .mount(
            client(Op::post(TOKEN_PATH, "token"))
                .summary("Redeems an authorization code or a refresh token, or exchanges a token (RFC 8693)")
                .body(FORM, schema(token_request()))
                .answer(200, JSON, schema(token_response()))
                .oauth_errors(&[400, 401, 429, 500]),
            token::token,
        )
        .mount(
            client(Op::post(INTROSPECT_PATH, "introspect"))
                .summary("RFC 7662 token introspection")
                .body(FORM, schema(token_form()))
                .answer(200, JSON, schema(introspection()))
                .oauth_errors(&[400, 401, 429, 500]),
            token::introspect,
        )
        .mount(
            client(Op::post(REVOKE_PATH, "revoke"))
                .summary("RFC 7009 token revocation")
                .body(FORM, schema(token_form()))
                .answer(
                    200,
                    JSON,
                    schema(json!({ "type": "object", "maxProperties": 0 })),
                )
                .oauth_errors(&[400, 401, 429, 500]),
            token::revoke,
        )
        .mount(
            Op::get(USERINFO_PATH, "userinfo")
                .tag("oidc")
                .bearer()
                .summary("The claims of the bearer's user (OIDC Core §5.3)")
                .answer(200, JSON, schema(userinfo()))
                .oauth_errors(&[400, 401, 403, 500]),
            userinfo::get,
        )
        .mount(
            Op::post(USERINFO_PATH, "userinfoPost")
                .tag("oidc")
                .bearer()
                .security_none()
                .summary(
                    "The claims of the bearer's user; the token may be in the form (RFC 6750 §2.2)",
                )
                .optional_body(FORM, schema(access_token_form()))
                .answer(200, JSON, schema(userinfo()))
                .oauth_errors(&[400, 401, 403, 500]),
            userinfo::post,
        )
        .mount(
            Op::post(REGISTRATION_PATH, "registerClient")
                .tag("oidc")
                .bearer()
                .security_none()
                .summary(
                    "RFC 7591 dynamic client registration (404 when core.oidc.registration.mode \
                     is off; a Bearer initial access token when it is initial_token)",
                )
                .body(JSON, schema(registration::client_metadata()))
                .answer(201, JSON, schema(registration::client_information()))
                .oauth_errors(&[400, 401, 404, 429, 500]),
            registration::register,
        )
        .mount(
            registration_op(Op::get(REGISTRATION_CLIENT_PATH, "readClientRegistration"))
                .summary("RFC 7592: the registration, with its registration access token")
                .answer(200, JSON, schema(registration::client_information()))
                .oauth_errors(&[401, 404, 500]),
            registration::read,
        )
        .mount(
            registration_op(Op::put(
                REGISTRATION_CLIENT_PATH,
                "updateClientRegistration",
            ))
            .summary(
                "RFC 7592: replaces the metadata; the answer carries a new registration \
                     access token",
            )
            .body(JSON, schema(registration::client_metadata()))
            .answer(200, JSON, schema(registration::client_information()))
            .oauth_errors(&[400, 401, 404, 500]),
            registration::update,
        )
        .mount(
            registration_op(Op::delete(
                REGISTRATION_CLIENT_PATH,
                "deleteClientRegistration",
            ))
            .summary("RFC 7592: disables the client and ends its grants")
            .empty(204)
            .oauth_errors(&[401, 404, 500]),
            registration::delete,
        )
        .named_schema(OAUTH_ERROR, oauth_error())
}

/// A route on one registration: its id in the path, its registration access token.
fn registration_op(op: Op) -> Op {
    op.tag("oidc")
        .bearer()
        .param("path", "client_id", true, json!({ "type": "string" }))
}
