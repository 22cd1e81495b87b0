//! startLogin, SSO and IdP logins, with and without a federation.

use super::*;

/// loginWithSSO with `args` answers 400 "… not configured".
async fn sso_not_configured(e: &World, args: Value) {
    let (code, err) = e.err("loginWithSSO", args, None).await;
    assert_eq!(code, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("not configured")
    );
}

// ---- startLogin, SSO, IdP ------------------------------------------------------------------------

#[tokio::test]
async fn start_login_is_the_same_for_everyone() {
    let e = env().await;
    e.member_user("known@example.com", &[Role::Author]).await;
    let a = e
        .ok("startLogin", json!({"email": "known@example.com"}), None)
        .await;
    let b = e
        .ok("startLogin", json!({"email": "unknown@example.com"}), None)
        .await;
    assert_eq!(own_sign_in_shape(&a), own_sign_in_shape(&b));
    assert_eq!(e.err("startLogin", json!({"email": ""}), None).await.0, 400);
}

/// A password address's answer with its start token blanked: password login, and the own
/// browser sign-in (`/login?t=`) for accounts that need a second factor.
fn own_sign_in_shape(v: &Value) -> Value {
    let url = v["webSSO"]["url"].as_str().expect("webSSO.url");
    assert!(url.starts_with("/login?t=") && url.len() > 40, "{url}");
    let mut v = v.clone();
    v["webSSO"]["url"] = json!("/login?t=");
    assert_eq!(
        v,
        json!({"passwordAuth": {}, "isSSO": false, "webSSO": {"url": "/login?t="}})
    );
    v
}

/// A user with a second factor: `login` refuses after the right password (use web sign-in);
/// `startLogin` answers as for everyone, its `webSSO.url` a single-use start token of the own
/// browser sign-in with the address as hint (the pages: crates/surfaces/web/tests).
#[tokio::test]
async fn a_second_factor_user_is_sent_to_the_own_browser_sign_in() {
    let e = env().await;
    let (u, _) = e.member_user("mia@example.com", &[Role::Author]).await;
    e.enrol_totp(&u).await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": "mia@example.com", "password": PW}),
            None,
        )
        .await;
    assert_eq!(code, 412, "{err}");
    assert_eq!(err["slug"], "second-factor-required");
    let v = e
        .ok("startLogin", json!({"email": "mia@example.com"}), None)
        .await;
    own_sign_in_shape(&v);
    let t = v["webSSO"]["url"]
        .as_str()
        .unwrap()
        .strip_prefix("/login?t=")
        .unwrap();
    let ctx = portcullis_core::audit::AuditContext::default();
    let hint = e
        .engine
        .own_sign_in_begin(t, &ctx)
        .await
        .expect("live token");
    assert_eq!(hint.as_deref(), Some("mia@example.com"));
    assert!(
        e.engine.own_sign_in_begin(t, &ctx).await.is_err(),
        "single use"
    );
}

#[tokio::test]
async fn sso_and_idp_until_federation() {
    let e = env().await;
    let sso = |p: Value| json!({"request": p});
    assert_eq!(
        e.err(
            "loginWithSSO",
            sso(json!({"provider": 2, "token": "t"})),
            None
        )
        .await
        .0,
        400
    );
    assert_eq!(
        e.err("loginWithSSO", sso(json!({"provider": 1})), None)
            .await
            .0,
        400
    );
    sso_not_configured(&e, sso(json!({"provider": "OKTA", "token": "t"}))).await;
    // A missing required provider is a protocol error.
    let v = e
        .call("loginWithSSO", sso(json!({"token": "t"})), None)
        .await;
    assert_eq!(v["exception"]["type"], 7);

    for f in ["loginWithIdp", "loginWithIdpAndTeamSelect"] {
        assert_eq!(e.err(f, json!({}), None).await.0, 401);
    }
    for (m, args, want) in [
        ("loginWithIdp", json!({}), 401),
        ("loginWithIdpAndTeamSelect", json!({}), 401),
        (
            "loginWithIdpAndTeam",
            json!({"teamId": uuid::Uuid::new_v4().to_string()}),
            401,
        ),
        ("loginWithIdpAndTeam", json!({"teamId": ""}), 400),
    ] {
        let v = e.idp_call(m, args, "Bearer upstream.jwt.token").await;
        assert_eq!(v["result"]["err"]["errorCode"], want, "{m}: {v}");
        if want == 401 {
            assert_eq!(
                v["result"]["err"]["message"],
                "identity provider login is not configured"
            );
        }
    }
}

/// A federation with providers, none of them serving the address or signing the token: IdP logins
/// refuse the token (497), SSO without an okta provider is 400, startLogin stays password-only.
#[tokio::test]
async fn federation_with_an_unrelated_provider() {
    let mut e = env().await;
    let cfg = portcullis_federation::ProviderConfig::new(
        "corp",
        "https://login.corp.example",
        vec!["portcullis".into()],
    );
    let fed = portcullis_federation::Federation::new(vec![cfg], e.engine.clone()).expect("fed");
    e.federate(fed);
    for token in [
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
    ] {
        let v = e.idp_call("loginWithIdp", json!({}), token).await;
        assert_eq!(v["result"]["err"]["errorCode"], 497, "{v}");
        assert_eq!(v["result"]["err"]["slug"], "invalid-token");
    }
    sso_not_configured(&e, json!({"request": {"provider": 1, "token": "t"}})).await;
    own_sign_in_shape(
        &e.ok("startLogin", json!({"email": "a@corp.example"}), None)
            .await,
    );
}

/// startLogin's `webSSO`: only for a domain whose provider has browser SSO, a relative URL with a
/// fresh single-use start token (docs/design/browser-sso.md).
#[tokio::test]
async fn start_login_web_sso_only_when_configured() {
    let mut e = env().await;
    let mut plain = portcullis_federation::ProviderConfig::new(
        "plain",
        "http://127.0.0.1:9/plain",
        vec!["portcullis".into()],
    );
    plain.email_domains = vec!["plain.example".into()];
    let mut web = portcullis_federation::ProviderConfig::new(
        "web",
        "http://127.0.0.1:9/web",
        vec!["portcullis".into()],
    );
    web.email_domains = vec!["web.example".into()];
    web.browser_sso = Some(portcullis_federation::BrowserSsoConfig {
        client_id: None,
        client_secret_file: "/nonexistent/secret".into(),
        scopes: vec!["openid".into()],
    });
    let fed =
        portcullis_federation::Federation::new(vec![plain, web], e.engine.clone()).expect("fed");
    e.federate(fed);
    let v = e
        .ok("startLogin", json!({"email": "a@plain.example"}), None)
        .await;
    assert_eq!(v["isSSO"], false, "{v}");
    assert!(v.get("webSSO").is_none(), "{v}");
    let a = e
        .ok("startLogin", json!({"email": "a@web.example"}), None)
        .await;
    let b = e
        .ok("startLogin", json!({"email": "a@web.example"}), None)
        .await;
    assert_eq!(a["isSSO"], true, "{a}");
    let url = a["webSSO"]["url"].as_str().expect("webSSO.url").to_owned();
    let t = url
        .strip_prefix("/login/sso/start?t=")
        .expect("relative start URL");
    assert_ne!(
        Some(url.as_str()),
        b["webSSO"]["url"].as_str(),
        "one token per answer"
    );
    let ctx = portcullis_core::audit::AuditContext::default();
    let begin = e
        .engine
        .sso_begin(t, &ctx)
        .await
        .expect("a live start token");
    assert_eq!(begin.provider, "web");
    assert_eq!(begin.login_hint.as_deref(), Some("a@web.example"));
    assert!(e.engine.sso_begin(t, &ctx).await.is_err(), "single use");
}

/// `isMultiTeam` is the same for every address of an IdP domain (PARSABLE.md §8 ties it to the
/// account; this project answers `true` for everyone, see parsable-surface.md), so startLogin
/// tells nobody whether an address has an account or how many teams it is on.
#[tokio::test]
async fn start_login_reveals_nothing_about_idp_accounts() {
    let mut e = env().await;
    let multi = e.validated_user("multi@corp.example", false).await;
    for team in ["alpha", "beta"] {
        let o = e.org(team).await;
        e.member(&multi, &o, &[Role::Author]).await;
    }
    e.member_user("single@corp.example", &[Role::Author]).await;
    let mut p = portcullis_federation::ProviderConfig::new(
        "corp",
        "http://127.0.0.1:9/corp",
        vec!["portcullis".into()],
    );
    p.email_domains = vec!["corp.example".into()];
    let fed = portcullis_federation::Federation::new(vec![p], e.engine.clone()).expect("fed");
    e.federate(fed);
    let mut answers = Vec::new();
    for email in [
        "multi@corp.example",
        "single@corp.example",
        "nobody@corp.example",
    ] {
        answers.push(e.ok("startLogin", json!({"email": email}), None).await);
    }
    assert_eq!(answers[0]["idpAuth"]["isMultiTeam"], true, "{}", answers[0]);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
}

/// loginWithIdp with the one opaque-format provider's token (a real `oidc-provider`,
/// introspected): accepted without naming the provider, the session ends at most
/// `max_session_beyond_upstream_secs` after the upstream token; another client's token is 497,
/// and so is any opaque token once the provider has no introspection credentials (no opt-in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_login_with_an_opaque_token_and_a_capped_session() {
    use portcullis_federation::{AccessTokenFormat, ClientSecret, JitOrg, ProviderConfig};
    let idp = fed_support::Idp::start(&[]).await;
    let mut cfg = test_config();
    cfg.allowed_email_domains = vec!["example.com".into()];
    let mut e = env_with(cfg, false).await;
    e.store
        .create_org(NewOrg {
            name: "acme".into(),
            display_name: None,
            region_id: e.engine.config().region.id.clone(),
        })
        .await
        .unwrap();
    let mut p = ProviderConfig::new("corp", &idp.issuer, vec![fed_support::CLIENT_ID.into()]);
    p.access_token_format = AccessTokenFormat::Opaque;
    p.introspection_client_secret = Some(ClientSecret::new("portcullis-test-secret"));
    p.max_session_beyond_upstream_secs = 600;
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: "acme".into(),
        roles: BTreeSet::from([Role::Author]),
        kind: MembershipKind::Member,
    }];
    let fed = portcullis_federation::Federation::new(vec![p.clone()], e.engine.clone()).unwrap();
    e.federate(fed);
    let login = |token: String| {
        let e = &e;
        async move {
            e.idp_call("loginWithIdp", json!({}), &format!("Bearer {token}"))
                .await
        }
    };
    let t = idp
        .control(
            "tokens",
            json!({"sub": "pl", "email": "pl@example.com", "access_token_format": "opaque",
                   "access_token_ttl": 900}),
        )
        .await;
    let v = login(t["access_token"].as_str().unwrap().to_owned()).await;
    let ok = &v["result"]["success"];
    assert_eq!(ok["currentUser"]["email"], "pl@example.com", "{v}");
    let expiry = ok["periods"]["expiry"].as_i64().unwrap();
    assert!(
        (900 + 600 - 60..=900 + 600 + 5).contains(&expiry),
        "{expiry}"
    );

    let other = idp
        .control(
            "tokens",
            json!({"sub": "pl", "email": "pl@example.com", "access_token_format": "opaque",
                   "client": "other"}),
        )
        .await;
    let v = login(other["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(v["result"]["err"]["errorCode"], 497, "{v}");

    // Without introspection credentials and without opaque_tokens_via_userinfo, even the
    // genuine token is refused (497), and no session is started.
    p.introspection_client_secret = None;
    let fed = portcullis_federation::Federation::new(vec![p], e.engine.clone()).unwrap();
    e.federate(fed);
    let auth = format!("Bearer {}", t["access_token"].as_str().unwrap());
    let v = e.idp_call("loginWithIdp", json!({}), &auth).await;
    assert_eq!(v["result"]["err"]["errorCode"], 497, "{v}");
    e.engine.shutdown().await;
}
