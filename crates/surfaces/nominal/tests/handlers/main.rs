//! The Nominal endpoints through the real router, a real `Engine` and a temporary SQLite store.

mod api_keys;
mod directory;
mod federation;
mod mediamtx;
mod registration;
mod workspaces;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::mediamtx::MediaMtxSigner;
use portcullis_core::model::*;
use portcullis_federation::{Federation, ProviderConfig};
use portcullis_nominal::{NominalState, router, router_with};
use portcullis_testkit::TestEnv;
use portcullis_testkit::http::{Reply, TestApp};
use serde_json::{Value, json};

#[path = "../../../../federation/tests/support/mod.rs"]
mod fed_support;

struct World {
    env: TestEnv,
    app: TestApp,
}

portcullis_testkit::deref_env!(World);

/// A Conjure error answer.
trait ErrorName {
    /// The Conjure `errorName`, `""` when there is none.
    fn name(&self) -> &str;
}

impl ErrorName for Reply {
    fn name(&self) -> &str {
        self.body["errorName"].as_str().unwrap_or("")
    }
}

async fn world_with(config: CoreConfig, mediamtx: bool) -> World {
    let env = TestEnv::builder().config(config).build().await;
    let engine = env.engine.clone();
    let app = if mediamtx {
        let pem = include_str!("../fixtures/mediamtx-test-key.pem");
        let key = MediaMtxSigner::parse_pem(pem).unwrap();
        let signer = MediaMtxSigner::from_key(&key, None, "http://test").unwrap();
        router_with(NominalState {
            engine,
            mediamtx: Some(Arc::new(signer)),
            federation: None,
        })
    } else {
        router(engine, None)
    };
    let app = app
        .fallback(portcullis_nominal::wire::error::not_found_fallback)
        .layer(axum::Extension(portcullis_edge::ClientIp(IpAddr::V4(
            Ipv4Addr::new(192, 0, 2, 7),
        ))));
    World {
        env,
        app: TestApp::new(app),
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
    /// A call as Conjure clients make it: the JSON body with no content type.
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let call = self.app.request(method, path).bearer(auth);
        match body {
            Some(v) => call.body(serde_json::to_vec(&v).unwrap()),
            None => call,
        }
        .send()
        .await
    }
    async fn get(&self, path: &str, auth: &str) -> Reply {
        self.call(Method::GET, path, Some(auth), None).await
    }
    async fn post(&self, path: &str, auth: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(auth), Some(body)).await
    }
    async fn put(&self, path: &str, auth: &str, body: Option<Value>) -> Reply {
        self.call(Method::PUT, path, Some(auth), body).await
    }

    /// `exchangeApiKey`: an access token for an API key.
    async fn exchange_key(&self, key: &str) -> Reply {
        let body = json!({"apiKeyValue": key});
        let path = "/api/api-key-internal/v1/access-token";
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// `refreshAccessToken` with an upstream access token.
    async fn refresh(&self, access_token: &str) -> Reply {
        let body = json!({ "accessToken": access_token });
        let path = "/api/authorization/v1/refresh-access-token";
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// `issueSandboxToken`, with the shared secret when given.
    async fn sandbox(&self, secret: Option<&str>, body: Value) -> Reply {
        let call = self.app.post("/api/sandbox-token-internal/v1/issue");
        match secret {
            Some(s) => call.header("X-Nominal-Sandbox-Shared-Secret", s),
            None => call,
        }
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
    }

    /// The same engine behind a router with a federation of `providers`, called from `ip`.
    fn with_federation(self, providers: Vec<ProviderConfig>, ip: Ipv4Addr) -> World {
        let fed = Federation::new(providers, self.engine.clone()).unwrap();
        let app = router(self.engine.clone(), Some(Arc::new(fed)))
            .layer(axum::Extension(portcullis_edge::ClientIp(IpAddr::V4(ip))));
        World {
            app: TestApp::new(app),
            ..self
        }
    }

    async fn user(&self, email: &str, name: &str) -> User {
        self.env.user(email).name(name).no_password().create().await
    }

    async fn member(&self, user: &User, org: &Org, admin: bool, kind: MembershipKind) {
        let role = if admin { Role::Admin } else { Role::Author };
        self.join(user, org, &[role], kind).await;
    }

    async fn token(&self, user: &User, org: &Org) -> String {
        self.session(user, OrgChoice::Specific(org.id)).await
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

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap()
}
