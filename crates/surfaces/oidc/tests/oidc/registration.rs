//! Dynamic client registration (RFC 7591) and its management (RFC 7592) through the router:
//! off by default, open and initial-token modes, every refusal, the registration access token,
//! and what a self-registered client may do (consent always, its grants end on delete).

use portcullis_core::admin::Admin;
use portcullis_core::oidc_clients::{RegistrationConfig, RegistrationMode};
use serde_json::json;

use super::flow::hidden;
use super::*;

const REGISTER: &str = "/oauth2/register";

async fn world_in(mode: RegistrationMode, per_ip_per_hour: u32) -> World {
    world_with(|c| {
        c.oidc.registration = RegistrationConfig {
            mode,
            per_ip_per_hour,
            ..RegistrationConfig::default()
        }
    })
    .await
}

fn confidential() -> Value {
    json!({
        "client_name": "Registered App",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email",
    })
}

fn native() -> Value {
    json!({
        "client_name": "Native App",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    })
}

impl World {
    async fn register(&self, body: Value, bearer: Option<&str>) -> Reply {
        self.app
            .post(REGISTER)
            .bearer(bearer)
            .json(body)
            .send()
            .await
    }

    /// Consent on the page, then the code.
    async fn consented_code(&self, client_id: &str, cookie: &str) -> String {
        let r = self
            .authorize(&self.authorize_url(client_id, &[]), Some(cookie))
            .await;
        assert_eq!(r.status, StatusCode::OK, "a consent page: {}", r.text());
        let page = r.text();
        let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
        let r = self
            .app
            .post("/oauth2/authorize/decide")
            .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
            .form(&[
                ("csrf", &csrf),
                ("r", &hidden(&page, "r")),
                ("decision", "allow"),
            ])
            .send()
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        query_of(r.header("location"))["code"].clone()
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let w = world().await;
    let r = w.register(confidential(), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.app.get("/oauth2/register/x").send().await.status,
        StatusCode::NOT_FOUND
    );
    let d = w.app.get("/.well-known/openid-configuration").send().await;
    assert!(d.body.get("registration_endpoint").is_none());
    assert!(
        d.body
            .get("client_id_metadata_document_supported")
            .is_none()
    );
    assert_eq!(w.env.store.list_oauth_clients(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn open_registration_makes_a_low_trust_confidential_client() {
    let w = world_in(RegistrationMode::Open, 20).await;
    let d = w.app.get("/.well-known/openid-configuration").send().await;
    assert_eq!(
        d.body["registration_endpoint"],
        format!("{ISSUER}{REGISTER}")
    );

    let r = w.register(confidential(), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    let id = s(&r.body["client_id"]).to_string();
    let secret = s(&r.body["client_secret"]).to_string();
    assert_eq!(r.body["client_secret_expires_at"], 0);
    assert!(r.body["client_id_issued_at"].as_i64().unwrap() > 0);
    assert_eq!(
        r.body["registration_client_uri"],
        format!("{ISSUER}{REGISTER}/{id}")
    );
    assert_eq!(r.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(r.body["redirect_uris"], json!([REDIRECT]));
    assert!(r.body["registration_access_token"].as_str().unwrap().len() >= 43);

    let c = w.env.store.get_oauth_client(&id).await.unwrap().unwrap();
    assert_eq!(c.kind, ClientKind::Confidential);
    assert!(!c.first_party && !c.introspect_any && !c.allow_offline && c.org_id.is_none());
    assert!(!c.declarative);
    // The secret and the registration token are stored only as hashes.
    assert_eq!(c.secrets.len(), 1);
    assert_eq!(
        c.secrets[0].hash,
        hex::encode(Sha256::digest(secret.as_bytes()))
    );
    let reg = w
        .env
        .store
        .get_client_registration(&id)
        .await
        .unwrap()
        .unwrap();
    let rat = s(&r.body["registration_access_token"]);
    assert_eq!(
        reg.access_token_hash.as_deref(),
        Some(hex::encode(Sha256::digest(rat.as_bytes())).as_str())
    );
    assert!(!reg.metadata.to_string().contains(&secret));
    assert_eq!(w.env.audit_events("client.register").await.len(), 1);

    // It signs users in, always through the consent page, and its secret works.
    let cookie = w.cookie_for(&w.user).await;
    let code = w.consented_code(&id, &cookie).await;
    let t = w
        .token(
            &id,
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text());
    assert_eq!(claims(s(&t.body["access_token"]))["client_id"], id.as_str());
    // Its own introspection sees only its tokens (no introspect_any).
    let other = w.tokens(&[]).await;
    let i = w
        .app
        .post("/oauth2/introspect")
        .header("authorization", &basic(&id, &secret))
        .form(&[("token", s(&other["access_token"]))])
        .send()
        .await;
    assert_eq!(i.body["active"], false);
}

#[tokio::test]
async fn a_public_native_client_registers_with_loopback_and_no_secret() {
    let w = world_in(RegistrationMode::Open, 20).await;
    let r = w.register(native(), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.body.get("client_secret").is_none());
    assert!(r.body.get("client_secret_expires_at").is_none());
    let c = w
        .env
        .store
        .get_oauth_client(s(&r.body["client_id"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.kind, ClientKind::Public);
    assert!(c.secrets.is_empty());
}

#[tokio::test]
async fn bad_metadata_is_refused_with_the_rfc_errors_and_nothing_is_stored() {
    let w = world_in(RegistrationMode::Open, 100).await;
    let with = |extra: Value| {
        let mut b = confidential();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    for (body, code) in [
        (
            with(json!({ "redirect_uris": ["http://app.example.test/cb"] })),
            "invalid_redirect_uri",
        ),
        (
            with(json!({ "redirect_uris": ["https://app.example.test/cb#x"] })),
            "invalid_redirect_uri",
        ),
        (
            with(json!({ "redirect_uris": ["http://127.0.0.1/cb"] })),
            "invalid_redirect_uri",
        ),
        (
            with(json!({ "redirect_uris": ["com.example.app:/cb"] })),
            "invalid_redirect_uri",
        ),
        (with(json!({ "redirect_uris": [] })), "invalid_redirect_uri"),
        (
            with(json!({ "grant_types": ["client_credentials"] })),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "response_types": ["token"] })),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://x.test/j" }),
            ),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "token_endpoint_auth_method": "private_key_jwt" })),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "scope": "openid offline_access" })),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "logo_uri": "http://app.example.test/logo.png" })),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "policy_uri": "javascript:alert(1)" })),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "backchannel_logout_uri": "https://app.example.test/bc" })),
            "invalid_client_metadata",
        ),
        (
            with(json!({ "software_statement": "eyJhbGciOiJub25lIn0.e30." })),
            "invalid_software_statement",
        ),
        (json!([1, 2]), "invalid_client_metadata"),
    ] {
        let r = w.register(body.clone(), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert_eq!(r.body["error"], code, "{body}");
    }
    let r = w
        .app
        .post(REGISTER)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_client_metadata");
    assert_eq!(w.env.store.list_oauth_clients(None).await.unwrap().len(), 1);
    let refused = w.env.audit_events("client.register").await;
    assert!(refused.iter().all(|e| e.outcome == AuditOutcome::Failure));
}

#[tokio::test]
async fn open_registration_is_rate_limited_per_ip() {
    let w = world_in(RegistrationMode::Open, 2).await;
    for _ in 0..2 {
        assert_eq!(w.register(native(), None).await.status, StatusCode::CREATED);
    }
    let r = w.register(native(), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert_eq!(r.body["error"], "temporarily_unavailable");
    // Another address has its own allowance.
    let ctx = HttpContext::new(ServerConfig::default(), w.env.store.clone());
    let router = build_router(vec![portcullis_oidc::router(w.provider.clone())], &ctx);
    let elsewhere = TestApp::from_peer(router, SocketAddr::from(([198, 51, 100, 7], 4000)));
    let r = elsewhere.post(REGISTER).json(native()).send().await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn initial_token_mode_needs_a_live_token_with_uses_left() {
    let w = world_in(RegistrationMode::InitialToken, 100).await;
    let admin = Admin::new(w.env.store.clone(), &CoreConfig::default(), "test");
    for bearer in [None, Some("not-a-token")] {
        let r = w.register(native(), bearer).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        assert_eq!(r.body["error"], "invalid_token");
        assert!(r.header("www-authenticate").starts_with("Bearer"));
    }
    let once = admin
        .create_initial_token("ci", Some(3600), Some(1))
        .await
        .unwrap();
    let token = once.token.as_str().to_string();
    assert_eq!(
        w.register(native(), Some(&token)).await.status,
        StatusCode::CREATED
    );
    let r = w.register(native(), Some(&token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "used up");
    let listed = admin.list_initial_tokens().await.unwrap();
    assert_eq!((listed[0].uses, listed[0].usable), (1, false));
    // Bad metadata does not spend a use.
    let many = admin
        .create_initial_token("many", None, Some(2))
        .await
        .unwrap();
    let bad = json!({ "redirect_uris": ["http://evil.test/cb"] });
    assert_eq!(
        w.register(bad, Some(&many.token)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(admin.list_initial_tokens().await.unwrap()[0].uses, 0);
    // Revoked and expired tokens stop at once.
    admin
        .revoke_initial_token(&many.view.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        w.register(native(), Some(&many.token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let expired = InitialAccessToken {
        id: uuid::Uuid::new_v4(),
        token_hash: hex::encode(Sha256::digest(b"expired-token")),
        label: String::new(),
        created_at: Utc::now() - chrono::Duration::hours(2),
        expires_at: Some(Utc::now() - chrono::Duration::hours(1)),
        max_uses: None,
        uses: 0,
        revoked_at: None,
    };
    w.env
        .store
        .create_initial_access_token(expired)
        .await
        .unwrap();
    assert_eq!(
        w.register(native(), Some("expired-token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.env
            .audit_events("client.initial_token_create")
            .await
            .len(),
        2
    );
    assert_eq!(
        w.env
            .audit_events("client.initial_token_revoke")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_registration_access_token_reads_updates_and_deletes_its_own_client_only() {
    let w = world_in(RegistrationMode::Open, 100).await;
    let a = w.register(confidential(), None).await.body;
    let b = w.register(native(), None).await.body;
    let (id, uri) = (
        s(&a["client_id"]).to_string(),
        s(&a["registration_client_uri"]).to_string(),
    );
    let path = uri.trim_start_matches(ISSUER).to_string();
    let token = s(&a["registration_access_token"]).to_string();

    let r = w.app.get(&path).bearer(token.as_str()).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["client_name"], "Registered App");
    assert!(
        r.body.get("client_secret").is_none(),
        "only its hash is kept"
    );
    for bad in [
        None,
        Some("wrong"),
        Some(s(&b["registration_access_token"])),
    ] {
        let r = w.app.get(&path).bearer(bad).send().await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(r.body["error"], "invalid_token");
    }
    // A client an operator made is not managed this way, whatever the token.
    let r = w
        .app
        .get("/oauth2/register/app")
        .bearer(token.as_str())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Update: the same rules, a new registration token.
    let mut changed = confidential();
    changed["client_id"] = json!(id);
    changed["client_name"] = json!("Renamed App");
    let bad = {
        let mut x = changed.clone();
        x["redirect_uris"] = json!(["http://evil.test/cb"]);
        x
    };
    let r = w
        .app
        .put(&path)
        .bearer(token.as_str())
        .json(bad)
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_redirect_uri");
    let mut public = changed.clone();
    public["token_endpoint_auth_method"] = json!("none");
    let r = w
        .app
        .put(&path)
        .bearer(token.as_str())
        .json(public)
        .send()
        .await;
    assert_eq!(
        r.body["error"], "invalid_client_metadata",
        "the kind never changes"
    );
    let mut no_id = changed.clone();
    no_id.as_object_mut().unwrap().remove("client_id");
    let r = w
        .app
        .put(&path)
        .bearer(token.as_str())
        .json(no_id)
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_request");
    let r = w
        .app
        .put(&path)
        .bearer(token.as_str())
        .json(changed.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["client_name"], "Renamed App");
    let new_token = s(&r.body["registration_access_token"]).to_string();
    assert_ne!(new_token, token);
    assert_eq!(
        w.app.get(&path).bearer(token.as_str()).send().await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.env
            .store
            .get_oauth_client(&id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Renamed App"
    );

    // Delete: disabled, its grants end, the token is gone.
    let secret = s(&a["client_secret"]).to_string();
    let cookie = w.cookie_for(&w.user).await;
    let code = w.consented_code(&id, &cookie).await;
    let t = w
        .token(
            &id,
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text());
    let access = s(&t.body["access_token"]).to_string();
    assert_eq!(w.userinfo(&access).await.status, StatusCode::OK);
    let r = w.app.delete(&path).bearer(new_token.as_str()).send().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(
        w.env
            .store
            .get_oauth_client(&id)
            .await
            .unwrap()
            .unwrap()
            .is_disabled()
    );
    assert_eq!(
        w.app
            .get(&path)
            .bearer(new_token.as_str())
            .send()
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    portcullis_testkit::within_a_second("the deleted client's grant ends", || async {
        w.userinfo(&access).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    let rt = s(&t.body["refresh_token"]);
    assert_eq!(
        w.token(
            &id,
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)]
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.env.audit_events("client.registration_update").await.len(),
        4
    );
    assert_eq!(
        w.env.audit_events("client.registration_delete").await.len(),
        1
    );
}
