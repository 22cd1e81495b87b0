//! The consents a user gave OpenID clients: listed and revoked.

use portcullis_core::admin::Admin;
use portcullis_core::oidc::ClientSpec;
use portcullis_core::use_cases::ClientScope;

use super::*;

/// Registers `client_id` and records `user`'s consent to it, with a live grant session.
async fn consented(w: &World, user: &User, client_id: &str) -> SessionId {
    let spec: ClientSpec = serde_json::from_value(json!({
        "clientId": client_id,
        "name": format!("App {client_id}"),
        "kind": "public",
        "redirectUris": ["http://127.0.0.1/cb"],
    }))
    .expect("spec");
    // Registered once per client; a second user reuses it.
    if w.store
        .get_oauth_client(client_id)
        .await
        .expect("read")
        .is_none()
    {
        Admin::new(w.store.clone(), &config(), "test")
            .create_client(ClientScope::Operator, spec)
            .await
            .expect("client");
    }
    w.env.consent(user, client_id, &["openid", "profile"]).await;
    w.env.grant_session(user, &w.org, client_id).await.id
}

async fn consents(w: &World, token: &str) -> Vec<Value> {
    let r = w.get("/account/v1/consents", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    r.body["consents"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_user_lists_and_revokes_their_consents() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    let bob = w.user("bob@example.com").await;
    let ann_grafana = consented(&w, &ann, "grafana").await;
    consented(&w, &ann, "wiki").await;
    let bob_grafana = consented(&w, &bob, "grafana").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    // The applications' sessions are listed with the user's own, named by their client.
    let r = w.get("/account/v1/sessions", &token).await;
    let apps: Vec<&Value> = r.body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["clientId"] == "grafana")
        .collect();
    assert_eq!(apps.len(), 1, "{}", r.body);
    assert_eq!(apps[0]["id"], ann_grafana.0);
    assert_eq!(apps[0]["offline"], false);

    let listed = consents(&w, &token).await;
    assert_eq!(listed.len(), 2, "Ann's, not Bob's: {listed:?}");
    assert_eq!(listed[0]["clientId"], "grafana");
    assert_eq!(listed[0]["clientName"], "App grafana");
    assert_eq!(listed[0]["scopes"], json!(["openid", "profile"]));
    assert!(listed[0]["grantedAt"].is_string());

    let r = w.delete("/account/v1/consents/grafana", &token).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let listed = consents(&w, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["clientId"], "wiki");
    let ended = w
        .store
        .get_session(&ann_grafana)
        .await
        .expect("read")
        .expect("row");
    assert!(
        ended.revoked_at.is_some(),
        "the client's session for Ann ended"
    );
    let kept = w
        .store
        .get_session(&bob_grafana)
        .await
        .expect("read")
        .expect("row");
    assert!(kept.revoked_at.is_none(), "Bob's consent and session stay");
    let events = w.audit_events("consent.revoke").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, Some(ann.id));
    assert_eq!(events[0].detail["client_id"], "grafana");

    w.delete("/account/v1/consents/grafana", &token)
        .await
        .account_problem(StatusCode::NOT_FOUND, "not_found");
    w.delete(&format!("/account/v1/consents/{}", "x".repeat(65)), &token)
        .await
        .account_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn credentials_and_impersonators_may_not_revoke_consents() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    w.env
        .user("root@example.com")
        .validated()
        .super_admin()
        .member(&w.org, &[Role::Admin])
        .create()
        .await;
    consented(&w, &ann, "grafana").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    let p = w.principal(&token).await;
    let (_, key) = w
        .engine
        .create_api_key(&p, "ci", None, &AuditContext::default())
        .await
        .expect("api key");
    w.get("/account/v1/consents", &key)
        .await
        .account_problem(StatusCode::FORBIDDEN, "credential_not_allowed");
    w.delete("/account/v1/consents/grafana", &key)
        .await
        .account_problem(StatusCode::FORBIDDEN, "credential_not_allowed");

    let proxy = w
        .proxy_grant("root@example.com", "ann@example.com")
        .await
        .expect("proxy login")
        .token
        .token;
    assert_eq!(
        consents(&w, &proxy).await.len(),
        1,
        "an impersonator may look"
    );
    w.delete("/account/v1/consents/grafana", &proxy)
        .await
        .account_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(consents(&w, &token).await.len(), 1, "nothing revoked");
}
