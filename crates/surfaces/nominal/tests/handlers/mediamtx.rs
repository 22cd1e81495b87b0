//! MediaMTX tokens and the MediaMTX callback.

use super::*;

#[tokio::test]
async fn mediamtx() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .call(Method::GET, "/api/authentication/v2/jwks", None, None)
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::NOT_FOUND, "Default:NotFound")
    );
    let body = json!({"permissions": [{"action": "read", "path": "cam1"}]});
    let r = w
        .post(
            "/api/authentication/v2/mediamtx/token",
            &c.member_t,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let w = world_with(CoreConfig::default(), true).await;
    let c = cast(&w).await;
    let r = w
        .call(Method::GET, "/api/authentication/v2/jwks", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let key = &r.body["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    // Paths lie under the caller's org.
    let cam = format!("{}/cam1", c.a.id.0);
    let body = json!({"permissions": [{"action": "read", "path": cam}]});
    let r = w
        .post("/api/authentication/v2/mediamtx/token", &c.member_t, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], json!("RS256"));
    assert_eq!(header["kid"], key["kid"]);
    let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["mediamtx_permissions"],
        json!([{"action": "read", "path": cam}])
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );
    let mtx = |t: String, action: &'static str, path: String| {
        let w = &w;
        async move {
            let body = json!({"permissions": [{"action": action, "path": path}]});
            w.post("/api/authentication/v2/mediamtx/token", &t, body)
                .await
        }
    };
    let (a, b) = (c.a.id.0, c.b.id.0);
    // Every tenant's paths (empty, a regular expression, another org, no org) are refused.
    for path in [
        String::new(),
        "~^.*$".into(),
        format!("{b}/cam1"),
        "cam1".into(),
        format!("{a}/../{b}/cam1"),
        format!("{a}x/cam1"),
    ] {
        let r = mtx(c.member_t.clone(), "publish", path.clone()).await;
        assert_eq!(r.name(), "Default:InvalidArgument", "{path:?}");
    }
    let r = mtx(c.member_t.clone(), "publish", format!("{a}/cam1")).await;
    assert_eq!(r.status, StatusCode::OK, "a member publishes in its org");
    // Instance-wide actions: not for org admins, members or credentials.
    for action in ["api", "pprof", "metrics"] {
        for t in [&c.member_t, &c.admin_t] {
            let r = mtx(t.clone(), action, String::new()).await;
            assert_eq!(r.name(), "Authorization:NotAuthorized", "{action}");
        }
    }
    // A guest reads and plays back, never publishes.
    let guest = w.user("guest@example.com", "Gus Guest").await;
    w.member(&guest, &c.a, false, MembershipKind::Guest).await;
    let guest_t = w.token(&guest, &c.a).await;
    let r = mtx(guest_t.clone(), "publish", format!("{a}/cam1")).await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    for action in ["read", "playback"] {
        let r = mtx(guest_t.clone(), action, format!("{a}/cam1")).await;
        assert_eq!(r.status, StatusCode::OK, "{action}");
    }
    // An API key is its owner's role in its org, no more.
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "cam", "expiresAfterDays": null}),
        )
        .await;
    let key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let r = mtx(key.clone(), "api", String::new()).await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    let r = mtx(key.clone(), "publish", format!("{b}/cam1")).await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = mtx(key, "publish", format!("{a}/cam1")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = w
        .post(
            "/api/authentication/v2/mediamtx/token",
            &c.member_t,
            json!({"permissions": [{"action": "delete", "path": "x"}]}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
}

/// A MediaMTX token never outlives the caller's own token: MediaMTX verifies it offline, so its
/// expiry is the only way it can end with the session.
#[tokio::test]
async fn mediamtx_tokens_end_with_the_callers_session() {
    let mut config = CoreConfig::default();
    config.tokens.session_secs = 600;
    let w = world_with(config, true).await;
    let c = cast(&w).await;
    let caller_exp = {
        let payload = c.member_t.split('.').nth(1).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
        claims["exp"].as_i64().unwrap()
    };
    let body = json!({"permissions": [{"action": "read", "path": format!("{}/cam1", c.a.id.0)}]});
    let r = w
        .post("/api/authentication/v2/mediamtx/token", &c.member_t, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let payload = r.body["token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        exp <= caller_exp,
        "MediaMTX token ({exp}) outlives its caller ({caller_exp})"
    );
    assert!(exp - claims["iat"].as_i64().unwrap() <= 600);
}

/// MediaMTX's `authMethod: http` callback refuses a MediaMTX token once its session is over
/// (issue 15, item 7): MediaMTX sends the token as `token`, `password` or `?jwt=`.
#[tokio::test]
async fn the_mediamtx_callback_ends_tokens_with_their_session() {
    const CALLBACK: &str = "/api/mediamtx-internal/v1/auth";
    let w = world_with(CoreConfig::default(), true).await;
    let c = cast(&w).await;
    let cam = format!("{}/cam1", c.a.id.0);
    let mint = |t: String| {
        let (w, cam) = (&w, cam.clone());
        async move {
            let body = json!({"permissions": [{"action": "read", "path": cam}]});
            let r = w
                .post("/api/authentication/v2/mediamtx/token", &t, body)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body["token"].as_str().unwrap().to_owned()
        }
    };
    let ask = |body: Value| w.call(Method::POST, CALLBACK, None, Some(body));
    let mel = mint(c.member_t.clone()).await;
    let claims = claims_of(&mel);
    assert_eq!(claims["sid"], claims_of(&c.member_t)["sid"]);
    assert_eq!(claims["org"], json!(c.a.id.0.to_string()));
    for body in [
        json!({"token": mel, "action": "read", "path": cam, "protocol": "hls", "ip": "203.0.113.5"}),
        json!({"user": "any", "password": mel, "action": "read", "path": cam, "protocol": "rtsp"}),
        json!({"query": format!("x=1&jwt={mel}"), "action": "read", "path": cam}),
    ] {
        let r = ask(body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body} {:?}", r.body);
    }
    for body in [
        json!({"token": mel, "action": "publish", "path": cam}),
        json!({"token": mel, "action": "read", "path": format!("{}/cam1", c.b.id.0)}),
        json!({"action": "read", "path": cam}),
        json!({"token": c.member_t, "action": "read", "path": cam}),
    ] {
        let r = ask(body.clone()).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized", "{body}");
    }
    // Logout ends the MediaMTX token, which had 2 h left.
    w.engine
        .logout(&c.member_t, &AuditContext::default())
        .await
        .unwrap();
    let r = ask(json!({"token": mel, "action": "read", "path": cam})).await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::FORBIDDEN, "Authorization:NotAuthorized")
    );
    // Removal from the org (Nominal deactivateUser) ends the admin's API-key-minted one too.
    let other_admin = w.user("boss@example.com", "Bo Boss").await;
    w.member(&other_admin, &c.a, true, MembershipKind::Member)
        .await;
    let boss_t = w.token(&other_admin, &c.a).await;
    let ada = mint(c.admin_t.clone()).await;
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "cam", "expiresAfterDays": null}),
        )
        .await;
    let by_key = mint(r.body["apiKeyValue"].as_str().unwrap().to_owned()).await;
    for t in [&ada, &by_key] {
        let r = ask(json!({"token": t, "action": "read", "path": cam})).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = w
        .call(
            Method::POST,
            &format!(
                "/api/authentication/v2/admin/users/{}/deactivate",
                w.user_rid(&c.admin)
            ),
            Some(&boss_t),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    for t in [&ada, &by_key] {
        let r = ask(json!({"token": t, "action": "read", "path": cam})).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    // Without MediaMTX the callback is not there.
    let plain = world().await;
    let r = plain
        .call(
            Method::POST,
            CALLBACK,
            None,
            Some(json!({"token": mel, "action": "read", "path": cam})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
