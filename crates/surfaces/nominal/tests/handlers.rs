//! The Nominal endpoints through the real router, a real `Engine` and a temporary SQLite store.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::mediamtx::MediaMtxSigner;
use portcullis_core::model::*;
use portcullis_core::store::Store;
use portcullis_nominal::{NominalState, router, router_with};
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "../../../federation/tests/support/mod.rs"]
mod fed_support;

struct World {
    engine: Arc<Engine>,
    app: Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl Resp {
    fn name(&self) -> &str {
        self.body["errorName"].as_str().unwrap_or("")
    }
}

async fn world_with(config: CoreConfig, mediamtx: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = portcullis_store::open(path.to_str().unwrap())
        .await
        .unwrap();
    store.upsert_region(config.region.clone()).await.unwrap();
    let engine = Engine::start(store.clone(), config, MasterKey::generate())
        .await
        .unwrap();
    let app = if mediamtx {
        let pem = include_str!("fixtures/mediamtx-test-key.pem");
        let key = MediaMtxSigner::parse_pem(pem).unwrap();
        let signer = MediaMtxSigner::from_key(&key, None, "http://test").unwrap();
        router_with(NominalState {
            engine: engine.clone(),
            mediamtx: Some(Arc::new(signer)),
            federation: None,
        })
    } else {
        router(engine.clone(), None)
    };
    let app = app
        .fallback(portcullis_nominal::wire::error::not_found_fallback)
        .layer(axum::Extension(portcullis_edge::ClientIp(IpAddr::V4(
            Ipv4Addr::new(192, 0, 2, 7),
        ))));
    World {
        engine,
        app,
        store,
        _dir: dir,
    }
}

async fn world() -> World {
    let config = CoreConfig {
        allowed_email_domains: vec!["example.com".into()],
        ..CoreConfig::default()
    };
    world_with(config, false).await
}

impl World {
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = auth {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = b
            .body(match body {
                Some(v) => Body::from(serde_json::to_vec(&v).unwrap()),
                None => Body::empty(),
            })
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            raw,
        }
    }
    async fn get(&self, path: &str, auth: &str) -> Resp {
        self.call(Method::GET, path, Some(auth), None).await
    }
    async fn post(&self, path: &str, auth: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(auth), Some(body)).await
    }
    async fn put(&self, path: &str, auth: &str, body: Option<Value>) -> Resp {
        self.call(Method::PUT, path, Some(auth), body).await
    }

    async fn org(&self, name: &str) -> Org {
        self.store
            .create_org(NewOrg {
                name: name.into(),
                display_name: None,
                region_id: self.engine.config().region.id.clone(),
            })
            .await
            .unwrap()
    }

    async fn user(&self, email: &str, name: &str) -> User {
        self.store
            .create_user(NewUser {
                email: email.into(),
                display_name: name.into(),
                avatar_url: None,
                password_hash: None,
                validated_at: None,
                super_admin: false,
            })
            .await
            .unwrap()
    }

    async fn member(&self, user: &User, org: &Org, admin: bool, kind: MembershipKind) {
        let roles: BTreeSet<Role> = if admin {
            [Role::Admin].into()
        } else {
            [Role::Author].into()
        };
        self.store
            .upsert_membership(user.id, org.id, roles, kind)
            .await
            .unwrap();
    }

    async fn token(&self, user: &User, org: &Org) -> String {
        self.engine
            .start_session(
                user.clone(),
                vec!["pwd".into()],
                OrgChoice::Specific(org.id),
                false,
                None,
                &AuditContext::default(),
            )
            .await
            .unwrap()
            .token
            .token
    }

    async fn workspace(&self, org: &Org, slug: &str) -> Workspace {
        self.store
            .create_workspace(org.id, slug, Some(slug.to_uppercase()))
            .await
            .unwrap()
    }

    async fn grant(&self, ws: &Workspace, user: &User, access: WorkspaceAccess) {
        self.store
            .grant_workspace(WorkspaceGrant {
                workspace_id: ws.id,
                user_id: user.id,
                access,
            })
            .await
            .unwrap();
    }

    fn user_rid(&self, u: &User) -> String {
        self.engine.rids().user(u.id)
    }
    fn org_rid(&self, o: &Org) -> String {
        self.engine.rids().org(o.id)
    }
    fn ws_rid(&self, w: &Workspace) -> String {
        self.engine.rids().workspace(w.id)
    }
}

/// Org A with an admin and a member, org B with its own admin.
struct Cast {
    a: Org,
    b: Org,
    admin: User,
    member: User,
    other: User,
    admin_t: String,
    member_t: String,
    other_t: String,
}

async fn cast(w: &World) -> Cast {
    let a = w.org("alpha").await;
    let b = w.org("beta").await;
    let admin = w.user("admin@example.com", "Ada Admin").await;
    let member = w.user("member@example.com", "Mel Member").await;
    let other = w.user("other@elsewhere.org", "Otto Other").await;
    w.member(&admin, &a, true, MembershipKind::Member).await;
    w.member(&member, &a, false, MembershipKind::Member).await;
    w.member(&other, &b, true, MembershipKind::Member).await;
    let admin_t = w.token(&admin, &a).await;
    let member_t = w.token(&member, &a).await;
    let other_t = w.token(&other, &b).await;
    Cast {
        a,
        b,
        admin,
        member,
        other,
        admin_t,
        member_t,
        other_t,
    }
}

#[tokio::test]
async fn routing_and_bearer_rules() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .call(Method::GET, "/api/authentication/v2/my/profile", None, None)
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::FORBIDDEN, "Default:PermissionDenied")
    );
    let r = w
        .get("/api/authentication/v2/my/profile", "not-a-jwt")
        .await;
    assert_eq!(r.name(), "Authorization:InvalidJwtFormat");
    let r = w
        .get("/api/authentication/v2/my/profile", "nominal_api_key_nope")
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    // A genuine token past its expiry.
    let tokens = w.engine.access_tokens();
    let past = chrono::Utc::now() - chrono::Duration::hours(2);
    let claims = tokens.claims(
        c.admin.id,
        c.a.id,
        "sid",
        past - chrono::Duration::hours(1),
        past,
        vec![],
        false,
    );
    let expired = tokens.sign(&claims).unwrap();
    let r = w.get("/api/authentication/v2/my/profile", &expired).await;
    assert_eq!(r.name(), "Authorization:InvalidJwtExpired");
    // A forged signature (last character flipped).
    let mut forged = c.admin_t.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = w.get("/api/authentication/v2/my/profile", &forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Routing.
    let r = w
        .get("/api/authentication/v2/my/profile/", &c.admin_t)
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::NOT_FOUND, "Default:NotFound")
    );
    let r = w
        .call(
            Method::DELETE,
            "/api/authentication/v2/my/profile",
            Some(&c.admin_t),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.raw.is_empty());
    let r = w.get("/api/nope", &c.admin_t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Auth comes before the body.
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/api-key",
            None,
            Some(json!({"x": 1})),
        )
        .await;
    assert_eq!(r.name(), "Default:PermissionDenied");
}

#[tokio::test]
async fn api_key_lifecycle() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "ci", "expiresAfterDays": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let admin_key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let admin_key_rid = r.body["apiKeyMetadata"]["rid"].as_str().unwrap().to_owned();
    assert!(admin_key.starts_with("nominal_api_key_"));
    assert_eq!(
        r.body["apiKeyMetadata"]["createdBy"],
        json!(w.user_rid(&c.admin))
    );
    assert!(r.body["apiKeyMetadata"].get("expiresAt").is_none());
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": "m", "expiresAfterDays": 3}),
        )
        .await;
    assert!(r.body["apiKeyMetadata"]["expiresAt"].is_string());
    let member_key_rid = r.body["apiKeyMetadata"]["rid"].as_str().unwrap().to_owned();
    for bad in [
        json!({"apiKeyName": "  "}),
        json!({"apiKeyName": "x", "expiresAfterDays": 0}),
    ] {
        let r = w
            .post("/api/authorization/v1/api-key", &c.admin_t, bad)
            .await;
        assert_eq!(r.name(), "Default:InvalidArgument");
    }
    // Listing: an admin sees the org's keys, a member only their own.
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.admin_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"].as_array().unwrap().len(), 2);
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.member_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"].as_array().unwrap().len(), 1);
    let r = w
        .post("/api/authorization/v1/api-keys/user", &c.admin_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"][0]["rid"], json!(admin_key_rid));
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.other_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"], json!([]));
    // Paging.
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 1}),
        )
        .await;
    let tok = r.body["nextPageToken"].as_str().unwrap().to_owned();
    let r2 = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 1, "nextPageToken": tok}),
        )
        .await;
    assert!(r2.body.get("nextPageToken").is_none());
    assert_ne!(r.body["apiKeys"][0]["rid"], r2.body["apiKeys"][0]["rid"]);
    let r = w
        .post(
            "/api/authorization/v1/api-keys/user",
            &c.admin_t,
            json!({"nextPageToken": tok}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument", "a foreign token");
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 0}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"pageSize": 5000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Exchange and use.
    let r = w
        .call(
            Method::POST,
            "/api/api-key-internal/v1/access-token",
            None,
            Some(json!({"apiKeyValue": admin_key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let minted = r.body["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(r.body["userUuid"], json!(c.admin.id.to_string()));
    assert_eq!(r.body["orgUuid"], json!(c.a.id.to_string()));
    assert_eq!(r.body["isGuest"], json!(false));
    let exp = r.body["expiresAtSeconds"].as_i64().unwrap();
    assert!(exp <= chrono::Utc::now().timestamp() + 24 * 3600);
    for cred in [&admin_key, &minted] {
        let r = w.get("/api/authentication/v2/my/profile", cred).await;
        assert_eq!(r.body["rid"], json!(w.user_rid(&c.admin)));
        let r = w
            .post(
                "/api/authorization/v1/api-key",
                cred,
                json!({"apiKeyName": "x"}),
            )
            .await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
        let r = w
            .post(
                "/api/authorization/v1/set-user-org",
                cred,
                json!({"orgRid": w.org_rid(&c.a)}),
            )
            .await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    for bad in ["nominal_api_key_unknown", "junk", ""] {
        let r = w
            .call(
                Method::POST,
                "/api/api-key-internal/v1/access-token",
                None,
                Some(json!({"apiKeyValue": bad})),
            )
            .await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    // Revocation rules.
    let path = |rid: &str| format!("/api/authorization/v1/api-key/{rid}/delete");
    let r = w.put(&path(&admin_key_rid), &c.member_t, None).await;
    assert_eq!(r.name(), "Authorization:NotAuthorizedAdmin");
    assert_eq!(r.body["parameters"]["rid"], json!(w.org_rid(&c.a)));
    let r = w.put(&path(&admin_key_rid), &c.other_t, None).await;
    assert_eq!(r.name(), "Authorization:ApiKeyNotFound");
    let r = w.put(&path(&w.user_rid(&c.admin)), &c.admin_t, None).await;
    assert_eq!(r.name(), "Authorization:ApiKeyNotFound");
    let r = w.put(&path(&member_key_rid), &c.admin_t, None).await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "an admin revokes another's key"
    );
    let r = w.put(&path(&admin_key_rid), &c.admin_t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w.put(&path(&admin_key_rid), &c.admin_t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "idempotent");
    for cred in [&admin_key, &minted] {
        let r = w.get("/api/authentication/v2/my/profile", cred).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    let r = w
        .call(
            Method::POST,
            "/api/api-key-internal/v1/access-token",
            None,
            Some(json!({"apiKeyValue": admin_key})),
        )
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    let r = w
        .post("/api/authorization/v1/api-keys/org", &c.admin_t, json!({}))
        .await;
    assert_eq!(r.body["apiKeys"], json!([]));
    let r = w
        .post(
            "/api/authorization/v1/api-keys/org",
            &c.admin_t,
            json!({"includeDeleted": true}),
        )
        .await;
    assert_eq!(r.body["apiKeys"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["apiKeys"][0]["isDeleted"], json!(true));
}

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
    let r = w
        .call(
            Method::POST,
            "/api/api-key-internal/v1/access-token",
            None,
            Some(json!({"apiKeyValue": key})),
        )
        .await;
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
async fn workspace_service() {
    let w = world().await;
    let c = cast(&w).await;
    let ws1 = w.workspace(&c.a, "one").await;
    let ws2 = w.workspace(&c.a, "two").await;
    let wsb = w.workspace(&c.b, "bee").await;
    w.grant(&ws1, &c.member, WorkspaceAccess::Full).await;
    w.grant(&ws2, &c.member, WorkspaceAccess::Guest).await;
    let list = |q: &str| format!("/api/workspaces/v1/workspaces{q}");
    let ids = |r: &Resp| -> Vec<String> {
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
    let path = "/api/sandbox-token-internal/v1/issue";
    let call = |secret: Option<&str>, body: Value| {
        let mut b = Request::builder().method(Method::POST).uri(path);
        if let Some(s) = secret {
            b = b.header("X-Nominal-Sandbox-Shared-Secret", s);
        }
        let req = b
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        w.app.clone().oneshot(req)
    };
    let resp = call(Some("s3cret"), json!({})).await.unwrap();
    assert_eq!(
        resp.status(),
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
    let call2 = |secret: Option<&str>, body: Value| {
        let mut b = Request::builder().method(Method::POST).uri(path);
        if let Some(s) = secret {
            b = b.header("X-Nominal-Sandbox-Shared-Secret", s);
        }
        let req = b
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        w2.app.clone().oneshot(req)
    };
    async fn json_of(r: axum::response::Response) -> (StatusCode, Value) {
        let s = r.status();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }
    for (secret, body) in [
        (None, json!({})),
        (Some("wrong"), json!({})),
        (Some("s3cret"), json!({"requestedTtlSeconds": 0})),
        (Some("s3cret"), json!({"sandboxWorkspace": "SECONDARY"})),
    ] {
        let (s, b) = json_of(call2(secret, body).await.unwrap()).await;
        assert_eq!(
            (s, b["errorName"].as_str()),
            (
                StatusCode::FORBIDDEN,
                Some("Authorization:SandboxTokenUnavailable")
            )
        );
    }
    let (s, b) = json_of(
        call2(
            Some("s3cret"),
            json!({"requestedTtlSeconds": 100000, "sandboxWorkspace": "PRIMARY"}),
        )
        .await
        .unwrap(),
    )
    .await;
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
    let (_, b) = json_of(
        call2(Some("s3cret"), json!({"requestedTtlSeconds": 60}))
            .await
            .unwrap(),
    )
    .await;
    assert!(b["expiresAtSeconds"].as_i64().unwrap() <= chrono::Utc::now().timestamp() + 60);
    drop(c);
}

#[tokio::test]
async fn mediamtx() {
    let w = world().await;
    let c = cast(&w).await;
    let r = w
        .call(Method::GET, "/api/authentication/v2/jwks", None, None)
        .await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::NOT_FOUND, "Default:NotFound")
    );
    let body = json!({"permissions": [{"action": "read", "path": "cam1"}]});
    let r = w
        .post(
            "/api/authentication/v2/mediamtx/token",
            &c.member_t,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let w = world_with(CoreConfig::default(), true).await;
    let c = cast(&w).await;
    let r = w
        .call(Method::GET, "/api/authentication/v2/jwks", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let key = &r.body["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    // Paths lie under the caller's org.
    let cam = format!("{}/cam1", c.a.id.0);
    let body = json!({"permissions": [{"action": "read", "path": cam}]});
    let r = w
        .post("/api/authentication/v2/mediamtx/token", &c.member_t, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], json!("RS256"));
    assert_eq!(header["kid"], key["kid"]);
    let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["mediamtx_permissions"],
        json!([{"action": "read", "path": cam}])
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );
    let mtx = |t: String, action: &'static str, path: String| {
        let w = &w;
        async move {
            let body = json!({"permissions": [{"action": action, "path": path}]});
            w.post("/api/authentication/v2/mediamtx/token", &t, body)
                .await
        }
    };
    let (a, b) = (c.a.id.0, c.b.id.0);
    // Every tenant's paths (empty, a regular expression, another org, no org) are refused.
    for path in [
        String::new(),
        "~^.*$".into(),
        format!("{b}/cam1"),
        "cam1".into(),
        format!("{a}/../{b}/cam1"),
        format!("{a}x/cam1"),
    ] {
        let r = mtx(c.member_t.clone(), "publish", path.clone()).await;
        assert_eq!(r.name(), "Default:InvalidArgument", "{path:?}");
    }
    let r = mtx(c.member_t.clone(), "publish", format!("{a}/cam1")).await;
    assert_eq!(r.status, StatusCode::OK, "a member publishes in its org");
    // Instance-wide actions: not for org admins, members or credentials.
    for action in ["api", "pprof", "metrics"] {
        for t in [&c.member_t, &c.admin_t] {
            let r = mtx(t.clone(), action, String::new()).await;
            assert_eq!(r.name(), "Authorization:NotAuthorized", "{action}");
        }
    }
    // A guest reads and plays back, never publishes.
    let guest = w.user("guest@example.com", "Gus Guest").await;
    w.member(&guest, &c.a, false, MembershipKind::Guest).await;
    let guest_t = w.token(&guest, &c.a).await;
    let r = mtx(guest_t.clone(), "publish", format!("{a}/cam1")).await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    for action in ["read", "playback"] {
        let r = mtx(guest_t.clone(), action, format!("{a}/cam1")).await;
        assert_eq!(r.status, StatusCode::OK, "{action}");
    }
    // An API key is its owner's role in its org, no more.
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "cam", "expiresAfterDays": null}),
        )
        .await;
    let key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let r = mtx(key.clone(), "api", String::new()).await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");
    let r = mtx(key.clone(), "publish", format!("{b}/cam1")).await;
    assert_eq!(r.name(), "Default:InvalidArgument");
    let r = mtx(key, "publish", format!("{a}/cam1")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = w
        .post(
            "/api/authentication/v2/mediamtx/token",
            &c.member_t,
            json!({"permissions": [{"action": "delete", "path": "x"}]}),
        )
        .await;
    assert_eq!(r.name(), "Default:InvalidArgument");
}

/// A MediaMTX token never outlives the caller's own token: MediaMTX verifies it offline, so its
/// expiry is the only way it can end with the session.
#[tokio::test]
async fn mediamtx_tokens_end_with_the_callers_session() {
    let mut config = CoreConfig::default();
    config.tokens.session_secs = 600;
    let w = world_with(config, true).await;
    let c = cast(&w).await;
    let caller_exp = {
        let payload = c.member_t.split('.').nth(1).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
        claims["exp"].as_i64().unwrap()
    };
    let body = json!({"permissions": [{"action": "read", "path": format!("{}/cam1", c.a.id.0)}]});
    let r = w
        .post("/api/authentication/v2/mediamtx/token", &c.member_t, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let payload = r.body["token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        exp <= caller_exp,
        "MediaMTX token ({exp}) outlives its caller ({caller_exp})"
    );
    assert!(exp - claims["iat"].as_i64().unwrap() <= 600);
}

#[tokio::test]
async fn federation_endpoints_validate_then_refuse() {
    let w = world().await;
    for (path, good) in [
        (
            "/api/authorization/v1/access-token",
            json!({"idToken": "x", "accessToken": null, "orgRid": null, "workspaceRid": null}),
        ),
        (
            "/api/authorization/v1/refresh-access-token",
            json!({"accessToken": "x"}),
        ),
        ("/api/authorization/v1/user-orgs", json!({"idToken": "x"})),
        (
            "/api/authorization/v1/get-idp-end-session-endpoint",
            json!({"idToken": "x"}),
        ),
    ] {
        let r = w
            .call(Method::POST, path, None, Some(json!({"bogus": 1})))
            .await;
        assert_eq!(r.name(), "Default:InvalidArgument", "{path}");
        let r = w.call(Method::POST, path, None, Some(good)).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized", "{path}");
    }
}

#[tokio::test]
async fn credential_endpoints_are_rate_limited() {
    let mut config = CoreConfig::default();
    config.rate_limit.per_ip_per_sec = 1;
    config.rate_limit.burst = 2;
    let w = world_with(config, false).await;
    let path = "/api/api-key-internal/v1/access-token";
    let mut last = None;
    for _ in 0..4 {
        last = Some(
            w.call(
                Method::POST,
                path,
                None,
                Some(json!({"apiKeyValue": "nominal_api_key_x"})),
            )
            .await,
        );
    }
    let r = last.unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get("retry-after").is_some());
}

/// With a federation that has no provider: an undecodable token is `InvalidJwtFormat`, a JWT from
/// an unconfigured issuer `InvalidJwtIssuer{issuer}` on getAccessToken and `NotAuthorized` on the
/// other endpoints (docs/design/federation.md, "Error mapping").
#[tokio::test]
async fn federation_errors_without_providers() {
    let w = world().await;
    let fed = portcullis_federation::Federation::new(Vec::new(), w.engine.clone()).unwrap();
    let app = router(w.engine.clone(), Some(Arc::new(fed))).layer(axum::Extension(
        portcullis_edge::ClientIp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8))),
    ));
    let w = World { app, ..w };
    let b64 = |v: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let foreign = format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            json!({"iss": "https://elsewhere.example", "sub": "s", "aud": "x", "exp": 4_000_000_000u64})
        ),
        b64(json!("sig"))
    );
    let cases = [
        ("/api/authorization/v1/access-token", "idToken"),
        ("/api/authorization/v1/refresh-access-token", "accessToken"),
        ("/api/authorization/v1/user-orgs", "idToken"),
        (
            "/api/authorization/v1/get-idp-end-session-endpoint",
            "idToken",
        ),
    ];
    for (path, field) in cases {
        let r = w
            .call(
                Method::POST,
                path,
                None,
                Some(json!({ field: "not-a-jwt" })),
            )
            .await;
        let want = match path {
            "/api/authorization/v1/access-token"
            | "/api/authorization/v1/get-idp-end-session-endpoint" => {
                "Authorization:InvalidJwtFormat"
            }
            _ => "Authorization:NotAuthorized",
        };
        assert_eq!(r.name(), want, "{path}");
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = w
            .call(Method::POST, path, None, Some(json!({ field: foreign })))
            .await;
        if path.ends_with("/access-token") && !path.contains("refresh") {
            assert_eq!(r.name(), "Authorization:InvalidJwtIssuer");
            assert_eq!(r.body["parameters"]["issuer"], "https://elsewhere.example");
        } else {
            assert_eq!(r.name(), "Authorization:NotAuthorized", "{path}");
        }
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

/// The invited account accepts with its next sign-in: a Nominal token exchange (real OpenID
/// provider) into the inviting org succeeds and makes it a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_account_joins_at_its_next_token_exchange() {
    use portcullis_federation::ProviderConfig;
    let idp = fed_support::Idp::start(&[]).await;
    let w = world().await;
    let c = cast(&w).await;
    let kim = w.user("kim@example.com", "Kim Known").await;
    w.member(&kim, &c.b, false, MembershipKind::Member).await;
    w.store
        .link_external_identity(ExternalIdentity {
            issuer: idp.issuer.clone(),
            subject: "kim".into(),
            user_id: kim.id,
            provider_alias: "corp".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let p = ProviderConfig::new("corp", &idp.issuer, vec![fed_support::CLIENT_ID.into()]);
    let fed = portcullis_federation::Federation::new(vec![p], w.engine.clone()).unwrap();
    let app = router(w.engine.clone(), Some(Arc::new(fed))).layer(axum::Extension(
        portcullis_edge::ClientIp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
    ));
    let w = World { app, ..w };
    let r = w
        .post(
            "/api/authentication/v2/batch-preregister-users",
            &c.admin_t,
            json!({"emails": ["kim@example.com"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        w.store
            .get_membership(kim.id, c.a.id)
            .await
            .unwrap()
            .is_none()
    );
    let (id_token, _) = idp
        .tokens(json!({"sub": "kim", "email": "kim@example.com"}))
        .await;
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/access-token",
            None,
            Some(json!({"idToken": id_token, "orgRid": w.org_rid(&c.a)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = r.body["accessToken"].as_str().unwrap().to_owned();
    let me = w.get("/api/authentication/v2/my/profile", &token).await;
    assert_eq!(me.body["orgRid"], json!(w.org_rid(&c.a)));
    let m = w.store.get_membership(kim.id, c.a.id).await.unwrap();
    assert!(m.is_some_and(|m| m.is_active()));
    // The org's admin now sees the member's real profile.
    let r = w
        .post(
            "/api/authentication/v2/users/batch",
            &c.admin_t,
            json!([w.user_rid(&kim)]),
        )
        .await;
    assert_eq!(r.body[0]["displayName"], "Kim Known");
    w.engine.shutdown().await;
}

#[tokio::test]
async fn api_keys_list_only_their_orgs_workspaces() {
    let w = world().await;
    let c = cast(&w).await;
    // The member belongs to org B too, with a workspace there.
    w.member(&c.member, &c.b, true, MembershipKind::Member)
        .await;
    w.workspace(&c.a, "alpha-ws").await;
    w.workspace(&c.b, "beta-ws").await;
    let all = "/api/workspaces/v1/workspaces?filterBySessionOrg=false";
    let ids = |r: &Resp| {
        let mut v: Vec<String> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let r = w.get(all, &c.member_t).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        ids(&r).contains(&"beta-ws".to_owned()),
        "a session sees all its orgs"
    );
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": "ci", "expiresAfterDays": null}),
        )
        .await;
    let key = r.body["apiKeyValue"].as_str().unwrap().to_owned();
    let r = w.get(all, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!ids(&r).contains(&"beta-ws".to_owned()), "{:?}", ids(&r));
    // Nor does a token minted from the key.
    let r = w
        .call(
            Method::POST,
            "/api/api-key-internal/v1/access-token",
            None,
            Some(json!({"apiKeyValue": key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let minted = r.body["accessToken"].as_str().unwrap().to_owned();
    let r = w.get(all, &minted).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!ids(&r).contains(&"beta-ws".to_owned()));
}

/// The one opaque-format provider (a real `oidc-provider`), with introspection: its opaque access
/// tokens work on refreshAccessToken (expiry from introspection), a token minted for another
/// client does not, nor any opaque token once introspection is not configured (no opt-in);
/// getAccessToken ends with the ID token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_opaque_refresh_and_caps_through_the_router() {
    use portcullis_federation::{AccessTokenFormat, ClientSecret, JitOrg, ProviderConfig};
    let idp = fed_support::Idp::start(&[]).await;
    let w = world().await;
    w.org("acme").await;
    let mut p = ProviderConfig::new("corp", &idp.issuer, vec![fed_support::CLIENT_ID.into()]);
    p.access_token_format = AccessTokenFormat::Opaque;
    p.introspection_client_secret = Some(ClientSecret::new("portcullis-test-secret"));
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: "acme".into(),
        roles: BTreeSet::from([Role::Author]),
        kind: MembershipKind::Member,
    }];
    let fed = portcullis_federation::Federation::new(vec![p.clone()], w.engine.clone()).unwrap();
    let app = router(w.engine.clone(), Some(Arc::new(fed))).layer(axum::Extension(
        portcullis_edge::ClientIp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
    ));
    let w = World { app, ..w };
    let t = idp
        .control(
            "tokens",
            json!({"sub": "rt", "email": "rt.user@example.com", "access_token_format": "opaque",
                   "access_token_ttl": 900, "id_token_ttl": 120}),
        )
        .await;
    let at = t["access_token"].as_str().unwrap();
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/refresh-access-token",
            None,
            Some(json!({ "accessToken": at })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let want = chrono::Utc::now().timestamp() + 900;
    assert!((r.body["expiresAtSeconds"].as_i64().unwrap() - want).abs() <= 5);
    let me = w
        .call(
            Method::GET,
            "/api/authentication/v2/my/profile",
            r.body["accessToken"].as_str(),
            None,
        )
        .await;
    assert_eq!(me.body["displayName"], "rt.user");

    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/access-token",
            None,
            Some(json!({ "idToken": t["id_token"] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["expiresAtSeconds"], t["id_token_claims"]["exp"]);

    let other = idp
        .control(
            "tokens",
            json!({"sub": "rt", "email": "rt.user@example.com", "access_token_format": "opaque",
                   "client": "other"}),
        )
        .await;
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/refresh-access-token",
            None,
            Some(json!({ "accessToken": other["access_token"] })),
        )
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized");

    // Without introspection credentials and without opaque_tokens_via_userinfo, even the
    // genuine token is refused.
    p.introspection_client_secret = None;
    let fed = portcullis_federation::Federation::new(vec![p], w.engine.clone()).unwrap();
    let app = router(w.engine.clone(), Some(Arc::new(fed))).layer(axum::Extension(
        portcullis_edge::ClientIp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
    ));
    let w = World { app, ..w };
    let r = w
        .call(
            Method::POST,
            "/api/authorization/v1/refresh-access-token",
            None,
            Some(json!({ "accessToken": at })),
        )
        .await;
    assert_eq!(r.name(), "Authorization:NotAuthorized", "{}", r.body);
    w.engine.shutdown().await;
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap()
}

/// MediaMTX's `authMethod: http` callback refuses a MediaMTX token once its session is over
/// (issue 15, item 7): MediaMTX sends the token as `token`, `password` or `?jwt=`.
#[tokio::test]
async fn the_mediamtx_callback_ends_tokens_with_their_session() {
    const CALLBACK: &str = "/api/mediamtx-internal/v1/auth";
    let w = world_with(CoreConfig::default(), true).await;
    let c = cast(&w).await;
    let cam = format!("{}/cam1", c.a.id.0);
    let mint = |t: String| {
        let (w, cam) = (&w, cam.clone());
        async move {
            let body = json!({"permissions": [{"action": "read", "path": cam}]});
            let r = w
                .post("/api/authentication/v2/mediamtx/token", &t, body)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body["token"].as_str().unwrap().to_owned()
        }
    };
    let ask = |body: Value| w.call(Method::POST, CALLBACK, None, Some(body));
    let mel = mint(c.member_t.clone()).await;
    let claims = claims_of(&mel);
    assert_eq!(claims["sid"], claims_of(&c.member_t)["sid"]);
    assert_eq!(claims["org"], json!(c.a.id.0.to_string()));
    for body in [
        json!({"token": mel, "action": "read", "path": cam, "protocol": "hls", "ip": "203.0.113.5"}),
        json!({"user": "any", "password": mel, "action": "read", "path": cam, "protocol": "rtsp"}),
        json!({"query": format!("x=1&jwt={mel}"), "action": "read", "path": cam}),
    ] {
        let r = ask(body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body} {:?}", r.body);
    }
    for body in [
        json!({"token": mel, "action": "publish", "path": cam}),
        json!({"token": mel, "action": "read", "path": format!("{}/cam1", c.b.id.0)}),
        json!({"action": "read", "path": cam}),
        json!({"token": c.member_t, "action": "read", "path": cam}),
    ] {
        let r = ask(body.clone()).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized", "{body}");
    }
    // Logout ends the MediaMTX token, which had 2 h left.
    w.engine
        .logout(&c.member_t, &AuditContext::default())
        .await
        .unwrap();
    let r = ask(json!({"token": mel, "action": "read", "path": cam})).await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::FORBIDDEN, "Authorization:NotAuthorized")
    );
    // Removal from the org (Nominal deactivateUser) ends the admin's API-key-minted one too.
    let other_admin = w.user("boss@example.com", "Bo Boss").await;
    w.member(&other_admin, &c.a, true, MembershipKind::Member)
        .await;
    let boss_t = w.token(&other_admin, &c.a).await;
    let ada = mint(c.admin_t.clone()).await;
    let r = w
        .post(
            "/api/authorization/v1/api-key",
            &c.admin_t,
            json!({"apiKeyName": "cam", "expiresAfterDays": null}),
        )
        .await;
    let by_key = mint(r.body["apiKeyValue"].as_str().unwrap().to_owned()).await;
    for t in [&ada, &by_key] {
        let r = ask(json!({"token": t, "action": "read", "path": cam})).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = w
        .call(
            Method::POST,
            &format!(
                "/api/authentication/v2/admin/users/{}/deactivate",
                w.user_rid(&c.admin)
            ),
            Some(&boss_t),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    for t in [&ada, &by_key] {
        let r = ask(json!({"token": t, "action": "read", "path": cam})).await;
        assert_eq!(r.name(), "Authorization:NotAuthorized");
    }
    // Without MediaMTX the callback is not there.
    let plain = world().await;
    let r = plain
        .call(
            Method::POST,
            CALLBACK,
            None,
            Some(json!({"token": mel, "action": "read", "path": cam})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Unknown `nominal_api_key_…` bearers cost a store look-up each: they are charged to the
/// per-IP limit and answered 429 once it is spent (issue 15, item 8).
#[tokio::test]
async fn unknown_api_key_bearers_are_rate_limited_per_ip() {
    let mut config = CoreConfig::default();
    config.rate_limit.per_ip_per_sec = 1;
    config.rate_limit.burst = 3;
    let w = world_with(config, false).await;
    let mut names = Vec::new();
    for i in 0..5 {
        let r = w
            .get(
                "/api/authentication/v2/my/profile",
                &format!("nominal_api_key_guess{i}"),
            )
            .await;
        names.push((r.status, r.name().to_owned()));
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.get("retry-after").is_some());
        }
    }
    let refused = (StatusCode::FORBIDDEN, "Authorization:NotAuthorized".into());
    let limited = (
        StatusCode::TOO_MANY_REQUESTS,
        "Default:TooManyRequests".into(),
    );
    assert_eq!(
        names,
        vec![
            refused.clone(),
            refused.clone(),
            refused,
            limited.clone(),
            limited
        ]
    );
}

/// API keys per user are capped (`[core.credentials] max_api_keys_per_user`): a clear Conjure
/// error, and nothing written (issue 15, item 8).
#[tokio::test]
async fn api_keys_per_user_are_capped() {
    let mut config = CoreConfig::default();
    config.credentials.max_api_keys_per_user = 2;
    let w = world_with(config, false).await;
    let c = cast(&w).await;
    let create = |name: &str| {
        w.post(
            "/api/authorization/v1/api-key",
            &c.member_t,
            json!({"apiKeyName": name, "expiresAfterDays": null}),
        )
    };
    assert_eq!(create("one").await.status, StatusCode::OK);
    let two = create("two").await;
    assert_eq!(two.status, StatusCode::OK);
    let r = create("three").await;
    assert_eq!(
        (r.status, r.name()),
        (StatusCode::BAD_REQUEST, "Authorization:ApiKeyLimitExceeded")
    );
    assert_eq!(r.body["parameters"]["allowedLimit"], json!("2"));
    let listed = w
        .post(
            "/api/authorization/v1/api-keys/user",
            &c.member_t,
            json!({}),
        )
        .await;
    assert_eq!(listed.body["apiKeys"].as_array().unwrap().len(), 2);
    // Revoking one makes room.
    let rid = two.body["apiKeyMetadata"]["rid"].as_str().unwrap();
    let r = w
        .put(
            &format!("/api/authorization/v1/api-key/{rid}/delete"),
            &c.member_t,
            None,
        )
        .await;
    assert!(r.status.is_success());
    assert_eq!(create("three").await.status, StatusCode::OK);
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
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/sandbox-token-internal/v1/issue")
        .header("X-Nominal-Sandbox-Shared-Secret", "s3cret")
        .body(Body::from("{}"))
        .unwrap();
    let resp = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let sid = claims_of(body["accessToken"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = w.store.get_session(&SessionId(sid)).await.unwrap().unwrap();
    assert_eq!(s.idle_timeout_secs, Some(900));
}
