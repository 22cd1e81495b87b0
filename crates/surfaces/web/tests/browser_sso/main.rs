//! The browser pages through the real HTTP stack, with a real engine on a temporary SQLite store
//! and a fake OpenID provider on loopback (discovery, JWKS, a token endpoint that enforces client
//! authentication, the redirect URI and PKCE, and EdDSA-signed ID tokens).

mod fake_idp;
mod passkeys;
mod second_factor;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use http::{HeaderMap, Request, StatusCode, header};
use parking_lot::Mutex;
use portcullis_core::config::CoreConfig;
use portcullis_core::model::*;
use portcullis_core::websso::{SsoFlowKind, SsoFlowRecord};
use portcullis_federation::{BrowserSsoConfig, Federation, JitOrg, ProviderConfig, pkce_challenge};
use portcullis_server::{HttpContext, ServerConfig, build_router};
use portcullis_testkit::http::{Reply, TestApp, form_escape};
use portcullis_testkit::{PASSWORD as PW, TestEnv};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use fake_idp::*;

const CLIENT_ID: &str = "web-client";
const CLIENT_SECRET: &str = "s3cret: with spaces";
const PUBLIC: &str = "http://portcullis.test";
const CSP: &str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; style-src 'self'; img-src 'self'";

// ---- Portcullis ------------------------------------------------------------------------------

struct World {
    env: TestEnv,
    app: TestApp,
    idp: Arc<FakeIdp>,
    _secret_dir: tempfile::TempDir,
}

portcullis_testkit::deref_env!(World);

/// What these tests read of an HTML page.
trait Page {
    /// The session token the page shows, if any.
    fn token(&self) -> Option<String>;
    /// Asserts the headers every page carries, and no script.
    fn assert_page(&self);
}

impl Page for Reply {
    fn token(&self) -> Option<String> {
        let body = self.text();
        let start = body.find("id=\"session-token\"")?;
        let open = start + body[start..].find('>')? + 1;
        let close = open + body[open..].find("</textarea>")?;
        Some(body[open..close].to_owned())
    }
    fn assert_page(&self) {
        assert_eq!(self.header("content-security-policy"), CSP);
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("x-frame-options"), "DENY");
        assert_eq!(self.header("referrer-policy"), "same-origin");
        assert!(!self.text().contains("<script"));
    }
}

async fn world() -> World {
    world_with(|_| {}).await
}

/// A world whose provider `configure` adjusts.
async fn world_with(configure: impl FnOnce(&mut ProviderConfig)) -> World {
    world_full(configure, |_| {}).await
}

/// A world whose provider and core configuration the closures adjust.
async fn world_full(
    configure: impl FnOnce(&mut ProviderConfig),
    core: impl FnOnce(&mut CoreConfig),
) -> World {
    let idp = start_idp().await;
    let secret_dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_dir.path().join("secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).expect("secret");
    let mut cfg = CoreConfig {
        public_url: PUBLIC.into(),
        allowed_email_domains: vec!["example.com".into()],
        ..CoreConfig::default()
    };
    cfg.lockout.delays_secs = vec![0];
    core(&mut cfg);
    let env = TestEnv::builder().config(cfg).build().await;
    env.org("acme").await;
    let mut p = ProviderConfig::new("corp", &idp.issuer, vec![CLIENT_ID.into()]);
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: "acme".into(),
        roles: [Role::Author].into_iter().collect(),
        kind: MembershipKind::Member,
    }];
    p.email_domains = vec!["example.com".into()];
    p.browser_sso = Some(BrowserSsoConfig {
        client_id: None,
        client_secret_file: secret,
        scopes: vec!["openid".into(), "email".into()],
    });
    configure(&mut p);
    let fed = Arc::new(Federation::new(vec![p], env.engine.clone()).expect("federation"));
    let ctx = HttpContext::new(ServerConfig::default(), env.store.clone());
    let router = build_router(
        vec![portcullis_web::router(env.engine.clone(), Some(fed))],
        &ctx,
    );
    World {
        env,
        app: TestApp::from_peer(router, SocketAddr::from(([192, 0, 2, 9], 5000))),
        idp,
        _secret_dir: secret_dir,
    }
}

impl World {
    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.app.get(path).cookie(cookie).send().await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        self.app.post(path).form(form).cookie(cookie).send().await
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        self.app.send(req).await
    }

    /// `startLogin`'s part: a start URL with a fresh token.
    async fn start_url(&self) -> String {
        let t = self
            .engine
            .sso_start_token("corp", Some("ada@example.com"))
            .await
            .expect("start token");
        format!("/login/sso/start?t={t}")
    }

    /// Follows a start URL: (authorization URL, binding cookie header).
    async fn begin(&self) -> (String, String) {
        let r = self.get(&self.start_url().await, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let binding = r.cookie("portcullis-sso").expect("binding cookie");
        (
            r.header("location").to_owned(),
            format!("portcullis-sso={binding}"),
        )
    }

    async fn callback(&self, code: &str, state: &str, cookie: Option<&str>) -> Reply {
        self.get(
            &format!(
                "/login/sso/callback?code={}&state={}",
                form_escape(code),
                form_escape(state)
            ),
            cookie,
        )
        .await
    }
}

fn expired_page(r: &Reply) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text().contains("invalid, already used or expired"),
        "{}",
        r.text()
    );
    assert!(r.token().is_none());
    r.assert_page();
}

// ---- tests -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_flow_pkce_nonce_state_and_session() {
    let w = world().await;
    let start = w.start_url().await;
    let r = w.get(&start, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("cache-control"), "no-store");
    let set = r.header("set-cookie").to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"));
    let location = r.header("location").to_owned();
    assert!(location.starts_with(&format!("{}/auth?", w.idp.issuer)));
    let cookie = format!(
        "portcullis-sso={}",
        r.cookie("portcullis-sso").expect("cookie")
    );
    let (code, q) = w.idp.authorize(&location, "ada-1", "Ada@Example.com");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], format!("{PUBLIC}/login/sso/callback"));
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "openid email");
    assert_eq!(q["login_hint"], "ada@example.com");
    assert_ne!(q["state"], q["nonce"]);

    let r = w.callback(&code, &q["state"], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.assert_page();
    assert!(r.headers.get_all("set-cookie").iter().any(|c| {
        c.to_str()
            .unwrap()
            .starts_with("portcullis-sso=; Path=/; Max-Age=0")
    }));
    let token = r.token().expect("session token on the landing page");
    let p = w.engine.authenticate(&token).await.expect("a live session");
    let user = w.store.get_user(p.user).await.unwrap().expect("user");
    assert_eq!(user.email, "ada@example.com");

    // The PKCE verifier went to the token endpoint, with the same redirect URI.
    let f = w
        .idp
        .token_requests
        .lock()
        .last()
        .cloned()
        .expect("a token request");
    assert_eq!(pkce_challenge(&f["code_verifier"]), q["code_challenge"]);
    assert_eq!(f["redirect_uri"], q["redirect_uri"]);

    // Replays: the start token and the callback are single use.
    expired_page(&w.get(&start, None).await);
    expired_page(&w.callback(&code, &q["state"], Some(&cookie)).await);
}

/// A sign-in continuing `r` for an address whose domain signs in upstream, through the
/// provider and back: the callback's answer.
async fn upstream_round_trip(w: &World, r_value: &str) -> Reply {
    let page = w
        .get(
            &format!("/login?r={}&email=ada%40example.com", form_escape(r_value)),
            None,
        )
        .await;
    assert!(
        page.text()
            .contains(&format!("name=\"r\" value=\"{r_value}\""))
    );
    assert!(page.text().contains("value=\"ada@example.com\""));
    let csrf = page.cookie("portcullis-csrf").expect("csrf cookie");
    let r = w
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("r", r_value),
                ("email", "ada@example.com"),
                ("password", ""),
            ],
            Some(&format!("portcullis-csrf={csrf}")),
        )
        .await;
    // A page that moves on by itself, not a redirect: Chromium applies the sign-in form's
    // form-action to every redirect after it, and the provider is another site.
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.assert_page();
    let start = r
        .header("refresh")
        .strip_prefix("0; url=")
        .expect("a Refresh header")
        .to_owned();
    assert!(start.starts_with("/login/sso/start?t="), "{start}");
    assert!(r.text().contains(&format!("href=\"{start}\"")));
    let back = r
        .cookie("portcullis-oidc-return")
        .expect("what the sign-in continues, kept");
    assert_eq!(back, r_value);
    let r = w.get(&start, None).await;
    let binding = r.cookie("portcullis-sso").expect("binding");
    let (code, q) = w
        .idp
        .authorize(r.header("location"), "ada-1", "ada@example.com");
    let cookies = format!("portcullis-sso={binding}; portcullis-oidc-return={back}");
    let r = w.callback(&code, &q["state"], Some(&cookies)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let session = r.cookie("portcullis-session").expect("session cookie");
    w.engine
        .authenticate(&session)
        .await
        .expect("a live session");
    assert_eq!(r.cookie("portcullis-oidc-return").as_deref(), Some(""));
    assert!(
        r.token().is_none(),
        "the token is in an HttpOnly cookie, not on a page"
    );
    r
}

/// An OpenID authorization for an address whose domain signs in upstream: the sign-in page sends
/// it to the provider (no password asked), and the callback goes back to the authorization
/// request with the browser's session cookie instead of showing the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_sign_in_continues_through_the_upstream_provider() {
    let w = world().await;
    let pending = "c2VhbGVkLXJlcXVlc3Q";
    let r = upstream_round_trip(&w, pending).await;
    assert_eq!(
        r.header("location"),
        format!("/oauth2/authorize/resume?r={pending}")
    );
}

/// `/login?r=/account` for an address whose domain signs in upstream: back at `/account`, signed
/// in (the session cookie), after the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_for_a_page_continues_through_the_upstream_provider() {
    let w = world().await;
    let r = upstream_round_trip(&w, "/account").await;
    assert_eq!(r.header("location"), "/account");
}

/// The session ends at most `max_session_beyond_upstream_secs` after the ID token's `exp` (the
/// fake provider's ID tokens live 300 s), not after the engine's 30-day session lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_session_capped_by_the_upstream_expiry() {
    let w = world_with(|p| p.max_session_beyond_upstream_secs = 60).await;
    let (location, cookie) = w.begin().await;
    let (code, q) = w.idp.authorize(&location, "ada-1", "ada@example.com");
    let before = chrono::Utc::now().timestamp();
    let r = w.callback(&code, &q["state"], Some(&cookie)).await;
    let after = chrono::Utc::now().timestamp();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let token = r.token().expect("session token");
    let p = w.engine.authenticate(&token).await.expect("a live session");
    let end = p.expires_at.expect("an expiry").timestamp();
    // exp = iat + 300, issued between `before` and `after`; the session ends 60 s later.
    assert!(
        end >= before + 360 && end <= after + 360,
        "session ends at {end}, want {}..={}",
        before + 360,
        after + 360
    );
    let session = w
        .store
        .get_session(p.session().expect("a session token"))
        .await
        .unwrap()
        .expect("session record");
    assert_eq!(session.expires_at.timestamp(), end);
    assert!(r.text().contains(&p.expires_at.unwrap().to_rfc3339()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_unknown_start_tokens_are_refused() {
    let w = world().await;
    let t = "expired-token-value";
    let now = chrono::Utc::now();
    w.store
        .insert_sso_flow(SsoFlowRecord {
            key_hash: hex(&Sha256::digest(t.as_bytes())),
            kind: SsoFlowKind::Start,
            provider: "corp".into(),
            login_hint: None,
            nonce: None,
            pkce_verifier: None,
            binding_hash: None,
            created_at: now - chrono::Duration::seconds(300),
            expires_at: now - chrono::Duration::seconds(1),
        })
        .await
        .unwrap();
    expired_page(&w.get(&format!("/login/sso/start?t={t}"), None).await);
    expired_page(&w.get("/login/sso/start?t=never-issued", None).await);
    expired_page(&w.get("/login/sso/start", None).await);
    expired_page(&w.get("/login/sso/start?t=%3Cscript%3E", None).await);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_mismatch_and_missing_binding_are_refused() {
    let w = world().await;
    let (location, cookie) = w.begin().await;
    let (code, q) = w.idp.authorize(&location, "ada-1", "ada@example.com");
    // A state Portcullis never issued (forged or from another flow).
    expired_page(
        &w.callback(
            &code,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Some(&cookie),
        )
        .await,
    );
    // The right state in another browser (no binding cookie): refused, and the flow is spent.
    let (location2, cookie2) = w.begin().await;
    let (code2, q2) = w.idp.authorize(&location2, "ada-1", "ada@example.com");
    expired_page(&w.callback(&code2, &q2["state"], None).await);
    expired_page(&w.callback(&code2, &q2["state"], Some(&cookie2)).await);
    // Another flow's binding cookie does not fit.
    expired_page(&w.callback(&code, &q["state"], Some(&cookie2)).await);
    assert!(
        w.idp.token_requests.lock().is_empty(),
        "no code was redeemed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_mismatch_is_refused() {
    let w = world().await;
    let (location, cookie) = w.begin().await;
    let (code, q) = w.idp.authorize(&location, "ada-1", "ada@example.com");
    *w.idp.nonce_override.lock() = Some("a-replayed-id-token-nonce".into());
    let r = w.callback(&code, &q["state"], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("could not be verified"));
    assert!(r.token().is_none());
    assert!(
        w.store
            .get_user_by_email("ada@example.com")
            .await
            .unwrap()
            .is_none(),
        "nobody was provisioned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_code_fails_pkce() {
    let w = world().await;
    let (location, cookie) = w.begin().await;
    let q = query(location.split_once('?').unwrap().1);
    // An attacker's code, issued for the attacker's own authorization request (other challenge).
    let (attacker_location, _) = w.begin().await;
    let (code, _) = w
        .idp
        .authorize(&attacker_location, "mallory", "mallory@example.com");
    let r = w.callback(&code, &q["state"], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.token().is_none());
    let reqs = w.idp.token_requests.lock();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        pkce_challenge(&reqs[0]["code_verifier"]),
        q["code_challenge"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_error_spends_the_state() {
    let w = world().await;
    let (location, cookie) = w.begin().await;
    let q = query(location.split_once('?').unwrap().1);
    let r = w
        .get(
            &format!(
                "/login/sso/callback?error=access_denied&state={}",
                q["state"]
            ),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    r.assert_page();
    expired_page(&w.callback("x", &q["state"], Some(&cookie)).await);
}

/// A password sign-in that continues an OpenID authorization keeps the session in an HttpOnly
/// cookie and goes back to the request; a wrong password keeps the request on the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_sign_in_continues_an_openid_authorization() {
    let w = world().await;
    let org = w.store.get_org_by_name("acme").await.unwrap().expect("org");
    let u = w
        .user("pat@example.com")
        .member(&org, &[Role::Author])
        .create()
        .await;
    let pending = "c2VhbGVkLXJlcXVlc3Q";
    let page = w.get(&format!("/login?r={pending}"), None).await;
    let csrf = page.cookie("portcullis-csrf").expect("csrf cookie");
    let jar = format!("portcullis-csrf={csrf}");
    let wrong = w
        .post_form(
            "/login",
            &[
                ("email", "pat@example.com"),
                ("password", "nope nope nope"),
                ("csrf", &csrf),
                ("r", pending),
            ],
            Some(&jar),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .contains(&format!("name=\"r\" value=\"{pending}\""))
    );
    assert!(wrong.cookie("portcullis-session").is_none());
    let ok = w
        .post_form(
            "/login",
            &[
                ("email", "pat@example.com"),
                ("password", PW),
                ("csrf", &csrf),
                ("r", pending),
            ],
            Some(&jar),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(
        ok.header("location"),
        format!("/oauth2/authorize/resume?r={pending}")
    );
    let set = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("portcullis-session="))
        .expect("session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
    let session = ok.cookie("portcullis-session").unwrap();
    assert_eq!(
        w.engine.authenticate(&session).await.expect("session").user,
        u.id
    );
    assert!(ok.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_page_csrf_and_one_answer() {
    let w = world().await;
    let org = w.store.get_org_by_name("acme").await.unwrap().expect("org");
    let u = w
        .user("pat@example.com")
        .name("Pat")
        .validated()
        .member(&org, &[Role::Author])
        .create()
        .await;

    let page = w.get("/login", None).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_page();
    let csrf = page.cookie("portcullis-csrf").expect("csrf cookie");
    assert!(
        page.text()
            .contains(&format!("name=\"csrf\" value=\"{csrf}\""))
    );
    let jar = format!("portcullis-csrf={csrf}");

    // No cookie, or a different one: refused before the password is looked at.
    let forged = w
        .post_form(
            "/login",
            &[
                ("email", "pat@example.com"),
                ("password", PW),
                ("csrf", &csrf),
            ],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.token().is_none());

    // A cross-site post that somehow carries the cookie (and the token) is refused by Origin.
    let body = format!(
        "email=pat%40example.com&password={}&csrf={csrf}",
        form_escape(PW)
    );
    let cross = w
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &jar)
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::from(body))
                .expect("request"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.token().is_none());

    let wrong = w
        .post_form(
            "/login",
            &[
                ("email", "pat@example.com"),
                ("password", "nope nope nope"),
                ("csrf", &csrf),
            ],
            Some(&jar),
        )
        .await;
    let unknown = w
        .post_form(
            "/login",
            &[
                ("email", "who@example.com"),
                ("password", "nope nope nope"),
                ("csrf", &csrf),
            ],
            Some(&jar),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("Invalid email or password."));
    assert!(unknown.text().contains("Invalid email or password."));

    let ok = w
        .post_form(
            "/login",
            &[
                ("email", "pat@example.com"),
                ("password", PW),
                ("csrf", &csrf),
            ],
            Some(&jar),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    ok.assert_page();
    let token = ok.token().expect("token");
    assert_eq!(
        w.engine.authenticate(&token).await.expect("session").user,
        u.id
    );
    // Escaped output: markup in the echoed address is inert.
    let xss = w
        .post_form(
            "/login",
            &[
                ("email", "<b>x</b>@example.com"),
                ("password", "nope nope nope"),
                ("csrf", &csrf),
            ],
            Some(&jar),
        )
        .await;
    assert!(
        xss.text().contains("&lt;b&gt;x&lt;/b&gt;@example.com") && !xss.text().contains("<b>x")
    );
}

/// Chromium checks `form-action` on every redirect after a form is sent: the sign-in form of an
/// OpenID authorization must name the application's origin, or the browser stops at the
/// redirect to it. Only a genuine pending request widens the policy, and only to its origin.
#[tokio::test]
async fn the_sign_in_form_of_an_authorization_may_end_at_the_application() {
    use portcullis_core::oidc::{AuthorizationRequest, RequestSeal};
    let w = world().await;
    let req = AuthorizationRequest {
        client_id: "app".into(),
        redirect_uri: "http://127.0.0.1:43117/callback".into(),
        scopes: vec!["openid".into()],
        state: None,
        nonce: None,
        code_challenge: "c".repeat(43),
        prompt: Default::default(),
        max_age: None,
        login_hint: None,
        acr_values: Vec::new(),
        received_at: chrono::Utc::now().timestamp(),
        consented: false,
        org: None,
    };
    let pending = RequestSeal::of(&w.engine).seal(&req, chrono::Utc::now());
    let page = w.get(&format!("/login?r={pending}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-security-policy"),
        CSP.replace(
            "form-action 'self'",
            "form-action 'self' http://127.0.0.1:43117"
        )
    );
    // The form shown again after a refusal keeps it.
    let csrf = page.cookie("portcullis-csrf").expect("csrf cookie");
    let again = w
        .post_form(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong"),
                ("csrf", &csrf),
                ("r", &pending),
            ],
            Some(&format!("portcullis-csrf={csrf}")),
        )
        .await;
    assert!(
        again
            .header("content-security-policy")
            .contains("http://127.0.0.1:43117"),
        "{}",
        again.text()
    );
    // A forged or altered request changes nothing.
    let forged = w.get("/login?r=c2VhbGVkLXJlcXVlc3Q", None).await;
    forged.assert_page();
    let last = if pending.ends_with('A') { "B" } else { "A" };
    let altered = format!("{}{last}", &pending[..pending.len() - 1]);
    w.get(&format!("/login?r={altered}"), None)
        .await
        .assert_page();
}
