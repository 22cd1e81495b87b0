//! The Parsable surface through its real router, with a real engine on a temp SQLite store.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis_core::certs::CertificateAuthority;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::Engine;
use portcullis_core::model::*;
use portcullis_core::store::Store;
use portcullis_edge::ClientIp;
use portcullis_parsable::router;
use portcullis_parsable::wire::{self, Encoding};
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "../../../federation/tests/support/mod.rs"]
mod fed_support;

const PW: &str = "a long enough password 1";

struct Env {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    app: Router,
    ca: Option<Arc<CertificateAuthority>>,
    _dir: tempfile::TempDir,
}

fn test_config() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    cfg
}

async fn env() -> Env {
    env_with(test_config(), false).await
}

async fn env_with(cfg: CoreConfig, with_ca: bool) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let store = portcullis_store::open(path.to_str().expect("utf-8 path"))
        .await
        .expect("store");
    store
        .upsert_region(cfg.region.clone())
        .await
        .expect("region");
    let mut cfg = cfg;
    cfg.certificates.enabled = with_ca;
    let engine = Engine::start(store.clone(), cfg, MasterKey::generate())
        .await
        .expect("engine");
    let ca = engine.certificate_authority().cloned();
    let app = router(engine.clone(), None);
    Env {
        engine,
        store,
        app,
        ca,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn ct(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Env {
    async fn user(&self, email: &str, super_admin: bool) -> User {
        let hash = self.engine.hasher().hash(PW).await.expect("hash");
        self.store
            .create_user(NewUser {
                email: email.into(),
                display_name: email.split('@').next().unwrap_or("x").to_string(),
                avatar_url: None,
                password_hash: Some(hash),
                validated_at: Some(chrono::Utc::now()),
                super_admin,
            })
            .await
            .expect("user")
    }

    async fn org(&self, name: &str) -> Org {
        self.store
            .create_org(NewOrg {
                name: name.into(),
                display_name: None,
                region_id: self.engine.config().region.id.clone(),
            })
            .await
            .expect("org")
    }

    async fn member(&self, user: &User, org: &Org, roles: &[Role]) {
        let roles: BTreeSet<Role> = roles.iter().copied().collect();
        self.store
            .upsert_membership(user.id, org.id, roles, MembershipKind::Member)
            .await
            .expect("membership");
    }

    /// A user who is a member of a fresh team with `roles`.
    async fn member_user(&self, email: &str, roles: &[Role]) -> (User, Org) {
        let u = self.user(email, false).await;
        let o = self.org(&format!("team-{email}")).await;
        self.member(&u, &o, roles).await;
        (u, o)
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.expect("router");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut b = Request::post("/api/auth");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::from(body)).expect("request")).await
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
        assert_eq!(
            r.headers.get("wi-thrift-version").map(|v| v.as_bytes()),
            Some(&b"1.22.13"[..])
        );
        r.json()
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

fn roles_of(lr: &Value, org: &Org) -> Value {
    lr["teamIdToTeamRole"][org.id.to_string()].clone()
}

// ---- login ---------------------------------------------------------------------------------

#[tokio::test]
async fn login_fills_the_login_result() {
    let e = env().await;
    let (u, o) = e
        .member_user("ann@example.com", &[Role::Executor, Role::Admin])
        .await;
    let o2 = e.org("second").await;
    e.member(&u, &o2, &[Role::Executor]).await;
    e.store
        .update_team_settings(
            o.id,
            &[
                ("flag".into(), Some(json!({"type": "bool", "value": true}))),
                (
                    "color".into(),
                    Some(json!({"type": "text", "value": "red"})),
                ),
            ],
            10,
        )
        .await
        .expect("settings");
    e.store
        .put_settings(
            SettingsScope::User(u.id),
            SettingsNamespace::Parsable,
            json!({"color": {"type": "text", "value": "blue"}, "tags": {"type": "stringList", "value": ["a"]}}),
        )
        .await
        .expect("settings");
    let lr = e.login("Ann@Example.com").await;
    let tid = o.id.to_string();
    assert!(lr["authToken"].as_str().is_some_and(|t| !t.contains(' ')));
    assert_eq!(lr["currentUser"]["id"], u.id.to_string());
    assert_eq!(lr["currentUser"]["email"], "ann@example.com");
    assert_eq!(roles_of(&lr, &o), json!([1, 4]));
    assert_eq!(roles_of(&lr, &o2), json!([4]));
    assert_eq!(lr["teamIdToRegionId"][&tid], "local");
    assert_eq!(lr["regionIdToRegion"]["local"]["apiHost"], "127.0.0.1:8080");
    assert_eq!(lr["preferredRegionId"], "local");
    let p = &lr["periods"];
    let expiry = p["expiry"].as_i64().unwrap_or(0);
    assert!((30 * 86_400 - 5..=30 * 86_400).contains(&expiry), "{p}");
    assert_eq!(p["lockout"], expiry);
    assert_eq!(p["warning"], expiry - 3 * 86_400);
    assert_eq!(p["dump"], 0);
    // ADMIN gets every flag; EXECUTOR only job and step flags.
    let admin_perms = &lr["teamIdToJobPermissions"][&tid];
    assert_eq!(admin_perms["user"]["inviteUsers"], true);
    assert_eq!(admin_perms["issue"]["create"], true);
    let exec_perms = &lr["teamIdToJobPermissions"][o2.id.to_string()];
    assert_eq!(exec_perms["editTitle"], true);
    assert_eq!(exec_perms["step"]["completeSteps"], true);
    assert_eq!(exec_perms["user"]["inviteUsers"], false);
    // Org settings merged with the user's overrides.
    let info = &lr["teamIdToInfo"][&tid];
    assert_eq!(info["boolSettings"], json!({"flag": true}));
    assert_eq!(info["textSettings"], json!({"color": "blue"}));
    assert_eq!(info["stringListSettings"], json!({"tags": ["a"]}));
    assert_eq!(
        lr["teamIdToInfo"][o2.id.to_string()]["textSettings"],
        json!({"color": "blue"})
    );
    assert!(info.get("priorities").is_none());
    assert!(!lr["sessionId"].as_str().unwrap_or("").is_empty());
    let m = &lr["currentUserModular"]["teamIdToMembership"][&tid];
    assert_eq!(m["roles"], json!([1, 4]));
    assert_eq!(m["removedAt"], 0);
    assert!(m["addedAt"].as_i64().unwrap_or(0) > 1_600_000_000);
    assert!(lr.get("mothershipCertificate").is_none());
    assert!(lr.get("userCertificate").is_none());
    assert!(lr.get("proxyUserEmail").is_none());
    assert!(lr.get("userPinHash").is_none());
}

#[tokio::test]
async fn job_permission_overrides_from_the_store() {
    let e = env().await;
    let (_, o) = e.member_user("jo@example.com", &[Role::Executor]).await;
    let only = JobPermissions {
        complete: true,
        ..JobPermissions::default()
    };
    e.store
        .set_job_permissions(o.id, Role::Executor, Some(only))
        .await
        .expect("perms");
    let lr = e.login("jo@example.com").await;
    let p = &lr["teamIdToJobPermissions"][o.id.to_string()];
    assert_eq!(p["complete"], true);
    assert_eq!(p["editTitle"], false);
}

/// Settings, priorities and a job-permission override set through the admin operations (the
/// CLI's and the HTTP admin route's path) appear in the LoginResult in all three encodings.
#[tokio::test]
async fn admin_team_settings_reach_every_encoding() {
    let e = env().await;
    let (u, o) = e.member_user("set@example.com", &[Role::Executor]).await;
    let admin = portcullis_core::admin::Admin::new(e.store.clone(), e.engine.config(), "test");
    let org = o.id.to_string();
    admin
        .update_team_settings(
            &org,
            &[
                ("flag".into(), Some(json!({"type": "bool", "value": true}))),
                ("motto".into(), Some(json!({"type": "text", "value": "go"}))),
                (
                    "mode".into(),
                    Some(json!({"type": "option", "value": "strict"})),
                ),
                (
                    "tags".into(),
                    Some(json!({"type": "stringList", "value": ["a", "b"]})),
                ),
                (
                    "owners".into(),
                    Some(json!({"type": "referenceList", "value": [
                        {"id": u.id.to_string(), "kind": "user", "label": "Set"},
                        {"id": "sheet-1", "kind": "data_sheet"}
                    ]})),
                ),
            ],
        )
        .await
        .expect("settings");
    admin
        .set_team_priorities(
            &org,
            Some(&json!([{"priority": 1, "title": "High"}, {"priority": 9, "title": "Low"}])),
        )
        .await
        .expect("priorities");
    let only = JobPermissions {
        complete: true,
        ..JobPermissions::default()
    };
    admin
        .set_team_job_permissions(&org, "executor", Some(only))
        .await
        .expect("job permissions");

    let lr = e.login("set@example.com").await;
    let info = &lr["teamIdToInfo"][&org];
    assert_eq!(info["boolSettings"], json!({"flag": true}));
    assert_eq!(info["textSettings"], json!({"motto": "go"}));
    assert_eq!(info["optionSettings"], json!({"mode": "strict"}));
    assert_eq!(info["stringListSettings"], json!({"tags": ["a", "b"]}));
    assert_eq!(
        info["referenceListSettings"]["owners"],
        json!([{"id": u.id.to_string(), "kind": "user", "label": "Set"}, {"id": "sheet-1", "kind": "data_sheet"}])
    );
    let prios = info["priorities"].as_array().expect("priorities");
    assert_eq!(prios.len(), 2);
    assert_eq!(
        (prios[0]["title"].clone(), prios[0]["priority"].clone()),
        (json!("High"), json!(1))
    );
    assert_eq!(prios[1]["archivedAt"], 0);
    let perms = &lr["teamIdToJobPermissions"][&org];
    assert_eq!(perms["complete"], true);
    assert_eq!(perms["editTitle"], false);
    assert_eq!(perms["step"]["completeSteps"], false);

    let args = wire::LoginArgs {
        email: "set@example.com".into(),
        password: PW.into(),
        options: wire::LoginOptions::default(),
    };
    for (enc, body, ct) in [
        (
            Encoding::Compact,
            compact_call("login", 1, &args),
            wire::CT_MOTHERSHIP_COMPACT,
        ),
        (Encoding::TJson, tjson_call("login", &args), wire::CT_TJSON),
    ] {
        let r = e.post(&[("content-type", ct)], body).await;
        let (_, _, reply) = decode_login_reply(enc, &r.body);
        let lr = reply.success.expect("success");
        let info = &lr.team_id_to_info[&org];
        assert_eq!(info.bool_settings.get("flag"), Some(&true));
        assert_eq!(
            info.option_settings.get("mode").map(String::as_str),
            Some("strict")
        );
        let owners = &info.reference_list_settings["owners"];
        assert_eq!(owners[0].kind.as_deref(), Some("user"));
        assert_eq!(owners[1].label, None);
        let prios = info.priorities.as_ref().expect("priorities");
        assert_eq!(
            prios.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(),
            ["High", "Low"]
        );
        assert!(lr.team_id_to_job_permissions[&org].complete);
        assert!(!lr.team_id_to_job_permissions[&org].edit_title);
    }

    // Cleared again: no priorities field, the configured role table is back.
    admin.set_team_priorities(&org, None).await.expect("clear");
    admin
        .set_team_job_permissions(&org, "EXECUTOR", None)
        .await
        .expect("clear");
    let lr = e.login("set@example.com").await;
    assert!(lr["teamIdToInfo"][&org].get("priorities").is_none());
    assert_eq!(lr["teamIdToJobPermissions"][&org]["editTitle"], true);
}

#[tokio::test]
async fn bad_credentials_share_one_answer() {
    let e = env().await;
    e.member_user("bob@example.com", &[Role::Author]).await;
    let nopw = e
        .store
        .create_user(NewUser {
            email: "nopw@example.com".into(),
            display_name: "No".into(),
            avatar_url: None,
            password_hash: None,
            validated_at: None,
            super_admin: false,
        })
        .await
        .expect("user");
    let _ = nopw;
    let mut ids = BTreeSet::new();
    for (email, pw) in [
        ("bob@example.com", "wrong password here"),
        ("nobody@example.com", PW),
        ("nopw@example.com", PW),
        ("bob@example.com", ""),
    ] {
        let (code, err) = e
            .err("login", json!({"email": email, "password": pw}), None)
            .await;
        assert_eq!(code, 401);
        assert_eq!(err["message"], "Invalid email or password");
        assert_eq!(err["slug"], "invalid-credentials");
        ids.insert(err["rqId"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(ids.len(), 4, "every err gets a fresh rqId");
    let (code, _) = e
        .err("login", json!({"email": "  ", "password": PW}), None)
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn login_without_a_team_is_476() {
    let e = env().await;
    e.user("lonely@example.com", false).await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": "lonely@example.com", "password": PW}),
            None,
        )
        .await;
    assert_eq!(code, 476);
    assert_eq!(err["slug"], "no-team");
}

/// PARSABLE §8: with 0 active teams, loginWithTeamSelect answers a loginResult (a session of
/// no team, empty team maps), not err 476; the token then works like any session token.
#[tokio::test]
async fn team_select_without_a_team_gives_a_login_result() {
    let e = env().await;
    let u = e.user("solo@example.com", false).await;
    // A removed membership and a disabled team count as no team.
    let gone = e.org("gone").await;
    e.member(&u, &gone, &[Role::Admin]).await;
    let uc = portcullis_core::use_cases::UseCaseCtx::direct(e.store.as_ref());
    portcullis_core::use_cases::set_membership_deactivated(&uc, u.id, gone.id, true, json!({}))
        .await
        .expect("deactivate");
    let args = json!({"email": "solo@example.com", "password": PW});
    let r = e.ok("loginWithTeamSelect", args.clone(), None).await;
    assert!(r.get("teamInfo").is_none(), "{r}");
    let lr = &r["loginResult"];
    let token = lr["authToken"].as_str().expect("token").to_string();
    assert!(!token.is_empty());
    assert!(!lr["sessionId"].as_str().unwrap_or("").is_empty());
    assert_eq!(lr["currentUser"]["id"], u.id.to_string());
    for field in [
        "teamIdToTeamRole",
        "teamIdToRegionId",
        "regionIdToRegion",
        "teamIdToJobPermissions",
        "teamIdToInfo",
    ] {
        assert_eq!(lr[field], json!({}), "{field}");
    }
    assert_eq!(lr["currentUserModular"]["teamIdToMembership"], json!({}));
    assert_eq!(lr["preferredRegionId"], "local");
    assert!(lr["periods"]["expiry"].as_i64().unwrap_or(0) > 29 * 86_400);

    // The token is a real session token of no team.
    let me = e.ok("getCurrentUser", json!({}), Some(&token)).await;
    assert_eq!(me["email"], "solo@example.com");
    let (code, _) = e
        .err(
            "createTeamToken",
            json!({"teamId": gone.id.to_string()}),
            Some(&token),
        )
        .await;
    assert_eq!(code, 476);
    // Added to a team later, a refresh shows it and a team token can be had.
    let team = e.org("later").await;
    e.member(&u, &team, &[Role::Executor]).await;
    let lr = e.ok("refresh", json!({}), Some(&token)).await;
    assert_eq!(roles_of(&lr, &team), json!([4]));
    let tt = e
        .ok(
            "createTeamToken",
            json!({"teamId": team.id.to_string()}),
            Some(&token),
        )
        .await;
    assert_eq!(tt["sessionId"], lr["sessionId"]);
    // Logout ends it.
    e.ok("logout", json!({}), Some(&token)).await;
    assert_eq!(e.err("refresh", json!({}), Some(&token)).await.0, 497);
    // Plain login still needs a team (§6: caller not a member → 476), as before.
    let lonely = e.user("lonely2@example.com", false).await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": lonely.email, "password": PW}),
            None,
        )
        .await;
    assert_eq!((code, err["slug"].as_str()), (476, Some("no-team")));
    // A super-admin's proxy team-select for a target on no team: a loginResult for the target.
    e.user("root9@example.com", true).await;
    let r = e
        .ok(
            "loginWithTeamSelect",
            json!({"email": "root9@example.com", "password": PW,
                   "options": {"proxiedUserEmail": "lonely2@example.com"}}),
            None,
        )
        .await;
    assert_eq!(
        r["loginResult"]["currentUser"]["email"],
        "lonely2@example.com"
    );
    assert_eq!(r["loginResult"]["proxyUserEmail"], "root9@example.com");
    assert_eq!(r["loginResult"]["teamIdToTeamRole"], json!({}));
}

#[tokio::test]
async fn team_select_then_team_token() {
    let e = env().await;
    let u = e.user("multi@example.com", false).await;
    let zeta = e.org("zeta").await;
    let alpha = e.org("alpha").await;
    e.member(&u, &zeta, &[Role::Author]).await;
    e.member(&u, &alpha, &[Role::Admin]).await;
    let args = json!({"email": "multi@example.com", "password": PW});
    let r = e.ok("loginWithTeamSelect", args.clone(), None).await;
    assert!(r.get("loginResult").is_none());
    assert_eq!(
        r["teamInfo"],
        json!([{"name": "alpha", "teamId": alpha.id.to_string()},
               {"name": "zeta", "teamId": zeta.id.to_string()}])
    );
    let sessions = e
        .store
        .list_user_sessions(u.id, true, chrono::Utc::now())
        .await
        .expect("sessions");
    assert!(sessions.is_empty(), "no token issued for a team choice");

    // The client then logs in and exchanges for a team token.
    let lr = e.ok("login", args, None).await;
    let token = lr["authToken"].as_str().unwrap_or_default().to_string();
    let tt = e
        .ok(
            "createTeamToken",
            json!({"teamId": zeta.id.to_string()}),
            Some(&token),
        )
        .await;
    assert_ne!(tt["authToken"], lr["authToken"]);
    assert_eq!(tt["sessionId"], lr["sessionId"]);
    let keys: Vec<&String> = tt["teamIdToTeamRole"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec![&zeta.id.to_string()]);
    let d = tt["periods"]["expiry"].as_i64().unwrap_or(0)
        - lr["periods"]["expiry"].as_i64().unwrap_or(0);
    assert!(d.abs() <= 2, "same expiry");
    // The team token refreshes to one team and works for a further exchange.
    let team_token = tt["authToken"].as_str().unwrap_or_default().to_string();
    let rf = e.ok("refresh", json!({}), Some(&team_token)).await;
    assert_eq!(rf["authToken"], tt["authToken"]);
    assert_eq!(rf["teamIdToTeamRole"].as_object().map(|m| m.len()), Some(1));
    e.ok(
        "createTeamToken",
        json!({"teamId": alpha.id.to_string()}),
        Some(&team_token),
    )
    .await;
    // Logging out through the team token ends the whole session.
    e.ok("logout", json!({}), Some(&team_token)).await;
    let (code, _) = e.err("refresh", json!({}), Some(&token)).await;
    assert_eq!(code, 497);
}

#[tokio::test]
async fn team_select_with_one_team_logs_in() {
    let e = env().await;
    e.member_user("one@example.com", &[Role::Author]).await;
    let r = e
        .ok(
            "loginWithTeamSelect",
            json!({"email": "one@example.com", "password": PW}),
            None,
        )
        .await;
    assert!(r.get("teamInfo").is_none());
    assert!(r["loginResult"]["authToken"].as_str().is_some());
    let (code, _) = e
        .err(
            "loginWithTeamSelect",
            json!({"email": "one@example.com", "password": "nope nope nope"}),
            None,
        )
        .await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn create_team_token_errors() {
    let e = env().await;
    let (_, _o) = e.member_user("ct@example.com", &[Role::Author]).await;
    let other = e.org("other").await;
    let disabled = e.org("disabled").await;
    let u = e
        .store
        .get_user_by_email("ct@example.com")
        .await
        .expect("get")
        .expect("user");
    e.member(&u, &disabled, &[Role::Author]).await;
    let uc = portcullis_core::use_cases::UseCaseCtx::direct(e.store.as_ref());
    portcullis_core::use_cases::set_org_disabled(&uc, disabled.id, true, json!({}))
        .await
        .expect("disable");
    let t = e.token("ct@example.com").await;
    let cases = [
        (json!({"teamId": uuid::Uuid::new_v4().to_string()}), 404),
        (json!({"teamId": "not-a-team"}), 404),
        (json!({"teamId": " "}), 400),
        (json!({}), 400),
        (json!({"teamId": other.id.to_string()}), 476),
        (json!({"teamId": disabled.id.to_string()}), 403),
    ];
    for (args, want) in cases {
        let (code, _) = e.err("createTeamToken", args.clone(), Some(&t)).await;
        assert_eq!(code, want, "{args}");
    }
    let tid = json!({"teamId": other.id.to_string()});
    assert_eq!(e.err("createTeamToken", tid.clone(), None).await.0, 401);
    assert_eq!(
        e.err("createTeamToken", tid.clone(), Some("garbage"))
            .await
            .0,
        497
    );
}

#[tokio::test]
async fn authorization_header_forms() {
    let e = env().await;
    e.member_user("hdr@example.com", &[Role::Author]).await;
    let t = e.token("hdr@example.com").await;
    let body = json!({"method": "getCurrentUser"}).to_string().into_bytes();
    for (value, want_err) in [
        (format!("token   {t}"), None),
        (format!("TOKEN {t}"), None),
        (format!("Bearer {t}"), Some(497)),
        (String::new(), Some(401)),
        ("Token ".to_string(), Some(401)),
    ] {
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("authorization", value.as_str()),
                ],
                body.clone(),
            )
            .await;
        let v = r.json();
        match want_err {
            None => assert_eq!(
                v["result"]["success"]["email"], "hdr@example.com",
                "{value}"
            ),
            Some(c) => assert_eq!(v["result"]["err"]["errorCode"], c, "{value}"),
        }
    }
    // A function that needs no token ignores even an invalid header.
    let r = e
        .post(
            &[
                ("content-type", "application/json"),
                ("authorization", "Bogus"),
            ],
            json!({"method": "startLogin", "arguments": {"email": "x@y.z"}})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert!(r.json()["result"]["success"]["passwordAuth"].is_object());
}

// ---- tokens ----------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_and_login_with_token_reread_roles() {
    let e = env().await;
    let (u, o) = e.member_user("rr@example.com", &[Role::Executor]).await;
    let lr = e.login("rr@example.com").await;
    let t = lr["authToken"].as_str().unwrap_or_default().to_string();
    e.member(&u, &o, &[Role::Admin, Role::Executor]).await;
    let rf = e.ok("refresh", json!({}), Some(&t)).await;
    assert_eq!(rf["authToken"], lr["authToken"]);
    assert_eq!(rf["sessionId"], lr["sessionId"]);
    assert_eq!(roles_of(&rf, &o), json!([1, 4]));
    assert!(
        (rf["periods"]["expiry"].as_i64().unwrap_or(0)
            - lr["periods"]["expiry"].as_i64().unwrap_or(0))
        .abs()
            <= 2
    );
    // loginWithToken reads its argument and ignores the header.
    let lt = e
        .ok("loginWithToken", json!({"authToken": t}), Some("junk"))
        .await;
    assert_eq!(lt["authToken"], lr["authToken"]);
    assert_eq!(lt["sessionId"], lr["sessionId"]);
    assert_eq!(
        e.err("loginWithToken", json!({}), Some(&t)).await.0,
        497,
        "missing argument"
    );
    assert_eq!(
        e.err(
            "loginWithToken",
            json!({"authToken": "forged.token.x"}),
            None
        )
        .await
        .0,
        497
    );
    assert_eq!(e.err("refresh", json!({}), None).await.0, 401);
    assert_eq!(e.err("getCurrentUser", json!({}), None).await.0, 401);
}

#[tokio::test]
async fn expired_tokens_are_498_and_logout_stays_idempotent() {
    let mut cfg = test_config();
    cfg.tokens.session_secs = 1;
    cfg.tokens.leeway_secs = 0;
    let e = env_with(cfg, false).await;
    e.member_user("exp@example.com", &[Role::Author]).await;
    let t = e.token("exp@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (code, err) = e.err("refresh", json!({}), Some(&t)).await;
    assert_eq!(code, 498);
    assert_eq!(err["slug"], "token-expired");
    assert_eq!(
        e.err("loginWithToken", json!({"authToken": t}), None)
            .await
            .0,
        498
    );
    assert_eq!(e.err("getCurrentUser", json!({}), Some(&t)).await.0, 498);
    e.ok("logout", json!({}), Some(&t)).await;
}

#[tokio::test]
async fn logout_rules() {
    let e = env().await;
    e.member_user("lo@example.com", &[Role::Author]).await;
    let t = e.token("lo@example.com").await;
    e.ok("getCurrentUser", json!({}), Some(&t)).await;
    let v = e.call("logout", json!({}), Some(&t)).await;
    assert_eq!(v, json!({"method": "logout", "result": {}}));
    assert_eq!(e.err("getCurrentUser", json!({}), Some(&t)).await.0, 497);
    assert_eq!(e.err("refresh", json!({}), Some(&t)).await.0, 497);
    e.ok("logout", json!({}), Some(&t)).await;
    assert_eq!(e.err("logout", json!({}), None).await.0, 401);
    assert_eq!(e.err("logout", json!({}), Some("x.y.z")).await.0, 497);
}

#[tokio::test]
async fn get_current_user() {
    let e = env().await;
    let (u, _) = e.member_user("me@example.com", &[Role::Author]).await;
    let t = e.token("me@example.com").await;
    let me = e.ok("getCurrentUser", json!({}), Some(&t)).await;
    assert_eq!(me["id"], u.id.to_string());
    assert_eq!(me["email"], "me@example.com");
    assert_eq!(me["name"], "me");
}

// ---- proxy login -------------------------------------------------------------------------------

#[tokio::test]
async fn proxy_login_by_a_super_admin() {
    let e = env().await;
    let admin = e.user("root@example.com", true).await;
    let (target, o) = e.member_user("tgt@example.com", &[Role::Author]).await;
    e.member(&admin, &o, &[Role::Admin]).await;
    let lr = e
        .ok(
            "login",
            json!({"email": "root@example.com", "password": PW,
                   "options": {"proxiedUserEmail": "TGT@example.com", "userPrivateKey": "ignored"}}),
            None,
        )
        .await;
    assert_eq!(lr["currentUser"]["id"], target.id.to_string());
    assert_eq!(lr["proxyUserEmail"], "root@example.com");
    assert!(lr["periods"]["expiry"].as_i64().unwrap_or(i64::MAX) <= 3600);
    let t = lr["authToken"].as_str().unwrap_or_default().to_string();
    let me = e.ok("getCurrentUser", json!({}), Some(&t)).await;
    assert_eq!(me["email"], "tgt@example.com");
    let rf = e.ok("refresh", json!({}), Some(&t)).await;
    assert_eq!(rf["proxyUserEmail"], "root@example.com");
    assert!(rf["periods"]["expiry"].as_i64().unwrap_or(i64::MAX) <= 3600);
    let lt = e.ok("loginWithToken", json!({"authToken": t}), None).await;
    assert_eq!(lt["proxyUserEmail"], "root@example.com");
    // A proxy session has no super-admin rights.
    let (code, _) = e
        .err(
            "createPersistentAuth",
            json!({"userId": target.id.to_string()}),
            Some(&t),
        )
        .await;
    assert_eq!(code, 476);
}

#[tokio::test]
async fn proxy_login_refusals() {
    let e = env().await;
    e.user("root2@example.com", true).await;
    e.user("root3@example.com", true).await;
    e.member_user("plain@example.com", &[Role::Admin]).await;
    e.member_user("victim@example.com", &[Role::Author]).await;
    let proxy = |who: &str, target: &str| json!({"email": who, "password": PW, "options": {"proxiedUserEmail": target}});
    // A non-admin learns nothing: the same 476 for a real and an unknown target.
    for target in ["victim@example.com", "ghost@example.com"] {
        let (code, _) = e
            .err("login", proxy("plain@example.com", target), None)
            .await;
        assert_eq!(code, 476, "{target}");
    }
    assert_eq!(
        e.err(
            "login",
            proxy("root2@example.com", "ghost@example.com"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        e.err(
            "login",
            proxy("root2@example.com", "root3@example.com"),
            None
        )
        .await
        .0,
        476
    );
    assert_eq!(
        e.err(
            "loginWithTeamSelect",
            proxy("plain@example.com", "victim@example.com"),
            None
        )
        .await
        .0,
        476
    );
    let r = e
        .ok(
            "loginWithTeamSelect",
            proxy("root2@example.com", "victim@example.com"),
            None,
        )
        .await;
    assert_eq!(
        r["loginResult"]["currentUser"]["email"],
        "victim@example.com"
    );
    assert_eq!(r["loginResult"]["proxyUserEmail"], "root2@example.com");
}

// ---- persistent tokens -------------------------------------------------------------------------

#[tokio::test]
async fn persistent_token_lifecycle() {
    let e = env().await;
    let root = e.user("root@example.com", true).await;
    let (target, o) = e.member_user("bot@example.com", &[Role::Executor]).await;
    let (tadmin, _) = e.member_user("tadmin@example.com", &[Role::Author]).await;
    e.member(&tadmin, &o, &[Role::ParsableAdmin]).await;
    e.member(&root, &o, &[Role::Author]).await;
    let rt = e.token("root@example.com").await;
    let uid = json!({"userId": target.id.to_string()});
    let lr = e.ok("createPersistentAuth", uid.clone(), Some(&rt)).await;
    let secret = lr["authToken"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("nominal_api_key_"));
    assert_eq!(lr["currentUser"]["id"], target.id.to_string());
    assert_eq!(roles_of(&lr, &o), json!([4]));
    assert!(lr["periods"]["expiry"].as_i64().unwrap_or(0) > 300 * 86_400);
    // Usable as `Authorization: Token <secret>`.
    let me = e.ok("getCurrentUser", json!({}), Some(&secret)).await;
    assert_eq!(me["id"], target.id.to_string());
    let rf = e.ok("refresh", json!({}), Some(&secret)).await;
    assert_eq!(rf["authToken"], secret.as_str());
    assert_eq!(rf["sessionId"], lr["sessionId"]);
    e.ok("loginWithToken", json!({"authToken": secret}), None)
        .await;
    // Not exchangeable for a team token; not usable to mint more.
    assert_eq!(
        e.err(
            "createTeamToken",
            json!({"teamId": o.id.to_string()}),
            Some(&secret)
        )
        .await
        .0,
        497
    );
    assert_eq!(
        e.err("createPersistentAuth", uid.clone(), Some(&secret))
            .await
            .0,
        476
    );
    // Logout with a persistent token: success, no effect.
    e.ok("logout", json!({}), Some(&secret)).await;
    e.ok("getCurrentUser", json!({}), Some(&secret)).await;

    // Listed with metadata, never the token; by a team admin too.
    let args = json!({"teamId": o.id.to_string(),
                      "userIds": [target.id.to_string(), target.id.to_string(), "junk", uuid::Uuid::new_v4().to_string()]});
    let ta = e.token("tadmin@example.com").await;
    for tok in [&rt, &ta] {
        let list = e
            .ok("fetchPersistentAuthTokensMeta", args.clone(), Some(tok))
            .await;
        let list = list.as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 1, "{list:?}");
        let m = &list[0];
        assert_eq!(m["userId"], target.id.to_string());
        assert_eq!(m["creatorId"], root.id.to_string());
        assert_eq!(m["userEmail"], "bot@example.com");
        assert_eq!(m["creatorEmail"], "root@example.com");
        assert!(m["createdAt"].as_i64().unwrap_or(0) > 1_600_000_000);
        assert!(m.get("token").is_none());
        assert!(m.get("revokedAt").is_none());
    }

    // Creating again replaces the old token.
    let lr2 = e.ok("createPersistentAuth", uid.clone(), Some(&rt)).await;
    let secret2 = lr2["authToken"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        e.err("getCurrentUser", json!({}), Some(&secret)).await.0,
        497
    );
    e.ok("getCurrentUser", json!({}), Some(&secret2)).await;

    // Revoked, then refused; revoking again is fine.
    let v = e.call("revokePersistentAuth", uid.clone(), Some(&rt)).await;
    assert_eq!(v, json!({"method": "revokePersistentAuth", "result": {}}));
    assert_eq!(
        e.err("getCurrentUser", json!({}), Some(&secret2)).await.0,
        497
    );
    e.ok("revokePersistentAuth", uid.clone(), Some(&rt)).await;
    let list = e
        .ok("fetchPersistentAuthTokensMeta", args.clone(), Some(&rt))
        .await;
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2);
    for m in &list {
        assert!(m["revokedAt"].as_i64().is_some(), "{m}");
        assert_eq!(m["revokedById"], root.id.to_string());
        assert_eq!(m["revokedByEmail"], "root@example.com");
    }
}

/// fetchPersistentAuthTokensMeta by the org-binding rule: only the team's own credentials are
/// listed, and a persistent token or a team token lists its own team at most, with its
/// membership's rights, never a super-admin's.
#[tokio::test]
async fn persistent_token_metadata_stays_in_its_team() {
    let e = env().await;
    let root = e.user("root@example.com", true).await;
    let (bot, one) = e.member_user("bot@example.com", &[Role::Executor]).await;
    let two = e.org("two").await;
    e.member(&bot, &two, &[Role::Executor]).await;
    e.member(&root, &one, &[Role::Author]).await;
    // An AUTHOR of team one (their default) who is ADMIN of team two.
    let (both, _) = e.member_user("both@example.com", &[Role::Author]).await;
    e.member(&both, &two, &[Role::Admin]).await;
    let rt = e.token("root@example.com").await;
    let create = |u: &User| json!({"userId": u.id.to_string()});
    // bot's token is issued in team one, its default.
    e.ok("createPersistentAuth", create(&bot), Some(&rt)).await;
    let f = "fetchPersistentAuthTokensMeta";
    let of_bot = |t: &Org| json!({"teamId": t.id.to_string(), "userIds": [bot.id.to_string()]});
    let listed = |v: Value| v.as_array().map_or(0, Vec::len);
    assert_eq!(listed(e.ok(f, of_bot(&one), Some(&rt)).await), 1);
    let bt = e.token("both@example.com").await;
    assert_eq!(
        listed(e.ok(f, of_bot(&two), Some(&bt)).await),
        0,
        "team one's token is not team two's to list"
    );
    assert_eq!(listed(e.ok(f, of_bot(&two), Some(&rt)).await), 0);

    // Persistent tokens of team two's admin and of the super-admin, both issued in team one.
    let both_pt = e.ok("createPersistentAuth", create(&both), Some(&rt)).await["authToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let root_pt = e.ok("createPersistentAuth", create(&root), Some(&rt)).await["authToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let root_team = e
        .ok(
            "createTeamToken",
            json!({"teamId": one.id.to_string()}),
            Some(&rt),
        )
        .await["authToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for tok in [&both_pt, &root_pt, &root_team] {
        for team in [&one, &two] {
            assert_eq!(e.err(f, of_bot(team), Some(tok)).await.0, 476);
        }
    }
}

#[tokio::test]
async fn persistent_token_errors() {
    let e = env().await;
    let root = e.user("root@example.com", true).await;
    let (_, o) = e.member_user("member@example.com", &[Role::Author]).await;
    e.member(&root, &o, &[Role::Author]).await;
    let lone = e.user("lone@example.com", false).await;
    let rt = e.token("root@example.com").await;
    let mt = e.token("member@example.com").await;
    let member = e
        .store
        .get_user_by_email("member@example.com")
        .await
        .expect("get")
        .expect("user");
    let uid = json!({"userId": member.id.to_string()});
    for f in ["createPersistentAuth", "revokePersistentAuth"] {
        assert_eq!(e.err(f, uid.clone(), Some(&mt)).await.0, 476, "{f}");
        assert_eq!(e.err(f, uid.clone(), None).await.0, 401, "{f}");
        assert_eq!(
            e.err(
                f,
                json!({"userId": uuid::Uuid::new_v4().to_string()}),
                Some(&rt)
            )
            .await
            .0,
            404,
            "{f}"
        );
        assert_eq!(
            e.err(f, json!({"userId": "nope"}), Some(&rt)).await.0,
            404,
            "{f}"
        );
        assert_eq!(e.err(f, json!({}), Some(&rt)).await.0, 400, "{f}");
    }
    assert_eq!(
        e.err(
            "createPersistentAuth",
            json!({"userId": lone.id.to_string()}),
            Some(&rt)
        )
        .await
        .0,
        400,
        "a user on no team"
    );
    let f = "fetchPersistentAuthTokensMeta";
    let tid = o.id.to_string();
    assert_eq!(
        e.err(f, json!({"teamId": tid, "userIds": []}), Some(&mt))
            .await
            .0,
        476
    );
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    assert_eq!(
        e.err(f, json!({"teamId": tid, "userIds": many}), Some(&rt))
            .await
            .0,
        400
    );
    assert_eq!(
        e.err(
            f,
            json!({"teamId": uuid::Uuid::new_v4().to_string(), "userIds": []}),
            Some(&rt)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        e.err(f, json!({"teamId": "", "userIds": []}), Some(&rt))
            .await
            .0,
        400
    );
    let empty = e
        .ok(f, json!({"teamId": tid, "userIds": []}), Some(&rt))
        .await;
    assert_eq!(empty, json!([]));
}

// ---- startLogin, SSO, IdP ------------------------------------------------------------------------

#[tokio::test]
async fn start_login_is_the_same_for_everyone() {
    let e = env().await;
    e.member_user("known@example.com", &[Role::Author]).await;
    let a = e
        .ok("startLogin", json!({"email": "known@example.com"}), None)
        .await;
    let b = e
        .ok("startLogin", json!({"email": "unknown@example.com"}), None)
        .await;
    assert_eq!(a, json!({"passwordAuth": {}}));
    assert_eq!(a, b);
    assert_eq!(e.err("startLogin", json!({"email": ""}), None).await.0, 400);
}

#[tokio::test]
async fn sso_and_idp_until_federation() {
    let e = env().await;
    let sso = |p: Value| json!({"request": p});
    assert_eq!(
        e.err(
            "loginWithSSO",
            sso(json!({"provider": 2, "token": "t"})),
            None
        )
        .await
        .0,
        400
    );
    assert_eq!(
        e.err("loginWithSSO", sso(json!({"provider": 1})), None)
            .await
            .0,
        400
    );
    let (code, err) = e
        .err(
            "loginWithSSO",
            sso(json!({"provider": "OKTA", "token": "t"})),
            None,
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("not configured")
    );
    // A missing required provider is a protocol error.
    let v = e
        .call("loginWithSSO", sso(json!({"token": "t"})), None)
        .await;
    assert_eq!(v["exception"]["type"], 7);

    for f in ["loginWithIdp", "loginWithIdpAndTeamSelect"] {
        assert_eq!(e.err(f, json!({}), None).await.0, 401);
    }
    let idp = |method: &str, args: Value| {
        let body = json!({"method": method, "arguments": args}).to_string();
        (body, "Bearer upstream.jwt.token")
    };
    for (m, args, want) in [
        ("loginWithIdp", json!({}), 401),
        ("loginWithIdpAndTeamSelect", json!({}), 401),
        (
            "loginWithIdpAndTeam",
            json!({"teamId": uuid::Uuid::new_v4().to_string()}),
            401,
        ),
        ("loginWithIdpAndTeam", json!({"teamId": ""}), 400),
    ] {
        let (body, h) = idp(m, args);
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("idp-authorization", h),
                ],
                body.into_bytes(),
            )
            .await;
        let v = r.json();
        assert_eq!(v["result"]["err"]["errorCode"], want, "{m}: {v}");
        if want == 401 {
            assert_eq!(
                v["result"]["err"]["message"],
                "identity provider login is not configured"
            );
        }
    }
}

/// A federation with providers, none of them serving the address or signing the token: IdP logins
/// refuse the token (497), SSO without an okta provider is 400, startLogin stays password-only.
#[tokio::test]
async fn federation_with_an_unrelated_provider() {
    let mut e = env().await;
    let cfg = portcullis_federation::ProviderConfig::new(
        "corp",
        "https://login.corp.example",
        vec!["portcullis".into()],
    );
    let fed = portcullis_federation::Federation::new(vec![cfg], e.engine.clone()).expect("fed");
    e.app = router(e.engine.clone(), Some(Arc::new(fed)));
    let body = json!({"method": "loginWithIdp", "arguments": {}}).to_string();
    for token in [
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
    ] {
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("idp-authorization", token),
                ],
                body.clone().into_bytes(),
            )
            .await;
        let v = r.json();
        assert_eq!(v["result"]["err"]["errorCode"], 497, "{v}");
        assert_eq!(v["result"]["err"]["slug"], "invalid-token");
    }
    let (code, err) = e
        .err(
            "loginWithSSO",
            json!({"request": {"provider": 1, "token": "t"}}),
            None,
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("not configured")
    );
    assert_eq!(
        e.ok("startLogin", json!({"email": "a@corp.example"}), None)
            .await,
        json!({"passwordAuth": {}})
    );
}

/// startLogin's `webSSO`: only for a domain whose provider has browser SSO, a relative URL with a
/// fresh single-use start token (docs/design/browser-sso.md).
#[tokio::test]
async fn start_login_web_sso_only_when_configured() {
    let mut e = env().await;
    let mut plain = portcullis_federation::ProviderConfig::new(
        "plain",
        "http://127.0.0.1:9/plain",
        vec!["portcullis".into()],
    );
    plain.email_domains = vec!["plain.example".into()];
    let mut web = portcullis_federation::ProviderConfig::new(
        "web",
        "http://127.0.0.1:9/web",
        vec!["portcullis".into()],
    );
    web.email_domains = vec!["web.example".into()];
    web.browser_sso = Some(portcullis_federation::BrowserSsoConfig {
        client_id: None,
        client_secret_file: "/nonexistent/secret".into(),
        scopes: vec!["openid".into()],
    });
    let fed =
        portcullis_federation::Federation::new(vec![plain, web], e.engine.clone()).expect("fed");
    e.app = router(e.engine.clone(), Some(Arc::new(fed)));
    let v = e
        .ok("startLogin", json!({"email": "a@plain.example"}), None)
        .await;
    assert_eq!(v["isSSO"], false, "{v}");
    assert!(v.get("webSSO").is_none(), "{v}");
    let a = e
        .ok("startLogin", json!({"email": "a@web.example"}), None)
        .await;
    let b = e
        .ok("startLogin", json!({"email": "a@web.example"}), None)
        .await;
    assert_eq!(a["isSSO"], true, "{a}");
    let url = a["webSSO"]["url"].as_str().expect("webSSO.url").to_owned();
    let t = url
        .strip_prefix("/login/sso/start?t=")
        .expect("relative start URL");
    assert_ne!(
        Some(url.as_str()),
        b["webSSO"]["url"].as_str(),
        "one token per answer"
    );
    let ctx = portcullis_core::audit::AuditContext::default();
    let begin = e
        .engine
        .sso_begin(t, &ctx)
        .await
        .expect("a live start token");
    assert_eq!(begin.provider, "web");
    assert_eq!(begin.login_hint.as_deref(), Some("a@web.example"));
    assert!(e.engine.sso_begin(t, &ctx).await.is_err(), "single use");
}

/// `isMultiTeam` is the same for every address of an IdP domain (PARSABLE.md §8 ties it to the
/// account; this project answers `true` for everyone, see parsable-surface.md), so startLogin
/// tells nobody whether an address has an account or how many teams it is on.
#[tokio::test]
async fn start_login_reveals_nothing_about_idp_accounts() {
    let mut e = env().await;
    let multi = e.user("multi@corp.example", false).await;
    for team in ["alpha", "beta"] {
        let o = e.org(team).await;
        e.member(&multi, &o, &[Role::Author]).await;
    }
    e.member_user("single@corp.example", &[Role::Author]).await;
    let mut p = portcullis_federation::ProviderConfig::new(
        "corp",
        "http://127.0.0.1:9/corp",
        vec!["portcullis".into()],
    );
    p.email_domains = vec!["corp.example".into()];
    let fed = portcullis_federation::Federation::new(vec![p], e.engine.clone()).expect("fed");
    e.app = router(e.engine.clone(), Some(Arc::new(fed)));
    let mut answers = Vec::new();
    for email in [
        "multi@corp.example",
        "single@corp.example",
        "nobody@corp.example",
    ] {
        answers.push(e.ok("startLogin", json!({"email": email}), None).await);
    }
    assert_eq!(answers[0]["idpAuth"]["isMultiTeam"], true, "{}", answers[0]);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
}

// ---- transport, versions, encodings ---------------------------------------------------------------

#[tokio::test]
async fn transport_errors() {
    let e = env().await;
    let r = e
        .send(
            Request::get("/api/auth")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers.get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    assert_eq!(
        r.headers.get("wi-thrift-version").map(|v| v.as_bytes()),
        Some(&b"1.22.13"[..])
    );
    let big = vec![b' '; 1024 * 1024 + 1];
    let r = e.post(&[("content-type", "application/json")], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = e
        .post(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = e
        .post(
            &[("content-type", "application/x-thrift")],
            vec![0x80, 0x01, 0x00, 0x01],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.ct().starts_with("text/plain"));
    assert_eq!(
        r.headers.get("wi-thrift-version").map(|v| v.as_bytes()),
        Some(&b"1.22.13"[..])
    );
    let r = e
        .post(&[("content-type", "text/plain")], b"{}".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn application_errors_are_http_200() {
    let e = env().await;
    let r = e
        .post(
            &[("content-type", "application/json")],
            br#"{"method":"loginUser","arguments":{}}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"method": "loginUser", "exception": {"message": "Unknown function loginUser", "type": 1}})
    );
    let r = e
        .post(&[("content-type", "application/json")], b"{oops".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["exception"]["type"], 7);
    assert_eq!(r.ct(), "application/json; charset=utf-8");
}

#[tokio::test]
async fn version_header_rules() {
    let e = env().await;
    e.member_user("ver@example.com", &[Role::Author]).await;
    let body =
        json!({"method": "login", "arguments": {"email": "ver@example.com", "password": PW}})
            .to_string()
            .into_bytes();
    for (v, want) in [
        ("1.22.13", None),
        ("1.0.0", None),
        ("1.22", Some(420)),
        ("abc", Some(420)),
        ("2.0.0", Some(421)),
    ] {
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("wi-thrift-version", v),
                ],
                body.clone(),
            )
            .await;
        let j = r.json();
        match want {
            None => assert!(j["result"]["success"].is_object(), "{v}: {j}"),
            Some(c) => {
                assert_eq!(j["result"]["err"]["errorCode"], c, "{v}");
                assert!(!j["result"]["err"]["rqId"].as_str().unwrap_or("").is_empty());
            }
        }
    }
    // Method lookup and argument decoding come before the version check.
    let r = e
        .post(
            &[
                ("content-type", "application/json"),
                ("wi-thrift-version", "9"),
            ],
            br#"{"method":"nope"}"#.to_vec(),
        )
        .await;
    assert_eq!(r.json()["exception"]["type"], 1);
}

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

#[tokio::test]
async fn compact_and_tjson_encodings() {
    let e = env().await;
    let (u, _) = e.member_user("enc@example.com", &[Role::Author]).await;
    let good = wire::LoginArgs {
        email: "enc@example.com".into(),
        password: PW.into(),
        options: wire::LoginOptions::default(),
    };
    let bad = wire::LoginArgs {
        password: "wrong wrong wrong".into(),
        ..good.clone()
    };
    // Compact with the mothership type, and with plain x-thrift (sniffed).
    for ct in [wire::CT_MOTHERSHIP_COMPACT, "application/x-thrift"] {
        let r = e
            .post(&[("content-type", ct)], compact_call("login", 7, &good))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.ct(), ct);
        let (name, seq, reply) = decode_login_reply(Encoding::Compact, &r.body);
        assert_eq!((name.as_str(), seq), ("login", 7));
        let lr = reply.success.expect("success");
        assert_eq!(lr.current_user.id, u.id.to_string());
        let r = e
            .post(&[("content-type", ct)], compact_call("login", 1, &bad))
            .await;
        let (_, _, reply) = decode_login_reply(Encoding::Compact, &r.body);
        let err = reply.err.expect("err");
        assert_eq!(err.error_code, wire::ErrorCode::UNAUTHORIZED);
        assert_eq!(err.message, "Invalid email or password");
    }
    // The Python client sends both content types.
    let r = e
        .post(
            &[
                ("content-type", "application/x-thrift"),
                ("content-type", wire::CT_MOTHERSHIP_COMPACT),
            ],
            compact_call("login", 0, &good),
        )
        .await;
    assert_eq!(r.ct(), wire::CT_MOTHERSHIP_COMPACT);
    // TJSON with its own type and with x-thrift.
    for (ct, reply_ct) in [
        (wire::CT_TJSON, wire::CT_TJSON),
        ("application/x-thrift", "application/x-thrift"),
    ] {
        let r = e
            .post(&[("content-type", ct)], tjson_call("login", &good))
            .await;
        assert_eq!(r.ct(), reply_ct);
        let (_, _, reply) = decode_login_reply(Encoding::TJson, &r.body);
        let lr = reply.success.expect("success");
        assert_eq!(lr.current_user.email, "enc@example.com");
        assert!(lr.current_user_modular.team_id_to_membership.is_some());
        let tok = lr.auth_token;
        // refresh over TJSON with the token header.
        let auth = format!("Token {tok}");
        let r = e
            .post(
                &[("content-type", ct), ("authorization", auth.as_str())],
                tjson_call("refresh", &wire::RefreshArgs {}),
            )
            .await;
        let msg = portcullis_thrift::decode_message(Encoding::TJson, &r.body).expect("msg");
        let reply: wire::RefreshReply = msg.decode_body().expect("refresh_result");
        assert_eq!(reply.success.expect("success").auth_token, tok);
        let r = e
            .post(&[("content-type", ct)], tjson_call("login", &bad))
            .await;
        let (_, _, reply) = decode_login_reply(Encoding::TJson, &r.body);
        assert_eq!(reply.err.expect("err").error_code.0, 401);
    }
}

#[tokio::test]
async fn rate_limit_is_503() {
    let mut cfg = test_config();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 1;
    let e = env_with(cfg, false).await;
    let send = || {
        let req = Request::post("/api/auth")
            .header("content-type", "application/json")
            .extension(ClientIp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))))
            .body(Body::from(
                json!({"method": "startLogin", "arguments": {"email": "a@b.c"}}).to_string(),
            ))
            .expect("request");
        e.send(req)
    };
    let first = send().await.json();
    assert!(first["result"]["success"].is_object());
    let second = send().await.json();
    assert_eq!(second["result"]["err"]["errorCode"], 503);
    assert_eq!(second["result"]["err"]["slug"], "rate-limited");
}

#[tokio::test]
async fn store_fault_is_a_generic_500() {
    let e = env().await;
    e.member_user("down@example.com", &[Role::Author]).await;
    e.store.close().await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": "down@example.com", "password": PW}),
            None,
        )
        .await;
    assert_eq!(code, 500);
    assert_eq!(err["message"], "Internal server error");
    assert_eq!(err["slug"], "internal-error");
}

// ---- certificates ---------------------------------------------------------------------------------

fn csr_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    rcgen::CertificateParams::new(vec!["ignored.example".to_string()])
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

#[tokio::test]
async fn csr_signed_at_login_chains_to_the_ca() {
    let e = env_with(test_config(), true).await;
    let (u, _) = e.member_user("cert@example.com", &[Role::Author]).await;
    let ca_pem = e.ca.as_ref().map(|c| c.ca_certificate_pem().to_string());
    let lr = e
        .ok(
            "login",
            json!({"email": "cert@example.com", "password": PW,
                   "options": {"certificateSigningRequest": csr_pem()}}),
            None,
        )
        .await;
    assert_eq!(lr["mothershipCertificate"].as_str(), ca_pem.as_deref());
    let cert_pem = lr["userCertificate"].as_str().expect("userCertificate");
    let (_, cert_pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).expect("pem");
    let cert = cert_pem.parse_x509().expect("x509");
    let (_, ca_pem) =
        x509_parser::pem::parse_x509_pem(ca_pem.as_deref().unwrap_or("").as_bytes()).expect("pem");
    let ca = ca_pem.parse_x509().expect("ca");
    assert_eq!(cert.issuer(), ca.subject());
    cert.verify_signature(Some(ca.public_key()))
        .expect("signed by the CA");
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string);
    assert_eq!(cn, Some(u.id.to_string()));
    let life = cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp();
    assert!(life <= 24 * 3600 + 5, "validity capped at 24 h: {life}");

    // Without a CSR the CA certificate is still sent; refresh too.
    let lr = e.login("cert@example.com").await;
    assert!(lr["mothershipCertificate"].is_string());
    assert!(lr.get("userCertificate").is_none());

    // A bad CSR is 400 and leaves no usable session behind.
    let (code, _) = e
        .err(
            "login",
            json!({"email": "cert@example.com", "password": PW,
                   "options": {"certificateSigningRequest": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}}),
            None,
        )
        .await;
    assert_eq!(code, 400);
    let live = e
        .store
        .list_user_sessions(u.id, false, chrono::Utc::now())
        .await
        .expect("sessions");
    assert_eq!(live.len(), 2, "only the two successful logins remain");
}

#[tokio::test]
async fn certificate_validity_follows_a_short_token() {
    let mut cfg = test_config();
    cfg.tokens.session_secs = 600;
    let e = env_with(cfg, true).await;
    e.member_user("short@example.com", &[Role::Author]).await;
    let lr = e
        .ok(
            "login",
            json!({"email": "short@example.com", "password": PW,
                   "options": {"certificateSigningRequest": csr_pem()}}),
            None,
        )
        .await;
    let pem = lr["userCertificate"].as_str().expect("cert");
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
    let cert = p.parse_x509().expect("x509");
    let life = cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp();
    assert!(life <= 605, "validity = token lifetime: {life}");
}

/// An impersonation session would get a certificate with the target's identity: every login
/// that asks for both is refused (476) before the password or the upstream token is checked, so
/// nothing is written: no session, no audit of an impersonation, no throttle attempt.
#[tokio::test]
async fn a_proxy_login_gets_no_client_certificate() {
    let mut e = env_with(test_config(), true).await;
    let root = e.user("root@example.com", true).await;
    let (target, o) = e.member_user("tgt@example.com", &[Role::Author]).await;
    e.member(&root, &o, &[Role::Admin]).await;
    let options =
        json!({"proxiedUserEmail": "tgt@example.com", "certificateSigningRequest": csr_pem()});
    for method in ["login", "loginWithTeamSelect"] {
        for who in ["root@example.com", "tgt@example.com"] {
            let (code, err) = e
                .err(
                    method,
                    json!({"email": who, "password": PW, "options": options}),
                    None,
                )
                .await;
            assert_eq!(code, 476, "{method}: {err}");
            assert_eq!(err["slug"], "insufficient-permissions");
            let msg = err["message"].as_str().unwrap_or("");
            assert!(msg.contains("client certificate"), "{msg}");
        }
    }
    // The IdP logins too, before the upstream token is even looked at.
    let fed = portcullis_federation::Federation::new(
        vec![portcullis_federation::ProviderConfig::new(
            "corp",
            "https://login.corp.example",
            vec!["portcullis".into()],
        )],
        e.engine.clone(),
    )
    .expect("fed");
    e.app = router(e.engine.clone(), Some(Arc::new(fed)));
    for (method, args) in [
        ("loginWithIdp", json!({"options": options})),
        (
            "loginWithIdpAndTeam",
            json!({"teamId": o.id.to_string(), "options": options}),
        ),
        ("loginWithIdpAndTeamSelect", json!({"options": options})),
    ] {
        let body = json!({"method": method, "arguments": args}).to_string();
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("idp-authorization", "Bearer not-a-jwt"),
                ],
                body.into_bytes(),
            )
            .await;
        let v = r.json();
        assert_eq!(v["result"]["err"]["errorCode"], 476, "{method}: {v}");
    }
    let now = chrono::Utc::now();
    for u in [&root, &target] {
        let all = e
            .store
            .list_user_sessions(u.id, true, now)
            .await
            .expect("sessions");
        assert!(all.is_empty(), "no session was written: {all:?}");
    }
    e.engine.flush_audit().await;
    let events = e
        .store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(
        !events
            .iter()
            .any(|ev| ev.action == "impersonation.start" || ev.action == "login.password"),
        "nothing was checked or started: {events:?}"
    );
    // A proxy login without a CSR still works, and the account's own login gets its certificate.
    let lr = e
        .ok(
            "login",
            json!({"email": "root@example.com", "password": PW,
                   "options": {"proxiedUserEmail": "tgt@example.com"}}),
            None,
        )
        .await;
    assert_eq!(lr["currentUser"]["id"], target.id.to_string());
    assert!(lr.get("userCertificate").is_none());
    let lr = e
        .ok(
            "login",
            json!({"email": "tgt@example.com", "password": PW,
                   "options": {"certificateSigningRequest": csr_pem()}}),
            None,
        )
        .await;
    assert!(lr["userCertificate"].is_string());
}

// ---- HTTP edge: caching, a saturated hashing pool, clients that go away ---------------------

/// A slow verification on the engine's hashing pool (the PHC's own parameters apply).
fn slow_phc() -> String {
    portcullis_core::password::HashParams {
        memory_kib: 65536,
        iterations: 6,
        parallelism: 1,
    }
    .hash_blocking("slow")
    .expect("hash")
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..5000 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for {what}");
}

fn one_hashing_thread(queue: usize) -> CoreConfig {
    let mut cfg = test_config();
    cfg.passwords.hash_threads = 1;
    cfg.passwords.hash_queue = queue;
    cfg
}

fn login_request(email: &str, pw: &str) -> Request<Body> {
    Request::post("/api/auth")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"method": "login", "arguments": {"email": email, "password": pw}}).to_string(),
        ))
        .expect("request")
}

#[tokio::test]
async fn replies_are_never_cached() {
    let e = env().await;
    e.member_user("ann@example.com", &[Role::Author]).await;
    for pw in [PW, "wrong password here"] {
        let r = e.send(login_request("ann@example.com", pw)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers.get("cache-control").expect("cache-control"),
            "no-store"
        );
        assert_eq!(r.headers.get("pragma").expect("pragma"), "no-cache");
    }
}

#[tokio::test]
async fn a_saturated_hashing_pool_answers_503_at_once() {
    let e = env_with(one_hashing_thread(1), false).await;
    e.member_user("ann@example.com", &[Role::Author]).await;
    let hasher = e.engine.hasher().clone();
    let slow = slow_phc();
    let mut busy = Vec::new();
    for queued in [0, 1] {
        let (h, slow) = (hasher.clone(), slow.clone());
        busy.push(tokio::spawn(
            async move { h.verify("x", Some(&slow)).await },
        ));
        until("the pool to fill", || {
            hasher.verifications() == 1 && hasher.queued() == queued
        })
        .await;
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        e.send(login_request("ann@example.com", PW)),
    )
    .await
    .expect("answered at once, not after the queue");
    let v = r.json();
    assert_eq!(v["result"]["err"]["errorCode"], 503, "{v}");
    assert_eq!(v["result"]["err"]["slug"], "rate-limited", "{v}");
    for b in busy {
        b.await.expect("task").expect("verify");
    }
    // Nothing was held against the account.
    e.login("ann@example.com").await;
}

#[tokio::test]
async fn a_client_that_goes_away_costs_no_hash() {
    let e = env_with(one_hashing_thread(4), false).await;
    e.member_user("ann@example.com", &[Role::Author]).await;
    let hasher = e.engine.hasher().clone();
    let slow = slow_phc();
    let running = {
        let h = hasher.clone();
        tokio::spawn(async move { h.verify("x", Some(&slow)).await })
    };
    until("the slow job to start", || hasher.verifications() == 1).await;
    // The client sends a login, which waits for the busy thread, then disconnects (the
    // server drops the request's future).
    let client = tokio::spawn(e.app.clone().oneshot(login_request("ann@example.com", PW)));
    until("the login's hash to queue", || hasher.queued() == 1).await;
    client.abort();
    let _ = client.await;
    running.await.expect("task").expect("verify");
    until("the queue to drain", || {
        hasher.queued() == 0 && hasher.abandoned() == 1
    })
    .await;
    assert_eq!(
        hasher.verifications(),
        1,
        "the abandoned login was not hashed"
    );
}

#[tokio::test]
async fn persistent_tokens_cannot_target_another_super_admin() {
    let e = env().await;
    let (_, o) = e.member_user("member@example.com", &[Role::Author]).await;
    let root = e.user("root@example.com", true).await;
    let peer = e.user("peer@example.com", true).await;
    e.member(&root, &o, &[Role::Author]).await;
    e.member(&peer, &o, &[Role::Author]).await;
    let rt = e.token("root@example.com").await;
    let (code, _) = e
        .err(
            "createPersistentAuth",
            json!({"userId": peer.id.to_string()}),
            Some(&rt),
        )
        .await;
    assert_eq!(code, 476, "a peer super-admin is refused");
    let none = portcullis_core::store::CredentialFilter {
        user_id: Some(peer.id),
        ..Default::default()
    };
    assert!(
        e.store
            .list_credentials(&none, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Their own, and an ordinary user's, still work.
    e.ok(
        "createPersistentAuth",
        json!({"userId": root.id.to_string()}),
        Some(&rt),
    )
    .await;
}

/// loginWithIdp with the one opaque-format provider's token (a real `oidc-provider`,
/// introspected): accepted without naming the provider, the session ends at most
/// `max_session_beyond_upstream_secs` after the upstream token; another client's token is 497,
/// and so is any opaque token once the provider has no introspection credentials (no opt-in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_login_with_an_opaque_token_and_a_capped_session() {
    use portcullis_federation::{AccessTokenFormat, ClientSecret, JitOrg, ProviderConfig};
    let idp = fed_support::Idp::start(&[]).await;
    let mut cfg = test_config();
    cfg.allowed_email_domains = vec!["example.com".into()];
    let mut e = env_with(cfg, false).await;
    e.store
        .create_org(NewOrg {
            name: "acme".into(),
            display_name: None,
            region_id: e.engine.config().region.id.clone(),
        })
        .await
        .unwrap();
    let mut p = ProviderConfig::new("corp", &idp.issuer, vec![fed_support::CLIENT_ID.into()]);
    p.access_token_format = AccessTokenFormat::Opaque;
    p.introspection_client_secret = Some(ClientSecret::new("portcullis-test-secret"));
    p.max_session_beyond_upstream_secs = 600;
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: "acme".into(),
        roles: BTreeSet::from([Role::Author]),
        kind: MembershipKind::Member,
    }];
    let fed = portcullis_federation::Federation::new(vec![p.clone()], e.engine.clone()).unwrap();
    e.app = router(e.engine.clone(), Some(Arc::new(fed)));
    let login = |token: String| {
        let body = json!({"method": "loginWithIdp", "arguments": {}}).to_string();
        let e = &e;
        async move {
            let auth = format!("Bearer {token}");
            e.post(
                &[
                    ("content-type", "application/json"),
                    ("idp-authorization", auth.as_str()),
                ],
                body.into_bytes(),
            )
            .await
            .json()
        }
    };
    let t = idp
        .control(
            "tokens",
            json!({"sub": "pl", "email": "pl@example.com", "access_token_format": "opaque",
                   "access_token_ttl": 900}),
        )
        .await;
    let v = login(t["access_token"].as_str().unwrap().to_owned()).await;
    let ok = &v["result"]["success"];
    assert_eq!(ok["currentUser"]["email"], "pl@example.com", "{v}");
    let expiry = ok["periods"]["expiry"].as_i64().unwrap();
    assert!(
        (900 + 600 - 60..=900 + 600 + 5).contains(&expiry),
        "{expiry}"
    );

    let other = idp
        .control(
            "tokens",
            json!({"sub": "pl", "email": "pl@example.com", "access_token_format": "opaque",
                   "client": "other"}),
        )
        .await;
    let v = login(other["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(v["result"]["err"]["errorCode"], 497, "{v}");

    // Without introspection credentials and without opaque_tokens_via_userinfo, even the
    // genuine token is refused (497), and no session is started.
    p.introspection_client_secret = None;
    let fed = portcullis_federation::Federation::new(vec![p], e.engine.clone()).unwrap();
    e.app = router(e.engine.clone(), Some(Arc::new(fed)));
    let auth = format!("Bearer {}", t["access_token"].as_str().unwrap());
    let body = json!({"method": "loginWithIdp", "arguments": {}}).to_string();
    let v = e
        .post(
            &[
                ("content-type", "application/json"),
                ("idp-authorization", auth.as_str()),
            ],
            body.into_bytes(),
        )
        .await
        .json();
    assert_eq!(v["result"]["err"]["errorCode"], 497, "{v}");
    e.engine.shutdown().await;
}
