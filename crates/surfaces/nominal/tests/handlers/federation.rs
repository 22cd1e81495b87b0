//! The federation endpoints, with no provider and with a real OpenID provider.

use super::*;

#[tokio::test]
async fn federation_endpoints_validate_then_refuse() {
    let w = world().await;
    for (path, good) in [
        (
            "/api/authorization/v1/access-token",
            json!({"idToken": "x", "accessToken": null, "orgRid": null, "workspaceRid": null}),
        ),
        (
            "/api/authorization/v1/refresh-access-token",
            json!({"accessToken": "x"}),
        ),
        ("/api/authorization/v1/user-orgs", json!({"idToken": "x"})),
        (
            "/api/authorization/v1/get-idp-end-session-endpoint",
            json!({"idToken": "x"}),
        ),
    ] {
        let r = w
            .call(Method::POST, path, None, Some(json!({"bogus": 1})))
            .await;
        assert_eq!(r.name(), "Default:InvalidArgument", "{path}");
        let r = w.call(Method::POST, path, None, Some(good)).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized", "{path}");
    }
}

/// With a federation that has no provider: an undecodable token is `InvalidJwtFormat`, a JWT from
/// an unconfigured issuer `InvalidJwtIssuer{issuer}` on getAccessToken and `NotAuthorized` on the
/// other endpoints (docs/design/federation.md, "Error mapping").
#[tokio::test]
async fn federation_errors_without_providers() {
    let w = world().await;
    let w = w.with_federation(Vec::new(), Ipv4Addr::new(192, 0, 2, 8));
    let b64 = |v: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let foreign = format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            json!({"iss": "https://elsewhere.example", "sub": "s", "aud": "x", "exp": 4_000_000_000u64})
        ),
        b64(json!("sig"))
    );
    let cases = [
        ("/api/authorization/v1/access-token", "idToken"),
        ("/api/authorization/v1/refresh-access-token", "accessToken"),
        ("/api/authorization/v1/user-orgs", "idToken"),
        (
            "/api/authorization/v1/get-idp-end-session-endpoint",
            "idToken",
        ),
    ];
    for (path, field) in cases {
        let r = w
            .call(
                Method::POST,
                path,
                None,
                Some(json!({ field: "not-a-jwt" })),
            )
            .await;
        let want = match path {
            "/api/authorization/v1/access-token"
            | "/api/authorization/v1/get-idp-end-session-endpoint" => {
                "Authorization:InvalidJwtFormat"
            }
            _ => "Authorization:NotAuthorized",
        };
        assert_eq!(r.name(), want, "{path}");
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = w
            .call(Method::POST, path, None, Some(json!({ field: foreign })))
            .await;
        if path.ends_with("/access-token") && !path.contains("refresh") {
            assert_eq!(r.name(), "Authorization:InvalidJwtIssuer");
            assert_eq!(r.body["parameters"]["issuer"], "https://elsewhere.example");
        } else {
            assert_eq!(r.name(), "Authorization:NotAuthorized", "{path}");
        }
    }
}

/// The invited account accepts with its next sign-in: a Nominal token exchange (real OpenID
/// provider) into the inviting org succeeds and makes it a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_account_joins_at_its_next_token_exchange() {
    use portcullis_federation::ProviderConfig;
    let idp = fed_support::Idp::start(&[]).await;
    let w = world().await;
    let c = cast(&w).await;
    let kim = w.user("kim@example.com", "Kim Known").await;
    w.member(&kim, &c.b, false, MembershipKind::Member).await;
    w.store
        .link_external_identity(ExternalIdentity {
            issuer: idp.issuer.clone(),
            subject: "kim".into(),
            user_id: kim.id,
            provider_alias: "corp".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let p = ProviderConfig::new("corp", &idp.issuer, vec![fed_support::CLIENT_ID.into()]);
    let w = w.with_federation(vec![p], Ipv4Addr::new(192, 0, 2, 9));
    let r = w
        .post(
            "/api/authentication/v2/batch-preregister-users",
            &c.admin_t,
            json!({"emails": ["kim@example.com"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        w.store
            .get_membership(kim.id, c.a.id)
            .await
            .unwrap()
            .is_none()
    );
    let (id_token, _) = idp
        .tokens(json!({"sub": "kim", "email": "kim@example.com"}))
        .await;
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/access-token",
            None,
            Some(json!({"idToken": id_token, "orgRid": w.org_rid(&c.a)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = r.body["accessToken"].as_str().unwrap().to_owned();
    let me = w.get("/api/authentication/v2/my/profile", &token).await;
    assert_eq!(me.body["orgRid"], json!(w.org_rid(&c.a)));
    let m = w.store.get_membership(kim.id, c.a.id).await.unwrap();
    assert!(m.is_some_and(|m| m.is_active()));
    // The org's admin now sees the member's real profile.
    let r = w
        .post(
            "/api/authentication/v2/users/batch",
            &c.admin_t,
            json!([w.user_rid(&kim)]),
        )
        .await;
    assert_eq!(r.body[0]["displayName"], "Kim Known");
    w.engine.shutdown().await;
}

/// The one opaque-format provider (a real `oidc-provider`), with introspection: its opaque access
/// tokens work on refreshAccessToken (expiry from introspection), a token minted for another
/// client does not, nor any opaque token once introspection is not configured (no opt-in);
/// getAccessToken ends with the ID token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_opaque_refresh_and_caps_through_the_router() {
    use portcullis_federation::{AccessTokenFormat, ClientSecret, JitOrg, ProviderConfig};
    let idp = fed_support::Idp::start(&[]).await;
    let w = world().await;
    w.org("acme").await;
    let mut p = ProviderConfig::new("corp", &idp.issuer, vec![fed_support::CLIENT_ID.into()]);
    p.access_token_format = AccessTokenFormat::Opaque;
    p.introspection_client_secret = Some(ClientSecret::new("portcullis-test-secret"));
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: "acme".into(),
        roles: BTreeSet::from([Role::Author]),
        kind: MembershipKind::Member,
    }];
    let w = w.with_federation(vec![p.clone()], Ipv4Addr::new(192, 0, 2, 9));
    let t = idp
        .control(
            "tokens",
            json!({"sub": "rt", "email": "rt.user@example.com", "access_token_format": "opaque",
                   "access_token_ttl": 900, "id_token_ttl": 120}),
        )
        .await;
    let at = t["access_token"].as_str().unwrap();
    let r = w.refresh(at).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let want = chrono::Utc::now().timestamp() + 900;
    assert!((r.body["expiresAtSeconds"].as_i64().unwrap() - want).abs() <= 5);
    let me = w
        .call(
            Method::GET,
            "/api/authentication/v2/my/profile",
            r.body["accessToken"].as_str(),
            None,
        )
        .await;
    assert_eq!(me.body["displayName"], "rt.user");

    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/access-token",
            None,
            Some(json!({ "idToken": t["id_token"] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["expiresAtSeconds"], t["id_token_claims"]["exp"]);

    let other = idp
        .control(
            "tokens",
            json!({"sub": "rt", "email": "rt.user@example.com", "access_token_format": "opaque",
                   "client": "other"}),
        )
        .await;
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/refresh-access-token",
            None,
            Some(json!({ "accessToken": other["access_token"] })),
        )
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");

    // Without introspection credentials and without opaque_tokens_via_userinfo, even the
    // genuine token is refused.
    p.introspection_client_secret = None;
    let w = w.with_federation(vec![p], Ipv4Addr::new(192, 0, 2, 9));
    let r = w.refresh(at).await;
    assert_eq!(r.name(), "Authorization:NotAuthorized", "{}", r.body);
    w.engine.shutdown().await;
}
