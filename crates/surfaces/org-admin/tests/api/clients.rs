//! `/admin/v1/orgs/{orgId}/clients`: an org's OpenID clients, for its admins only.

use super::*;

fn web(id: &str) -> Value {
    json!({
        "clientId": id,
        "name": "Web",
        "kind": "confidential",
        "redirectUris": ["https://app.example.com/cb"],
    })
}

#[tokio::test]
async fn an_org_admin_runs_the_lifecycle_of_a_client() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    let list = w.path(&w.acme, "clients");
    let one = w.path(&w.acme, "clients/web");

    let r = w
        .app
        .call(Method::POST, &list, Some(&admin), Some(web("web")))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    let secret = r.body["clientSecret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    assert_eq!(secret.len(), 43);
    assert_eq!(r.body["orgId"], w.acme.id.to_string(), "the path's org");
    assert_eq!(r.body["tokenEndpointAuthMethod"], "client_secret_basic");
    assert_eq!(r.body["scopes"], json!(["email", "openid", "profile"]));
    assert!(r.body["secrets"][0].get("hash").is_none());

    let v = w.app.call(Method::GET, &list, Some(&admin), None).await;
    assert_eq!(v.ok()["clients"].as_array().map(Vec::len), Some(1));
    assert!(!v.text().contains(&secret));
    let v = w.app.call(Method::GET, &one, Some(&admin), None).await;
    assert_eq!(v.ok()["clientId"], "web");
    assert_eq!(v.ok()["logoutNotices"], json!([]));
    assert!(v.ok().get("clientSecret").is_none());

    let v = w
        .app
        .call(
            Method::PATCH,
            &one,
            Some(&admin),
            Some(json!({"name": "Web 2", "allowOffline": true, "grantTypes": ["authorization_code", "refresh_token"]})),
        )
        .await;
    assert_eq!(v.ok()["name"], "Web 2");
    assert_eq!(v.ok()["allowOffline"], true);

    let v = w
        .app
        .call(
            Method::POST,
            &format!("{one}/rotate-secret"),
            Some(&admin),
            None,
        )
        .await;
    let new_secret = v.ok()["clientSecret"].as_str().expect("new secret");
    assert_ne!(new_secret, secret);
    assert_eq!(v.ok()["secrets"].as_array().map(Vec::len), Some(2));

    let v = w
        .app
        .call(Method::POST, &format!("{one}/disable"), Some(&admin), None)
        .await;
    assert!(v.ok()["disabledAt"].is_string());
    let v = w
        .app
        .call(Method::POST, &format!("{one}/enable"), Some(&admin), None)
        .await;
    assert_eq!(v.ok()["disabledAt"], Value::Null);

    let r = w.app.call(Method::DELETE, &one, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    w.app
        .call(Method::GET, &one, Some(&admin), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let actions: Vec<String> = w
        .store
        .list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("client."))
        .collect();
    for a in [
        "client.create",
        "client.update",
        "client.rotate_secret",
        "client.disable",
        "client.enable",
        "client.delete",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn only_the_orgs_admins_reach_its_clients() {
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
    let one = w.path(&w.acme, "clients/web");
    w.app
        .call(Method::POST, &list, Some(&admin), Some(web("web")))
        .await;

    for token in [&member, &other_admin] {
        for (m, path, b) in [
            (Method::GET, list.clone(), None),
            (Method::POST, list.clone(), Some(web("other"))),
            (Method::GET, one.clone(), None),
            (Method::PATCH, one.clone(), Some(json!({"name": "x"}))),
            (Method::DELETE, one.clone(), None),
            (Method::POST, format!("{one}/rotate-secret"), None),
            (Method::POST, format!("{one}/disable"), None),
            (Method::POST, format!("{one}/enable"), None),
        ] {
            w.app
                .call(m.clone(), &path, Some(token), b)
                .await
                .problem(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    w.app
        .call(Method::GET, &list, None, None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    // Beta's admin, in beta, does not see acme's client.
    let theirs = w.path(&w.beta, "clients/web");
    w.app
        .call(Method::GET, &theirs, Some(&other_admin), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let v = w
        .app
        .call(
            Method::GET,
            &w.path(&w.beta, "clients"),
            Some(&other_admin),
            None,
        )
        .await;
    assert_eq!(v.ok()["clients"], json!([]));
    // Nothing changed.
    let v = w.app.call(Method::GET, &one, Some(&admin), None).await;
    assert_eq!(v.ok()["name"], "Web");
    assert_eq!(v.ok()["disabledAt"], Value::Null);
}

#[tokio::test]
async fn bad_clients_and_operator_powers_are_refused() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    let list = w.path(&w.acme, "clients");
    let post = |body: Value| w.app.call(Method::POST, &list, Some(&admin), Some(body));

    let mut bad = web("web");
    bad["redirectUris"] = json!(["http://app.example.com/cb"]);
    let detail = post(bad)
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    assert!(detail.contains("loopback"), "{detail}");
    let mut other_org = web("web");
    other_org["orgId"] = json!(w.beta.id);
    post(other_org)
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    for power in ["firstParty", "introspectAny"] {
        let mut body = web("web");
        body[power] = json!(true);
        post(body).await.problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let mut unknown = web("web");
    unknown["colour"] = json!("red");
    post(unknown)
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_request");
    let v = w.app.call(Method::GET, &list, Some(&admin), None).await;
    assert_eq!(v.ok()["clients"], json!([]), "nothing was written");

    let r = post(web("web")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    post(web("web"))
        .await
        .problem(StatusCode::CONFLICT, "conflict");
    let one = w.path(&w.acme, "clients/web");
    let patch = |body: Value| w.app.call(Method::PATCH, &one, Some(&admin), Some(body));
    patch(json!({"kind": "public"}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    patch(json!({"scopes": ["email"]}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    patch(json!({}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    patch(json!({"introspectAny": true}))
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}
