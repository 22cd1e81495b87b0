//! The OpenID client registry's use cases through the operator service, on a real store: secrets
//! shown once and stored hashed, the org admin's scope, rotation's grace, disabling ends the
//! client's sessions, declarative reconciliation, and revoking a consent.

use chrono::{Duration, Utc};
use portcullis_core::admin::{Admin, AdminError};
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::oidc::{
    ClientPatch, ClientSpec, DeclaredClient, hash_client_secret, verify_client_secret,
};
use portcullis_core::use_cases::ClientScope;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx};
use serde_json::{Value, json};

const OP: ClientScope = ClientScope::Operator;

fn spec(v: Value) -> ClientSpec {
    let mut base = json!({
        "name": "App",
        "kind": "confidential",
        "redirectUris": ["https://app.example.com/cb"],
    });
    if let (Value::Object(b), Value::Object(m)) = (&mut base, v) {
        b.extend(m);
    }
    serde_json::from_value(base).unwrap()
}

fn patch(v: Value) -> ClientPatch {
    serde_json::from_value(v).unwrap()
}

fn admin(env: &TestEnv) -> Admin {
    Admin::new(env.store.clone(), &CoreConfig::default(), "test")
}

async fn client(env: &TestEnv, id: &str) -> OAuthClient {
    env.store.get_oauth_client(id).await.unwrap().unwrap()
}

/// The operator service's audit records with `action`.
async fn audited(env: &TestEnv, action: &str) -> Vec<AuditEvent> {
    env.audit_events(action).await
}

async fn revoked(env: &TestEnv, s: &Session) -> bool {
    let s = env.store.get_session(&s.id).await.unwrap().unwrap();
    s.revoked_at.is_some()
}

#[tokio::test]
async fn a_secret_is_shown_once_and_stored_as_its_hash() {
    let env = TestEnv::new().await;
    let issued = admin(&env)
        .create_client(OP, spec(json!({"clientId": "web"})))
        .await
        .unwrap();
    let secret = issued.client_secret.clone().expect("a secret");
    let stored = client(&env, "web").await;
    assert_eq!(stored.secrets.len(), 1);
    assert_eq!(stored.secrets[0].hash, hash_client_secret(&secret));
    assert!(verify_client_secret(&stored, &secret, Utc::now()));
    let shown = serde_json::to_value(&issued).unwrap();
    assert_eq!(shown["clientSecret"], secret.as_str());
    assert_eq!(shown["secrets"][0]["live"], true);
    assert!(shown["secrets"][0].get("hash").is_none());
    // Listed and shown without it.
    let listed = serde_json::to_value(admin(&env).list_clients(OP).await.unwrap()).unwrap();
    assert!(!listed.to_string().contains(secret.as_str()));
    assert!(!listed.to_string().contains(&stored.secrets[0].hash));
    assert!(listed[0].get("clientSecret").is_none());

    let events = audited(&env, "client.create").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target.as_deref(), Some("web"));
    let detail = events[0].detail.to_string();
    assert!(!detail.contains(secret.as_str()) && !detail.contains(&stored.secrets[0].hash));

    let again = admin(&env)
        .create_client(OP, spec(json!({"clientId": "web"})))
        .await;
    assert!(matches!(again, Err(AdminError::Conflict(m)) if m.contains("taken")));
    let public = admin(&env)
        .create_client(
            OP,
            spec(json!({"kind": "public", "redirectUris": ["http://127.0.0.1/cb"]})),
        )
        .await
        .unwrap();
    assert!(public.client_secret.is_none());
    let unknown_org = admin(&env)
        .create_client(OP, spec(json!({"orgId": OrgId::new()})))
        .await;
    assert!(matches!(unknown_org, Err(AdminError::Invalid(m)) if m.contains("names no org")));
}

#[tokio::test]
async fn an_org_admin_manages_only_its_orgs_clients() {
    let env = TestEnv::new().await;
    let acme = env.org("acme").await;
    let beta = env.org("beta").await;
    let (a, op) = (admin(&env), ClientScope::Org(acme.id));
    let mine = a
        .create_client(op, spec(json!({"clientId": "mine"})))
        .await
        .unwrap();
    assert_eq!(mine.client.settings.org_id, Some(acme.id));
    a.create_client(OP, spec(json!({"clientId": "theirs", "orgId": beta.id})))
        .await
        .unwrap();
    a.create_client(OP, spec(json!({"clientId": "global"})))
        .await
        .unwrap();

    let other = a.create_client(op, spec(json!({"orgId": beta.id}))).await;
    assert!(matches!(other, Err(AdminError::Invalid(_))));
    for power in ["firstParty", "introspectAny"] {
        let r = a.create_client(op, spec(json!({power: true}))).await;
        assert!(
            matches!(r, Err(AdminError::Core(CoreError::PermissionDenied(_)))),
            "{power}: {r:?}"
        );
    }
    let ids: Vec<String> = a
        .list_clients(op)
        .await
        .unwrap()
        .iter()
        .map(|c| c.client_id().to_owned())
        .collect();
    assert_eq!(ids, ["mine"]);
    for id in ["theirs", "global"] {
        let nf = |r: Result<(), AdminError>| matches!(r, Err(AdminError::NotFound(_)));
        assert!(nf(a.show_client(op, id).await.map(drop)));
        assert!(nf(a
            .update_client(op, id, &patch(json!({"name": "x"})))
            .await
            .map(drop)));
        assert!(nf(a.rotate_client_secret(op, id).await.map(drop)));
        assert!(nf(a.set_client_disabled(op, id, true).await.map(drop)));
        assert!(nf(a.delete_client(op, id).await));
    }
    let moved = a
        .update_client(op, "mine", &patch(json!({"orgId": beta.id})))
        .await;
    assert!(matches!(moved, Err(AdminError::Invalid(_))));
    // What an operator granted survives an org admin's edit; they cannot grant it themselves.
    a.update_client(OP, "mine", &patch(json!({"firstParty": true})))
        .await
        .unwrap();
    let renamed = a
        .update_client(op, "mine", &patch(json!({"name": "Mine"})))
        .await
        .unwrap();
    assert!(renamed.client.settings.first_party);
    assert_eq!(renamed.client.settings.name, "Mine");
    let r = a
        .update_client(op, "mine", &patch(json!({"introspectAny": true})))
        .await;
    assert!(matches!(
        r,
        Err(AdminError::Core(CoreError::PermissionDenied(_)))
    ));
    // Token-exchange audiences mint tokens for other parties: an operator adds them; an org
    // admin may keep or drop them, never add one.
    let tx = "urn:ietf:params:oauth:grant-type:token-exchange";
    let exchange = |audiences: Value| {
        patch(
            json!({"grantTypes": ["authorization_code", tx], "tokenExchangeAudiences": audiences}),
        )
    };
    let r = a
        .update_client(op, "mine", &exchange(json!(["billing"])))
        .await;
    assert!(
        matches!(r, Err(AdminError::Core(CoreError::PermissionDenied(_)))),
        "{r:?}"
    );
    a.update_client(OP, "mine", &exchange(json!(["billing", "api"])))
        .await
        .unwrap();
    let kept = a
        .update_client(op, "mine", &exchange(json!(["api"])))
        .await
        .unwrap();
    assert_eq!(kept.client.settings.token_exchange_audiences, ["api"]);
    let r = a
        .update_client(op, "mine", &exchange(json!(["api", "billing"])))
        .await;
    assert!(matches!(
        r,
        Err(AdminError::Core(CoreError::PermissionDenied(_)))
    ));
}

#[tokio::test]
async fn rotation_keeps_older_secrets_for_the_grace_period() {
    let env = TestEnv::new().await;
    let a = admin(&env);
    let first = a
        .create_client(OP, spec(json!({"clientId": "web"})))
        .await
        .unwrap()
        .client_secret
        .unwrap();
    let before = Utc::now();
    let second = a.rotate_client_secret(OP, "web").await.unwrap();
    let second = second.client_secret.unwrap();
    assert_ne!(first, second);
    let c = client(&env, "web").await;
    let now = Utc::now();
    assert!(verify_client_secret(&c, &first, now));
    assert!(verify_client_secret(&c, &second, now));
    let grace = Duration::seconds(CoreConfig::default().oidc.secret_rotation_grace_secs);
    let old = c
        .secrets
        .iter()
        .find(|s| s.hash == hash_client_secret(&first));
    let ends = old.unwrap().expires_at.unwrap();
    assert!(ends >= before + grace && ends <= now + grace, "{ends}");
    assert!(!verify_client_secret(&c, &first, ends));
    assert!(verify_client_secret(&c, &second, ends));
    assert_eq!(audited(&env, "client.rotate_secret").await.len(), 1);

    a.create_client(
        OP,
        spec(json!({"clientId": "app", "kind": "public", "redirectUris": ["http://[::1]/cb"]})),
    )
    .await
    .unwrap();
    let r = a.rotate_client_secret(OP, "app").await;
    assert!(matches!(r, Err(AdminError::Invalid(m)) if m.contains("no secret")));
}

#[tokio::test]
async fn switching_to_a_secret_method_issues_a_secret() {
    let env = TestEnv::new().await;
    let a = admin(&env);
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
    let made = a
        .create_client(
            OP,
            spec(json!({"clientId": "svc", "tokenEndpointAuthMethod": "private_key_jwt", "jwks": jwks})),
        )
        .await
        .unwrap();
    assert!(made.client_secret.is_none());
    let switched = a
        .update_client(
            OP,
            "svc",
            &patch(json!({"tokenEndpointAuthMethod": "client_secret_post", "jwks": null})),
        )
        .await
        .unwrap();
    let secret = switched.client_secret.expect("a new secret");
    assert!(verify_client_secret(
        &client(&env, "svc").await,
        &secret,
        Utc::now()
    ));
    // Between secret methods the secret stays.
    let basic = a
        .update_client(
            OP,
            "svc",
            &patch(json!({"tokenEndpointAuthMethod": "client_secret_basic"})),
        )
        .await
        .unwrap();
    assert!(basic.client_secret.is_none());
    assert!(verify_client_secret(
        &client(&env, "svc").await,
        &secret,
        Utc::now()
    ));
    let bad = a
        .update_client(OP, "svc", &patch(json!({"scopes": ["email"]})))
        .await;
    assert!(matches!(bad, Err(AdminError::Invalid(m)) if m.contains("openid")));
    let nothing = a.update_client(OP, "svc", &patch(json!({}))).await;
    assert!(matches!(nothing, Err(AdminError::Invalid(_))));
    assert_eq!(audited(&env, "client.update").await.len(), 2);
}

#[tokio::test]
async fn disabling_ends_the_clients_sessions_and_delete_removes_it() {
    let env = TestEnv::new().await;
    let acme = env.org("acme").await;
    let ann = env.user_in("ann@x.io", &acme, &[Role::Author]).await;
    let a = admin(&env);
    for id in ["one", "two"] {
        a.create_client(OP, spec(json!({"clientId": id})))
            .await
            .unwrap();
    }
    let s1 = env.grant_session(&ann, &acme, "one").await;
    let s2 = env.grant_session(&ann, &acme, "two").await;

    let off = a.set_client_disabled(OP, "one", true).await.unwrap();
    let first = off.disabled_at.expect("disabled");
    assert!(revoked(&env, &s1).await);
    assert!(!revoked(&env, &s2).await);
    let events = audited(&env, "client.disable").await;
    assert_eq!(events[0].detail["sessions_ended"], 1);
    let again = a.set_client_disabled(OP, "one", true).await.unwrap();
    assert_eq!(again.disabled_at, Some(first), "the first time is kept");
    let on = a.set_client_disabled(OP, "one", false).await.unwrap();
    assert_eq!(on.disabled_at, None);
    assert_eq!(audited(&env, "client.enable").await.len(), 1);

    a.delete_client(OP, "two").await.unwrap();
    assert!(env.store.get_oauth_client("two").await.unwrap().is_none());
    assert!(revoked(&env, &s2).await);
    let r = a.delete_client(OP, "two").await;
    assert!(matches!(r, Err(AdminError::NotFound(_))));
    assert_eq!(audited(&env, "client.delete").await.len(), 1);
}

fn declared(id: &str, secret_file: Option<&std::path::Path>, org: Option<&str>) -> DeclaredClient {
    serde_json::from_value(json!({
        "client_id": id,
        "name": format!("{id} app"),
        "kind": if secret_file.is_some() { "confidential" } else { "public" },
        "secret_file": secret_file,
        "org": org,
        "redirect_uris": ["https://app.example.com/cb"],
    }))
    .unwrap()
}

fn with(declared: Vec<DeclaredClient>, env: &TestEnv) -> Admin {
    let mut cfg = CoreConfig::default();
    cfg.oidc.clients = declared;
    Admin::new(env.store.clone(), &cfg, "config")
}

#[tokio::test]
async fn declared_clients_follow_the_file() {
    let env = TestEnv::new().await;
    env.org("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    let s1 = "first-secret-first-secret-first-secret";
    std::fs::write(&file, format!("{s1}\n")).unwrap();
    let a = admin(&env);
    // An API client of the same id is taken over.
    a.create_client(OP, spec(json!({"clientId": "cli"})))
        .await
        .unwrap();
    let decl = vec![
        declared("grafana", Some(&file), Some("acme")),
        declared("cli", None, None),
    ];

    let done = with(decl.clone(), &env)
        .reconcile_declared_clients()
        .await
        .unwrap();
    assert_eq!(done.created, ["grafana"]);
    assert_eq!(done.updated, ["cli"]);
    let g = client(&env, "grafana").await;
    assert!(g.declarative && verify_client_secret(&g, s1, Utc::now()));
    assert_eq!(
        g.org_id,
        Some(env.store.get_org_by_name("acme").await.unwrap().unwrap().id)
    );
    assert!(client(&env, "cli").await.declarative);
    let done = with(decl.clone(), &env)
        .reconcile_declared_clients()
        .await
        .unwrap();
    assert_eq!(done.unchanged, ["grafana", "cli"]);

    // The API leaves them alone, but for disable and enable.
    let conflict = |r: Result<(), AdminError>| matches!(r, Err(AdminError::Conflict(m)) if m.contains("configuration file"));
    assert!(conflict(
        a.update_client(OP, "grafana", &patch(json!({"name": "x"})))
            .await
            .map(drop)
    ));
    assert!(conflict(
        a.rotate_client_secret(OP, "grafana").await.map(drop)
    ));
    assert!(conflict(a.delete_client(OP, "grafana").await));
    a.set_client_disabled(OP, "cli", true).await.unwrap();

    // A new secret in the file replaces the old one at once; a new name updates.
    let s2 = "second-secret-second-secret-second";
    std::fs::write(&file, s2).unwrap();
    let mut decl2 = decl.clone();
    decl2[1].name = "CLI".into();
    let done = with(decl2.clone(), &env)
        .reconcile_declared_clients()
        .await
        .unwrap();
    assert_eq!(done.updated, ["grafana", "cli"]);
    assert_eq!(done.disabled, ["cli"], "a start never re-enables");
    let g = client(&env, "grafana").await;
    assert!(verify_client_secret(&g, s2, Utc::now()));
    assert!(!verify_client_secret(&g, s1, Utc::now()));
    assert_eq!(client(&env, "cli").await.name, "CLI");
    assert!(client(&env, "cli").await.is_disabled());

    // Removed from the file: disabled, handed back to the API; declared again: taken back, off.
    let done = with(decl2[..1].to_vec(), &env)
        .reconcile_declared_clients()
        .await
        .unwrap();
    assert_eq!(done.retired, ["cli"]);
    let done = with(decl2[1..].to_vec(), &env)
        .reconcile_declared_clients()
        .await
        .unwrap();
    assert_eq!(done.retired, ["grafana"]);
    let g = client(&env, "grafana").await;
    assert!(g.is_disabled() && !g.declarative);
    assert_eq!(done.updated, ["cli"]);
    assert!(client(&env, "cli").await.declarative);
    a.delete_client(OP, "grafana").await.unwrap();

    // A bad declaration stops the reconciliation before it writes anything.
    let before = env.store.list_oauth_clients(None).await.unwrap();
    let bad = vec![
        declared("new", None, None),
        declared("lost", None, Some("nowhere")),
    ];
    let r = with(bad, &env).reconcile_declared_clients().await;
    assert!(
        matches!(&r, Err(AdminError::Invalid(m)) if m.contains("nowhere")),
        "{r:?}"
    );
    let twice = vec![declared("new", None, None), declared("new", None, None)];
    assert!(
        with(twice, &env)
            .reconcile_declared_clients()
            .await
            .is_err()
    );
    assert_eq!(env.store.list_oauth_clients(None).await.unwrap(), before);
    let events = audited(&env, "client.update").await;
    assert!(
        events
            .iter()
            .all(|e| !e.detail.to_string().contains("secret-"))
    );
}

#[tokio::test]
async fn revoking_a_consent_ends_the_clients_sessions_for_the_user() {
    let env = TestEnv::new().await;
    let acme = env.org("acme").await;
    let ann = env.user_in("ann@x.io", &acme, &[Role::Author]).await;
    let bob = env.user_in("bob@x.io", &acme, &[Role::Author]).await;
    let a = admin(&env);
    for id in ["one", "two"] {
        a.create_client(
            OP,
            spec(json!({"clientId": id, "name": format!("App {id}")})),
        )
        .await
        .unwrap();
    }
    for (user, client_id) in [(&ann, "one"), (&ann, "two"), (&bob, "one")] {
        env.consent(user, client_id, &["openid", "email"]).await;
    }
    let now = Utc::now();
    let ann_one = env.grant_session(&ann, &acme, "one").await;
    let ann_two = env.grant_session(&ann, &acme, "two").await;
    let bob_one = env.grant_session(&bob, &acme, "one").await;
    let refresh = RefreshToken {
        token_hash: hash_client_secret("a refresh token"),
        grant_session: ann_one.id.clone(),
        client_id: "one".into(),
        user_id: ann.id,
        org_id: acme.id,
        scopes: vec!["openid".into()],
        auth_time: now,
        amr: vec!["pwd".into()],
        acr: None,
        issued_at: now,
        expires_at: now + Duration::hours(1),
        rotated_at: None,
        revoked_at: None,
    };
    let mut tx = env.store.begin_write().await.unwrap();
    tx.insert_refresh_token(refresh.clone()).await.unwrap();
    tx.commit().await.unwrap();

    let login = env.login("ann@x.io", OrgChoice::Default).await;
    let listed = env.engine.list_my_consents(&login.principal).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.client_name.as_str()).collect();
    assert_eq!(names, ["App one", "App two"]);
    assert!(listed[0].scopes.contains("email"));

    let ended = env
        .engine
        .revoke_my_consent(&login.principal, "one", &ctx())
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(revoked(&env, &ann_one).await);
    assert!(!revoked(&env, &ann_two).await && !revoked(&env, &bob_one).await);
    let r = env
        .store
        .get_refresh_token(&refresh.token_hash)
        .await
        .unwrap();
    assert!(r.unwrap().revoked_at.is_some());
    assert!(
        env.store
            .get_consent(ann.id, "one")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .get_consent(bob.id, "one")
            .await
            .unwrap()
            .is_some()
    );
    let events = env.audit_events("consent.revoke").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].target.as_deref(),
        Some(ann.id.to_string().as_str())
    );
    assert_eq!(events[0].detail["client_id"], "one");

    let again = env
        .engine
        .revoke_my_consent(&login.principal, "one", &ctx())
        .await;
    assert!(matches!(again, Err(CoreError::NotFound("consent"))));
    let listed = env.engine.list_my_consents(&login.principal).await.unwrap();
    assert_eq!(listed.len(), 1);
}
