//! Federation against a real OpenID provider (node `oidc-provider`, tests/federation).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::{AllowlistEntry, AllowlistKind, MembershipKind, Role};
use portcullis_federation::{
    AccessTokenFormat, ClientSecret, Federation, FederationError, GroupMapping, JitOrg,
    NominalOrgRequest, ProviderConfig,
};
use serde_json::json;
use support::{CLIENT_ID, Env, Idp, engine, engine_with, org};

fn provider(alias: &str, idp: &Idp) -> ProviderConfig {
    ProviderConfig::new(alias, &idp.issuer, vec![CLIENT_ID.into()])
}

fn jit(mut p: ProviderConfig, org: &str) -> ProviderConfig {
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: org.into(),
        roles: BTreeSet::from([Role::Author]),
        kind: MembershipKind::Member,
    }];
    p
}

fn allow_domain_config(domain: &str) -> CoreConfig {
    CoreConfig {
        allowed_email_domains: vec![domain.into()],
        ..CoreConfig::default()
    }
}

fn ctx() -> AuditContext {
    AuditContext::default()
}

fn fed(env: &Env, providers: Vec<ProviderConfig>) -> Federation {
    Federation::new(providers, env.engine.clone()).expect("federation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tokens_accepted_and_jit_provisioning() {
    let idp = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    let acme = org(&env, "acme").await;
    let f = fed(&env, vec![jit(provider("corp", &idp), "acme")]);

    let (id_token, access_token) = idp
        .tokens(json!({"sub": "alice-1", "email": "Alice@Example.com", "name": "Alice"}))
        .await;
    // The JWT access token above is for the API resource; userinfo takes the plain OIDC one.
    let (_, userinfo_token) = idp
        .tokens(json!({"sub": "alice-1", "access_token_format": "opaque"}))
        .await;
    let id = f
        .verify_id_token(&id_token, Some(&userinfo_token))
        .await
        .expect("real ID token");
    assert_eq!(id.subject, "alice-1");
    assert_eq!(id.issuer, idp.issuer);
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert!(id.email_verified);
    assert_eq!(id.name.as_deref(), Some("Alice"));
    assert!(id.expires_at.is_some());

    let at = f
        .verify_access_token(&access_token, None)
        .await
        .expect("real access token");
    assert_eq!(at.subject, "alice-1");
    assert_eq!(at.require_email().expect("email"), "alice@example.com");
    let upstream_exp = at.expires_at.expect("exp");

    // JIT on: provisioned into acme with the configured roles; a second login reuses the link.
    let user = f.resolve_user(&id, &ctx()).await.expect("provisioned");
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(user.display_name, "Alice");
    let m = env
        .store
        .get_membership(user.id, acme.id)
        .await
        .unwrap()
        .expect("membership");
    assert_eq!(m.roles, BTreeSet::from([Role::Author]));
    let again = f.resolve_user(&at, &ctx()).await.expect("linked");
    assert_eq!(again.id, user.id);

    // Nominal: one member org → chosen; token capped by the upstream expiry.
    let choice = f
        .nominal_choice(&id, &user, NominalOrgRequest::default())
        .await
        .expect("one org");
    assert_eq!(choice, OrgChoice::Specific(acme.id));
    let issued = env
        .engine
        .issue_access_token(
            &user,
            choice,
            vec!["fed".into()],
            Some(upstream_exp),
            &ctx(),
        )
        .await
        .expect("issued");
    assert!(issued.expires_at <= upstream_exp);
    assert!(!issued.guest);
    // Parsable: a session through the engine.
    let pchoice = f.parsable_choice(&id, &user, None).await.expect("choice");
    let grant = env
        .engine
        .finish_login(user.clone(), vec!["fed".into()], pchoice, None, &ctx())
        .await
        .expect("session");
    assert_eq!(grant.token.org, acme.id);

    // Logout: the end-session endpoint from discovery.
    let end = f
        .end_session_endpoint(&id_token)
        .await
        .expect("end session");
    assert!(end.expect("has one").starts_with(&idp.issuer));

    // Userinfo of another account → mismatch.
    let (_, other_at) = idp
        .tokens(json!({"sub": "mallory", "email": "mallory@example.com",
                        "access_token_format": "opaque"}))
        .await;
    assert!(matches!(
        f.verify_id_token(&id_token, Some(&other_at)).await,
        Err(FederationError::UserinfoMismatch)
    ));
    // An access token userinfo refuses (the API-resource JWT) → rejected.
    assert!(matches!(
        f.verify_id_token(&id_token, Some(&access_token)).await,
        Err(FederationError::UserinfoRejected)
    ));

    // An access token without email (refreshAccessToken needs one).
    let (_, no_email_at) = idp.tokens(json!({"sub": "no-mail"})).await;
    let ne = f
        .verify_access_token(&no_email_at, None)
        .await
        .expect("valid");
    assert!(matches!(ne.require_email(), Err(FederationError::MissingClaims(c)) if c == ["email"]));
    assert!(matches!(
        f.resolve_user(&ne, &ctx()).await,
        Err(FederationError::MissingClaims(_))
    ));
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_off_allowlist_deny_and_per_org_allowlist() {
    let idp = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    let acme = org(&env, "acme").await;
    let f_off = fed(&env, vec![provider("corp", &idp)]);
    let (id_token, _) = idp
        .tokens(json!({"sub": "bob", "email": "bob@example.com"}))
        .await;
    let id = f_off.verify_id_token(&id_token, None).await.expect("valid");
    assert!(matches!(
        f_off.resolve_user(&id, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));

    // JIT on but the domain is not allowed.
    let f = fed(&env, vec![jit(provider("corp", &idp), "acme")]);
    let (id_token, _) = idp
        .tokens(json!({"sub": "eve", "email": "eve@elsewhere.org"}))
        .await;
    let eve = f.verify_id_token(&id_token, None).await.expect("valid");
    assert!(matches!(
        f.resolve_user(&eve, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    assert!(
        env.store
            .get_user_by_email("eve@elsewhere.org")
            .await
            .unwrap()
            .is_none()
    );
    // Unverified email: no provisioning.
    let (id_token, _) = idp
        .tokens(json!({"sub": "uv", "email": "uv@example.com", "email_verified": false}))
        .await;
    let uv = f.verify_id_token(&id_token, None).await.expect("valid");
    assert!(matches!(
        f.resolve_user(&uv, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));

    // No name claim: the display name is the email's local part (NOMINAL §8).
    let (id_token, _) = idp
        .tokens(json!({"sub": "nameless", "email": "Nameless.One@example.com"}))
        .await;
    let nameless = f.verify_id_token(&id_token, None).await.expect("valid");
    assert!(nameless.name.is_none());
    let user = f
        .resolve_user(&nameless, &ctx())
        .await
        .expect("provisioned");
    assert_eq!(user.display_name, "nameless.one");

    // The per-org allow-list admits provisioning into that org.
    env.store
        .add_allowlist(AllowlistEntry {
            org_id: Some(acme.id),
            kind: AllowlistKind::Address,
            value: "eve@elsewhere.org".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let user = f
        .resolve_user(&eve, &ctx())
        .await
        .expect("allowed for acme");
    assert_eq!(user.email, "eve@elsewhere.org");
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_multi_org_guest_and_sync() {
    let idp = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    let acme = org(&env, "acme").await;
    let beta = org(&env, "beta").await;
    let mut p = provider("corp", &idp);
    p.jit_provisioning = true;
    p.sync_memberships = true;
    p.claims.groups = Some("groups".into());
    p.group_mappings = vec![
        GroupMapping {
            group: "acme-admins".into(),
            org: "acme".into(),
            roles: BTreeSet::from([Role::Admin]),
            kind: MembershipKind::Member,
        },
        GroupMapping {
            group: "beta-guests".into(),
            org: beta.id.to_string(),
            roles: BTreeSet::new(),
            kind: MembershipKind::Guest,
        },
        GroupMapping {
            group: "beta-users".into(),
            org: "beta".into(),
            roles: BTreeSet::from([Role::Executor]),
            kind: MembershipKind::Member,
        },
    ];
    let f = fed(&env, vec![p]);
    let rids = env.engine.rids();

    // Member of acme, guest of beta.
    let (id_token, _) = idp
        .tokens(json!({"sub": "carol", "email": "carol@example.com",
                        "groups": ["acme-admins", "beta-guests", "unmapped"]}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.expect("valid");
    assert_eq!(id.groups.as_ref().map(Vec::len), Some(3));
    let user = f.resolve_user(&id, &ctx()).await.expect("provisioned");
    let orgs = f.login_orgs(&id, &user).await.unwrap();
    assert_eq!(orgs.len(), 2);
    // One member org (beta is guest only): chosen without a RID.
    assert_eq!(
        f.nominal_choice(&id, &user, NominalOrgRequest::default())
            .await
            .unwrap(),
        OrgChoice::Specific(acme.id)
    );
    // The guest org by orgRid → isGuest.
    let beta_rid = rids.org(beta.id);
    let choice = f
        .nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                org_rid: Some(&beta_rid),
                workspace_rid: None,
            },
        )
        .await
        .unwrap();
    let issued = env
        .engine
        .issue_access_token(&user, choice, vec!["fed".into()], None, &ctx())
        .await
        .unwrap();
    assert!(issued.guest);
    assert_eq!(issued.org, beta.id);

    // Groups change: member of both → several member orgs → NoMembership without a RID.
    let (id_token, _) = idp
        .tokens(json!({"sub": "carol", "email": "carol@example.com",
                        "groups": ["acme-admins", "beta-users"]}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.expect("valid");
    let user = f.resolve_user(&id, &ctx()).await.expect("synced");
    assert!(matches!(
        f.nominal_choice(&id, &user, NominalOrgRequest::default())
            .await,
        Err(FederationError::NoMembership)
    ));
    let m = env
        .store
        .get_membership(user.id, beta.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.kind, MembershipKind::Member);
    assert_eq!(m.roles, BTreeSet::from([Role::Executor]));

    // Workspace RID picks its org; a differing orgRid is a 400; unknown workspace.
    let ws = env
        .store
        .create_workspace(beta.id, "main", None)
        .await
        .unwrap();
    let ws_rid = rids.workspace(ws.id);
    let acme_rid = rids.org(acme.id);
    assert!(matches!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&ws_rid),
                org_rid: None
            }
        )
        .await,
        Err(FederationError::NoMembership) // no grant and not an admin of beta
    ));
    let acme_ws = env
        .store
        .create_workspace(acme.id, "ops", None)
        .await
        .unwrap();
    let acme_ws_rid = rids.workspace(acme_ws.id);
    assert_eq!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&acme_ws_rid),
                org_rid: None
            }
        )
        .await
        .unwrap(),
        OrgChoice::Specific(acme.id) // admin of acme counts as a full member
    );
    assert!(matches!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&acme_ws_rid),
                org_rid: Some(&beta_rid)
            }
        )
        .await,
        Err(FederationError::InvalidArgument(_))
    ));
    let missing = rids.workspace(portcullis_core::WorkspaceId::new());
    assert!(matches!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&missing),
                org_rid: Some(&acme_rid)
            }
        )
        .await,
        Err(FederationError::WorkspaceNotFound(_))
    ));

    // Groups drop beta: the managed membership is removed.
    let (id_token, _) = idp
        .tokens(json!({"sub": "carol", "email": "carol@example.com", "groups": ["acme-admins"]}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.expect("valid");
    let user = f.resolve_user(&id, &ctx()).await.expect("synced");
    let m = env.store.get_membership(user.id, beta.id).await.unwrap();
    assert!(m.is_none_or(|m| m.removed_at.is_some()));
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_and_bogus_kid_flood() {
    let idp = Idp::start(&[]).await;
    let env = engine().await;
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
    let env = engine().await;
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
    let env = engine().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_provider_cannot_take_over_by_email() {
    let idp_a = Idp::start(&[]).await;
    let idp_b = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    org(&env, "acme").await;
    let a = jit(provider("a", &idp_a), "acme");
    let b = jit(provider("b", &idp_b), "acme");
    let f = fed(&env, vec![a.clone(), b.clone()]);

    let (ta, _) = idp_a
        .tokens(json!({"sub": "grace", "email": "grace@example.com"}))
        .await;
    let ida = f.verify_id_token(&ta, None).await.unwrap();
    let user = f.resolve_user(&ida, &ctx()).await.expect("created via A");

    // B asserts the same (verified) email and even the same sub: no link policy → refused.
    let (tb, _) = idp_b
        .tokens(json!({"sub": "grace", "email": "grace@example.com"}))
        .await;
    let idb = f.verify_id_token(&tb, None).await.unwrap();
    assert_eq!(idb.provider, "b");
    assert!(matches!(
        f.resolve_user(&idb, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    // A token signed by B's key claiming A's issuer is a bad signature.
    let cross = idp_b
        .sign(
            json!({"claims": {"sub": "grace", "iss": idp_a.issuer, "email": "grace@example.com"}}),
        )
        .await;
    assert!(matches!(
        f.verify_id_token(&cross, None).await,
        Err(FederationError::BadSignature)
    ));

    // With linking allowed, an unverified email still does not link.
    let mut b_link = b.clone();
    b_link.link_verified_email = true;
    b_link.email_domains = vec!["example.com".into()];
    let g = fed(&env, vec![a, b_link]);
    let (tb, _) = idp_b
        .tokens(json!({"sub": "grace2", "email": "grace@example.com", "email_verified": false}))
        .await;
    let idb = g.verify_id_token(&tb, None).await.unwrap();
    assert!(matches!(
        g.resolve_user(&idb, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    // Explicit policy + verified email: linked to the same account.
    let (tb, _) = idp_b
        .tokens(json!({"sub": "grace3", "email": "grace@example.com", "email_verified": true}))
        .await;
    let idb = g.verify_id_token(&tb, None).await.unwrap();
    assert_eq!(g.resolve_user(&idb, &ctx()).await.unwrap().id, user.id);
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_access_tokens_via_userinfo_and_okta_alias() {
    let idp = Idp::start(&[]).await;
    let env = engine().await;
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

fn super_admin(email: &str) -> portcullis_core::NewUser {
    portcullis_core::NewUser {
        email: email.into(),
        display_name: "Root".into(),
        avatar_url: None,
        password_hash: None,
        validated_at: Some(chrono::Utc::now()),
        super_admin: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_only_in_served_domains_and_never_a_super_admin() {
    let idp = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    org(&env, "acme").await;
    let store = &env.store;
    let root = store
        .create_user(super_admin("root@example.com"))
        .await
        .unwrap();
    let plain = store
        .create_user(portcullis_core::NewUser {
            super_admin: false,
            ..super_admin("plain@example.com")
        })
        .await
        .unwrap();
    let other = store
        .create_user(portcullis_core::NewUser {
            super_admin: false,
            ..super_admin("someone@partner.org")
        })
        .await
        .unwrap();
    let mut p = provider("corp", &idp);
    p.link_verified_email = true;
    // Linking without the domains it may link is a configuration error, not a silent no-op.
    assert!(matches!(p.validate(), Err(FederationError::Config(_))));
    p.email_domains = vec!["example.com".into()];
    let f = fed(&env, vec![p]);

    // A super-admin's verified email is never linked.
    let (t, _) = idp
        .tokens(json!({"sub": "up-root", "email": "root@example.com", "email_verified": true}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert!(matches!(
        f.resolve_user(&id, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    assert!(
        store
            .find_external_identity(&idp.issuer, "up-root")
            .await
            .unwrap()
            .is_none()
    );
    // An address outside the provider's email_domains is not linked.
    let (t, _) = idp
        .tokens(json!({"sub": "up-other", "email": "someone@partner.org", "email_verified": true}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert!(matches!(
        f.resolve_user(&id, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    // Control: a verified address in a served domain, not a super-admin, links.
    let (t, _) = idp
        .tokens(json!({"sub": "up-plain", "email": "plain@example.com", "email_verified": true}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert_eq!(f.resolve_user(&id, &ctx()).await.unwrap().id, plain.id);
    assert!(!root.id.to_string().is_empty() && other.id != plain.id);
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_claim_needs_allowed_orgs() {
    let idp = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    let acme = org(&env, "acme").await;
    org(&env, "secret-org").await;
    let mut p = provider("corp", &idp);
    p.jit_provisioning = true;
    // The harness publishes `groups`; here it carries org names.
    p.claims.org = Some("groups".into());
    assert!(matches!(p.validate(), Err(FederationError::Config(_))));
    assert!(Federation::new(vec![p.clone()], env.engine.clone()).is_err());
    p.allowed_orgs = vec!["acme".into()];
    let f = fed(&env, vec![p]);
    // The claim names an org outside allowed_orgs too: only the allowed one is joined.
    let (t, _) = idp
        .tokens(json!({"sub": "oc", "email": "oc@example.com",
                        "groups": ["acme", "secret-org"]}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert_eq!(id.orgs.len(), 2);
    let user = f.resolve_user(&id, &ctx()).await.expect("provisioned");
    let orgs = env
        .store
        .list_user_memberships(user.id, false)
        .await
        .unwrap();
    assert_eq!(
        orgs.iter().map(|m| m.org_id).collect::<Vec<_>>(),
        vec![acme.id]
    );
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_tokens_capped_by_the_upstream_expiry() {
    let idp = Idp::start(&[]).await;
    let env = engine_with(allow_domain_config("example.com")).await;
    let acme = org(&env, "acme").await;
    let mut p = jit(provider("corp", &idp), "acme");
    p.max_session_beyond_upstream_secs = 600;
    let f = fed(&env, vec![p]);
    let (id_token, access_token) = idp
        .tokens(json!({"sub": "cap", "email": "cap@example.com",
                        "access_token_ttl": 300, "id_token_ttl": 120}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.unwrap();
    let at = f.verify_access_token(&access_token, None).await.unwrap();
    let id_exp = id.expires_at.unwrap();
    let at_exp = at.expires_at.unwrap();
    let user = f.resolve_user(&id, &ctx()).await.unwrap();

    // Nominal: getAccessToken ends with the ID token, refreshAccessToken with the access token.
    assert_eq!(f.token_not_after(&id).unwrap(), id_exp);
    let choice = f
        .nominal_choice(&id, &user, NominalOrgRequest::default())
        .await
        .unwrap();
    let issued = f.issue_token(&id, &user, choice, &ctx()).await.unwrap();
    assert_eq!(issued.expires_at, id_exp);
    assert_eq!(f.token_not_after(&at).unwrap(), at_exp);
    let refreshed = f.issue_token(&at, &user, choice, &ctx()).await.unwrap();
    assert_eq!(refreshed.expires_at, at_exp);

    // Parsable and browser SSO: a session ends at most 600 s after the upstream token (not 30
    // days), the access token's or the ID token's.
    let not_after = f.session_not_after(&at).unwrap();
    assert_eq!(not_after, at_exp + chrono::Duration::seconds(600));
    let grant = f
        .start_session(
            &at,
            user.clone(),
            OrgChoice::Specific(acme.id),
            None,
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(grant.session.expires_at, not_after);
    assert_eq!(grant.token.expires_at, not_after);
    assert_eq!(grant.session.amr, vec!["fed".to_owned()]);
    let grant = f
        .start_session(
            &id,
            user.clone(),
            OrgChoice::Specific(acme.id),
            None,
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(
        grant.session.expires_at,
        id_exp + chrono::Duration::seconds(600)
    );

    // Unknown upstream expiry (userinfo-checked opaque token): counts as now.
    let mut unknown = at.clone();
    unknown.expires_at = None;
    let t = f.session_not_after(&unknown).unwrap();
    let now = chrono::Utc::now();
    assert!(t > now + chrono::Duration::seconds(590) && t <= now + chrono::Duration::seconds(600));
    let u = f.token_not_after(&unknown).unwrap();
    assert!(u >= t && u - t < chrono::Duration::seconds(5));

    // Past the cap, or an ID token within the leeway past its exp: refused, not minted.
    let mut old = at.clone();
    old.expires_at = Some(now - chrono::Duration::seconds(601));
    assert!(matches!(
        f.session_not_after(&old),
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        f.start_session(&old, user.clone(), OrgChoice::Default, None, &ctx())
            .await,
        Err(FederationError::Expired)
    ));
    old.expires_at = Some(now - chrono::Duration::seconds(5));
    assert!(matches!(
        f.token_not_after(&old),
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        f.issue_token(&old, &user, OrgChoice::Default, &ctx()).await,
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        env.engine
            .finish_login_until(
                user,
                vec!["fed".into()],
                OrgChoice::Default,
                None,
                Some(now - chrono::Duration::seconds(1)),
                &ctx(),
            )
            .await,
        Err(portcullis_core::CoreError::TokenExpired)
    ));
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_introspected_and_bound_to_the_client() {
    let idp = Idp::start(&[]).await;
    let env = engine().await;
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
    let env = engine().await;
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

#[test]
fn provider_toml_schema() {
    #[derive(serde::Deserialize)]
    struct Root {
        federation: Fed,
    }
    #[derive(serde::Deserialize)]
    struct Fed {
        providers: Vec<ProviderConfig>,
    }
    let src = r#"
        [[federation.providers]]
        alias = "corp"
        kind = "oidc"
        issuer = "https://login.example.com"
        client_ids = ["portcullis"]
        access_token_format = "jwt"
        jit_provisioning = true
        link_verified_email = false
        allowed_orgs = ["acme"]
        email_domains = ["example.com"]
        sync_memberships = true
        [federation.providers.claims]
        groups = "groups"
        [[federation.providers.group_mappings]]
        group = "eng"
        org = "acme"
        roles = ["AUTHOR", "EXECUTOR"]
        [[federation.providers.jit_orgs]]
        org = "acme"
        kind = "guest"

        [[federation.providers]]
        alias = "okta"
        kind = "okta"
        issuer = "https://acme.okta.com/oauth2/default"
        client_ids = ["0oa1", "api://default"]
        access_token_format = "opaque"
        introspection_client_secret = "s3cret"
        max_session_beyond_upstream_secs = 3600
    "#;
    let root: Root = toml::from_str(src).expect("schema");
    let ps = root.federation.providers;
    assert_eq!(ps.len(), 2);
    assert!(ps.iter().all(|p| p.validate().is_ok()));
    assert_eq!(ps[0].group_mappings[0].roles.len(), 2);
    assert_eq!(ps[0].jit_orgs[0].kind, MembershipKind::Guest);
    assert_eq!(ps[1].access_token_format, AccessTokenFormat::Opaque);
    let (cid, secret) = ps[1].introspection_credentials().expect("introspection");
    assert_eq!((cid, secret.expose()), ("0oa1", "s3cret"));
    assert!(!toml::to_string(&ps[1]).unwrap().contains("s3cret"));
    assert_eq!(ps[1].max_session_beyond_upstream_secs, 3600);
    assert_eq!(ps[0].max_session_beyond_upstream_secs, 36_000);
    assert!(ps[0].introspection_credentials().is_none());
    assert_eq!(ps[0].leeway(), 30);
    let bad = toml::from_str::<Root>(&src.replace("jwt", "hs256"));
    assert!(bad.is_err());
    let mut p = ps[0].clone();
    p.algorithms = vec!["HS256".into()];
    assert!(p.validate().is_err());
    p.algorithms = vec![];
    p.leeway_secs = 61;
    assert!(p.validate().is_err());

    // opaque_tokens_via_userinfo: off by default; only for opaque tokens without introspection.
    assert!(ps.iter().all(|p| !p.opaque_tokens_via_userinfo));
    let opted = src.replace(
        "introspection_client_secret = \"s3cret\"",
        "opaque_tokens_via_userinfo = true",
    );
    let ps2 = toml::from_str::<Root>(&opted)
        .expect("schema")
        .federation
        .providers;
    assert!(ps2[1].opaque_tokens_via_userinfo);
    assert!(ps2[1].validate().is_ok());
    let mut both = ps[1].clone();
    both.opaque_tokens_via_userinfo = true;
    let err = both.validate().unwrap_err().to_string();
    assert!(
        err.contains("no effect with introspection_client_secret"),
        "{err}"
    );
    let mut jwt = ps[0].clone();
    jwt.opaque_tokens_via_userinfo = true;
    let err = jwt.validate().unwrap_err().to_string();
    assert!(err.contains("needs access_token_format"), "{err}");
    let typo = opted.replace("opaque_tokens_via_userinfo", "opaque_token_via_userinfo");
    assert!(
        toml::from_str::<Root>(&typo).is_err(),
        "unknown keys are refused"
    );
}
