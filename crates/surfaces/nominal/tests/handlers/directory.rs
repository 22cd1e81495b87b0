//! Resources, registration checks, org switches, profile and settings, the user directory.

use super::*;

#[tokio::test]
async fn resources_and_registration() {
    let w = world().await;
    let c = cast(&w).await;
    let ws1 = w.workspace(&c.a, "one").await;
    let ws2 = w.workspace(&c.a, "two").await;
    let wsb = w.workspace(&c.b, "bee").await;
    w.grant(&ws1, &c.member, WorkspaceAccess::Full).await;
    let reg =
        |ws: &Workspace, rids: &[&str]| json!({"workspaceRid": w.ws_rid(ws), "resourceRids": rids});
    let path = "/api/authorization/v1/register-in-workspace";
    let r = w
        .post(
            path,
            &c.member_t,
            reg(&ws1, &["ri.x..dataset.1", "ri.x..dataset.2"]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = w
        .post(path, &c.member_t, reg(&ws1, &["ri.x..dataset.1"]))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "same workspace: no-op");
    let r = w
        .post(
            path,
            &c.admin_t,
            reg(
                &ws2,
                &["ri.x..dataset.9", "ri.x..dataset.2", "ri.x..dataset.1"],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.name(), "Authorization:RegisterResourceConflict");
    assert_eq!(r.body["parameters"]["resource"], json!("ri.x..dataset.1"));
    assert_eq!(
        r.body["parameters"]["requestedWorkspace"],
        json!(w.ws_rid(&ws2))
    );
    let r = w
        .post(path, &c.member_t, reg(&ws2, &["ri.x..dataset.3"]))
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized", "no access to ws2");
    let r = w
        .post(path, &c.admin_t, reg(&wsb, &["ri.x..dataset.3"]))
        .await;
    assert_eq!(
        r.name(),
        "Authorization:WorkspaceNotFound",
        "another org's workspace"
    );
    let r = w
        .post(path, &c.admin_t, json!({"workspaceRid": "ri.security.local.workspace.00000000-0000-4000-8000-000000000000", "resourceRids": []}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = w
        .post(
            path,
            &c.admin_t,
            json!({"workspaceRid": "not a rid", "resourceRids": []}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");

    let rids = json!({"rids": ["ri.x..dataset.1", "ri.x..dataset.2", "ri.x..dataset.9", "ri.x..dataset.404"]});
    let r = w
        .post("/api/authorization/v1/authorize", &c.member_t, rids.clone())
        .await;
    assert_eq!(
        r.body,
        json!(["ri.x..dataset.1", "ri.x..dataset.2"]),
        "dataset.9 was not registered (all or nothing)"
    );
    let r = w
        .post("/api/authorization/v1/authorize", &c.other_t, rids.clone())
        .await;
    assert_eq!(r.body, json!([]));
    let r = w
        .post(
            "/api/authorization/v1/batch-get-workspace-for-resource",
            &c.admin_t,
            json!(["ri.x..dataset.1", "ri.x..dataset.404"]),
        )
        .await;
    assert_eq!(r.body, json!({"ri.x..dataset.1": w.ws_rid(&ws1)}));
    let r = w
        .post(
            "/api/authorization/v1/batch-get-workspace-for-resource",
            &c.other_t,
            json!(["ri.x..dataset.1"]),
        )
        .await;
    assert_eq!(r.body, json!({}));
}

#[tokio::test]
async fn admin_check_email_rule_and_okta() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w.get("/api/authorization/v1/checkAdmin", &c.admin_t).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w.get("/api/authorization/v1/checkAdmin", &c.member_t).await;
    assert_eq!(r.name(), "Authorization:NotAuthorizedAdmin");
    assert_eq!(r.body["parameters"]["rid"], json!(w.org_rid(&c.a)));

    let path = "/api/authorization/v1/is-email-allowed";
    for (email, allowed) in [
        ("new@EXAMPLE.com", true),
        ("x@other.com", false),
        ("bad", false),
    ] {
        let r = w
            .call(Method::POST, path, None, Some(json!({"email": email})))
            .await;
        assert_eq!(r.body, json!({"allowed": allowed}), "{email}");
    }
    let r = w
        .call(
            Method::POST,
            path,
            None,
            Some(json!({"email": "a@example.com", "x": 1})),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument", "strict body");
    w.store
        .add_allowlist(AllowlistEntry {
            org_id: None,
            kind: AllowlistKind::Address,
            value: "vip@other.com".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let r = w
        .call(
            Method::POST,
            path,
            None,
            Some(json!({"email": "VIP@other.com"})),
        )
        .await;
    assert_eq!(r.body, json!({"allowed": true}));
    assert!(
        w.engine
            .is_email_allowed("vip@other.com", Some(c.a.id))
            .await
            .unwrap()
    );

    let okta = |email: &str| {
        json!({"eventId": "e", "eventType": "com.okta.user.pre-registration", "cloudEventVersion": "0.1",
               "requestType": "self.service.registration",
               "data": {"context": {"request": {"id": "r", "ipAddress": "203.0.113.7"}},
                        "userProfile": {"firstName": "Ada", "login": email, "email": email},
                        "action": "ALLOW"}})
    };
    let hook = "/api/authorization/v1/is-email-allowed-okta";
    let r = w.post(hook, &c.member_t, okta("ada@example.com")).await;
    assert_eq!(
        r.body,
        json!({"commands":[{"type":"com.okta.action.update","value":{"registration":"ALLOW"}}]})
    );
    let r = w.post(hook, &c.member_t, okta("ada@nope.com")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["commands"][0]["value"]["registration"],
        json!("DENY")
    );
    assert_eq!(
        r.body["error"]["errorCauses"][0]["location"],
        json!("data.userProfile.email")
    );
    let r = w
        .call(Method::POST, hook, None, Some(okta("ada@example.com")))
        .await;
    assert_eq!(r.name(), "Default:PermissionDenied");
    let r = w
        .post(
            hook,
            &c.member_t,
            json!({"requestType": "x", "data": {"userProfile": {"login": "a"}}}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/is-email-allowed-freemium-okta",
            None,
            Some(okta("ada@nope.com")),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"commands":[{"type":"com.okta.action.update","value":{"registration":"ALLOW"}}]})
    );
}

#[tokio::test]
async fn set_user_org_switches() {
    let w = world().await;
    let c = cast(&w).await;
    w.member(&c.member, &c.b, false, MembershipKind::Guest)
        .await;
    let r = w
        .post(
            "/api/authorization/v1/set-user-org",
            &c.member_t,
            json!({"orgRid": w.org_rid(&c.b)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["orgUuid"], json!(c.b.id.to_string()));
    assert_eq!(r.body["isGuest"], json!(true));
    // The answer carries a token: no cache may keep it.
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["pragma"], "no-cache");
    let b_token = r.body["accessToken"].as_str().unwrap().to_owned();
    let r = w.get("/api/authentication/v2/my/profile", &b_token).await;
    assert_eq!(r.body["orgRid"], json!(w.org_rid(&c.b)));
    let r = w
        .post(
            "/api/authorization/v1/set-user-org",
            &c.admin_t,
            json!({"orgRid": w.org_rid(&c.b)}),
        )
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    assert_eq!(r.headers["cache-control"], "no-store");
    let r = w
        .post(
            "/api/authorization/v1/set-user-org",
            &c.admin_t,
            json!({"orgRid": w.user_rid(&c.admin)}),
        )
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
}

#[tokio::test]
async fn profile_and_settings() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .get("/api/authentication/v2/my/profile", &c.member_t)
        .await;
    assert_eq!(r.body["email"], json!("member@example.com"));
    assert_eq!(r.body["displayName"], json!("Mel Member"));
    assert_eq!(r.body["avatarUrl"], json!(""));
    assert_eq!(r.body["orgRid"], json!(w.org_rid(&c.a)));
    assert!(r.body["createdAt"].as_str().unwrap().ends_with('Z'));
    let p = "/api/authentication/v2/my/profile";
    let r = w
        .put(p, &c.member_t, Some(json!({"displayName": "   "})))
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .put(
            p,
            &c.member_t,
            Some(json!({"displayName": "x".repeat(257)})),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .put(p, &c.member_t, Some(json!({"displayName": "  Mel  "})))
        .await;
    assert_eq!(r.body["displayName"], json!("Mel"));

    let s = "/api/authentication/v2/my/settings";
    let r = w.get(s, &c.member_t).await;
    assert_eq!(r.body, json!({}));
    let doc = json!({"appearance": "DARK", "vimModeEnabled": true});
    let r = w.put(s, &c.member_t, Some(doc.clone())).await;
    assert_eq!(r.body, doc);
    let r = w
        .put(s, &c.member_t, Some(json!({"timezone": "UTC"})))
        .await;
    assert_eq!(r.body, json!({"timezone": "UTC"}));
    let r = w.get(s, &c.member_t).await;
    assert_eq!(r.body, json!({"timezone": "UTC"}), "replaced, not merged");
    let r = w.get(s, &c.admin_t).await;
    assert_eq!(r.body, json!({}));
    let r = w
        .put(s, &c.member_t, Some(json!({"appearance": "PINK"})))
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");

    let o = "/api/authentication/v2/org/settings";
    let r = w.get(o, &c.member_t).await;
    assert_eq!(r.body, json!({}));
    let r = w
        .put(
            o,
            &c.member_t,
            Some(json!({"defaultWorkbookVisibleInSearch": true})),
        )
        .await;
    assert_eq!(r.name(), "Authentication:NotAuthorizedAdmin");
    assert_eq!(r.body["parameters"]["rid"], json!(w.org_rid(&c.a)));
    let r = w
        .put(
            o,
            &c.admin_t,
            Some(json!({"defaultWorkbookVisibleInSearch": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = w.get(o, &c.member_t).await;
    assert_eq!(r.body, json!({"defaultWorkbookVisibleInSearch": true}));
    let r = w.get(o, &c.other_t).await;
    assert_eq!(r.body, json!({}), "org B sees its own settings");
}

#[tokio::test]
async fn user_directory() {
    let w = world().await;
    let c = cast(&w).await;
    for i in 0..5 {
        let u = w
            .user(&format!("crew{i}@example.com"), &format!("Crew {i}"))
            .await;
        w.member(&u, &c.a, false, MembershipKind::Member).await;
    }
    let search = "/api/authentication/v2/users";
    let q = |extra: Value| {
        let mut v = json!({"query": {"type": "searchText", "searchText": "CREW"}, "pageSize": 2,
                           "sortBy": {"field": "EMAIL", "isDescending": false}});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = match &token {
            Some(t) => q(json!({"nextPageToken": t})),
            None => q(json!({})),
        };
        let r = w.post(search, &c.member_t, body).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        pages += 1;
        for u in r.body["results"].as_array().unwrap() {
            seen.push(u["email"].as_str().unwrap().to_owned());
        }
        match r.body.get("nextPageToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("crew{i}@example.com"))
            .collect::<Vec<_>>()
    );
    let r = w
        .post(search, &c.member_t, q(json!({"pageSize": 1001})))
        .await;
    assert_eq!(r.name(), "Authentication:SearchUsersLimitExceeded");
    assert_eq!(r.body["parameters"]["requestedLimit"], json!("1001"));
    assert_eq!(r.body["parameters"]["allowedLimit"], json!("1000"));
    let r = w.post(search, &c.member_t, q(json!({"pageSize": 0}))).await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .post(search, &c.member_t, q(json!({"nextPageToken": "forged"})))
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .post(
            search,
            &c.member_t,
            json!({"query": {"type": "exactMatch", "exactMatch": "ADMIN@example.com"}}),
        )
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    let r = w
        .post(
            search,
            &c.member_t,
            json!({"query": {"type": "or", "or": []}}),
        )
        .await;
    assert_eq!(r.body["results"], json!([]));
    let r = w
        .post(
            search,
            &c.member_t,
            json!({"query": {"type": "and", "and": []}}),
        )
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 7);
    let r = w
        .post(
            search,
            &c.other_t,
            json!({"query": {"type": "searchText", "searchText": "example.com"}}),
        )
        .await;
    assert_eq!(r.body["results"], json!([]), "org B sees none of org A");

    let r = w
        .post(
            "/api/authentication/v2/users/batch",
            &c.member_t,
            json!([w.user_rid(&c.admin), w.user_rid(&c.other)]),
        )
        .await;
    let got: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["admin@example.com"]);
    let r = w
        .get(
            &format!("/api/authentication/v2/users/{}", w.user_rid(&c.admin)),
            &c.member_t,
        )
        .await;
    assert_eq!(r.body["email"], json!("admin@example.com"));
    let r = w
        .get(
            &format!("/api/authentication/v2/users/{}", w.user_rid(&c.other)),
            &c.member_t,
        )
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::NOT_FOUND, "Authentication:UserNotFound")
    );
    let r = w
        .get("/api/authentication/v2/users/ri.bad", &c.member_t)
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
}
