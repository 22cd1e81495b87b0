//! The device authorization grant (RFC 8628) through the router: the device's requests, the
//! pages a person answers on, and every refusal.

use std::net::SocketAddr;

use chrono::Duration;
use portcullis_core::oidc::{DEVICE_CODE_GRANT, GUESSES_PER_NETWORK};
use portcullis_testkit::http::TestApp;

use super::flow::hidden;
use super::*;

const TV: &str = "tv";

/// A public third-party client with the device grant and refresh tokens.
fn tv_client() -> OAuthClient {
    let mut c = client(TV, None);
    c.name = "Living Room TV".into();
    c.kind = ClientKind::Public;
    c.token_endpoint_auth = TokenEndpointAuth::None;
    c.secrets = Vec::new();
    c.redirect_uris = Vec::new();
    c.first_party = false;
    c.grant_types = [GrantType::DeviceCode, GrantType::RefreshToken].into();
    c
}

async fn device_world() -> World {
    let w = world().await;
    w.env.store.create_oauth_client(tv_client()).await.unwrap();
    w
}

/// The provider's router without a peer, to be called from other networks.
fn bare_router(w: &World) -> axum::Router {
    let ctx = HttpContext::new(ServerConfig::default(), w.env.store.clone());
    build_router(vec![portcullis_oidc::router(w.provider.clone())], &ctx)
}

fn hash(device_code: &str) -> String {
    hex::encode(Sha256::digest(device_code.as_bytes()))
}

impl World {
    async fn start_device(&self, client_id: &str, scope: &str) -> Reply {
        self.app
            .post("/oauth2/device_authorization")
            .form(&[("client_id", client_id), ("scope", scope)])
            .send()
            .await
    }

    async fn poll(&self, client_id: &str, device_code: &str) -> Reply {
        self.app
            .post("/oauth2/token")
            .form(&[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", device_code),
                ("client_id", client_id),
            ])
            .send()
            .await
    }

    /// The code form's CSRF token (and its cookie).
    async fn entry_csrf(&self, app: &TestApp) -> String {
        let r = app.get("/device").send().await;
        assert_eq!(r.status, StatusCode::OK);
        r.cookie("portcullis-oidc-csrf").unwrap()
    }

    /// Types `code` at `/device` from `app`'s network.
    async fn type_code(&self, app: &TestApp, code: &str) -> Reply {
        let csrf = self.entry_csrf(app).await;
        app.post("/device")
            .cookie(format!("portcullis-oidc-csrf={csrf}").as_str())
            .form(&[("csrf", &csrf), ("user_code", code)])
            .send()
            .await
    }

    /// The confirmation page's URL after typing a right code.
    async fn confirm_url(&self, code: &str) -> String {
        let r = self.type_code(&self.app, code).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let location = r.header("location").to_string();
        assert!(location.starts_with("/device/confirm?t="), "{location}");
        location
    }

    /// Opens the confirmation page signed in, and answers it with `answer`.
    async fn answer(&self, code: &str, cookie: &str, answer: &[(&str, &str)]) -> Reply {
        let url = self.confirm_url(code).await;
        let r = self.app.get(&url).cookie(cookie).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
        let ticket = hidden(&r.text(), "t");
        let mut form = vec![("csrf", csrf.as_str()), ("t", ticket.as_str())];
        form.extend_from_slice(answer);
        self.app
            .post("/device/confirm")
            .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
            .form(&form)
            .send()
            .await
    }
}

#[tokio::test]
async fn discovery_names_the_device_endpoint_and_grant() {
    let w = world().await;
    let d = w
        .app
        .get("/.well-known/openid-configuration")
        .send()
        .await
        .body;
    assert_eq!(
        d["device_authorization_endpoint"],
        format!("{ISSUER}/oauth2/device_authorization")
    );
    let grants = d["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&serde_json::json!(DEVICE_CODE_GRANT)));
}

#[tokio::test]
async fn a_device_gets_its_tokens_once_after_the_person_approves() {
    let w = device_world().await;
    let r = w.start_device(TV, "openid profile offline_access").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    let d = r.body.clone();
    let user_code = d["user_code"].as_str().unwrap().to_string();
    let device_code = d["device_code"].as_str().unwrap().to_string();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .replace('-', "")
            .bytes()
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b))
    );
    assert_eq!(d["verification_uri"], format!("{ISSUER}/device"));
    assert_eq!(
        d["verification_uri_complete"],
        format!("{ISSUER}/device?user_code={user_code}")
    );
    assert_eq!(
        (d["expires_in"].as_i64(), d["interval"].as_i64()),
        (Some(600), Some(5))
    );
    // Only hashes are stored.
    let stored = w
        .env
        .store
        .get_device_code(&hash(&device_code))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.user_code_hash, user_code);
    assert!(!stored.user_code_hash.contains(&user_code.replace('-', "")));

    let r = w.poll(TV, &device_code).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );

    // Typed in lower case without the dash; no sign-in yet: off to /login, which comes back.
    let url = w
        .confirm_url(&user_code.replace('-', "").to_lowercase())
        .await;
    let r = w.app.get(&url).send().await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let login = r.header("location").to_string();
    assert!(login.starts_with("/login?r="), "{login}");
    assert_eq!(query_of(&login)["r"], url);

    let cookie = w.cookie_for(&w.user).await;
    let r = w.app.get(&url).cookie(cookie.as_str()).send().await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.text();
    for shown in [
        "Living Room TV",
        user_code.as_str(),
        "id=\"scope-profile\"",
        "id=\"scope-offline_access\"",
        "ann@example.com",
        "id=\"allow\"",
        "id=\"deny\"",
        "/assets/portcullis.css",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(
        r.header("content-security-policy")
            .contains("default-src 'none'")
    );

    let r = w
        .answer(&user_code, &cookie, &[("decision", "allow")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), "/device/done?result=approved");
    let done = w.app.get("/device/done?result=approved").send().await;
    assert!(done.text().contains("Your device is connected"));

    // Tokens, even though this poll comes at once: slow_down is only for pending requests.
    let r = w.poll(TV, &device_code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], TV);
    assert_eq!(id["sub"], w.user.id.0.to_string());
    assert_eq!(id["org"], w.org.id.0.to_string());
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["acr"], "1");
    assert!(id.get("nonce").is_none());
    assert_eq!(r.body["scope"], "openid profile offline_access");
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    // A third-party client's approval is remembered as a consent (revocable in the account).
    assert!(
        w.env
            .store
            .get_consent(w.user.id, TV)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(w.env.audit_events("oidc.device_decision").await.len(), 1);

    // A second redemption is refused, and ends what the first one started.
    let r = w.poll(TV, &device_code).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let r = w
        .app
        .post("/oauth2/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", TV),
        ])
        .send()
        .await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "the replay revoked the grant"
    );
    assert_eq!(w.env.audit_events("oidc.code_replay").await.len(), 1);
    // The request is no longer pending: its code is not taken again.
    let r = w.type_code(&w.app, &user_code).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn polling_faster_than_the_interval_slows_the_device_down() {
    let w = device_world().await;
    let d = w.start_device(TV, "openid").await.body;
    let device_code = d["device_code"].as_str().unwrap();
    let stored = |w: &World| {
        let store = w.env.store.clone();
        let h = hash(device_code);
        async move { store.get_device_code(&h).await.unwrap().unwrap() }
    };
    assert_eq!(
        w.poll(TV, device_code).await.body["error"],
        "authorization_pending"
    );
    assert_eq!(w.poll(TV, device_code).await.body["error"], "slow_down");
    assert_eq!(stored(&w).await.interval_secs, 10);
    assert_eq!(w.poll(TV, device_code).await.body["error"], "slow_down");
    assert_eq!(stored(&w).await.interval_secs, 15);

    // A poll after the interval is just pending, and keeps the interval.
    let now = Utc::now();
    let waited = DeviceCode {
        device_code_hash: hash("waited"),
        user_code_hash: w.provider.stored_user_code_hash("BBBB-BBBB").unwrap(),
        client_id: TV.into(),
        scopes: vec!["openid".into()],
        created_at: now - Duration::seconds(30),
        expires_at: now + Duration::seconds(570),
        interval_secs: 10,
        polls: 3,
        last_polled_at: Some(now - Duration::seconds(11)),
        decision: None,
        decided_at: None,
        consumed_at: None,
        grant_session: None,
    };
    w.env.store.insert_device_code(waited).await.unwrap();
    assert_eq!(
        w.poll(TV, "waited").await.body["error"],
        "authorization_pending"
    );
    let after = w
        .env
        .store
        .get_device_code(&hash("waited"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.interval_secs, after.polls), (10, 4));
}

#[tokio::test]
async fn a_denied_request_is_access_denied_and_cannot_be_answered_again() {
    let w = device_world().await;
    let d = w.start_device(TV, "openid").await.body;
    let (user_code, device_code) = (
        d["user_code"].as_str().unwrap(),
        d["device_code"].as_str().unwrap(),
    );
    let cookie = w.cookie_for(&w.user).await;
    let url = w.confirm_url(user_code).await;
    let r = w.answer(user_code, &cookie, &[("decision", "deny")]).await;
    assert_eq!(r.header("location"), "/device/done?result=denied");
    let r = w.poll(TV, device_code).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("access_denied"))
    );
    assert!(
        w.env
            .store
            .get_consent(w.user.id, TV)
            .await
            .unwrap()
            .is_none()
    );
    // The ticket from before the denial no longer opens the request.
    let r = w.app.get(&url).cookie(cookie.as_str()).send().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("expired or was already used"));
}

#[tokio::test]
async fn expired_codes_are_refused_at_both_ends() {
    let w = device_world().await;
    let now = Utc::now();
    let expired = DeviceCode {
        device_code_hash: hash("old-device-code"),
        user_code_hash: w.provider.stored_user_code_hash("BCDF-GHJK").unwrap(),
        client_id: TV.into(),
        scopes: vec!["openid".into()],
        created_at: now - Duration::seconds(700),
        expires_at: now - Duration::seconds(100),
        interval_secs: 5,
        polls: 0,
        last_polled_at: None,
        decision: None,
        decided_at: None,
        consumed_at: None,
        grant_session: None,
    };
    w.env.store.insert_device_code(expired).await.unwrap();
    let r = w.poll(TV, "old-device-code").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expired_token"))
    );
    let r = w.type_code(&w.app, "BCDF-GHJK").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let page = r.text();
    assert!(page.contains("not valid or has expired"), "{page}");
    assert!(
        page.contains("aria-invalid=\"true\""),
        "the error is next to the field"
    );
}

#[tokio::test]
async fn device_requests_and_redemptions_are_refused_when_not_allowed() {
    let w = device_world().await;
    // A client without the grant, at both endpoints.
    let r = w
        .app
        .post("/oauth2/device_authorization")
        .header("authorization", &basic("app", SECRET))
        .form(&[("scope", "openid")])
        .send()
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let r = w
        .token(
            "app",
            SECRET,
            &[("grant_type", DEVICE_CODE_GRANT), ("device_code", "x")],
        )
        .await;
    assert_eq!(r.body["error"], "unauthorized_client");
    // Scopes as at the authorization endpoint.
    for (scope, why) in [
        ("profile", "openid is required"),
        ("openid admin", "unknown scope"),
    ] {
        let r = w.start_device(TV, scope).await;
        assert_eq!(r.body["error"], "invalid_scope", "{why}");
    }
    // Unknown client, wrong secret.
    assert_eq!(
        w.start_device("nope", "openid").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut secret_tv = tv_client();
    secret_tv.client_id = "tv2".into();
    secret_tv.kind = ClientKind::Confidential;
    secret_tv.token_endpoint_auth = TokenEndpointAuth::ClientSecretBasic;
    secret_tv.secrets = client("x", None).secrets;
    w.env.store.create_oauth_client(secret_tv).await.unwrap();
    let r = w
        .app
        .post("/oauth2/device_authorization")
        .header("authorization", &basic("tv2", "wrong"))
        .form(&[("scope", "openid")])
        .send()
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let r = w
        .app
        .post("/oauth2/device_authorization")
        .header("authorization", &basic("tv2", SECRET))
        .form(&[("scope", "openid")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tv2_code = r.body["device_code"].as_str().unwrap().to_string();

    // Another client cannot redeem (or probe) the device code.
    let r = w.poll(TV, &tv2_code).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let r = w.poll(TV, "no-such-device-code").await;
    assert_eq!(r.body["error"], "invalid_grant");
    let r = w
        .app
        .post("/oauth2/token")
        .form(&[("grant_type", DEVICE_CODE_GRANT), ("client_id", TV)])
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_request");
}

#[tokio::test]
async fn the_code_form_refuses_wrong_codes_and_counts_them_per_network() {
    let w = device_world().await;
    let d = w.start_device(TV, "openid").await.body;
    let user_code = d["user_code"].as_str().unwrap().to_string();

    let r = w.type_code(&w.app, "ABC").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("Enter the 8 letters"));
    // Wrong guesses use up this network's budget; a right code does not.
    let wrong = if user_code == "BBBB-BBBB" {
        "CCCC-CCCC"
    } else {
        "BBBB-BBBB"
    };
    for _ in 0..GUESSES_PER_NETWORK - 1 {
        assert_eq!(
            w.type_code(&w.app, wrong).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    for _ in 0..3 {
        assert_eq!(
            w.type_code(&w.app, &user_code).await.status,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        w.type_code(&w.app, wrong).await.status,
        StatusCode::BAD_REQUEST
    );
    // Over the budget even the right code is refused, with when to try again.
    let r = w.type_code(&w.app, &user_code).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().contains("Too many wrong codes"));
    let wait: i64 = r.header("retry-after").parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    // Another network is not affected.
    let other = TestApp::from_peer(bare_router(&w), SocketAddr::from(([198, 51, 100, 7], 5000)));
    assert_eq!(
        w.type_code(&other, &user_code).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_code_form_checks_csrf_and_origin() {
    let w = device_world().await;
    let d = w.start_device(TV, "openid").await.body;
    let user_code = d["user_code"].as_str().unwrap();
    let csrf = w.entry_csrf(&w.app).await;
    // No cookie; a foreign Origin.
    let r = w
        .app
        .post("/device")
        .form(&[("csrf", &csrf), ("user_code", user_code)])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w
        .app
        .post("/device")
        .header("origin", "https://evil.example")
        .cookie(format!("portcullis-oidc-csrf={csrf}").as_str())
        .form(&[("csrf", &csrf), ("user_code", user_code)])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The confirmation's form too: nothing is decided.
    let cookie = w.cookie_for(&w.user).await;
    let url = w.confirm_url(user_code).await;
    let r = w.app.get(&url).cookie(cookie.as_str()).send().await;
    let ticket = hidden(&r.text(), "t");
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    for (jar, origin) in [
        (cookie.clone(), ISSUER),
        (
            format!("{cookie}; portcullis-oidc-csrf={csrf}"),
            "https://evil.example",
        ),
    ] {
        let r = w
            .app
            .post("/device/confirm")
            .header("origin", origin)
            .cookie(jar.as_str())
            .form(&[("csrf", &csrf), ("t", &ticket), ("decision", "allow")])
            .send()
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let device_code = d["device_code"].as_str().unwrap();
    assert_eq!(
        w.poll(TV, device_code).await.body["error"],
        "authorization_pending"
    );
    // A forged ticket opens nothing.
    let r = w
        .app
        .get("/device/confirm?t=AAAA")
        .cookie(cookie.as_str())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_complete_link_fills_the_code_in_but_the_person_still_confirms() {
    let w = device_world().await;
    let d = w.start_device(TV, "openid").await.body;
    let user_code = d["user_code"].as_str().unwrap();
    let complete = d["verification_uri_complete"].as_str().unwrap();
    let r = w
        .app
        .get(complete.strip_prefix(ISSUER).unwrap())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains(&format!("value=\"{user_code}\"")));
    // Opening it decided nothing; anything but a code is not echoed.
    assert_eq!(
        w.poll(TV, d["device_code"].as_str().unwrap()).await.body["error"],
        "authorization_pending"
    );
    let r = w.app.get("/device?user_code=%3Cscript%3E").send().await;
    assert!(!r.text().contains("script"));
}

#[tokio::test]
async fn a_member_of_several_orgs_approves_for_one() {
    let w = device_world().await;
    let beta = w.env.org("beta").await;
    w.env
        .join(&w.user, &beta, &[Role::Admin], MembershipKind::Member)
        .await;
    let d = w.start_device(TV, "openid").await.body;
    let user_code = d["user_code"].as_str().unwrap();
    let cookie = w.cookie_for(&w.user).await;
    let url = w.confirm_url(user_code).await;
    let page = w.app.get(&url).cookie(cookie.as_str()).send().await.text();
    assert!(page.contains("id=\"org-acme\"") && page.contains("id=\"org-beta\""));
    assert!(!page.contains("id=\"allow\""));
    let r = w.answer(user_code, &cookie, &[("decision", "allow")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("Choose one of the orgs."));
    let beta_id = beta.id.0.to_string();
    let r = w.answer(user_code, &cookie, &[("org", &beta_id)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let t = w.poll(TV, d["device_code"].as_str().unwrap()).await;
    assert_eq!(claims(t.body["id_token"].as_str().unwrap())["org"], beta_id);
}

#[tokio::test]
async fn guesses_from_many_networks_meet_the_server_wide_budget() {
    use portcullis_core::oidc::GUESSES_SERVER_WIDE;
    let w = device_world().await;
    let d = w.start_device(TV, "openid").await.body;
    let user_code = d["user_code"].as_str().unwrap();
    let wrong = if user_code == "BBBB-BBBB" {
        "CCCC-CCCC"
    } else {
        "BBBB-BBBB"
    };
    let networks = GUESSES_SERVER_WIDE / GUESSES_PER_NETWORK;
    let router = bare_router(&w);
    for n in 0..networks {
        let peer = SocketAddr::from(([10, 1, (n / 250) as u8, (n % 250) as u8 + 1], 4000));
        let app = TestApp::from_peer(router.clone(), peer);
        for _ in 0..GUESSES_PER_NETWORK {
            assert_eq!(
                w.type_code(&app, wrong).await.status,
                StatusCode::BAD_REQUEST
            );
        }
    }
    // Every network's own budget is left, but the server's is spent.
    let fresh = TestApp::from_peer(router, SocketAddr::from(([10, 9, 9, 9], 4000)));
    assert_eq!(
        w.type_code(&fresh, user_code).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
