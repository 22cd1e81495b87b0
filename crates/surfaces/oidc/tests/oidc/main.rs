//! The OpenID provider through the real router and a real engine on SQLite: the code flow with
//! PKCE, each refusal, refresh rotation and reuse, userinfo, introspection, revocation, and
//! logout with back-channel notices.

mod client_credentials;
mod device;
mod flow;
mod logout;
mod metadata_documents;
mod mfa;
mod refusals;
mod registration;
mod token_exchange;
mod tokens;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use http::StatusCode;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::model::*;
use portcullis_core::oidc::Provider;
use portcullis_server::{HttpContext, ServerConfig, build_router};
use portcullis_testkit::TestEnv;
use portcullis_testkit::http::{Reply, TestApp, form_escape};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "http://127.0.0.1:8080";
pub const REDIRECT: &str = "https://app.example.test/callback";
pub const SECRET: &str = "s3cret-of-the-test-client-0123456789abcdef";
pub const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-0123456789-abcdefghijk";

pub struct World {
    pub env: TestEnv,
    pub app: TestApp,
    pub provider: Arc<Provider>,
    pub org: Org,
    pub user: User,
}

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A confidential first-party client with a secret, in `org` or global.
pub fn client(id: &str, org: Option<OrgId>) -> OAuthClient {
    let now = Utc::now();
    OAuthClient {
        client_id: id.to_string(),
        name: format!("App {id}"),
        kind: ClientKind::Confidential,
        token_endpoint_auth: TokenEndpointAuth::ClientSecretBasic,
        secrets: vec![ClientSecret {
            hash: hex::encode(Sha256::digest(SECRET.as_bytes())),
            created_at: now,
            expires_at: None,
        }],
        jwks: None,
        redirect_uris: vec![REDIRECT.to_string()],
        post_logout_redirect_uris: vec!["https://app.example.test/bye".to_string()],
        grant_types: [GrantType::AuthorizationCode, GrantType::RefreshToken].into(),
        scopes: ["openid", "profile", "email", "orgs", "offline_access"]
            .into_iter()
            .map(str::to_string)
            .collect(),
        org_id: org,
        first_party: true,
        id_token_alg: IdTokenAlg::Rs256,
        access_token_secs: 300,
        refresh_token_secs: 3600,
        allow_offline: true,
        introspect_any: false,
        backchannel_logout_uri: None,
        token_exchange_audiences: Vec::new(),
        declarative: false,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Pages of acme's clients carry acme's brand (docs/design/pages.md).
fn acme_brand() -> portcullis_core::branding::BrandingConfig {
    let mut b = portcullis_core::branding::BrandingConfig::default();
    b.orgs.insert(
        "acme".into(),
        portcullis_core::branding::OrgBrandConfig {
            display_name: Some("Acme Corp".into()),
            logo_url: Some("https://cdn.acme.test/logo.svg".into()),
            accent: Some("#b0361e".into()),
        },
    );
    b
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// [`world`] with settings of the test's own on top.
pub async fn world_with(configure: impl FnOnce(&mut CoreConfig)) -> World {
    let mut config = CoreConfig {
        public_url: ISSUER.into(),
        branding: acme_brand(),
        ..CoreConfig::default()
    };
    configure(&mut config);
    let env = TestEnv::builder().config(config).build().await;
    let org = env.org("acme").await;
    let user = env
        .user("ann@example.com")
        .name("Ann")
        .validated()
        .member(&org, &[Role::Author])
        .create()
        .await;
    env.store
        .create_oauth_client(client("app", None))
        .await
        .expect("client");
    let provider = Provider::new(env.engine.clone());
    let ctx = HttpContext::new(ServerConfig::default(), env.store.clone());
    let router = build_router(vec![portcullis_oidc::router(provider.clone())], &ctx);
    let app = TestApp::from_peer(router, SocketAddr::from(([192, 0, 2, 1], 4000)));
    World {
        env,
        app,
        provider,
        org,
        user,
    }
}

/// The page's `form-action` directive. Chromium applies it to every redirect after a form is
/// sent, so a form whose answer redirects to the client must name the client's origin.
pub fn form_action(r: &Reply) -> String {
    let csp = r.header("content-security-policy");
    csp.split("; ")
        .find(|d| d.starts_with("form-action"))
        .unwrap_or_default()
        .to_string()
}

/// The query of a URL as a map.
pub fn query_of(url: &str) -> BTreeMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

impl World {
    /// The browser's session cookie for `user`.
    pub async fn cookie_for(&self, user: &User) -> String {
        let token = self.env.session(user, OrgChoice::DefaultOrNone).await;
        format!("portcullis-session={token}")
    }

    /// An authorization request URL for the test client.
    pub fn authorize_url(&self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            ("response_type", "code".to_string()),
            ("client_id", client_id.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
            ("scope", "openid profile email".to_string()),
            ("state", "st-123".to_string()),
            ("nonce", "n-456".to_string()),
            ("code_challenge", challenge(VERIFIER)),
            ("code_challenge_method", "S256".to_string()),
        ];
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                pairs.push((k, v.to_string()));
            }
        }
        let q: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", form_escape(v)))
            .collect();
        format!("/oauth2/authorize?{}", q.join("&"))
    }

    pub async fn authorize(&self, url: &str, cookie: Option<&str>) -> Reply {
        self.app.get(url).cookie(cookie).send().await
    }

    /// Runs the front channel for the signed-in `cookie` and returns the code.
    pub async fn code(&self, cookie: &str, extra: &[(&str, &str)]) -> String {
        let r = self
            .authorize(&self.authorize_url("app", extra), Some(cookie))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let q = query_of(r.header("location"));
        q.get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code in {q:?}"))
    }

    pub async fn token(&self, client_id: &str, secret: &str, form: &[(&str, &str)]) -> Reply {
        self.app
            .post("/oauth2/token")
            .header("authorization", &basic(client_id, secret))
            .form(form)
            .send()
            .await
    }

    pub async fn redeem(&self, code: &str) -> Reply {
        self.token(
            "app",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.token(
            "app",
            SECRET,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// A full sign-in: the tokens of a fresh grant.
    pub async fn tokens(&self, extra: &[(&str, &str)]) -> Value {
        let cookie = self.cookie_for(&self.user).await;
        let code = self.code(&cookie, extra).await;
        let r = self.redeem(&code).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.body
    }

    pub async fn userinfo(&self, access_token: &str) -> Reply {
        self.app
            .get("/oauth2/userinfo")
            .bearer(access_token)
            .send()
            .await
    }
}

/// The claims of a JWT, unverified (the tests verify signatures where that is the point).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}
