//! Tokens: claims, forgeries, expiry, revocation, API keys, proxy and persistent tokens, team
//! tokens, the audit of logins, and signing-key retirement and revocation.

use super::*;

/// Ann's token (acme), already verified by a second engine on the same store: the other
/// process (a second server or the CLI).
async fn ann_seen_by_another_process(e: &Env) -> (String, std::sync::Arc<Engine>) {
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    let other = e.second_engine(CoreConfig::default()).await;
    other.authenticate(&token).await.unwrap();
    (token, other)
}

#[tokio::test]
async fn login_issues_an_eddsa_token_with_the_claim_set() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("Ann@Example.com", false, &[&org]).await;
    let token = e.login("ann@example.COM").await;
    let (h, p) = parts(&token);
    assert_eq!(h["alg"], "EdDSA");
    assert_eq!(h["typ"], "at+jwt");
    assert!(h["kid"].is_string());
    for claim in [
        "iss", "aud", "sub", "org", "sid", "iat", "exp", "jti", "amr", "guest",
    ] {
        assert!(p.get(claim).is_some(), "missing claim {claim}");
    }
    assert_eq!(p["sub"], user.id.to_string());
    assert_eq!(p["org"], org.id.to_string());
    assert_eq!(p["amr"], serde_json::json!(["pwd"]));
    let principal = e.engine.authenticate(&token).await.unwrap();
    assert_eq!(principal.user, user.id);
    assert_eq!(principal.org, org.id);
    // The JWKS publishes the signing key.
    let jwks = e.engine.jwks();
    assert_eq!(jwks["keys"][0]["kid"], h["kid"]);
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
}

#[tokio::test]
async fn forged_tokens_are_rejected() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    let (h, mut p) = parts(&token);
    let sig = token.rsplit('.').next().unwrap();

    // Tampered payload, original signature.
    p["sub"] = serde_json::json!(UserId::new().to_string());
    let tampered = format!("{}.{}.{}", b64(&h), b64(&p), sig);
    assert!(matches!(
        e.engine.authenticate(&tampered).await,
        Err(CoreError::InvalidToken(_))
    ));

    // alg: none.
    let mut none = h.clone();
    none["alg"] = "none".into();
    let none_tok = format!("{}.{}.", b64(&none), b64(&parts(&token).1));
    assert!(matches!(
        e.engine.authenticate(&none_tok).await,
        Err(CoreError::InvalidToken(_))
    ));

    // HS256 keyed with the public key.
    let x = e.engine.jwks()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_string();
    let mut hs = h.clone();
    hs["alg"] = "HS256".into();
    let hs_tok = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::HS256,
            typ: Some("at+jwt".into()),
            kid: h["kid"].as_str().map(str::to_string),
            ..Default::default()
        },
        &parts(&token).1,
        &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        e.engine.authenticate(&hs_tok).await,
        Err(CoreError::InvalidToken(_))
    ));

    // A token of another deployment (foreign key).
    let other = env().await;
    let org2 = other.org("acme").await;
    other.user("ann@example.com", false, &[&org2]).await;
    let foreign = other.login("ann@example.com").await;
    assert!(matches!(
        e.engine.authenticate(&foreign).await,
        Err(CoreError::InvalidToken(_))
    ));

    // Garbage.
    assert!(matches!(
        e.engine.authenticate("not.a.jwt").await,
        Err(CoreError::InvalidToken(_))
    ));
    assert!(matches!(
        e.engine.authenticate("").await,
        Err(CoreError::Unauthenticated)
    ));
}

#[tokio::test]
async fn expired_and_misaddressed_tokens_are_rejected() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("ann@example.com", false, &[&org]).await;
    let t = e.engine.access_tokens();
    let now = Utc::now();
    // Claims of session `sid` from `iat` to `exp`, and what authenticating them signed answers.
    let claims = |sid: &str, iat, exp| t.claims(user.id, org.id, sid, iat, exp, vec![], false);
    let engine = &e.engine;
    let authenticate = |c| {
        let tok = t.sign(&c).unwrap();
        async move { engine.authenticate(&tok).await }
    };
    let old = claims(
        "sid-x",
        now - chrono::Duration::hours(2),
        now - chrono::Duration::hours(1),
    );
    assert!(matches!(
        authenticate(old).await,
        Err(CoreError::TokenExpired)
    ));

    let mut wrong_iss = claims("sid-y", now, now + chrono::Duration::hours(1));
    wrong_iss.iss = "https://evil.example".into();
    assert!(matches!(
        authenticate(wrong_iss).await,
        Err(CoreError::InvalidToken(_))
    ));

    let mut wrong_aud = claims("sid-z", now, now + chrono::Duration::hours(1));
    wrong_aud.aud = "someone-else".into();
    assert!(matches!(
        authenticate(wrong_aud).await,
        Err(CoreError::InvalidToken(_))
    ));
}

/// Found while writing the `access_token` fuzz target's cache invariant: a genuine token whose
/// `exp` is near i64::MAX passed once, then its cached second validation computed `exp + leeway`
/// and overflowed (a panic in debug builds, a wrap to "expired" in release).
#[tokio::test]
async fn a_signed_token_with_a_huge_exp_validates_the_same_from_the_cache() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("ann@example.com", false, &[&org]).await;
    let t = e.engine.access_tokens();
    let now = Utc::now();
    let mut c = t.claims(user.id, org.id, "sid-far", now, now, vec![], false);
    c.exp = i64::MAX;
    let token = t.sign(&c).unwrap();
    let first = t.validate(&token, now).map(|(c, _)| c.exp);
    assert_eq!(first, Ok(i64::MAX));
    assert_eq!(t.validate(&token, now).map(|(c, _)| c.exp), first);
}

#[tokio::test]
async fn logout_and_deactivation_revoke_at_once() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    e.engine.authenticate(&token).await.unwrap();
    e.engine.logout(&token, &ctx()).await.unwrap();
    assert!(matches!(
        e.engine.authenticate(&token).await,
        Err(CoreError::InvalidToken(_))
    ));
    // Idempotent.
    e.engine.logout(&token, &ctx()).await.unwrap();

    let token = e.login("ann@example.com").await;
    e.engine
        .deactivate_user(ann.id, None, &ctx())
        .await
        .unwrap();
    assert!(matches!(
        e.engine.authenticate(&token).await,
        Err(CoreError::InvalidToken(_))
    ));
    // A deactivated account answers like bad credentials.
    let err = e
        .engine
        .login_password("ann@example.com", PW, OrgChoice::Default, None, &ctx())
        .await;
    assert!(matches!(err, Err(CoreError::InvalidCredentials)));
    e.engine
        .reactivate_user(ann.id, None, &ctx())
        .await
        .unwrap();
    // That refused attempt counted as a failure; clear its delay.
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();
    let fresh = e.login("ann@example.com").await;
    e.engine.authenticate(&fresh).await.unwrap();
}

#[tokio::test]
async fn another_process_revocation_is_honoured_within_a_second() {
    let e = env().await;
    let (token, other) = ann_seen_by_another_process(&e).await;
    other.logout(&token, &ctx()).await.unwrap();
    within_a_second("revocation", || async {
        e.engine.authenticate(&token).await.is_err()
    })
    .await;
}

#[tokio::test]
async fn api_keys_work_until_revoked_and_cannot_mint() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    let p = e.engine.authenticate(&token).await.unwrap();
    let (cred, secret) = e
        .engine
        .create_api_key(&p, "ci", Some(1), &ctx())
        .await
        .unwrap();
    assert!(secret.starts_with("nominal_api_key_"));
    assert_eq!(secret.len(), "nominal_api_key_".len() + 43);
    // The secret is a bearer, and it exchanges for a token carrying `akr`.
    let by_key = e.engine.authenticate(&secret).await.unwrap();
    assert_eq!(by_key.user, p.user);
    let minted = e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    assert!(minted.expires_at <= cred.expires_at.unwrap());
    let (_, claims) = parts(&minted.token);
    assert!(
        claims["akr"]
            .as_str()
            .unwrap()
            .starts_with("ri.authn.local.api-key.")
    );
    let by_minted = e.engine.authenticate(&minted.token).await.unwrap();
    // Neither may mint credentials or switch org.
    for q in [&by_key, &by_minted] {
        assert!(matches!(
            e.engine.create_api_key(q, "x", None, &ctx()).await,
            Err(CoreError::CredentialNotAllowed(_))
        ));
        assert!(matches!(
            e.engine.switch_org(q, org.id, &ctx()).await,
            Err(CoreError::CredentialNotAllowed(_))
        ));
    }
    e.engine.revoke_api_key(&p, cred.id, &ctx()).await.unwrap();
    assert!(e.engine.authenticate(&secret).await.is_err());
    assert!(e.engine.authenticate(&minted.token).await.is_err());
    assert!(e.engine.exchange_credential(&secret, &ctx()).await.is_err());
    // An unknown secret with the right prefix is refused the same way.
    assert!(
        e.engine
            .exchange_credential("nominal_api_key_nope", &ctx())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn proxy_login_rules() {
    let e = env().await;
    let org = e.org("acme").await;
    let root = e.user("root@example.com", true, &[&org]).await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    e.user("bob@example.com", false, &[&org]).await;
    e.user("root2@example.com", true, &[&org]).await;

    let g = e
        .proxy_grant("root@example.com", "ann@example.com")
        .await
        .unwrap();
    assert_eq!(g.user.id, ann.id);
    assert_eq!(g.proxy_admin.as_ref().unwrap().id, root.id);
    assert_eq!(g.session.kind, SessionKind::Proxy);
    assert!(g.session.expires_at <= Utc::now() + chrono::Duration::hours(1));
    let (_, claims) = parts(&g.token.token);
    assert_eq!(claims["act"]["sub"], root.id.to_string());
    let p = e.engine.authenticate(&g.token.token).await.unwrap();
    assert_eq!(p.actor, Some(root.id));
    // An impersonation session cannot mint credentials.
    assert!(
        e.engine
            .create_api_key(&p, "x", None, &ctx())
            .await
            .is_err()
    );

    // A non-admin learns nothing: same answer whether the target exists or not.
    for target in ["ann@example.com", "nobody@example.com"] {
        let r = e.proxy_grant("bob@example.com", target).await;
        assert!(
            matches!(r, Err(CoreError::PermissionDenied(_))),
            "{target}: {r:?}"
        );
    }
    // A super-admin cannot be impersonated.
    let r = e.proxy_grant("root@example.com", "root2@example.com").await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))));
}

#[tokio::test]
async fn persistent_tokens_replace_the_previous_one() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("root@example.com", true, &[&org]).await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let admin = e
        .engine
        .authenticate(&e.login("root@example.com").await)
        .await
        .unwrap();
    let (_, first, _) = e
        .engine
        .create_persistent_token(&admin, ann.id, &ctx())
        .await
        .unwrap();
    assert_eq!(e.engine.authenticate(&first).await.unwrap().user, ann.id);
    let (_, second, _) = e
        .engine
        .create_persistent_token(&admin, ann.id, &ctx())
        .await
        .unwrap();
    assert!(e.engine.authenticate(&first).await.is_err());
    let p = e.engine.authenticate(&second).await.unwrap();
    // The credential acts as its user and cannot mint another.
    assert!(
        e.engine
            .create_persistent_token(&p, ann.id, &ctx())
            .await
            .is_err()
    );
    e.engine
        .revoke_persistent_tokens(&admin, ann.id, &ctx())
        .await
        .unwrap();
    assert!(e.engine.authenticate(&second).await.is_err());
    // A non-super-admin may not.
    let ann_p = e
        .engine
        .authenticate(&e.login("ann@example.com").await)
        .await
        .unwrap();
    assert!(matches!(
        e.engine
            .create_persistent_token(&ann_p, ann.id, &ctx())
            .await,
        Err(CoreError::PermissionDenied(_))
    ));
}

#[tokio::test]
async fn team_tokens_and_org_switch_require_membership() {
    let e = env().await;
    let a = e.org("alpha").await;
    let b = e.org("beta").await;
    let c = e.org("gamma").await;
    e.user("ann@example.com", false, &[&a, &b]).await;
    let p = e.signed_in("ann@example.com").await;
    let team = e.engine.org_token(&p, b.id, &ctx()).await.unwrap();
    let tp = e.engine.authenticate(&team.token).await.unwrap();
    assert_eq!(tp.org, b.id);
    assert_eq!(tp.session(), p.session());
    assert_eq!(
        team.expires_at.timestamp(),
        p.expires_at.unwrap().timestamp()
    );
    assert!(matches!(
        e.engine.org_token(&p, c.id, &ctx()).await,
        Err(CoreError::PermissionDenied(_))
    ));
    assert!(matches!(
        e.engine.org_token(&p, OrgId::new(), &ctx()).await,
        Err(CoreError::NotFound(_))
    ));
    let uc = portcullis_core::use_cases::UseCaseCtx::direct(e.store.as_ref());
    portcullis_core::use_cases::set_org_disabled(&uc, b.id, true, serde_json::json!({}))
        .await
        .unwrap();
    assert!(matches!(
        e.engine.org_token(&p, b.id, &ctx()).await,
        Err(CoreError::OrgDisabled)
    ));
    let switched = e.engine.switch_org(&p, a.id, &ctx()).await.unwrap();
    assert!(switched.expires_at <= Utc::now() + chrono::Duration::hours(24));
}

#[tokio::test]
async fn audit_records_logins_without_secrets() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    e.login("ann@example.com").await;
    let _ = e
        .engine
        .authenticate_password("ann@example.com", "the wrong secret!", &ctx())
        .await;
    e.engine.flush_audit().await;
    let events = e
        .store
        .list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.action == "login" && ev.outcome == AuditOutcome::Success)
    );
    assert!(
        events
            .iter()
            .any(|ev| ev.action == "login.password" && ev.outcome == AuditOutcome::Failure)
    );
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains(PW) && !dump.contains("the wrong secret!"));
}

// ---- signing keys: retirement and emergency revocation ----------------------------------------

#[tokio::test]
async fn a_retired_key_stops_verifying_once_its_tokens_have_expired() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let tokens = e.engine.access_tokens();
    let now = Utc::now();
    let life = CoreConfig::default().tokens.max_signed_lifetime();
    // A token that claims to outlive every lifetime the server hands out.
    let claims = tokens.claims(
        ann.id,
        org.id,
        "sid",
        now,
        now + life * 3,
        vec!["pwd".into()],
        false,
    );
    let old = tokens.sign(&claims).unwrap();
    e.engine.rotate_signing_key(&ctx()).await.unwrap();
    assert!(
        tokens.validate(&old, now).is_ok(),
        "retired keys still verify"
    );
    let later = now + life + chrono::Duration::seconds(5);
    assert_eq!(
        tokens.validate(&old, later).err(),
        Some(portcullis_core::tokens::TokenFailure::UnknownKey),
        "verified past every token it could have signed"
    );
    assert_eq!(
        e.engine.access_tokens().keys().jwks(later)["keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_revoked_key_verifies_nothing_on_any_process_within_a_second() {
    let e = env().await;
    let (token, other) = ann_seen_by_another_process(&e).await;
    e.engine.authenticate(&token).await.unwrap();

    let kid = e.engine.access_tokens().keys().signing_kid().unwrap();
    assert!(e.engine.revoke_signing_key(&kid, &ctx()).await.unwrap());
    // Here at once, though the token is in the verified-token cache.
    assert!(e.engine.authenticate(&token).await.is_err());
    // A new key signs, and it is the only one published.
    let fresh = e.login("ann@example.com").await;
    e.engine.authenticate(&fresh).await.unwrap();
    let jwks = e.engine.jwks();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != kid.as_str())
    );

    within_a_second("key revocation", || async {
        other.authenticate(&token).await.is_err()
    })
    .await;
    // The other process stops signing with it too, and verifies the new key.
    let start = Instant::now();
    loop {
        let t = other
            .login_password("ann@example.com", PW, OrgChoice::Default, None, &ctx())
            .await
            .unwrap()
            .token
            .token;
        if parts(&t).0["kid"] != kid.as_str() && other.authenticate(&t).await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "still signing with a revoked key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    other.authenticate(&fresh).await.unwrap();
    // Idempotent; unknown kids are NotFound.
    assert!(!e.engine.revoke_signing_key(&kid, &ctx()).await.unwrap());
    assert!(matches!(
        e.engine.revoke_signing_key("nope", &ctx()).await,
        Err(CoreError::NotFound(_))
    ));
}
