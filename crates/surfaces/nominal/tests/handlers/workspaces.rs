//! The workspace service and sandbox tokens.

use super::*;

#[tokio::test]
async fn workspace_service() {
    let w = world().await;
    let c = cast(&w).await;
    let ws1 = w.workspace(&c.a, "one").await;
    let ws2 = w.workspace(&c.a, "two").await;
    let wsb = w.workspace(&c.b, "bee").await;
    w.grant(&ws1, &c.member, WorkspaceAccess::Full).await;
    w.grant(&ws2, &c.member, WorkspaceAccess::Guest).await;
    let list = |q: &str| format!("/api/workspaces/v1/workspaces{q}");
    let ids = |r: &Reply| -> Vec<String> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = w.get(&list(""), &c.member_t).await;
    assert_eq!(ids(&r), vec!["one"]);
    assert_eq!(r.body[0]["settings"], json!({}));
    assert_eq!(r.body[0]["org"], json!(w.org_rid(&c.a)));
    let r = w
        .get(&list("?includeGuestWorkspaces=TRUE"), &c.member_t)
        .await;
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, vec!["one", "two"]);
    let r = w.get(&list(""), &c.admin_t).await;
    assert_eq!(
        ids(&r).len(),
        2,
        "admins are full members of every workspace"
    );
    let r = w.get(&list("?filterBySessionOrg=nope"), &c.admin_t).await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w.get(&list(""), &c.other_t).await;
    assert_eq!(ids(&r), vec!["bee"]);

    let one = format!("/api/workspaces/v1/workspaces/{}", w.ws_rid(&ws1));
    let r = w.get(&one, &c.member_t).await;
    assert_eq!(r.body["rid"], json!(w.ws_rid(&ws1)));
    let r = w.get(&one, &c.other_t).await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::NOT_FOUND, "Security:WorkspaceNotFound")
    );
    assert_eq!(r.body["parameters"]["workspaceRid"], json!(w.ws_rid(&ws1)));
    let r = w
        .get(
            &format!("/api/workspaces/v1/workspaces/{}", w.ws_rid(&wsb)),
            &c.member_t,
        )
        .await;
    assert_eq!(r.name(), "Security:WorkspaceNotFound");

    let upd = json!({"displayName": {"type": "displayName", "displayName": "Uno"},
                     "symbol": {"type": "symbol", "symbol": {"type": "emoji", "emoji": "🚀"}},
                     "settings": {"procedures": {"type": "v1", "v1": {"workspaceProcedures": []}}}});
    let r = w.put(&one, &c.member_t, Some(upd.clone())).await;
    assert_eq!(r.name(), "Authorization:NotAuthorizedAdmin");
    let r = w.put(&one, &c.other_t, Some(upd.clone())).await;
    assert_eq!(r.name(), "Security:WorkspaceNotFound");
    let r = w.put(&one, &c.admin_t, Some(upd)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["displayName"], json!("Uno"));
    assert_eq!(r.body["symbol"], json!({"type": "emoji", "emoji": "🚀"}));
    let r = w
        .put(
            &one,
            &c.admin_t,
            Some(json!({"displayName": {"type": "removeType", "removeType": {}}})),
        )
        .await;
    assert!(r.body.get("displayName").is_none());
    assert_eq!(
        r.body["symbol"]["emoji"],
        json!("🚀"),
        "absent fields unchanged"
    );
    let r = w.put(&one, &c.admin_t, Some(json!({"settings": {}}))).await;
    assert_eq!(r.body["settings"], json!({}), "settings replaced whole");

    let d = "/api/workspaces/v1/default-workspace";
    let r = w.get(d, &c.member_t).await;
    assert_eq!(r.body["id"], json!("one"), "the one full workspace");
    let r = w.get(d, &c.admin_t).await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "two full workspaces and no org default"
    );
    w.store
        .update_org(
            c.a.id,
            OrgUpdate {
                default_workspace: Some(Some(ws2.id)),
                ..OrgUpdate::default()
            },
        )
        .await
        .unwrap();
    let r = w.get(d, &c.admin_t).await;
    assert_eq!(r.body["id"], json!("two"));
}

#[tokio::test]
async fn sandbox_tokens() {
    let w = world().await;
    let c = cast(&w).await;
    let resp = w.sandbox(Some("s3cret"), json!({})).await;
    assert_eq!(
        resp.status,
        StatusCode::FORBIDDEN,
        "disabled unless configured"
    );

    // A configured sandbox.
    let mut config = CoreConfig::default();
    config.sandbox.shared_secret = Some("s3cret".into());
    config.sandbox.org = Some("alpha".into());
    config.sandbox.primary_user = Some("member@example.com".into());
    let w2 = world_with(config, false).await;
    let c2 = cast(&w2).await;
    let ws = w2.workspace(&c2.a, "sand").await;
    w2.grant(&ws, &c2.member, WorkspaceAccess::Full).await;
    for (secret, body) in [
        (None, json!({})),
        (Some("wrong"), json!({})),
        (Some("s3cret"), json!({"requestedTtlSeconds": 0})),
        (Some("s3cret"), json!({"sandboxWorkspace": "SECONDARY"})),
    ] {
        let r = w2.sandbox(secret, body).await;
        let (s, b) = (r.status, r.body);
        assert_eq!(
            (s, b["errorName"].as_str()),
            (
                StatusCode::FORBIDDEN,
                Some("Authorization:SandboxTokenUnavailable")
            )
        );
    }
    let r = w2
        .sandbox(
            Some("s3cret"),
            json!({"requestedTtlSeconds": 100000, "sandboxWorkspace": "PRIMARY"}),
        )
        .await;
    let (s, b) = (r.status, r.body);
    assert_eq!(s, StatusCode::OK, "{b:?}");
    assert_eq!(b["workspaceRid"], json!(w2.ws_rid(&ws)));
    assert_eq!(b["userUuid"], json!(c2.member.id.to_string()));
    let exp = b["expiresAtSeconds"].as_i64().unwrap();
    assert!(exp <= chrono::Utc::now().timestamp() + 3600);
    let r = w2
        .get(
            "/api/authentication/v2/my/profile",
            b["accessToken"].as_str().unwrap(),
        )
        .await;
    assert_eq!(r.body["email"], json!("member@example.com"));
    let b = w2
        .sandbox(Some("s3cret"), json!({"requestedTtlSeconds": 60}))
        .await
        .body;
    assert!(b["expiresAtSeconds"].as_i64().unwrap() <= chrono::Utc::now().timestamp() + 60);
    drop(c);
}

/// Sandbox sessions (like getAccessToken's and refresh's) get the idle timeout like any login
/// (issue 15, item 8).
#[tokio::test]
async fn sandbox_sessions_get_the_idle_timeout() {
    let mut config = CoreConfig::default();
    config.tokens.idle_timeout_secs = 900;
    config.sandbox.shared_secret = Some("s3cret".into());
    config.sandbox.org = Some("alpha".into());
    config.sandbox.primary_user = Some("member@example.com".into());
    let w = world_with(config, false).await;
    let c = cast(&w).await;
    let ws = w.workspace(&c.a, "sand").await;
    w.grant(&ws, &c.member, WorkspaceAccess::Full).await;
    let resp = w.sandbox(Some("s3cret"), json!({})).await;
    assert_eq!(resp.status, StatusCode::OK);
    let body = resp.body;
    let sid = claims_of(body["accessToken"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = w.store.get_session(&SessionId(sid)).await.unwrap().unwrap();
    assert_eq!(s.idle_timeout_secs, Some(900));
}
