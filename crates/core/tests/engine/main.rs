//! The auth engine's invariants, on a real SQLite store; one module per topic.

mod id_token_keys;
mod idle;
mod passwords;
mod tokens;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::password::HashParams;
use portcullis_core::*;
use portcullis_testkit::{PASSWORD as PW, TestEnv, ctx, lock_after_three, within_a_second};

struct Env {
    env: TestEnv,
}

portcullis_testkit::deref_env!(Env);

async fn env_with(cfg: CoreConfig) -> Env {
    Env {
        env: TestEnv::builder().config(cfg).build().await,
    }
}

async fn env() -> Env {
    env_with(CoreConfig::default()).await
}

impl Env {
    /// A user with ADMIN in each of `orgs` (the first is the default org).
    async fn user(&self, email: &str, super_admin: bool, orgs: &[&Org]) -> User {
        let mut user = self.env.user(email);
        if super_admin {
            user = user.super_admin();
        }
        for org in orgs {
            user = user.member(org, &[Role::Admin]);
        }
        user.create().await
    }

    /// The token of a fresh password login into the default org.
    async fn login(&self, email: &str) -> String {
        self.env.login(email, OrgChoice::Default).await.token
    }

    /// The principal of a fresh password login into the default org (its token authenticated again).
    async fn signed_in(&self, email: &str) -> portcullis_core::tokens::Principal {
        let token = self.login(email).await;
        self.engine.authenticate(&token).await.unwrap()
    }
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut it = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let p = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&p).unwrap(),
    )
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}
