//! The org-admin API through the real HTTP stack, next to the Parsable surface, with a real
//! engine on a temporary SQLite store.

mod clients;
mod service_clients;

use std::net::SocketAddr;

use http::{Method, StatusCode};
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::model::*;
use portcullis_server::{HttpContext, ServerConfig, build_router};
use portcullis_testkit::http::{Reply, TestApp};
use portcullis_testkit::{PASSWORD as PW, TestEnv};
use serde_json::{Value, json};

struct World {
    env: TestEnv,
    app: TestApp,
    acme: Org,
    beta: Org,
}

portcullis_testkit::deref_env!(World);

/// A successful answer.
trait Success {
    /// Asserts 200 and returns the JSON body.
    fn ok(&self) -> &Value;
}

impl Success for Reply {
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        &self.body
    }
}

async fn world() -> World {
    let mut cfg = CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    let env = TestEnv::builder().config(cfg).build().await;
    let acme = env.org("acme").await;
    let beta = env.org("beta").await;
    let parts = vec![
        portcullis_org_admin::router(env.engine.clone()),
        portcullis_parsable::router(env.engine.clone(), None),
    ];
    let ctx = HttpContext::new(ServerConfig::default(), env.store.clone());
    let app = TestApp::from_peer(
        build_router(parts, &ctx),
        SocketAddr::from(([192, 0, 2, 7], 5000)),
    );
    World {
        env,
        app,
        acme,
        beta,
    }
}

impl World {
    /// A user with `roles` in `org` (none: no membership), and a session token.
    async fn user(
        &self,
        email: &str,
        org: Option<&Org>,
        roles: &[Role],
        super_admin: bool,
    ) -> String {
        // Every session acts in some org: give outsiders a team of their own.
        let home = org.unwrap_or(&self.beta);
        self.env
            .user(email)
            .name("x")
            .validated()
            .super_admin_if(super_admin)
            .member(home, roles)
            .create()
            .await;
        self.login_grant(email, PW, OrgChoice::Default)
            .await
            .expect("login")
            .token
            .token
    }

    fn path(&self, org: &Org, rest: &str) -> String {
        format!("/admin/v1/orgs/{}/{rest}", org.id)
    }

    async fn parsable_login(&self, email: &str) -> Value {
        let login = json!({"method": "login", "arguments": {"email": email, "password": PW}});
        let r = self.app.post("/api/auth").json(login).send().await;
        assert_ne!(r.body, Value::Null, "json");
        r.body["result"]["success"].clone()
    }
}

#[tokio::test]
async fn an_org_admin_manages_what_the_login_result_shows() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    w.user("exec@acme.io", Some(&w.acme), &[Role::Executor], false)
        .await;
    let settings = w.path(&w.acme, "settings");

    let v = w.app.call(Method::GET, &settings, Some(&admin), None).await;
    assert_eq!(v.ok()["settings"], json!({}));
    assert_eq!(v.ok()["priorities"], Value::Null);

    let v = w
        .app
        .call(
            Method::PATCH,
            &settings,
            Some(&admin),
            Some(json!({
                "flag": {"type": "bool", "value": true},
                "mode": {"type": "option", "value": "fast"},
                "sheets": {"type": "referenceList", "value": [{"id": "s1", "kind": "data_sheet", "label": "S"}]},
            })),
        )
        .await;
    assert_eq!(
        v.ok()["settings"]["mode"],
        json!({"type": "option", "value": "fast"})
    );
    let one = w.path(&w.acme, "settings/tags");
    w.app
        .call(
            Method::PUT,
            &one,
            Some(&admin),
            Some(json!({"type": "stringList", "value": ["x"]})),
        )
        .await
        .ok();
    let v = w.app.call(Method::GET, &one, Some(&admin), None).await;
    assert_eq!(v.ok(), &json!({"type": "stringList", "value": ["x"]}));
    w.app
        .call(
            Method::DELETE,
            &w.path(&w.acme, "settings/flag"),
            Some(&admin),
            None,
        )
        .await
        .ok();
    w.app
        .call(
            Method::GET,
            &w.path(&w.acme, "settings/flag"),
            Some(&admin),
            None,
        )
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    let v = w
        .app
        .call(
            Method::PUT,
            &w.path(&w.acme, "priorities"),
            Some(&admin),
            Some(json!([{"priority": 1, "title": "Urgent"}])),
        )
        .await;
    assert_eq!(v.ok()["priorities"][0]["title"], "Urgent");
    let jp = w.path(&w.acme, "job-permissions/EXECUTOR");
    let v = w.app.call(Method::GET, &jp, Some(&admin), None).await;
    assert_eq!(v.ok()["source"], "config");
    let v = w
        .app
        .call(
            Method::PUT,
            &jp,
            Some(&admin),
            Some(json!({"complete": true, "issueCreate": true})),
        )
        .await;
    assert_eq!(v.ok()["overrides"]["EXECUTOR"]["complete"], true);
    let v = w.app.call(Method::GET, &jp, Some(&admin), None).await;
    assert_eq!(v.ok()["source"], "org");

    // A member's Parsable LoginResult shows all of it.
    let lr = w.parsable_login("exec@acme.io").await;
    let tid = w.acme.id.to_string();
    let info = &lr["teamIdToInfo"][&tid];
    assert_eq!(info["optionSettings"], json!({"mode": "fast"}));
    assert_eq!(info["stringListSettings"], json!({"tags": ["x"]}));
    assert_eq!(info["boolSettings"], json!({}));
    assert_eq!(
        info["referenceListSettings"]["sheets"],
        json!([{"id": "s1", "kind": "data_sheet", "label": "S"}])
    );
    assert_eq!(info["priorities"][0]["title"], "Urgent");
    let perms = &lr["teamIdToJobPermissions"][&tid];
    assert_eq!(perms["complete"], true);
    assert_eq!(perms["editTitle"], false);
    assert_eq!(perms["issue"]["create"], true);

    // Cleared: back to the configured table, priorities left out.
    w.app
        .call(Method::DELETE, &jp, Some(&admin), None)
        .await
        .ok();
    w.app
        .call(
            Method::DELETE,
            &w.path(&w.acme, "priorities"),
            Some(&admin),
            None,
        )
        .await
        .ok();
    let lr = w.parsable_login("exec@acme.io").await;
    assert!(lr["teamIdToInfo"][&tid].get("priorities").is_none());
    assert_eq!(lr["teamIdToJobPermissions"][&tid]["editTitle"], true);
}

#[tokio::test]
async fn only_admins_of_the_org_or_super_admins_get_in() {
    let w = world().await;
    let member = w
        .user(
            "m@acme.io",
            Some(&w.acme),
            &[Role::Author, Role::ParsableAdmin],
            false,
        )
        .await;
    let other_admin = w
        .user("a@beta.io", Some(&w.beta), &[Role::Admin], false)
        .await;
    let root = w.user("root@x.io", None, &[], true).await;
    let settings = w.path(&w.acme, "settings");
    let body = json!({"flag": {"type": "bool", "value": true}});

    w.app
        .call(Method::GET, &settings, None, None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    w.app
        .call(Method::GET, &settings, Some("forged"), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    for token in [&member, &other_admin] {
        for (m, path, b) in [
            (Method::GET, settings.clone(), None),
            (Method::PATCH, settings.clone(), Some(body.clone())),
            (Method::PUT, w.path(&w.acme, "priorities"), Some(json!([]))),
            (Method::GET, w.path(&w.acme, "job-permissions"), None),
            (
                Method::PUT,
                w.path(&w.acme, "job-permissions/ADMIN"),
                Some(json!({})),
            ),
            (
                Method::DELETE,
                w.path(&w.acme, "job-permissions/ADMIN"),
                None,
            ),
        ] {
            w.app
                .call(m, &path, Some(token), b)
                .await
                .problem(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // An unknown org looks like a foreign one, except to a super-admin.
    let nowhere = format!("/admin/v1/orgs/{}/settings", OrgId::new());
    w.app
        .call(Method::GET, &nowhere, Some(&other_admin), None)
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    w.app
        .call(Method::GET, &nowhere, Some(&root), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    w.app
        .call(
            Method::GET,
            "/admin/v1/orgs/acme/settings",
            Some(&root),
            None,
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    // Nothing was written by the refused calls; the super-admin may write.
    let v = w.app.call(Method::GET, &settings, Some(&root), None).await;
    assert_eq!(v.ok()["settings"], json!({}));
    w.app
        .call(Method::PATCH, &settings, Some(&root), Some(body))
        .await
        .ok();
    // The other org's admin manages their own org.
    w.app
        .call(
            Method::GET,
            &w.path(&w.beta, "settings"),
            Some(&other_admin),
            None,
        )
        .await
        .ok();
}

#[tokio::test]
async fn bad_input_is_a_problem_and_writes_nothing() {
    let w = world().await;
    let admin = w
        .user("admin@acme.io", Some(&w.acme), &[Role::Admin], false)
        .await;
    let settings = w.path(&w.acme, "settings");
    w.app
        .call(
            Method::PATCH,
            &settings,
            Some(&admin),
            Some(json!({"keep": {"type": "text", "value": "v"}})),
        )
        .await
        .ok();
    let before = w
        .app
        .call(Method::GET, &settings, Some(&admin), None)
        .await
        .body;
    let cases = [
        // One good and one bad change: neither is applied.
        (
            Method::PATCH,
            settings.clone(),
            json!({"new": {"type": "bool", "value": true}, "bad": {"type": "bool", "value": "yes"}}),
        ),
        (
            Method::PATCH,
            settings.clone(),
            json!({"keep": null, "bad key": {"type": "bool", "value": true}}),
        ),
        (Method::PATCH, settings.clone(), json!([1])),
        (
            Method::PATCH,
            settings.clone(),
            json!({"u": {"type": "referenceList", "value": [{"id": OrgId::new().to_string(), "kind": "user"}]}}),
        ),
        (
            Method::PATCH,
            settings.clone(),
            json!({"t": {"type": "text", "value": "x".repeat(5000)}}),
        ),
        (
            Method::PUT,
            w.path(&w.acme, "settings/k"),
            json!({"type": "weird", "value": 1}),
        ),
        (
            Method::PUT,
            w.path(&w.acme, "priorities"),
            json!([{"priority": 1, "title": " "}]),
        ),
        (
            Method::PUT,
            w.path(&w.acme, "job-permissions/EXECUTOR"),
            json!({"fly": true}),
        ),
        (
            Method::PUT,
            w.path(&w.acme, "job-permissions/WIZARD"),
            json!({}),
        ),
    ];
    for (m, path, body) in cases {
        w.app
            .call(m, &path, Some(&admin), Some(body.clone()))
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid_argument");
    }
    // Too many settings in total: a conflict, nothing written.
    let many: serde_json::Map<String, Value> = (0..256)
        .map(|i| (format!("k{i}"), json!({"type": "bool", "value": true})))
        .collect();
    w.app
        .call(
            Method::PATCH,
            &settings,
            Some(&admin),
            Some(Value::Object(many)),
        )
        .await
        .problem(StatusCode::CONFLICT, "conflict");
    let after = w
        .app
        .call(Method::GET, &settings, Some(&admin), None)
        .await
        .body;
    assert_eq!(before, after);
    let jp = w
        .app
        .call(
            Method::GET,
            &w.path(&w.acme, "job-permissions"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(jp.ok()["overrides"], json!({}));
    // Not JSON at all.
    let resp = w
        .app
        .request(Method::PATCH, &settings)
        .bearer(admin.as_str())
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// An API key of `token`'s session org, and an access token exchanged from it.
async fn api_key(w: &World, token: &str) -> (String, String) {
    let ctx = AuditContext::default();
    let p = w.engine.authenticate(token).await.expect("session");
    let (_, secret) = w
        .engine
        .create_api_key(&p, "ci", None, &ctx)
        .await
        .expect("api key");
    let minted = w
        .engine
        .exchange_credential(&secret, &ctx)
        .await
        .expect("exchange")
        .token;
    (secret, minted)
}

#[tokio::test]
async fn a_credential_acts_only_in_its_org_and_never_as_super_admin() {
    let w = world().await;
    // An AUTHOR of acme (the key's org) who is ADMIN of beta.
    let both = w
        .user("both@x.io", Some(&w.acme), &[Role::Author], false)
        .await;
    let uid = w.engine.authenticate(&both).await.expect("session").user;
    w.store
        .upsert_membership(uid, w.beta.id, [Role::Admin].into(), MembershipKind::Member)
        .await
        .expect("membership");
    let (key, minted) = api_key(&w, &both).await;
    let beta = w.path(&w.beta, "settings");
    let body = json!({"flag": {"type": "bool", "value": true}});
    for token in [&key, &minted] {
        for (m, path, b) in [
            (Method::GET, beta.clone(), None),
            (Method::PATCH, beta.clone(), Some(body.clone())),
            (Method::PUT, w.path(&w.beta, "priorities"), Some(json!([]))),
            (
                Method::PUT,
                w.path(&w.beta, "job-permissions/ADMIN"),
                Some(json!({})),
            ),
        ] {
            w.app
                .call(m, &path, Some(token), b)
                .await
                .problem(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // Nothing was written; the user's own sign-in is beta's admin.
    let v = w.app.call(Method::GET, &beta, Some(&both), None).await;
    assert_eq!(v.ok()["settings"], json!({}));
    assert_eq!(v.ok()["priorities"], Value::Null);
    w.app
        .call(
            Method::GET,
            &w.path(&w.beta, "job-permissions/ADMIN"),
            Some(&both),
            None,
        )
        .await
        .ok();

    // A super-admin with a plain membership of beta: its API key and its persistent token
    // reach no other org, and in beta only what that membership gives (nothing here).
    let root = w.user("root@x.io", None, &[], true).await;
    let (key, minted) = api_key(&w, &root).await;
    let p = w.engine.authenticate(&root).await.expect("session");
    let (_, persistent, _) = w
        .engine
        .create_persistent_token(&p, p.user, &AuditContext::default())
        .await
        .expect("persistent token");
    let nowhere = format!("/admin/v1/orgs/{}/settings", OrgId::new());
    for token in [&key, &minted, &persistent] {
        for path in [w.path(&w.acme, "settings"), beta.clone(), nowhere.clone()] {
            w.app
                .call(Method::GET, &path, Some(token), None)
                .await
                .problem(StatusCode::FORBIDDEN, "forbidden");
        }
        w.app
            .call(
                Method::PATCH,
                &w.path(&w.acme, "settings"),
                Some(token),
                Some(body.clone()),
            )
            .await
            .problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let v = w
        .app
        .call(Method::GET, &w.path(&w.acme, "settings"), Some(&root), None)
        .await;
    assert_eq!(v.ok()["settings"], json!({}));
    // Given ADMIN of beta, the key manages beta, still not acme.
    w.store
        .upsert_membership(
            p.user,
            w.beta.id,
            [Role::Admin].into(),
            MembershipKind::Member,
        )
        .await
        .expect("membership");
    w.app.call(Method::GET, &beta, Some(&key), None).await.ok();
    w.app
        .call(Method::GET, &w.path(&w.acme, "settings"), Some(&key), None)
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
}
