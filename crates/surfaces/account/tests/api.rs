//! The account API through the real HTTP stack (request ids, client IP, limits), next to the
//! Nominal surface, with a real engine on a temporary SQLite store.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::model::*;
use portcullis_core::store::Store;
use portcullis_core::tokens::Principal;
use portcullis_server::{HttpContext, ServerConfig, build_router};
use serde_json::{Value, json};
use tower::ServiceExt;

const PW: &str = "a long enough password 1";
const NEW_PW: &str = "an even longer password 2";
const PROFILE: &str = "/api/authentication/v2/my/profile";

struct World {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    app: Router,
    org: Org,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status and code, and returns its detail.
    fn problem(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.body["status"], status.as_u16());
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["type"], "about:blank");
        assert_eq!(self.body["title"], status.canonical_reason().unwrap_or(""));
        assert_eq!(
            self.body["requestId"],
            self.header("x-request-id"),
            "the problem names the request"
        );
        self.body["detail"].as_str().unwrap_or("").to_owned()
    }
}

fn config() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    // No delay between failures, so a test can fail and then succeed.
    cfg.lockout.delays_secs = vec![0];
    cfg
}

async fn world_with(cfg: CoreConfig) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = portcullis_store::open(path.to_str().expect("utf-8 path"))
        .await
        .expect("store");
    store
        .upsert_region(cfg.region.clone())
        .await
        .expect("region");
    let engine = Engine::start(store.clone(), cfg, MasterKey::generate())
        .await
        .expect("engine");
    let org = store
        .create_org(NewOrg {
            name: "acme".into(),
            display_name: None,
            region_id: "local".into(),
        })
        .await
        .expect("org");
    let parts = vec![
        portcullis_account::router(engine.clone()),
        portcullis_nominal::router(engine.clone(), None),
    ];
    let ctx = HttpContext::new(ServerConfig::default(), store.clone());
    let app =
        build_router(parts, &ctx).layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 7], 5000))));
    World {
        engine,
        store,
        app,
        org,
        _dir: dir,
    }
}

async fn world() -> World {
    world_with(config()).await
}

impl World {
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = auth {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let body = body.map_or_else(Body::empty, |v| Body::from(v.to_string()));
        self.send(b.body(body).expect("request")).await
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    async fn user(&self, email: &str) -> User {
        let hash = self.engine.hasher().hash(PW).await.expect("hash");
        let user = self
            .store
            .create_user(NewUser {
                email: email.into(),
                display_name: email.split('@').next().unwrap_or("x").into(),
                avatar_url: None,
                password_hash: Some(hash),
                validated_at: Some(chrono::Utc::now()),
                super_admin: false,
            })
            .await
            .expect("user");
        self.store
            .upsert_membership(
                user.id,
                self.org.id,
                BTreeSet::from([Role::Author]),
                MembershipKind::Member,
            )
            .await
            .expect("membership");
        user
    }

    /// A password login, as either API would do it.
    async fn login(
        &self,
        email: &str,
        password: &str,
    ) -> Result<String, portcullis_core::CoreError> {
        self.engine
            .login_password(
                email,
                password,
                OrgChoice::Default,
                None,
                &AuditContext::default(),
            )
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

#[tokio::test]
async fn lists_the_callers_sessions_and_marks_the_current_one() {
    let w = world().await;
    w.user("ann@example.com").await;
    w.user("bob@example.com").await;
    let first = w.login("ann@example.com", PW).await.expect("login");
    let second = w.login("ann@example.com", PW).await.expect("login");
    w.login("bob@example.com", PW).await.expect("login");
    let sid = w.principal(&second).await.session().cloned().expect("sid");

    let sessions = w.sessions(&second).await;
    assert_eq!(sessions.len(), 2, "Ann's two, not Bob's: {sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let s = current[0];
    assert_eq!(s["id"], sid.0);
    assert_eq!(s["kind"], "login");
    assert_eq!(s["authMethods"], json!(["pwd"]));
    assert_eq!(s["orgId"], w.org.id.to_string());
    assert_eq!(s["actorId"], Value::Null);
    assert!(s["createdAt"].is_string() && s["expiresAt"].is_string());
    // The same list through the other token, marked the other way round.
    let other = w.sessions(&first).await;
    let current: Vec<_> = other.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_ne!(current[0]["id"], sid.0);

    // Parsable's scheme works too.
    let req = Request::get("/account/v1/sessions")
        .header("authorization", format!("Token {first}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(w.send(req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_bad_tokens_get_401_problems_with_a_challenge() {
    let w = world().await;
    let r = w
        .call(Method::GET, "/account/v1/sessions", None, None)
        .await;
    r.problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"portcullis\"");
    let r = w.get("/account/v1/sessions", "not.a.token").await;
    r.problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"portcullis\", error=\"invalid_token\""
    );
    let req = Request::get("/account/v1/sessions")
        .header("authorization", "Basic YTpi")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .expect("request");
    let r = w.send(req).await;
    r.problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(r.body["requestId"], "req-42");
}

/// However a token fails (malformed, wrong scheme, two headers, forged, expired, ended), the
/// problem's detail is the same two words: why is for the logs only.
#[tokio::test]
async fn every_token_failure_says_only_invalid_token() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    let keep = w.login("ann@example.com", PW).await.expect("login");
    let ended = w.login("ann@example.com", PW).await.expect("login");
    let sid = w.principal(&ended).await.session().cloned().expect("sid");
    let r = w
        .delete(&format!("/account/v1/sessions/{}", sid.0), &keep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let mut forged = keep.clone();
    let last = forged.pop().expect("a signature");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let now = chrono::Utc::now();
    let tokens = w.engine.access_tokens();
    let me = w.principal(&keep).await;
    let claims = tokens.claims(
        ann.id,
        w.org.id,
        &me.session().expect("sid").0,
        now - chrono::Duration::hours(2),
        now - chrono::Duration::hours(1),
        vec!["pwd".into()],
        false,
    );
    let expired = tokens.sign(&claims).expect("sign");

    let with_auth = |values: &[&str]| {
        let mut b = Request::get("/account/v1/sessions");
        for v in values {
            b = b.header("authorization", *v);
        }
        b.body(Body::empty()).expect("request")
    };
    let cases = [
        (
            "malformed",
            w.get("/account/v1/sessions", "not.a.token").await,
        ),
        ("forged", w.get("/account/v1/sessions", &forged).await),
        ("ended session", w.get("/account/v1/sessions", &ended).await),
        ("expired", w.get("/account/v1/sessions", &expired).await),
        ("basic scheme", w.send(with_auth(&["Basic YTpi"])).await),
        (
            "two headers",
            w.send(with_auth(&[
                &format!("Bearer {keep}"),
                &format!("Bearer {keep}"),
            ]))
            .await,
        ),
    ];
    for (case, r) in cases {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}: {}", r.body);
        assert_eq!(r.body["detail"], "invalid token", "{case}: {}", r.body);
        assert_eq!(
            r.header("www-authenticate"),
            "Bearer realm=\"portcullis\", error=\"invalid_token\"",
            "{case}"
        );
    }
    // The caller's own token still works.
    assert_eq!(w.sessions(&keep).await.len(), 1);
}

#[tokio::test]
async fn an_ended_session_fails_on_both_apis() {
    let w = world().await;
    w.user("ann@example.com").await;
    let keep = w.login("ann@example.com", PW).await.expect("login");
    let doomed = w.login("ann@example.com", PW).await.expect("login");
    let third = w.login("ann@example.com", PW).await.expect("login");
    assert_eq!(w.get(PROFILE, &doomed).await.status, StatusCode::OK);
    let sid = w.principal(&doomed).await.session().cloned().expect("sid");

    let r = w
        .delete(&format!("/account/v1/sessions/{}", sid.0), &keep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w.get(PROFILE, &doomed).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "Nominal refuses it");
    assert_eq!(r.body["errorName"], "Authorization:NotAuthorized");
    w.get("/account/v1/sessions", &doomed)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    // Ending it again is fine (idempotent); the survivors still work.
    let r = w
        .delete(&format!("/account/v1/sessions/{}", sid.0), &keep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(w.sessions(&keep).await.len(), 2);

    // End the others: the third ends, the caller's stays.
    let r = w
        .post("/account/v1/sessions/end-others", Some(&keep), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ended"], 1);
    assert_eq!(w.get(PROFILE, &third).await.status, StatusCode::FORBIDDEN);
    assert_eq!(w.get(PROFILE, &keep).await.status, StatusCode::OK);
    let left = w.sessions(&keep).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
}

#[tokio::test]
async fn another_users_session_is_not_found() {
    let w = world().await;
    w.user("ann@example.com").await;
    w.user("bob@example.com").await;
    let ann = w.login("ann@example.com", PW).await.expect("login");
    let bob = w.login("bob@example.com", PW).await.expect("login");
    let bob_sid = w.principal(&bob).await.session().cloned().expect("sid");

    let theirs = w
        .delete(&format!("/account/v1/sessions/{}", bob_sid.0), &ann)
        .await;
    let detail = theirs.problem(StatusCode::NOT_FOUND, "not_found");
    let unknown = w.delete("/account/v1/sessions/no-such-session", &ann).await;
    assert_eq!(unknown.problem(StatusCode::NOT_FOUND, "not_found"), detail);
    let long = w
        .delete(&format!("/account/v1/sessions/{}", "x".repeat(200)), &ann)
        .await;
    assert_eq!(long.problem(StatusCode::NOT_FOUND, "not_found"), detail);
    assert_eq!(w.get(PROFILE, &bob).await.status, StatusCode::OK);
}

#[tokio::test]
async fn changing_the_password_over_http() {
    let w = world().await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let other = w.login("ann@example.com", PW).await.expect("login");

    let r = w.change_password(&me, "wrong one!", NEW_PW, true).await;
    let detail = r.problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(detail.contains("current password"), "{detail}");
    for (weak, why) in [
        ("short", "at least 8 characters"),
        ("password123", "most common passwords"),
        ("ann@example.com", "email"),
        (PW, "differ"),
    ] {
        let r = w.change_password(&me, PW, weak, true).await;
        let detail = r.problem(StatusCode::BAD_REQUEST, "invalid_argument");
        assert!(detail.contains(why), "{weak}: {detail}");
    }
    let r = w.change_password(&me, PW, &"y".repeat(1025), true).await;
    assert!(
        r.problem(StatusCode::BAD_REQUEST, "invalid_argument")
            .contains("1024 bytes")
    );
    // Malformed bodies are problems too.
    let r = w
        .post(
            "/account/v1/password",
            Some(&me),
            json!({"currentPassword": PW}),
        )
        .await;
    r.problem(StatusCode::BAD_REQUEST, "invalid_request");
    let req = Request::post("/account/v1/password")
        .header("authorization", format!("Bearer {me}"))
        .header("content-type", "text/plain")
        .body(Body::from("hello"))
        .expect("request");
    w.send(req)
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert_eq!(
        w.get(PROFILE, &other).await.status,
        StatusCode::OK,
        "nothing changed yet"
    );

    let r = w.change_password(&me, PW, NEW_PW, true).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        w.get(PROFILE, &other).await.status,
        StatusCode::FORBIDDEN,
        "other sessions ended"
    );
    assert_eq!(
        w.get(PROFILE, &me).await.status,
        StatusCode::OK,
        "the caller's stays"
    );
    assert!(
        w.login("ann@example.com", PW).await.is_err(),
        "the old password fails"
    );
    w.login("ann@example.com", NEW_PW)
        .await
        .expect("the new one works");
}

#[tokio::test]
async fn credentials_may_not_use_the_account_api() {
    let w = world().await;
    w.user("ann@example.com").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    let p = w.principal(&token).await;
    let (_, key) = w
        .engine
        .create_api_key(&p, "ci", None, &AuditContext::default())
        .await
        .expect("api key");
    let r = w.change_password(&key, PW, NEW_PW, false).await;
    r.problem(StatusCode::FORBIDDEN, "credential_not_allowed");
    w.get("/account/v1/sessions", &key)
        .await
        .problem(StatusCode::FORBIDDEN, "credential_not_allowed");
    w.login("ann@example.com", PW)
        .await
        .expect("password unchanged");
}

#[tokio::test]
async fn a_forced_reset_is_completed_with_the_one_time_code_without_revealing_accounts() {
    let w = world().await;
    w.user("ann@example.com").await;
    let old_session = w.login("ann@example.com", PW).await.expect("login");
    let reset = portcullis_core::admin::Admin::new(w.store.clone(), &config(), "test")
        .require_password_reset("ann@example.com", false)
        .await
        .expect("force reset");
    let code = reset.code.to_string();
    assert!(
        w.login("ann@example.com", PW).await.is_err(),
        "login refuses it"
    );
    w.engine
        .unlock("ann@example.com", &AuditContext::default())
        .await
        .expect("unlock");

    const PATH: &str = "/account/v1/password/reset-required";
    let body =
        |email: &str, code: &str| json!({"email": email, "resetCode": code, "newPassword": NEW_PW});
    let unknown = w.post(PATH, None, body("nobody@example.com", &code)).await;
    let wrong = w
        .post(PATH, None, body("ann@example.com", "wrong one!"))
        .await;
    // The old password alone does not do it.
    let old = w.post(PATH, None, body("ann@example.com", PW)).await;
    let a = unknown.problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let b = wrong.problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let c = old.problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(
        a == b && b == c,
        "the same answer for an unknown email and a wrong code"
    );
    let strip = |r: &Reply| {
        let mut v = r.body.clone();
        v["requestId"] = Value::Null;
        v
    };
    assert_eq!(strip(&unknown), strip(&wrong));
    // The old request shape is refused as such.
    let r = w
        .post(
            PATH,
            None,
            json!({"email": "ann@example.com", "currentPassword": PW, "newPassword": NEW_PW}),
        )
        .await;
    r.problem(StatusCode::BAD_REQUEST, "invalid_request");

    w.engine
        .unlock("ann@example.com", &AuditContext::default())
        .await
        .expect("unlock");
    let r = w.post(PATH, None, body(" ANN@example.com", &code)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        w.get(PROFILE, &old_session).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(w.login("ann@example.com", PW).await.is_err());
    let fresh = w
        .login("ann@example.com", NEW_PW)
        .await
        .expect("new password");
    assert_eq!(w.get(PROFILE, &fresh).await.status, StatusCode::OK);
    // Spent.
    let again = json!({"email": "ann@example.com", "resetCode": code, "newPassword": "a third long password"});
    w.post(PATH, None, again)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

/// A flagged account cannot log in with its password, but an IdP sign-in (the federation
/// crate's logins end in `finish_login`, `amr = ["fed"]`) is not refused by the flag. That
/// session must not replace the password with only the old one: 403, nothing changed.
#[tokio::test]
async fn a_user_flagged_for_a_reset_cannot_change_the_password_from_an_idp_session() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    let reset = portcullis_core::admin::Admin::new(w.store.clone(), &config(), "test")
        .require_password_reset("ann@example.com", false)
        .await
        .expect("force reset");
    let grant = w
        .engine
        .finish_login(
            ann.clone(),
            vec!["fed".into()],
            OrgChoice::Default,
            None,
            &AuditContext::default(),
        )
        .await
        .expect("an IdP sign-in");
    let idp = grant.token.token;
    let r = w.change_password(&idp, PW, NEW_PW, true).await;
    let detail = r.problem(StatusCode::FORBIDDEN, "forbidden");
    assert!(detail.contains("reset code"), "{detail}");
    let after = w.store.get_user(ann.id).await.expect("get").expect("user");
    assert!(after.password_reset_required, "still flagged");
    assert_eq!(
        after.password_hash, ann.password_hash,
        "the password is unchanged"
    );
    assert_eq!(
        w.get(PROFILE, &idp).await.status,
        StatusCode::OK,
        "no session ended"
    );
    // The code is the way out.
    let body = json!({"email": "ann@example.com", "resetCode": reset.code.to_string(), "newPassword": NEW_PW});
    let r = w
        .post("/account/v1/password/reset-required", None, body)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_by_default_and_can_revoke_credentials() {
    let w = world().await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let other = w.login("ann@example.com", PW).await.expect("login");
    let p = w.principal(&me).await;
    let (_, key) = w
        .engine
        .create_api_key(&p, "ci", None, &AuditContext::default())
        .await
        .expect("api key");
    let body = json!({"currentPassword": PW, "newPassword": NEW_PW, "revokeCredentials": true});
    let r = w.post("/account/v1/password", Some(&me), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    w.get("/account/v1/sessions", &other)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        w.get(PROFILE, &key).await.status,
        StatusCode::FORBIDDEN,
        "the API key is revoked"
    );
    assert_eq!(w.sessions(&me).await.len(), 1);
}

#[tokio::test]
async fn idle_sessions_are_refused_and_sessions_show_their_last_use() {
    let mut cfg = config();
    cfg.tokens.idle_timeout_secs = 900;
    let w = world_with(cfg).await;
    let ann = w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let sessions = w.sessions(&me).await;
    let s = &sessions[0];
    let last_seen: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(s["lastSeen"].clone()).expect("lastSeen");
    let idle: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(s["idleExpiresAt"].clone()).expect("idleExpiresAt");
    assert_eq!(idle - last_seen, chrono::Duration::seconds(900));

    // A session unused for two hours, whose token has not expired.
    let now = chrono::Utc::now();
    let stale = Session {
        id: SessionId::generate(),
        user_id: ann.id,
        org_id: w.org.id,
        kind: SessionKind::Login,
        amr: vec!["pwd".into()],
        actor_id: None,
        created_at: now - chrono::Duration::hours(2),
        expires_at: now + chrono::Duration::hours(1),
        idle_timeout_secs: Some(900),
        last_seen_at: now - chrono::Duration::hours(2),
        revoked_at: None,
        ip: None,
        user_agent: None,
    };
    w.store
        .create_session(stale.clone())
        .await
        .expect("session");
    assert_eq!(
        w.sessions(&me).await.len(),
        1,
        "an idle session is not listed as live"
    );
    let tokens = w.engine.access_tokens();
    let claims = tokens.claims(
        ann.id,
        w.org.id,
        &stale.id.0,
        now,
        stale.expires_at,
        vec!["pwd".into()],
        false,
    );
    let token = tokens.sign(&claims).expect("sign");
    let d = w
        .get("/account/v1/sessions", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(d, "invalid token", "the reason is not told");
    assert_eq!(w.get(PROFILE, &token).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_revoked_signing_key_is_refused_at_once() {
    let w = world().await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    assert_eq!(w.sessions(&me).await.len(), 1);
    let kid = w.engine.access_tokens().keys().signing_kid();
    w.engine
        .revoke_signing_key(&kid, &AuditContext::default())
        .await
        .expect("revoke");
    let d = w
        .get("/account/v1/sessions", &me)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(d, "invalid token");
    let fresh = w.login("ann@example.com", PW).await.expect("login");
    assert_eq!(w.sessions(&fresh).await.len(), 2);
}

#[tokio::test]
async fn throttled_requests_get_429_with_retry_after() {
    // The per-account delay (default: 1 s after a failure), shared with logins.
    let w = world_with(CoreConfig::default()).await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let r = w.change_password(&me, "wrong one!", NEW_PW, false).await;
    r.problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = w.change_password(&me, PW, NEW_PW, false).await;
    r.problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "1");

    // The per-client-IP limit on the password endpoints.
    let mut cfg = config();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 1;
    let w = world_with(cfg).await;
    let body = json!({"email": "x@example.com", "resetCode": "a", "newPassword": NEW_PW});
    let first = w
        .post("/account/v1/password/reset-required", None, body.clone())
        .await;
    first.problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let second = w
        .post("/account/v1/password/reset-required", None, body)
        .await;
    second.problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let secs: u64 = second.header("retry-after").parse().expect("whole seconds");
    assert!(secs >= 1);
}

#[tokio::test]
async fn a_saturated_hashing_pool_gets_429_at_once_and_nothing_is_cached() {
    let mut cfg = config();
    cfg.passwords.hash_threads = 1;
    cfg.passwords.hash_queue = 1;
    let w = world_with(cfg).await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let hasher = w.engine.hasher().clone();
    let slow = portcullis_core::password::HashParams {
        memory_kib: 65536,
        iterations: 6,
        parallelism: 1,
    }
    .hash_blocking("slow")
    .expect("hash");
    let base = hasher.verifications();
    let mut busy = Vec::new();
    for queued in [0, 1] {
        let (h, slow) = (hasher.clone(), slow.clone());
        busy.push(tokio::spawn(
            async move { h.verify("x", Some(&slow)).await },
        ));
        for _ in 0..5000 {
            if hasher.verifications() == base + 1 && hasher.queued() == queued {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        w.change_password(&me, PW, NEW_PW, false),
    )
    .await
    .expect("answered at once");
    r.problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("pragma"), "no-cache");
    for b in busy {
        b.await.expect("task").expect("verify");
    }
    // Nominal's token and API-key routes are not cached either.
    let r = w
        .post(
            "/api/api-key-internal/v1/access-token",
            None,
            json!({"apiKey": "nope"}),
        )
        .await;
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("pragma"), "no-cache");
    let r = w
        .post("/api/authorization/v1/api-key", Some(&me), json!({}))
        .await;
    assert_eq!(r.header("cache-control"), "no-store");
}

/// `GET /account/v1/sessions/current`: a resource server's online check of a bearer (issue 15,
/// item 5). 200 with what the bearer stands for while it is valid; the usual 401 once its
/// session has ended, although the token itself has not expired.
#[tokio::test]
async fn the_current_session_check_answers_until_the_session_ends() {
    const CURRENT: &str = "/account/v1/sessions/current";
    let mut cfg = config();
    cfg.tokens.idle_timeout_secs = 900;
    let w = world_with(cfg).await;
    let ann = w.user("ann@example.com").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    let sid = w.principal(&token).await.session().cloned().expect("sid");
    let r = w.get(CURRENT, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    let b = &r.body;
    assert_eq!(b["active"], true);
    assert_eq!(b["id"], sid.0);
    assert_eq!(b["kind"], "login");
    assert_eq!(b["userId"], ann.id.to_string());
    assert_eq!(b["orgId"], w.org.id.to_string());
    assert_eq!(b["credentialId"], Value::Null);
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a timestamp")).expect("rfc 3339")
    };
    let idle = parse(&b["idleExpiresAt"]) - chrono::Utc::now().fixed_offset();
    assert!(
        idle.num_seconds() > 890 && idle.num_seconds() <= 900,
        "{idle}"
    );
    assert!(parse(&b["expiresAt"]) > parse(&b["idleExpiresAt"]));

    // An API key answers as itself: no session, no idle deadline.
    let key = w
        .call(
            Method::POST,
            "/api/authorization/v1/api-key",
            Some(&token),
            Some(json!({"apiKeyName": "ci", "expiresAfterDays": 1})),
        )
        .await;
    let secret = key.body["apiKeyValue"].as_str().expect("a key").to_owned();
    let r = w.get(CURRENT, &secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (&r.body["kind"], &r.body["id"]),
        (&json!("credential"), &Value::Null)
    );
    assert!(r.body["credentialId"].is_string());
    assert_eq!(r.body["idleExpiresAt"], Value::Null);

    // Logout: the token is still unexpired, but the check says no.
    w.engine
        .logout(&token, &AuditContext::default())
        .await
        .expect("logout");
    w.get(CURRENT, &token)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    w.call(Method::GET, CURRENT, None, None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

/// Unknown API-key bearers are charged to the per-IP limit here too (issue 15, item 8).
#[tokio::test]
async fn unknown_api_key_bearers_get_429_once_the_ip_limit_is_spent() {
    let mut cfg = config();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 2;
    let w = world_with(cfg).await;
    for i in 0..2 {
        w.get("/account/v1/sessions", &format!("nominal_api_key_guess{i}"))
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let r = w
        .get("/account/v1/sessions", "nominal_api_key_guess9")
        .await;
    r.problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(!r.header("retry-after").is_empty());
}
