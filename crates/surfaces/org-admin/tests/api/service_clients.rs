//! `PUT /admin/v1/orgs/{orgId}/clients/{clientId}/roles`: the roles of a client-credentials
//! client's service account, for its own org's admins only.

use super::*;

fn service(id: &str) -> Value {
    json!({
        "clientId": id,
        "name": "Nightly job",
        "kind": "confidential",
        "grantTypes": ["client_credentials"],
    })
}

#[tokio::test]
async fn an_org_admin_gives_its_service_client_roles_and_sees_them() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    let list = w.path(&w.acme, "clients");
    let r = w
        .app
        .call(Method::POST, &list, Some(&admin), Some(service("job")))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["orgId"], w.acme.id.to_string());
    let account = r.body["serviceAccount"].clone();
    assert!(account["id"].is_string(), "{account}");
    assert_eq!(account["roles"], json!([]));

    let roles = w.path(&w.acme, "clients/job/roles");
    let v = w
        .app
        .call(
            Method::PUT,
            &roles,
            Some(&admin),
            Some(json!({"roles": ["executor", "AUTHOR"]})),
        )
        .await;
    assert_eq!(
        v.ok()["serviceAccount"]["roles"],
        json!(["AUTHOR", "EXECUTOR"])
    );
    assert_eq!(
        v.ok()["serviceAccount"]["id"],
        account["id"],
        "same account"
    );
    let v = w
        .app
        .call(
            Method::GET,
            &w.path(&w.acme, "clients/job"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        v.ok()["serviceAccount"]["roles"],
        json!(["AUTHOR", "EXECUTOR"])
    );
    let v = w.app.call(Method::GET, &list, Some(&admin), None).await;
    assert_eq!(
        v.ok()["clients"][0]["serviceAccount"]["roles"],
        json!(["AUTHOR", "EXECUTOR"])
    );
    let events = w.env.audit_events("client.roles").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["roles"], json!(["AUTHOR", "EXECUTOR"]));
}

#[tokio::test]
async fn roles_go_only_to_the_orgs_own_service_clients() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    let member = w
        .user("m@acme.io", Some(&w.acme), &[Role::Author], false)
        .await;
    let other_admin = w
        .user("a@beta.io", Some(&w.beta), &[Role::Admin], false)
        .await;
    let list = w.path(&w.acme, "clients");
    for body in [
        service("job"),
        json!({"clientId": "web", "name": "Web", "kind": "confidential",
               "redirectUris": ["https://app.example.com/cb"]}),
    ] {
        let r = w
            .app
            .call(Method::POST, &list, Some(&admin), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let roles = w.path(&w.acme, "clients/job/roles");
    let body = || Some(json!({"roles": ["ADMIN"]}));
    // A member, and another org's admin, on acme's path: refused.
    for token in [&member, &other_admin] {
        w.app
            .call(Method::PUT, &roles, Some(token), body())
            .await
            .problem(StatusCode::FORBIDDEN, "forbidden");
    }
    w.app
        .call(Method::PUT, &roles, None, body())
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    // Beta's admin on beta's path does not find acme's client.
    w.app
        .call(
            Method::PUT,
            &w.path(&w.beta, "clients/job/roles"),
            Some(&other_admin),
            body(),
        )
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // A client without the grant has no service account; a made-up role is refused.
    w.app
        .call(
            Method::PUT,
            &w.path(&w.acme, "clients/web/roles"),
            Some(&admin),
            body(),
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    w.app
        .call(
            Method::PUT,
            &roles,
            Some(&admin),
            Some(json!({"roles": ["OWNER"]})),
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    // Nothing changed.
    let v = w
        .app
        .call(
            Method::GET,
            &w.path(&w.acme, "clients/job"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(v.ok()["serviceAccount"]["roles"], json!([]));
    assert!(
        w.env
            .audit_events("client.roles")
            .await
            .iter()
            .all(|e| { e.outcome != AuditOutcome::Success })
    );
}

#[tokio::test]
async fn a_public_service_client_is_refused() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    let list = w.path(&w.acme, "clients");
    let mut public = service("pub");
    public["kind"] = json!("public");
    let detail = w
        .app
        .call(Method::POST, &list, Some(&admin), Some(public))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    assert!(detail.contains("confidential"), "{detail}");
    let v = w.app.call(Method::GET, &list, Some(&admin), None).await;
    assert_eq!(v.ok()["clients"], json!([]), "nothing was written");
}
