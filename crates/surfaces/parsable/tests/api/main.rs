//! The Parsable surface through its real router, with a real engine on a temp SQLite store.
//!
//! Setup here (the world, its router, the JSON-envelope helpers for `POST /api/auth`); one module
//! per topic.

mod certificates;
mod federation;
mod login;
mod tokens;
mod transport;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use portcullis_core::certs::CertificateAuthority;
use portcullis_core::config::CoreConfig;
use portcullis_core::model::*;
use portcullis_edge::ClientIp;
use portcullis_federation::Federation;
use portcullis_parsable::router;
use portcullis_parsable::wire::{self, Encoding};
use portcullis_testkit::http::{Reply, TestApp};
use portcullis_testkit::{PASSWORD as PW, TestEnv};
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "../../../../federation/tests/support/mod.rs"]
mod fed_support;

/// An engine on a fresh store and the Parsable router over it.
struct World {
    env: TestEnv,
    app: TestApp,
    ca: Option<Arc<CertificateAuthority>>,
}

portcullis_testkit::deref_env!(World);

/// The default config without lockout delays.
fn test_config() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    cfg
}

async fn env() -> World {
    env_with(test_config(), false).await
}

/// A world on `cfg`, with the certificate authority when `with_ca`.
async fn env_with(mut cfg: CoreConfig, with_ca: bool) -> World {
    cfg.certificates.enabled = with_ca;
    let env = TestEnv::builder().config(cfg).build().await;
    let ca = env.engine.certificate_authority().cloned();
    let app = TestApp::new(router(env.engine.clone(), None));
    World { env, app, ca }
}

impl World {
    /// Serves the router with `fed` from now on.
    fn federate(&mut self, fed: Federation) {
        self.app = TestApp::new(router(self.engine.clone(), Some(Arc::new(fed))));
    }

    /// A validated user with the kit's password, a super-admin when `super_admin`.
    async fn validated_user(&self, email: &str, super_admin: bool) -> User {
        self.user(email)
            .validated()
            .super_admin_if(super_admin)
            .create()
            .await
    }

    /// Adds `user` to `org` with `roles`.
    async fn member(&self, user: &User, org: &Org, roles: &[Role]) {
        self.join(user, org, roles, MembershipKind::Member).await;
    }

    /// A user who is a member of a fresh team with `roles`.
    async fn member_user(&self, email: &str, roles: &[Role]) -> (User, Org) {
        let o = self.org(&format!("team-{email}")).await;
        let u = self
            .user(email)
            .validated()
            .member(&o, roles)
            .create()
            .await;
        (u, o)
    }

    /// `POST /api/auth` with these headers and body.
    async fn post(&self, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut call = self.app.post("/api/auth");
        for (k, v) in headers {
            call = call.header(*k, v);
        }
        call.body(body).send().await
    }

    /// A Parsable JSON call; returns the whole reply document.
    async fn call(&self, method: &str, args: Value, token: Option<&str>) -> Value {
        let auth = token.map(|t| format!("Token {t}"));
        let mut h = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            h.push(("authorization", a.as_str()));
        }
        let body = json!({"method": method, "arguments": args}).to_string();
        let r = self.post(&h, body.into_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{method}");
        assert_eq!(r.header("wi-thrift-version"), "1.22.13");
        json_of(&r)
    }

    async fn ok(&self, method: &str, args: Value, token: Option<&str>) -> Value {
        let v = self.call(method, args, token).await;
        assert!(
            v["result"].get("err").is_none() && v.get("exception").is_none(),
            "{method} failed: {v}"
        );
        v["result"]["success"].clone()
    }

    async fn err(&self, method: &str, args: Value, token: Option<&str>) -> (i64, Value) {
        let v = self.call(method, args, token).await;
        let e = v["result"]["err"].clone();
        assert!(e.is_object(), "{method}: expected err, got {v}");
        assert!(
            !e["rqId"].as_str().unwrap_or("").is_empty(),
            "err without rqId: {e}"
        );
        assert_eq!(e["message"], e["localizedMessage"]);
        (e["errorCode"].as_i64().unwrap_or(0), e)
    }

    /// A Parsable JSON call with `Idp-Authorization: <idp_header>`; returns the reply document.
    async fn idp_call(&self, method: &str, args: Value, idp_header: &str) -> Value {
        let body = json!({"method": method, "arguments": args}).to_string();
        let headers = [
            ("content-type", "application/json"),
            ("idp-authorization", idp_header),
        ];
        json_of(&self.post(&headers, body.into_bytes()).await)
    }

    /// Asserts that `method` answers err `code`.
    async fn err_is(&self, code: i64, method: &str, args: Value, token: Option<&str>) {
        assert_eq!(self.err(method, args, token).await.0, code, "{method}");
    }

    async fn login(&self, email: &str) -> Value {
        self.ok("login", json!({"email": email, "password": PW}), None)
            .await
    }

    async fn token(&self, email: &str) -> String {
        self.login(email).await["authToken"]
            .as_str()
            .expect("token")
            .to_string()
    }
}

/// The reply's body as JSON, failing with the text when it is not JSON.
fn json_of(r: &Reply) -> Value {
    serde_json::from_slice(&r.raw).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

fn roles_of(lr: &Value, org: &Org) -> Value {
    lr["teamIdToTeamRole"][org.id.to_string()].clone()
}

/// A compact Thrift call message of `name` with `args`.
fn compact_call<A: portcullis_thrift::ThriftType>(name: &str, seqid: u8, args: &A) -> Vec<u8> {
    let mut out = vec![0x82, 0x21, seqid, name.len() as u8];
    out.extend_from_slice(name.as_bytes());
    out.extend(portcullis_thrift::encode_struct(Encoding::Compact, args));
    out
}

fn tjson_call<A: portcullis_thrift::ThriftType>(name: &str, args: &A) -> Vec<u8> {
    let mut out = format!("[1,\"{name}\",1,0,").into_bytes();
    out.extend(portcullis_thrift::encode_struct(Encoding::TJson, args));
    out.push(b']');
    out
}

fn decode_login_reply(enc: Encoding, body: &[u8]) -> (String, i32, wire::LoginReply) {
    let msg = portcullis_thrift::decode_message(enc, body).expect("message");
    let reply: wire::LoginReply = msg.decode_body().expect("login_result");
    (msg.header.name.clone(), msg.header.seqid, reply)
}
