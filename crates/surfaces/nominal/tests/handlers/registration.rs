//! Preregistration, activity and deactivation.

use super::*;

#[tokio::test]
async fn preregistration_activity_and_deactivation() {
    let w = world().await;
    let c = cast(&w).await;
    let pre = "/api/authentication/v2/batch-preregister-users";
    let r = w
        .post(pre, &c.admin_t, json!({"emails": ["New1@example.com", "new1@EXAMPLE.com", "MEMBER@example.com", "new2@example.com"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let users = r.body["users"].as_object().unwrap();
    assert_eq!(users.len(), 2, "{users:?}");
    assert!(users.contains_key("New1@example.com"));
    assert_eq!(users["new2@example.com"]["displayName"], json!("new2"));
    let r = w
        .post(pre, &c.member_t, json!({"emails": ["z@example.com"]}))
        .await;
    assert_eq!(r.name(), "Authentication:NotAuthorizedAdmin");
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}@example.com")).collect();
    let r = w.post(pre, &c.admin_t, json!({"emails": many})).await;
    assert_eq!(r.name(), "Default:InvalidArgument");

    // Login activity: admin and member logged in (cast tokens), preregistered never.
    let act = "/api/authentication/v2/admin/org/login-activity";
    let r = w.post(act, &c.admin_t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let res = r.body["results"].as_array().unwrap();
    assert_eq!(res.len(), 4);
    assert!(res[0]["lastLoginAt"].is_string());
    assert!(
        res[3].get("lastLoginAt").is_none(),
        "never-logged-in last when descending"
    );
    let r = w
        .post(
            act,
            &c.admin_t,
            json!({"isDescending": false, "pageSize": 1}),
        )
        .await;
    assert!(
        r.body["results"][0].get("lastLoginAt").is_none(),
        "first when ascending"
    );
    assert!(r.body["nextPageToken"].is_string());
    let r = w.post(act, &c.member_t, json!({})).await;
    assert_eq!(r.name(), "Authentication:NotAuthorizedAdmin");
    let r = w
        .post(act, &c.admin_t, json!({"orgs": [w.org_rid(&c.b)]}))
        .await;
    assert_eq!(r.name(), "Authentication:NotAuthorizedAdmin");
    assert_eq!(r.body["parameters"]["rid"], json!(w.org_rid(&c.b)));
    let r = w
        .post(
            act,
            &c.admin_t,
            json!({"orgs": ["ri.authn.local.organization.00000000-0000-4000-8000-000000000000"]}),
        )
        .await;
    assert_eq!(r.name(), "Authentication:OrgNotFound");
    let r = w.post(act, &c.admin_t, json!({"pageSize": 1001})).await;
    assert_eq!(r.name(), "Authentication:OrgLoginActivityLimitExceeded");

    // Deactivation.
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": "k"}),
        )
        .await;
    let member_key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let deact = |u: &User| {
        format!(
            "/api/authentication/v2/admin/users/{}/deactivate",
            w.user_rid(u)
        )
    };
    let react = |u: &User| {
        format!(
            "/api/authentication/v2/admin/users/{}/reactivate",
            w.user_rid(u)
        )
    };
    let r = w.post(&deact(&c.admin), &c.admin_t, json!(null)).await;
    assert_eq!(r.name(), "Default:InvalidArgument", "self-target");
    let r = w.post(&deact(&c.other), &c.admin_t, json!(null)).await;
    assert_eq!(r.name(), "Authentication:UserNotFound");
    let r = w.post(&deact(&c.admin), &c.member_t, json!(null)).await;
    assert_eq!(r.name(), "Authentication:NotAuthorizedAdmin");
    for _ in 0..2 {
        let r = w.post(&deact(&c.member), &c.admin_t, json!(null)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    }
    for cred in [&c.member_t, &member_key] {
        let r = w.get("/api/authentication/v2/my/profile", cred).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    for _ in 0..2 {
        let r = w.post(&react(&c.member), &c.admin_t, json!(null)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = w
        .get("/api/authentication/v2/my/profile", &member_key)
        .await;
    assert_eq!(
        r.name(),
        "Authorization:NotAuthorized",
        "revoked keys stay revoked"
    );
    let fresh = w.token(&c.member, &c.a).await;
    let r = w.get("/api/authentication/v2/my/profile", &fresh).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Login activity of another org: an admin of both orgs sees it with their own sign-in, not
/// with an API key (or a token exchanged from one) minted in the first org.
#[tokio::test]
async fn login_activity_of_another_org_needs_more_than_a_credential() {
    let w = world().await;
    let c = cast(&w).await;
    w.member(&c.admin, &c.b, true, MembershipKind::Member).await;
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "ci"}),
        )
        .await;
    let key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let r = w.exchange_key(&key).await;
    let minted = r.body["accessToken"].as_str().unwrap().to_owned();
    let act = "/api/authentication/v2/admin/org/login-activity";
    let b_only = json!({"orgs": [w.org_rid(&c.b)]});
    let both = json!({"orgs": [w.org_rid(&c.a), w.org_rid(&c.b)]});
    for body in [&b_only, &both] {
        let r = w.post(act, &c.admin_t, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    for cred in [&key, &minted] {
        for body in [&b_only, &both] {
            let r = w.post(act, cred, body.clone()).await;
            assert_eq!(
                r.name(),
                "Authentication:NotAuthorizedAdmin",
                "{:?}",
                r.body
            );
            assert_eq!(r.body["parameters"]["rid"], json!(w.org_rid(&c.b)));
        }
        let r = w.post(act, cred, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "its own org: {:?}", r.body);
    }
}

#[tokio::test]
async fn preregistration_obeys_the_allow_list_and_hides_existing_accounts() {
    let w = world().await;
    let c = cast(&w).await;
    let pre = "/api/authentication/v2/batch-preregister-users";
    // Not on the allow-list: refused whole, nothing written (the answer depends on the list only).
    let r = w
        .post(
            pre,
            &c.admin_t,
            json!({"emails": ["fresh@example.com", "nobody@elsewhere.org"]}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let none = w.store.get_user_by_email("fresh@example.com").await;
    assert!(none.unwrap().is_none());
    // An account that exists in another org is invited, not pulled in: its entry looks like a
    // new account's, built from the request alone. Accounts already in the org are left out.
    let mut elsewhere = w.user("known@example.com", "Kim Known").await;
    elsewhere = w
        .store
        .update_user(
            elsewhere.id,
            UserUpdate {
                avatar_url: Some(Some("https://cdn.example.com/kim.png".into())),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    w.member(&elsewhere, &c.b, false, MembershipKind::Member)
        .await;
    let r = w
        .post(
            pre,
            &c.admin_t,
            json!({"emails": ["known@example.com", "fresh@example.com", "member@example.com"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let users = r.body["users"].as_object().unwrap();
    let mut keys: Vec<&String> = users.keys().collect();
    keys.sort();
    assert_eq!(keys, ["fresh@example.com", "known@example.com"]);
    let (known, fresh) = (&users["known@example.com"], &users["fresh@example.com"]);
    let fields = |u: &Value| {
        let mut k: Vec<String> = u.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(fields(known), fields(fresh));
    assert_eq!(known["orgRid"], json!(w.org_rid(&c.a)));
    assert_ne!(known["rid"], json!(w.user_rid(&elsewhere)));
    assert_eq!(known["displayName"], "known");
    assert_eq!(known["avatarUrl"], fresh["avatarUrl"]);
    assert_eq!(known["createdAt"], fresh["createdAt"]);
    let m = w.store.get_membership(elsewhere.id, c.a.id).await.unwrap();
    assert!(
        m.is_none(),
        "an existing account joins only when it signs in"
    );
    // Neither the real account nor the answer's rid is visible in the org until then.
    for rid in [
        w.user_rid(&elsewhere),
        known["rid"].as_str().unwrap().to_owned(),
    ] {
        let r = w
            .post(
                "/api/authentication/v2/users/batch",
                &c.admin_t,
                json!([rid]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body, json!([]));
    }
    let fresh_rid = fresh["rid"].as_str().unwrap().to_owned();
    let r = w
        .post(
            "/api/authentication/v2/users/batch",
            &c.admin_t,
            json!([fresh_rid]),
        )
        .await;
    assert_eq!(r.body[0]["email"], "fresh@example.com");
}
