//! The account API through the real HTTP stack (request ids, client IP, limits), next to the
//! Nominal surface, with a real engine on a temporary SQLite store.

mod consents;
mod factors;
mod limits;
mod pages;
mod pages_factors;
mod pages_passkeys;
mod passkeys;
mod passwords;
mod sessions;

use std::net::SocketAddr;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::model::*;
use portcullis_core::tokens::Principal;
use portcullis_server::{HttpContext, ServerConfig, build_router};
use portcullis_testkit::http::{Reply, TestApp};
use portcullis_testkit::{PASSWORD as PW, TestEnv};
use serde_json::{Value, json};

const NEW_PW: &str = "an even longer password 2";
const PROFILE: &str = "/api/authentication/v2/my/profile";

struct World {
    env: TestEnv,
    app: TestApp,
    org: Org,
}

portcullis_testkit::deref_env!(World);

/// An RFC 9457 problem answer, as the account API writes it.
trait AccountProblem {
    /// Asserts a problem with this status and code that names its request, and returns its
    /// detail.
    fn account_problem(&self, status: StatusCode, code: &str) -> String;
}

impl AccountProblem for Reply {
    fn account_problem(&self, status: StatusCode, code: &str) -> String {
        let detail = self.problem(status, code);
        assert_eq!(self.body["type"], "about:blank");
        assert_eq!(self.body["title"], status.canonical_reason().unwrap_or(""));
        assert_eq!(
            self.body["requestId"],
            self.header("x-request-id"),
            "the problem names the request"
        );
        detail
    }
}

fn config() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    // No delay between failures, so a test can fail and then succeed.
    cfg.lockout.delays_secs = vec![0];
    cfg
}

async fn world_with(cfg: CoreConfig) -> World {
    world_mounting(cfg, |env| {
        portcullis_nominal::router(env.engine.clone(), None)
    })
    .await
}

/// The account surface next to `other` (the surface a test also needs), on a fresh store with
/// the org `acme`.
async fn world_mounting(cfg: CoreConfig, other: impl FnOnce(&TestEnv) -> axum::Router) -> World {
    let env = TestEnv::builder().config(cfg).build().await;
    let org = env.org("acme").await;
    let parts = vec![portcullis_account::router(env.engine.clone()), other(&env)];
    let ctx = HttpContext::new(ServerConfig::default(), env.store.clone());
    let app = TestApp::from_peer(
        build_router(parts, &ctx),
        SocketAddr::from(([192, 0, 2, 7], 5000)),
    );
    World { env, app, org }
}

async fn world() -> World {
    world_with(config()).await
}

impl World {
    async fn send(&self, req: Request<Body>) -> Reply {
        self.app.send(req).await
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.app.call(Method::GET, path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.app.call(Method::POST, path, token, Some(body)).await
    }

    async fn delete(&self, path: &str, token: &str) -> Reply {
        self.app.call(Method::DELETE, path, Some(token), None).await
    }

    async fn user(&self, email: &str) -> User {
        self.env
            .user(email)
            .validated()
            .member(&self.org, &[Role::Author])
            .create()
            .await
    }

    /// A password login, as either API would do it.
    async fn login(
        &self,
        email: &str,
        password: &str,
    ) -> Result<String, portcullis_core::CoreError> {
        self.login_grant(email, password, OrgChoice::Default)
            .await
            .map(|g| g.token.token)
    }

    async fn principal(&self, token: &str) -> Principal {
        self.engine
            .authenticate(token)
            .await
            .expect("a valid token")
    }

    async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
        end_others: bool,
    ) -> Reply {
        let body =
            json!({"currentPassword": current, "newPassword": new, "endOtherSessions": end_others});
        self.post("/account/v1/password", Some(token), body).await
    }

    async fn sessions(&self, token: &str) -> Vec<Value> {
        let r = self.get("/account/v1/sessions", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("cache-control"), "no-store");
        r.body["sessions"].as_array().cloned().unwrap_or_default()
    }
}
