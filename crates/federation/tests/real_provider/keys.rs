//! Signing keys: rotation, bogus kids, a provider that is down, forged tokens.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_and_bogus_kid_flood() {
    let idp = Idp::start(&[]).await;
    let env = TestEnv::new().await;
    let mut p = provider("corp", &idp);
    p.refetch_min_interval_secs = 60;
    let f = Arc::new(fed(&env, vec![p.clone()]));

    let (id1, _) = idp
        .tokens(json!({"sub": "dave", "email": "d@example.com"}))
        .await;
    f.verify_id_token(&id1, None)
        .await
        .expect("before rotation");
    assert_eq!(f.stats("corp").unwrap().jwks_fetches, 1);

    // Rotation: the new kid triggers one re-fetch, no restart.
    let rotated = idp.rotate().await;
    let (id2, at2) = idp
        .tokens(json!({"sub": "dave", "email": "d@example.com"}))
        .await;
    f.verify_id_token(&id2, None).await.expect("after rotation");
    f.verify_access_token(&at2, None)
        .await
        .expect("access token after rotation");
    let s = f.stats("corp").unwrap();
    assert_eq!(s.kid_refetches, 1);
    assert_eq!(s.jwks_fetches, 2);
    assert!(rotated["kid"].is_string());

    // A flood of bogus kids right after: refused, no further fetch within the interval.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let token = idp
            .sign(json!({"claims": {"sub": "x", "aud": CLIENT_ID}, "header": {"kid": format!("bogus-{i}")}}))
            .await;
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            f.verify_id_token(&token, None).await
        }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.unwrap(),
            Err(FederationError::BadSignature)
        ));
    }
    assert_eq!(f.stats("corp").unwrap().jwks_fetches, 2);

    // A fresh registry (warm cache, no re-fetch yet): the flood causes exactly one re-fetch.
    let g = Arc::new(fed(&env, vec![p]));
    g.verify_id_token(&id2, None).await.expect("warm");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let token = idp
            .sign(json!({"claims": {"sub": "x"}, "header": {"kid": format!("flood-{i}")}}))
            .await;
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            g.verify_id_token(&token, None).await
        }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.unwrap(),
            Err(FederationError::BadSignature)
        ));
    }
    let s = g.stats("corp").unwrap();
    assert_eq!(s.kid_refetches, 1, "{s:?}");
    assert_eq!(s.jwks_fetches, 2, "{s:?}");
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_down_fails_fast_and_cached_keys_keep_serving() {
    let mut idp = Idp::start(&[]).await;
    let env = TestEnv::new().await;
    let f = fed(&env, vec![provider("corp", &idp)]);
    let (id_token, _) = idp
        .tokens(json!({"sub": "erin", "email": "e@example.com"}))
        .await;
    let bogus = idp
        .sign(json!({"claims": {"sub": "x"}, "header": {"kid": "not-published"}}))
        .await;
    f.verify_id_token(&id_token, None)
        .await
        .expect("warm cache");
    idp.stop().await;
    // The last good keys keep serving.
    f.verify_id_token(&id_token, None)
        .await
        .expect("cached keys serve while the provider is down");
    // An unknown kid needs the provider: a clear, fast error.
    let t = Instant::now();
    let e = f.verify_id_token(&bogus, None).await.unwrap_err();
    assert!(
        matches!(e, FederationError::ProviderUnavailable(_)),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));

    // Nothing listening at all (connection refused): fails at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_issuer = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    // A provider that accepts connections and never answers: bounded by the total timeout.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_issuer = format!("http://{}", hung.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            held.push(s);
        }
    });
    let mut hung_cfg = ProviderConfig::new("hung", &hung_issuer, vec![CLIENT_ID.into()]);
    hung_cfg.request_timeout_ms = 1500;
    let g = fed(
        &env,
        vec![
            ProviderConfig::new("dead", &dead_issuer, vec![CLIENT_ID.into()]),
            hung_cfg,
        ],
    );
    let forged = |iss: &str| {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let p = URL_SAFE_NO_PAD.encode(
            json!({"iss": iss, "sub": "s", "aud": CLIENT_ID, "exp": 4_000_000_000u64}).to_string(),
        );
        format!("{h}.{p}.c2ln")
    };
    let t = Instant::now();
    let e = g
        .verify_id_token(&forged(&dead_issuer), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, FederationError::ProviderUnavailable(_)),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let t = Instant::now();
    let e = g
        .verify_id_token(&forged(&hung_issuer), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, FederationError::ProviderUnavailable(ref m) if m.contains("timed out")),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Within the failure back-off the next call fails at once.
    let t = Instant::now();
    assert!(
        g.verify_id_token(&forged(&hung_issuer), None)
            .await
            .is_err()
    );
    assert!(t.elapsed() < Duration::from_millis(500));
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_with_the_right_error() {
    let idp = Idp::start(&[]).await;
    let env = TestEnv::new().await;
    let f = fed(&env, vec![provider("corp", &idp)]);
    let claims = json!({"sub": "frank", "email": "f@example.com"});

    // Control: a token from the harness signer with the current key is accepted.
    let good = idp.sign(json!({"claims": claims})).await;
    f.verify_id_token(&good, None).await.expect("control token");

    let wrong_iss = idp
        .sign(json!({"claims": {"sub": "frank", "iss": "https://evil.example"}}))
        .await;
    assert!(matches!(
        f.verify_id_token(&wrong_iss, None).await,
        Err(FederationError::UnknownIssuer { issuer }) if issuer == "https://evil.example"
    ));
    let wrong_aud = idp
        .sign(json!({"claims": {"sub": "frank", "aud": "someone-else"}}))
        .await;
    assert!(matches!(
        f.verify_id_token(&wrong_aud, None).await,
        Err(FederationError::BadAudience { audience }) if audience == "someone-else"
    ));
    assert!(matches!(
        f.verify_access_token(&wrong_aud, None).await,
        Err(FederationError::BadAudience { .. })
    ));
    let expired = idp
        .sign(json!({"claims": {"sub": "frank"}, "ttl": -3600}))
        .await;
    assert!(matches!(
        f.verify_id_token(&expired, None).await,
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        f.verify_access_token(&expired, None).await,
        Err(FederationError::Expired)
    ));
    // Logout ignores exp but still needs a good signature.
    assert!(
        f.end_session_endpoint(&expired)
            .await
            .expect("exp ignored")
            .is_some()
    );

    // alg: none.
    let parts: Vec<&str> = good.split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    assert!(matches!(
        f.verify_id_token(&alg_none, None).await,
        Err(FederationError::DisallowedAlgorithm(a)) if a == "none"
    ));
    assert!(matches!(
        f.end_session_endpoint(&alg_none).await,
        Err(FederationError::DisallowedAlgorithm(_))
    ));

    // HS256 with the provider's public key as the HMAC secret.
    let jwks = idp.jwks().await;
    let jwk = &jwks["keys"][0];
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = jwk["kid"].as_str().map(str::to_owned);
    for secret in [
        jwk.to_string().into_bytes(),
        URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
    ] {
        let hs = jsonwebtoken::encode(
            &header,
            &payload,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert!(matches!(
            f.verify_id_token(&hs, None).await,
            Err(FederationError::DisallowedAlgorithm(a)) if a == "HS256"
        ));
    }

    // A foreign key: under its own kid, and claiming the provider's kid.
    let foreign = idp.sign(json!({"claims": claims, "key": "foreign"})).await;
    assert!(matches!(
        f.verify_id_token(&foreign, None).await,
        Err(FederationError::BadSignature)
    ));
    let foreign_kid = idp
        .sign(json!({"claims": claims, "key": "foreign", "header": {"kid": jwk["kid"]}}))
        .await;
    assert!(matches!(
        f.verify_id_token(&foreign_kid, None).await,
        Err(FederationError::BadSignature)
    ));

    // A tampered payload of a real ID token.
    let (real, _) = idp
        .tokens(json!({"sub": "frank", "email": "f@example.com"}))
        .await;
    let rp: Vec<&str> = real.split('.').collect();
    let mut body: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(rp[1]).unwrap()).unwrap();
    body["email"] = json!("admin@example.com");
    let tampered = format!(
        "{}.{}.{}",
        rp[0],
        URL_SAFE_NO_PAD.encode(body.to_string()),
        rp[2]
    );
    assert!(matches!(
        f.verify_id_token(&tampered, None).await,
        Err(FederationError::BadSignature)
    ));

    // Garbage.
    assert!(matches!(
        f.verify_id_token("not.a.jwt", None).await,
        Err(FederationError::Malformed(_))
    ));
    assert!(matches!(
        f.end_session_endpoint("garbage").await,
        Err(FederationError::Malformed(_))
    ));
    env.engine.shutdown().await;
}
