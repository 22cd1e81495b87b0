//! Opaque access tokens: userinfo, introspection, and refusal without it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_access_tokens_via_userinfo_and_okta_alias() {
    let idp = Idp::start(&[]).await;
    let env = TestEnv::new().await;
    let mut p = provider("okta", &idp);
    p.kind = portcullis_federation::ProviderKind::Okta;
    p.access_token_format = AccessTokenFormat::Opaque;
    p.email_domains = vec!["example.com".into()];
    // No introspection credentials: userinfo only because the provider opts in.
    p.opaque_tokens_via_userinfo = true;
    let f = fed(&env, vec![p]);
    assert_eq!(f.okta_alias(), Some("okta"));

    let v = idp
        .control(
            "tokens",
            json!({"sub": "heidi", "email": "heidi@example.com", "access_token_format": "opaque"}),
        )
        .await;
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(at.split('.').count(), 1, "opaque");
    let id = f
        .verify_access_token(at, f.okta_alias())
        .await
        .expect("via userinfo");
    assert_eq!(id.subject, "heidi");
    assert_eq!(id.email.as_deref(), Some("heidi@example.com"));
    assert!(id.expires_at.is_none());
    assert!(matches!(
        f.verify_access_token("definitely-not-issued", Some("okta"))
            .await,
        Err(FederationError::UserinfoRejected)
    ));
    assert!(matches!(
        f.verify_access_token(at, Some("nope")).await,
        Err(FederationError::UnknownProvider(_))
    ));

    // startLogin: the provider serving a domain, endpoints from discovery once fetched.
    let s = f
        .provider_for_email_domain("someone@EXAMPLE.com")
        .expect("served");
    assert_eq!(s.alias, "okta");
    assert!(s.authorization_endpoint.is_some());
    assert!(f.provider_for_email_domain("x@other.org").is_none());
    let d = f.describe("okta").await.unwrap();
    assert!(d.token_endpoint.is_some() && d.end_session_endpoint.is_some());
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_introspected_and_bound_to_the_client() {
    let idp = Idp::start(&[]).await;
    let env = TestEnv::new().await;
    let mut p = provider("corp", &idp);
    p.access_token_format = AccessTokenFormat::Opaque;
    p.introspection_client_secret = Some(ClientSecret::new("portcullis-test-secret"));
    // The only opaque-format provider: unnamed opaque tokens go to it.
    let f = fed(&env, vec![p.clone()]);
    let v = idp
        .control(
            "tokens",
            json!({"sub": "ivy", "email": "ivy@example.com", "access_token_format": "opaque",
                   "access_token_ttl": 900}),
        )
        .await;
    let at = v["access_token"].as_str().unwrap();
    let id = f.verify_access_token(at, None).await.expect("introspected");
    assert_eq!(id.subject, "ivy");
    assert_eq!(id.email.as_deref(), Some("ivy@example.com"));
    let exp = id.expires_at.expect("exp from introspection");
    let want = chrono::Utc::now() + chrono::Duration::seconds(900);
    assert!((exp - want).num_seconds().abs() <= 5, "{exp} vs {want}");
    let s = f.stats("corp").unwrap();
    assert_eq!(s.introspection_calls, 1);
    assert_eq!(
        s.userinfo_calls, 0,
        "introspection is preferred over userinfo"
    );

    // A token minted for another client of the same provider is refused.
    let other = idp
        .control(
            "tokens",
            json!({"sub": "ivy", "email": "ivy@example.com", "access_token_format": "opaque",
                   "client": "other"}),
        )
        .await;
    assert!(matches!(
        f.verify_access_token(other["access_token"].as_str().unwrap(), None).await,
        Err(FederationError::BadAudience { audience }) if audience == "portcullis-other"
    ));
    // A refresh token is not an access token; unknown tokens are inactive.
    let rt = v["refresh_token"].as_str().expect("refresh token");
    assert!(matches!(
        f.verify_access_token(rt, None).await,
        Err(FederationError::TokenInactive)
    ));
    assert!(matches!(
        f.verify_access_token("definitely-not-issued", None).await,
        Err(FederationError::TokenInactive)
    ));
    // Wrong introspection credentials are our fault: unavailable, not a token failure.
    let mut bad = p.clone();
    bad.introspection_client_secret = Some(ClientSecret::new("wrong"));
    let g = fed(&env, vec![bad]);
    assert!(matches!(
        g.verify_access_token(at, None).await,
        Err(FederationError::ProviderUnavailable(_))
    ));
    // The secret never shows in Debug or serialised config.
    assert!(!format!("{p:?}").contains("portcullis-test-secret"));
    assert!(
        !serde_json::to_string(&p)
            .unwrap()
            .contains("portcullis-test-secret")
    );

    // Userinfo fallback (no introspection secret, opted in), still the sole opaque provider:
    // accepted.
    let mut plain = p.clone();
    plain.introspection_client_secret = None;
    plain.opaque_tokens_via_userinfo = true;
    let h = fed(&env, vec![plain.clone()]);
    assert_eq!(
        h.verify_access_token(at, None)
            .await
            .expect("userinfo")
            .subject,
        "ivy"
    );
    // Two opaque providers: an unnamed opaque token cannot be placed.
    let idp2 = Idp::start(&[]).await;
    let mut second = provider("second", &idp2);
    second.access_token_format = AccessTokenFormat::Opaque;
    let k = fed(&env, vec![plain, second]);
    assert!(matches!(
        k.verify_access_token(at, None).await,
        Err(FederationError::Malformed(_))
    ));
    assert_eq!(
        k.verify_access_token(at, Some("corp"))
            .await
            .unwrap()
            .subject,
        "ivy"
    );
    env.engine.shutdown().await;
}

/// Without introspection credentials and without `opaque_tokens_via_userinfo`, opaque access
/// tokens are refused before any call out: userinfo would answer for a token minted for another
/// client of the provider (shown with the opt-in, the risk it accepts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_without_introspection_refused_by_default() {
    let idp = Idp::start(&[]).await;
    let env = TestEnv::new().await;
    let mut p = provider("corp", &idp);
    p.access_token_format = AccessTokenFormat::Opaque;
    let f = fed(&env, vec![p.clone()]);
    let token = |client: &'static str| {
        let idp = &idp;
        async move {
            let v = idp
                .control(
                    "tokens",
                    json!({"sub": "eve", "email": "eve@example.com",
                           "access_token_format": "opaque", "client": client}),
                )
                .await;
            v["access_token"].as_str().expect("access token").to_owned()
        }
    };
    let ours = token("main").await;
    let foreign = token("other").await;
    for at in [&ours, &foreign] {
        for named in [None, Some("corp")] {
            assert!(matches!(
                f.verify_access_token(at, named).await,
                Err(FederationError::OpaqueTokenUnverifiable(a)) if a == "corp"
            ));
        }
    }
    assert_eq!(f.stats("corp").unwrap().userinfo_calls, 0, "no call out");
    // Both APIs see a refused token (Parsable 497, Nominal NotAuthorized).
    let e = f.verify_access_token(&ours, None).await.unwrap_err();
    assert!(e.is_token_failure());
    assert!(matches!(
        portcullis_core::CoreError::from(e),
        portcullis_core::CoreError::InvalidToken(_)
    ));

    p.opaque_tokens_via_userinfo = true;
    let g = fed(&env, vec![p]);
    assert_eq!(
        g.verify_access_token(&ours, None).await.unwrap().subject,
        "eve"
    );
    assert_eq!(
        g.verify_access_token(&foreign, None).await.unwrap().subject,
        "eve",
        "userinfo cannot tell the client apart: the documented risk of the opt-in"
    );
    env.engine.shutdown().await;
}
