//! Routing and bearer rules; API keys: lifecycle, limits, caps, scope.

use super::*;

#[tokio::test]
async fn routing_and_bearer_rules() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .call(Method::GET, "/api/authentication/v2/my/profile", None, None)
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::FORBIDDEN, "Default:PermissionDenied")
    );
    let r = w
        .get("/api/authentication/v2/my/profile", "not-a-jwt")
        .await;
    assert_eq!(r.name(), "Authorization:InvalidJwtFormat");
    let r = w
        .get("/api/authentication/v2/my/profile", "nominal_api_key_nope")
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    // A genuine token past its expiry.
    let tokens = w.engine.access_tokens();
    let past = chrono::Utc::now() - chrono::Duration::hours(2);
    let claims = tokens.claims(
        c.admin.id,
        c.a.id,
        "sid",
        past - chrono::Duration::hours(1),
        past,
        vec![],
        false,
    );
    let expired = tokens.sign(&claims).unwrap();
    let r = w.get("/api/authentication/v2/my/profile", &expired).await;
    assert_eq!(r.name(), "Authorization:InvalidJwtExpired");
    // A forged signature (last character flipped).
    let mut forged = c.admin_t.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = w.get("/api/authentication/v2/my/profile", &forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Routing.
    let r = w
        .get("/api/authentication/v2/my/profile/", &c.admin_t)
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::NOT_FOUND, "Default:NotFound")
    );
    let r = w
        .call(
            Method::DELETE,
            "/api/authentication/v2/my/profile",
            Some(&c.admin_t),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.raw.is_empty());
    let r = w.get("/api/nope", &c.admin_t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Auth comes before the body.
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/api-key",
            None,
            Some(json!({"x": 1})),
        )
        .await;
    assert_eq!(r.name(), "Default:PermissionDenied");
}

#[tokio::test]
async fn api_key_lifecycle() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "ci", "expiresAfterDays": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let admin_key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let admin_key_rid = r.body["apiKeyMetadata"]["rid"].as_str().unwrap().to_owned();
    assert!(admin_key.starts_with("nominal_api_key_"));
    assert_eq!(
        r.body["apiKeyMetadata"]["createdBy"],
        json!(w.user_rid(&c.admin))
    );
    assert!(r.body["apiKeyMetadata"].get("expiresAt").is_none());
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": "m", "expiresAfterDays": 3}),
        )
        .await;
    assert!(r.body["apiKeyMetadata"]["expiresAt"].is_string());
    let member_key_rid = r.body["apiKeyMetadata"]["rid"].as_str().unwrap().to_owned();
    for bad in [
        json!({"apiKeyName": "  "}),
        json!({"apiKeyName": "x", "expiresAfterDays": 0}),
    ] {
        let r = w
            .post("/api/authorization/v1/api-key", &c.admin_t, bad)
            .await;
        assert_eq!(r.name(), "Default:InvalidArgument");
    }
    // Listing: an admin sees the org's keys, a member only their own.
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.admin_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"].as_array().unwrap().len(), 2);
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.member_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"].as_array().unwrap().len(), 1);
    let r = w
        .post("/api/authorization/v1/api-keys/user", &c.admin_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"][0]["rid"], json!(admin_key_rid));
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.other_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"], json!([]));
    // Paging.
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 1}),
        )
        .await;
    let tok = r.body["nextPageToken"].as_str().unwrap().to_owned();
    let r2 = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 1, "nextPageToken": tok}),
        )
        .await;
    assert!(r2.body.get("nextPageToken").is_none());
    assert_ne!(r.body["apiKeys"][0]["rid"], r2.body["apiKeys"][0]["rid"]);
    let r = w
        .post(
            "/api/authorization/v1/api-keys/user",
            &c.admin_t,
            json!({"nextPageToken": tok}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument", "a foreign token");
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 0}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 5000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Exchange and use.
    let r = w.exchange_key(&admin_key).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let minted = r.body["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(r.body["userUuid"], json!(c.admin.id.to_string()));
    assert_eq!(r.body["orgUuid"], json!(c.a.id.to_string()));
    assert_eq!(r.body["isGuest"], json!(false));
    let exp = r.body["expiresAtSeconds"].as_i64().unwrap();
    assert!(exp <= chrono::Utc::now().timestamp() + 24 * 3600);
    for cred in [&admin_key, &minted] {
        let r = w.get("/api/authentication/v2/my/profile", cred).await;
        assert_eq!(r.body["rid"], json!(w.user_rid(&c.admin)));
        let r = w
            .post(
                "/api/authorization/v1/api-key",
                cred,
                json!({"apiKeyName": "x"}),
            )
            .await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
        let r = w
            .post(
                "/api/authorization/v1/set-user-org",
                cred,
                json!({"orgRid": w.org_rid(&c.a)}),
            )
            .await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    for bad in ["nominal_api_key_unknown", "junk", ""] {
        let r = w.exchange_key(bad).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    // Revocation rules.
    let path = |rid: &str| format!("/api/authorization/v1/api-key/{rid}/delete");
    let r = w.put(&path(&admin_key_rid), &c.member_t, None).await;
    assert_eq!(r.name(), "Authorization:NotAuthorizedAdmin");
    assert_eq!(r.body["parameters"]["rid"], json!(w.org_rid(&c.a)));
    let r = w.put(&path(&admin_key_rid), &c.other_t, None).await;
    assert_eq!(r.name(), "Authorization:ApiKeyNotFound");
    let r = w.put(&path(&w.user_rid(&c.admin)), &c.admin_t, None).await;
    assert_eq!(r.name(), "Authorization:ApiKeyNotFound");
    let r = w.put(&path(&member_key_rid), &c.admin_t, None).await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "an admin revokes another's key"
    );
    let r = w.put(&path(&admin_key_rid), &c.admin_t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w.put(&path(&admin_key_rid), &c.admin_t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "idempotent");
    for cred in [&admin_key, &minted] {
        let r = w.get("/api/authentication/v2/my/profile", cred).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    let r = w.exchange_key(&admin_key).await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.admin_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"], json!([]));
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"includeDeleted": true}),
        )
        .await;
    assert_eq!(r.body["apiKeys"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["apiKeys"][0]["isDeleted"], json!(true));
}

#[tokio::test]
async fn credential_endpoints_are_rate_limited() {
    let mut config = CoreConfig::default();
    config.rate_limit.per_ip_per_sec = 1;
    config.rate_limit.burst = 2;
    let w = world_with(config, false).await;
    let path = "/api/api-key-internal/v1/access-token";
    let mut last = None;
    for _ in 0..4 {
        last = Some(
            w.call(
                Method::POST,
                path,
                None,
                Some(json!({"apiKeyValue": "nominal_api_key_x"})),
            )
            .await,
        );
    }
    let r = last.unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn api_keys_list_only_their_orgs_workspaces() {
    let w = world().await;
    let c = cast(&w).await;
    // The member belongs to org B too, with a workspace there.
    w.member(&c.member, &c.b, true, MembershipKind::Member)
        .await;
    w.workspace(&c.a, "alpha-ws").await;
    w.workspace(&c.b, "beta-ws").await;
    let all = "/api/workspaces/v1/workspaces?filterBySessionOrg=false";
    let ids = |r: &Reply| {
        let mut v: Vec<String> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let r = w.get(all, &c.member_t).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        ids(&r).contains(&"beta-ws".to_owned()),
        "a session sees all its orgs"
    );
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": "ci", "expiresAfterDays": null}),
        )
        .await;
    let key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let r = w.get(all, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!ids(&r).contains(&"beta-ws".to_owned()), "{:?}", ids(&r));
    // Nor does a token minted from the key.
    let r = w.exchange_key(&key).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let minted = r.body["accessToken"].as_str().unwrap().to_owned();
    let r = w.get(all, &minted).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!ids(&r).contains(&"beta-ws".to_owned()));
}

/// Unknown `nominal_api_key_…` bearers cost a store look-up each: they are charged to the
/// per-IP limit and answered 429 once it is spent (issue 15, item 8).
#[tokio::test]
async fn unknown_api_key_bearers_are_rate_limited_per_ip() {
    let mut config = CoreConfig::default();
    config.rate_limit.per_ip_per_sec = 1;
    config.rate_limit.burst = 3;
    let w = world_with(config, false).await;
    let mut names = Vec::new();
    for i in 0..5 {
        let r = w
            .get(
                "/api/authentication/v2/my/profile",
                &format!("nominal_api_key_guess{i}"),
            )
            .await;
        names.push((r.status, r.name().to_owned()));
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.get("retry-after").is_some());
        }
    }
    let refused = (StatusCode::FORBIDDEN, "Authorization:NotAuthorized".into());
    let limited = (
        StatusCode::TOO_MANY_REQUESTS,
        "Default:TooManyRequests".into(),
    );
    assert_eq!(
        names,
        vec![
            refused.clone(),
            refused.clone(),
            refused,
            limited.clone(),
            limited
        ]
    );
}

/// API keys per user are capped (`[core.credentials] max_api_keys_per_user`): a clear Conjure
/// error, and nothing written (issue 15, item 8).
#[tokio::test]
async fn api_keys_per_user_are_capped() {
    let mut config = CoreConfig::default();
    config.credentials.max_api_keys_per_user = 2;
    let w = world_with(config, false).await;
    let c = cast(&w).await;
    let create = |name: &str| {
        w.post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": name, "expiresAfterDays": null}),
        )
    };
    assert_eq!(create("one").await.status, StatusCode::OK);
    let two = create("two").await;
    assert_eq!(two.status, StatusCode::OK);
    let r = create("three").await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::BAD_REQUEST, "Authorization:ApiKeyLimitExceeded")
    );
    assert_eq!(r.body["parameters"]["allowedLimit"], json!("2"));
    let listed = w
        .post(
            "/api/authorization/v1/api-keys/user",
            &c.member_t,
            json!({}),
        )
        .await;
    assert_eq!(listed.body["apiKeys"].as_array().unwrap().len(), 2);
    // Revoking one makes room.
    let rid = two.body["apiKeyMetadata"]["rid"].as_str().unwrap();
    let r = w
        .put(
            &format!("/api/authorization/v1/api-key/{rid}/delete"),
            &c.member_t,
            None,
        )
        .await;
    assert!(r.status.is_success());
    assert_eq!(create("three").await.status, StatusCode::OK);
}
