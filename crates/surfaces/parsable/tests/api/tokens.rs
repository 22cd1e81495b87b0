//! Token refresh, logout, proxy logins and persistent tokens.

use super::*;

// ---- tokens ----------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_and_login_with_token_reread_roles() {
    let e = env().await;
    let (u, o) = e.member_user("rr@example.com", &[Role::Executor]).await;
    let lr = e.login("rr@example.com").await;
    let t = lr["authToken"].as_str().unwrap_or_default().to_string();
    e.member(&u, &o, &[Role::Admin, Role::Executor]).await;
    let rf = e.ok("refresh", json!({}), Some(&t)).await;
    assert_eq!(rf["authToken"], lr["authToken"]);
    assert_eq!(rf["sessionId"], lr["sessionId"]);
    assert_eq!(roles_of(&rf, &o), json!([1, 4]));
    assert!(
        (rf["periods"]["expiry"].as_i64().unwrap_or(0)
            - lr["periods"]["expiry"].as_i64().unwrap_or(0))
        .abs()
            <= 2
    );
    // loginWithToken reads its argument and ignores the header.
    let lt = e
        .ok("loginWithToken", json!({"authToken": t}), Some("junk"))
        .await;
    assert_eq!(lt["authToken"], lr["authToken"]);
    assert_eq!(lt["sessionId"], lr["sessionId"]);
    assert_eq!(
        e.err("loginWithToken", json!({}), Some(&t)).await.0,
        497,
        "missing argument"
    );
    assert_eq!(
        e.err(
            "loginWithToken",
            json!({"authToken": "forged.token.x"}),
            None
        )
        .await
        .0,
        497
    );
    assert_eq!(e.err("refresh", json!({}), None).await.0, 401);
    assert_eq!(e.err("getCurrentUser", json!({}), None).await.0, 401);
}

#[tokio::test]
async fn expired_tokens_are_498_and_logout_stays_idempotent() {
    let mut cfg = test_config();
    cfg.tokens.session_secs = 1;
    cfg.tokens.leeway_secs = 0;
    let e = env_with(cfg, false).await;
    e.member_user("exp@example.com", &[Role::Author]).await;
    let t = e.token("exp@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (code, err) = e.err("refresh", json!({}), Some(&t)).await;
    assert_eq!(code, 498);
    assert_eq!(err["slug"], "token-expired");
    assert_eq!(
        e.err("loginWithToken", json!({"authToken": t}), None)
            .await
            .0,
        498
    );
    assert_eq!(e.err("getCurrentUser", json!({}), Some(&t)).await.0, 498);
    e.ok("logout", json!({}), Some(&t)).await;
}

#[tokio::test]
async fn logout_rules() {
    let e = env().await;
    e.member_user("lo@example.com", &[Role::Author]).await;
    let t = e.token("lo@example.com").await;
    e.ok("getCurrentUser", json!({}), Some(&t)).await;
    let v = e.call("logout", json!({}), Some(&t)).await;
    assert_eq!(v, json!({"method": "logout", "result": {}}));
    assert_eq!(e.err("getCurrentUser", json!({}), Some(&t)).await.0, 497);
    assert_eq!(e.err("refresh", json!({}), Some(&t)).await.0, 497);
    e.ok("logout", json!({}), Some(&t)).await;
    assert_eq!(e.err("logout", json!({}), None).await.0, 401);
    assert_eq!(e.err("logout", json!({}), Some("x.y.z")).await.0, 497);
}

#[tokio::test]
async fn get_current_user() {
    let e = env().await;
    let (u, _) = e.member_user("me@example.com", &[Role::Author]).await;
    let t = e.token("me@example.com").await;
    let me = e.ok("getCurrentUser", json!({}), Some(&t)).await;
    assert_eq!(me["id"], u.id.to_string());
    assert_eq!(me["email"], "me@example.com");
    assert_eq!(me["name"], "me");
}

// ---- proxy login -------------------------------------------------------------------------------

#[tokio::test]
async fn proxy_login_by_a_super_admin() {
    let e = env().await;
    let admin = e.validated_user("root@example.com", true).await;
    let (target, o) = e.member_user("tgt@example.com", &[Role::Author]).await;
    e.member(&admin, &o, &[Role::Admin]).await;
    let lr = e
        .ok(
            "login",
            json!({"email": "root@example.com", "password": PW,
                   "options": {"proxiedUserEmail": "TGT@example.com", "userPrivateKey": "ignored"}}),
            None,
        )
        .await;
    assert_eq!(lr["currentUser"]["id"], target.id.to_string());
    assert_eq!(lr["proxyUserEmail"], "root@example.com");
    assert!(lr["periods"]["expiry"].as_i64().unwrap_or(i64::MAX) <= 3600);
    let t = lr["authToken"].as_str().unwrap_or_default().to_string();
    let me = e.ok("getCurrentUser", json!({}), Some(&t)).await;
    assert_eq!(me["email"], "tgt@example.com");
    let rf = e.ok("refresh", json!({}), Some(&t)).await;
    assert_eq!(rf["proxyUserEmail"], "root@example.com");
    assert!(rf["periods"]["expiry"].as_i64().unwrap_or(i64::MAX) <= 3600);
    let lt = e.ok("loginWithToken", json!({"authToken": t}), None).await;
    assert_eq!(lt["proxyUserEmail"], "root@example.com");
    // A proxy session has no super-admin rights.
    e.err_is(
        476,
        "createPersistentAuth",
        json!({"userId": target.id.to_string()}),
        Some(&t),
    )
    .await;
}

#[tokio::test]
async fn proxy_login_refusals() {
    let e = env().await;
    e.validated_user("root2@example.com", true).await;
    e.validated_user("root3@example.com", true).await;
    e.member_user("plain@example.com", &[Role::Admin]).await;
    e.member_user("victim@example.com", &[Role::Author]).await;
    let proxy = |who: &str, target: &str| json!({"email": who, "password": PW, "options": {"proxiedUserEmail": target}});
    // A non-admin learns nothing: the same 476 for a real and an unknown target.
    for target in ["victim@example.com", "ghost@example.com"] {
        let (code, _) = e
            .err("login", proxy("plain@example.com", target), None)
            .await;
        assert_eq!(code, 476, "{target}");
    }
    assert_eq!(
        e.err(
            "login",
            proxy("root2@example.com", "ghost@example.com"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        e.err(
            "login",
            proxy("root2@example.com", "root3@example.com"),
            None
        )
        .await
        .0,
        476
    );
    assert_eq!(
        e.err(
            "loginWithTeamSelect",
            proxy("plain@example.com", "victim@example.com"),
            None
        )
        .await
        .0,
        476
    );
    let r = e
        .ok(
            "loginWithTeamSelect",
            proxy("root2@example.com", "victim@example.com"),
            None,
        )
        .await;
    assert_eq!(
        r["loginResult"]["currentUser"]["email"],
        "victim@example.com"
    );
    assert_eq!(r["loginResult"]["proxyUserEmail"], "root2@example.com");
}

// ---- persistent tokens -------------------------------------------------------------------------

#[tokio::test]
async fn persistent_token_lifecycle() {
    let e = env().await;
    let root = e.validated_user("root@example.com", true).await;
    let (target, o) = e.member_user("bot@example.com", &[Role::Executor]).await;
    let (tadmin, _) = e.member_user("tadmin@example.com", &[Role::Author]).await;
    e.member(&tadmin, &o, &[Role::ParsableAdmin]).await;
    e.member(&root, &o, &[Role::Author]).await;
    let rt = e.token("root@example.com").await;
    let uid = json!({"userId": target.id.to_string()});
    let lr = e.ok("createPersistentAuth", uid.clone(), Some(&rt)).await;
    let secret = lr["authToken"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("nominal_api_key_"));
    assert_eq!(lr["currentUser"]["id"], target.id.to_string());
    assert_eq!(roles_of(&lr, &o), json!([4]));
    assert!(lr["periods"]["expiry"].as_i64().unwrap_or(0) > 300 * 86_400);
    // Usable as `Authorization: Token <secret>`.
    let me = e.ok("getCurrentUser", json!({}), Some(&secret)).await;
    assert_eq!(me["id"], target.id.to_string());
    let rf = e.ok("refresh", json!({}), Some(&secret)).await;
    assert_eq!(rf["authToken"], secret.as_str());
    assert_eq!(rf["sessionId"], lr["sessionId"]);
    e.ok("loginWithToken", json!({"authToken": secret}), None)
        .await;
    // Not exchangeable for a team token; not usable to mint more.
    assert_eq!(
        e.err(
            "createTeamToken",
            json!({"teamId": o.id.to_string()}),
            Some(&secret)
        )
        .await
        .0,
        497
    );
    assert_eq!(
        e.err("createPersistentAuth", uid.clone(), Some(&secret))
            .await
            .0,
        476
    );
    // Logout with a persistent token: success, no effect.
    e.ok("logout", json!({}), Some(&secret)).await;
    e.ok("getCurrentUser", json!({}), Some(&secret)).await;

    // Listed with metadata, never the token; by a team admin too.
    let args = json!({"teamId": o.id.to_string(),
                      "userIds": [target.id.to_string(), target.id.to_string(), "junk", uuid::Uuid::new_v4().to_string()]});
    let ta = e.token("tadmin@example.com").await;
    for tok in [&rt, &ta] {
        let list = e
            .ok("fetchPersistentAuthTokensMeta", args.clone(), Some(tok))
            .await;
        let list = list.as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 1, "{list:?}");
        let m = &list[0];
        assert_eq!(m["userId"], target.id.to_string());
        assert_eq!(m["creatorId"], root.id.to_string());
        assert_eq!(m["userEmail"], "bot@example.com");
        assert_eq!(m["creatorEmail"], "root@example.com");
        assert!(m["createdAt"].as_i64().unwrap_or(0) > 1_600_000_000);
        assert!(m.get("token").is_none());
        assert!(m.get("revokedAt").is_none());
    }

    // Creating again replaces the old token.
    let lr2 = e.ok("createPersistentAuth", uid.clone(), Some(&rt)).await;
    let secret2 = lr2["authToken"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        e.err("getCurrentUser", json!({}), Some(&secret)).await.0,
        497
    );
    e.ok("getCurrentUser", json!({}), Some(&secret2)).await;

    // Revoked, then refused; revoking again is fine.
    let v = e.call("revokePersistentAuth", uid.clone(), Some(&rt)).await;
    assert_eq!(v, json!({"method": "revokePersistentAuth", "result": {}}));
    assert_eq!(
        e.err("getCurrentUser", json!({}), Some(&secret2)).await.0,
        497
    );
    e.ok("revokePersistentAuth", uid.clone(), Some(&rt)).await;
    let list = e
        .ok("fetchPersistentAuthTokensMeta", args.clone(), Some(&rt))
        .await;
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2);
    for m in &list {
        assert!(m["revokedAt"].as_i64().is_some(), "{m}");
        assert_eq!(m["revokedById"], root.id.to_string());
        assert_eq!(m["revokedByEmail"], "root@example.com");
    }
}

/// fetchPersistentAuthTokensMeta by the org-binding rule: only the team's own credentials are
/// listed, and a persistent token or a team token lists its own team at most, with its
/// membership's rights, never a super-admin's.
#[tokio::test]
async fn persistent_token_metadata_stays_in_its_team() {
    let e = env().await;
    let root = e.validated_user("root@example.com", true).await;
    let (bot, one) = e.member_user("bot@example.com", &[Role::Executor]).await;
    let two = e.org("two").await;
    e.member(&bot, &two, &[Role::Executor]).await;
    e.member(&root, &one, &[Role::Author]).await;
    // An AUTHOR of team one (their default) who is ADMIN of team two.
    let (both, _) = e.member_user("both@example.com", &[Role::Author]).await;
    e.member(&both, &two, &[Role::Admin]).await;
    let rt = e.token("root@example.com").await;
    let create = |u: &User| json!({"userId": u.id.to_string()});
    // bot's token is issued in team one, its default.
    e.ok("createPersistentAuth", create(&bot), Some(&rt)).await;
    let f = "fetchPersistentAuthTokensMeta";
    let of_bot = |t: &Org| json!({"teamId": t.id.to_string(), "userIds": [bot.id.to_string()]});
    let listed = |v: Value| v.as_array().map_or(0, Vec::len);
    assert_eq!(listed(e.ok(f, of_bot(&one), Some(&rt)).await), 1);
    let bt = e.token("both@example.com").await;
    assert_eq!(
        listed(e.ok(f, of_bot(&two), Some(&bt)).await),
        0,
        "team one's token is not team two's to list"
    );
    assert_eq!(listed(e.ok(f, of_bot(&two), Some(&rt)).await), 0);

    // Persistent tokens of team two's admin and of the super-admin, both issued in team one.
    let both_pt = e.ok("createPersistentAuth", create(&both), Some(&rt)).await["authToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let root_pt = e.ok("createPersistentAuth", create(&root), Some(&rt)).await["authToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let root_team = e
        .ok(
            "createTeamToken",
            json!({"teamId": one.id.to_string()}),
            Some(&rt),
        )
        .await["authToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for tok in [&both_pt, &root_pt, &root_team] {
        for team in [&one, &two] {
            assert_eq!(e.err(f, of_bot(team), Some(tok)).await.0, 476);
        }
    }
}

#[tokio::test]
async fn persistent_token_errors() {
    let e = env().await;
    let root = e.validated_user("root@example.com", true).await;
    let (_, o) = e.member_user("member@example.com", &[Role::Author]).await;
    e.member(&root, &o, &[Role::Author]).await;
    let lone = e.validated_user("lone@example.com", false).await;
    let rt = e.token("root@example.com").await;
    let mt = e.token("member@example.com").await;
    let member = e
        .store
        .get_user_by_email("member@example.com")
        .await
        .expect("get")
        .expect("user");
    let uid = json!({"userId": member.id.to_string()});
    for f in ["createPersistentAuth", "revokePersistentAuth"] {
        assert_eq!(e.err(f, uid.clone(), Some(&mt)).await.0, 476, "{f}");
        assert_eq!(e.err(f, uid.clone(), None).await.0, 401, "{f}");
        assert_eq!(
            e.err(
                f,
                json!({"userId": uuid::Uuid::new_v4().to_string()}),
                Some(&rt)
            )
            .await
            .0,
            404,
            "{f}"
        );
        assert_eq!(
            e.err(f, json!({"userId": "nope"}), Some(&rt)).await.0,
            404,
            "{f}"
        );
        assert_eq!(e.err(f, json!({}), Some(&rt)).await.0, 400, "{f}");
    }
    assert_eq!(
        e.err(
            "createPersistentAuth",
            json!({"userId": lone.id.to_string()}),
            Some(&rt)
        )
        .await
        .0,
        400,
        "a user on no team"
    );
    let f = "fetchPersistentAuthTokensMeta";
    let tid = o.id.to_string();
    assert_eq!(
        e.err(f, json!({"teamId": tid, "userIds": []}), Some(&mt))
            .await
            .0,
        476
    );
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    assert_eq!(
        e.err(f, json!({"teamId": tid, "userIds": many}), Some(&rt))
            .await
            .0,
        400
    );
    assert_eq!(
        e.err(
            f,
            json!({"teamId": uuid::Uuid::new_v4().to_string(), "userIds": []}),
            Some(&rt)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        e.err(f, json!({"teamId": "", "userIds": []}), Some(&rt))
            .await
            .0,
        400
    );
    let empty = e
        .ok(f, json!({"teamId": tid, "userIds": []}), Some(&rt))
        .await;
    assert_eq!(empty, json!([]));
}

#[tokio::test]
async fn persistent_tokens_cannot_target_another_super_admin() {
    let e = env().await;
    let (_, o) = e.member_user("member@example.com", &[Role::Author]).await;
    let root = e.validated_user("root@example.com", true).await;
    let peer = e.validated_user("peer@example.com", true).await;
    e.member(&root, &o, &[Role::Author]).await;
    e.member(&peer, &o, &[Role::Author]).await;
    let rt = e.token("root@example.com").await;
    let (code, _) = e
        .err(
            "createPersistentAuth",
            json!({"userId": peer.id.to_string()}),
            Some(&rt),
        )
        .await;
    assert_eq!(code, 476, "a peer super-admin is refused");
    let none = portcullis_core::store::CredentialFilter {
        user_id: Some(peer.id),
        ..Default::default()
    };
    assert!(
        e.store
            .list_credentials(&none, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Their own, and an ordinary user's, still work.
    e.ok(
        "createPersistentAuth",
        json!({"userId": root.id.to_string()}),
        Some(&rt),
    )
    .await;
}
