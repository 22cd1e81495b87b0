//! Refresh rotation and reuse detection, introspection, revocation, and what ends a grant.

use super::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_ends_the_family_and_the_sign_in() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let code = w.code(&cookie, &[]).await;
    let t0 = w.redeem(&code).await.body;
    let rt0 = t0["refresh_token"].as_str().unwrap().to_string();
    let t1 = w.refresh(&rt0).await;
    assert_eq!(t1.status, StatusCode::OK, "{}", t1.text());
    let rt1 = t1.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt0, rt1);
    assert!(t1.body["id_token"].is_string());
    let access1 = t1.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(w.userinfo(&access1).await.status, StatusCode::OK);
    // Reuse of the rotated token: refused, and everything of the grant and the sign-in ends.
    let reuse = w.refresh(&rt0).await;
    assert_eq!(reuse.body["error"], "invalid_grant");
    assert_eq!(w.refresh(&rt1).await.body["error"], "invalid_grant");
    assert_eq!(w.userinfo(&access1).await.status, StatusCode::UNAUTHORIZED);
    assert!(
        w.provider
            .browser_sign_in(cookie.trim_start_matches("portcullis-session="))
            .await
            .is_none()
    );
    // Both presentations of a dead token are audited as reuse.
    assert_eq!(w.env.audit_events("oidc.refresh_reuse").await.len(), 2);
}

#[tokio::test]
async fn a_refresh_may_narrow_scopes_but_never_widen_them() {
    let w = world().await;
    let t = w.tokens(&[("scope", "openid email")]).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let r = w
        .token(
            "app",
            SECRET,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "openid profile"),
            ],
        )
        .await;
    assert_eq!(r.body["error"], "invalid_scope");
    // The refused call rolled back: the token is still current.
    let r = w
        .token(
            "app",
            SECRET,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["scope"], "openid");
}

#[tokio::test]
async fn introspection_shows_a_client_only_its_own_tokens() {
    let w = world().await;
    w.env
        .store
        .create_oauth_client(client("other", None))
        .await
        .unwrap();
    let t = w.tokens(&[]).await;
    let access = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let introspect = |id: &'static str, token: String| {
        let w = &w;
        async move {
            w.app
                .post("/oauth2/introspect")
                .header("authorization", &basic(id, SECRET))
                .form(&[("token", &token)])
                .send()
                .await
        }
    };
    let r = introspect("app", access.to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["client_id"], "app");
    assert_eq!(r.body["sub"], w.user.id.0.to_string());
    let r = introspect("app", rt.to_string()).await;
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["token_type"], "refresh_token");
    assert_eq!(
        introspect("other", access.to_string()).await.body,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect("app", "garbage".into()).await.body["active"],
        false
    );
    // A client allowed to introspect any token sees it.
    let mut rs = client("resource", None);
    rs.introspect_any = true;
    w.env.store.create_oauth_client(rs).await.unwrap();
    assert_eq!(
        introspect("resource", access.to_string()).await.body["active"],
        true
    );
    // Unauthenticated introspection is refused.
    let r = w
        .app
        .post("/oauth2/introspect")
        .form(&[("token", access)])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_ends_the_grant_and_is_silent_about_others_tokens() {
    let w = world().await;
    w.env
        .store
        .create_oauth_client(client("other", None))
        .await
        .unwrap();
    let t = w.tokens(&[]).await;
    let access = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let revoke = |id: &'static str, token: String| {
        let w = &w;
        async move {
            w.app
                .post("/oauth2/revoke")
                .header("authorization", &basic(id, SECRET))
                .form(&[("token", &token), ("token_type_hint", "refresh_token")])
                .send()
                .await
        }
    };
    // Another client's revocation answers 200 and changes nothing.
    assert_eq!(revoke("other", rt.to_string()).await.status, StatusCode::OK);
    assert_eq!(w.userinfo(access).await.status, StatusCode::OK);
    assert_eq!(revoke("app", rt.to_string()).await.status, StatusCode::OK);
    assert_eq!(w.userinfo(access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(w.refresh(rt).await.body["error"], "invalid_grant");
    assert_eq!(revoke("app", "unknown".into()).await.status, StatusCode::OK);
    assert_eq!(w.env.audit_events("oidc.revoke").await.len(), 1);
}

#[tokio::test]
async fn membership_removal_and_org_disable_cut_a_grant_off() {
    let w = world().await;
    let t = w.tokens(&[]).await;
    let access = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let admin =
        portcullis_core::admin::Admin::new(w.env.store.clone(), w.env.engine.config(), "test");
    admin
        .set_org_disabled(&w.org.name, true)
        .await
        .expect("disable");
    w.env
        .engine
        .revocations()
        .refresh_org(w.env.store.as_ref(), w.org.id)
        .await
        .unwrap();
    assert_eq!(w.userinfo(access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(w.refresh(rt).await.body["error"], "invalid_grant");
}

#[tokio::test]
async fn logout_of_the_browser_sign_in_ends_its_grants_but_not_offline_ones() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let online = w.redeem(&w.code(&cookie, &[]).await).await.body;
    let offline = w
        .redeem(&w.code(&cookie, &[("scope", "openid offline_access")]).await)
        .await
        .body;
    let token = cookie.trim_start_matches("portcullis-session=");
    w.env
        .engine
        .logout(token, &portcullis_testkit::ctx())
        .await
        .unwrap();
    portcullis_testkit::within_a_second("the online grant ends", || async {
        w.userinfo(online["access_token"].as_str().unwrap())
            .await
            .status
            == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        w.refresh(offline["refresh_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK,
        "offline access outlives the sign-in"
    );
}

/// More token requests at once than the store has connections: none may wait on a connection
/// that another in the same unit of work holds (the bench's refresh row found such a stall).
#[tokio::test]
async fn concurrent_redemptions_and_refreshes_beyond_the_store_pool_all_succeed() {
    const AT_ONCE: usize = 24;
    let w = Arc::new(world().await);
    let cookie = w.cookie_for(&w.user).await;
    let mut codes = Vec::new();
    for _ in 0..AT_ONCE {
        codes.push(w.code(&cookie, &[]).await);
    }
    let all_ok = |mut set: tokio::task::JoinSet<Reply>| async move {
        let mut bodies = Vec::new();
        while let Some(r) = set.join_next().await {
            let r = r.expect("task");
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            bodies.push(r.body);
        }
        bodies
    };
    let within = std::time::Duration::from_secs(5);
    let mut set = tokio::task::JoinSet::new();
    for code in codes {
        let w = w.clone();
        set.spawn(async move { w.redeem(&code).await });
    }
    let tokens = tokio::time::timeout(within, all_ok(set))
        .await
        .expect("redemptions stalled");
    let mut set = tokio::task::JoinSet::new();
    for t in tokens {
        let (w, rt) = (w.clone(), t["refresh_token"].as_str().unwrap().to_string());
        set.spawn(async move { w.refresh(&rt).await });
    }
    let refreshed = tokio::time::timeout(within, all_ok(set))
        .await
        .expect("refreshes stalled");
    assert_eq!(refreshed.len(), AT_ONCE);
}

/// Userinfo reads the profile through the read cache: a change made by another process still
/// reaches it within the revocation feed's second, not after the cache's TTL.
#[tokio::test]
async fn userinfo_follows_profile_changes_from_another_process() {
    let w = world().await;
    let t = w.tokens(&[]).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(w.userinfo(&access).await.body["name"], "Ann");
    let other = w.env.second_store().await;
    other
        .update_user(
            w.user.id,
            UserUpdate {
                display_name: Some("Ann B.".into()),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    portcullis_testkit::within_a_second("the new name in userinfo", || async {
        w.userinfo(&access).await.body["name"] == "Ann B."
    })
    .await;
}
