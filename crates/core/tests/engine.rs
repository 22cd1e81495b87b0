//! The auth engine's invariants, on a real SQLite store.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::password::HashParams;
use portcullis_core::*;
use portcullis_testkit::{PASSWORD as PW, TestEnv, ctx};

struct Env {
    kit: TestEnv,
}

impl std::ops::Deref for Env {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.kit
    }
}

async fn env_with(cfg: CoreConfig) -> Env {
    Env {
        kit: TestEnv::builder().config(cfg).build().await,
    }
}

async fn env() -> Env {
    env_with(CoreConfig::default()).await
}

/// No delay between failures; the third locks the account until an admin unlocks it.
fn lock_after_three() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    cfg.lockout.lock_after = 3;
    cfg.lockout.lock_secs = 0;
    cfg
}

impl Env {
    /// A user with ADMIN in each of `orgs` (the first is the default org).
    async fn user(&self, email: &str, super_admin: bool, orgs: &[&Org]) -> User {
        let mut user = self.kit.user(email);
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
        self.kit.login(email, OrgChoice::Default).await.token
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

#[tokio::test]
async fn login_issues_an_eddsa_token_with_the_claim_set() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("Ann@Example.com", false, &[&org]).await;
    let token = e.login("ann@example.COM").await;
    let (h, p) = parts(&token);
    assert_eq!(h["alg"], "EdDSA");
    assert_eq!(h["typ"], "at+jwt");
    assert!(h["kid"].is_string());
    for claim in [
        "iss", "aud", "sub", "org", "sid", "iat", "exp", "jti", "amr", "guest",
    ] {
        assert!(p.get(claim).is_some(), "missing claim {claim}");
    }
    assert_eq!(p["sub"], user.id.to_string());
    assert_eq!(p["org"], org.id.to_string());
    assert_eq!(p["amr"], serde_json::json!(["pwd"]));
    let principal = e.engine.authenticate(&token).await.unwrap();
    assert_eq!(principal.user, user.id);
    assert_eq!(principal.org, org.id);
    // The JWKS publishes the signing key.
    let jwks = e.engine.jwks();
    assert_eq!(jwks["keys"][0]["kid"], h["kid"]);
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
}

#[tokio::test]
async fn forged_tokens_are_rejected() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    let (h, mut p) = parts(&token);
    let sig = token.rsplit('.').next().unwrap();

    // Tampered payload, original signature.
    p["sub"] = serde_json::json!(UserId::new().to_string());
    let tampered = format!("{}.{}.{}", b64(&h), b64(&p), sig);
    assert!(matches!(
        e.engine.authenticate(&tampered).await,
        Err(CoreError::InvalidToken(_))
    ));

    // alg: none.
    let mut none = h.clone();
    none["alg"] = "none".into();
    let none_tok = format!("{}.{}.", b64(&none), b64(&parts(&token).1));
    assert!(matches!(
        e.engine.authenticate(&none_tok).await,
        Err(CoreError::InvalidToken(_))
    ));

    // HS256 keyed with the public key.
    let x = e.engine.jwks()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_string();
    let mut hs = h.clone();
    hs["alg"] = "HS256".into();
    let hs_tok = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::HS256,
            typ: Some("at+jwt".into()),
            kid: h["kid"].as_str().map(str::to_string),
            ..Default::default()
        },
        &parts(&token).1,
        &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        e.engine.authenticate(&hs_tok).await,
        Err(CoreError::InvalidToken(_))
    ));

    // A token of another deployment (foreign key).
    let other = env().await;
    let org2 = other.org("acme").await;
    other.user("ann@example.com", false, &[&org2]).await;
    let foreign = other.login("ann@example.com").await;
    assert!(matches!(
        e.engine.authenticate(&foreign).await,
        Err(CoreError::InvalidToken(_))
    ));

    // Garbage.
    assert!(matches!(
        e.engine.authenticate("not.a.jwt").await,
        Err(CoreError::InvalidToken(_))
    ));
    assert!(matches!(
        e.engine.authenticate("").await,
        Err(CoreError::Unauthenticated)
    ));
}

#[tokio::test]
async fn expired_and_misaddressed_tokens_are_rejected() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("ann@example.com", false, &[&org]).await;
    let t = e.engine.access_tokens();
    let now = Utc::now();
    let old = t.claims(
        user.id,
        org.id,
        "sid-x",
        now - chrono::Duration::hours(2),
        now - chrono::Duration::hours(1),
        vec![],
        false,
    );
    let expired = t.sign(&old).unwrap();
    assert!(matches!(
        e.engine.authenticate(&expired).await,
        Err(CoreError::TokenExpired)
    ));

    let mut wrong_iss = t.claims(
        user.id,
        org.id,
        "sid-y",
        now,
        now + chrono::Duration::hours(1),
        vec![],
        false,
    );
    wrong_iss.iss = "https://evil.example".into();
    let tok = t.sign(&wrong_iss).unwrap();
    assert!(matches!(
        e.engine.authenticate(&tok).await,
        Err(CoreError::InvalidToken(_))
    ));

    let mut wrong_aud = t.claims(
        user.id,
        org.id,
        "sid-z",
        now,
        now + chrono::Duration::hours(1),
        vec![],
        false,
    );
    wrong_aud.aud = "someone-else".into();
    let tok = t.sign(&wrong_aud).unwrap();
    assert!(matches!(
        e.engine.authenticate(&tok).await,
        Err(CoreError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn logout_and_deactivation_revoke_at_once() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    e.engine.authenticate(&token).await.unwrap();
    e.engine.logout(&token, &ctx()).await.unwrap();
    assert!(matches!(
        e.engine.authenticate(&token).await,
        Err(CoreError::InvalidToken(_))
    ));
    // Idempotent.
    e.engine.logout(&token, &ctx()).await.unwrap();

    let token = e.login("ann@example.com").await;
    e.engine
        .deactivate_user(ann.id, None, &ctx())
        .await
        .unwrap();
    assert!(matches!(
        e.engine.authenticate(&token).await,
        Err(CoreError::InvalidToken(_))
    ));
    // A deactivated account answers like bad credentials.
    let err = e
        .engine
        .login_password("ann@example.com", PW, OrgChoice::Default, None, &ctx())
        .await;
    assert!(matches!(err, Err(CoreError::InvalidCredentials)));
    e.engine
        .reactivate_user(ann.id, None, &ctx())
        .await
        .unwrap();
    // That refused attempt counted as a failure; clear its delay.
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();
    let fresh = e.login("ann@example.com").await;
    e.engine.authenticate(&fresh).await.unwrap();
}

#[tokio::test]
async fn another_process_revocation_is_honoured_within_a_second() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    // A second engine on the same store plays the other process (a second server or the CLI).
    let store2 = portcullis_store::open(e.url()).await.unwrap();
    let other = Engine::start(store2, CoreConfig::default(), e.master.clone())
        .await
        .unwrap();
    other.authenticate(&token).await.unwrap();
    other.logout(&token, &ctx()).await.unwrap();
    let start = Instant::now();
    loop {
        if e.engine.authenticate(&token).await.is_err() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "revocation not seen within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockout_counter_is_atomic_under_200_parallel_attempts() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let before = e.engine.hasher().verifications();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let engine = e.engine.clone();
        tasks.push(tokio::spawn(async move {
            engine
                .authenticate_password(
                    "ann@example.com",
                    "wrong password!",
                    &AuditContext::default(),
                )
                .await
        }));
    }
    let mut invalid = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(CoreError::InvalidCredentials) => invalid += 1,
            Err(CoreError::RateLimited { .. }) => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let verified = e.engine.hasher().verifications() - before;
    assert_eq!(
        verified, 1,
        "only one password check may run per account at a time"
    );
    assert_eq!(invalid, 1);
    assert_eq!(limited, 199);
}

#[tokio::test]
async fn lock_after_threshold_survives_restart_until_unlocked() {
    let cfg = lock_after_three();
    let e = env_with(cfg.clone()).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    for _ in 0..3 {
        let r = e
            .engine
            .authenticate_password("ann@example.com", "wrong password!", &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)));
    }
    // The right password no longer works, and the answer is the same as a wrong one.
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)));
    // A restart (a new engine on the same store) keeps the lock.
    let store2 = portcullis_store::open(e.url()).await.unwrap();
    let restarted = Engine::start(store2, cfg, e.master.clone()).await.unwrap();
    let r = restarted
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)));
    restarted.unlock("ANN@example.com", &ctx()).await.unwrap();
    restarted
        .authenticate_password("ann@example.com", PW, &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn api_keys_work_until_revoked_and_cannot_mint() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    let p = e.engine.authenticate(&token).await.unwrap();
    let (cred, secret) = e
        .engine
        .create_api_key(&p, "ci", Some(1), &ctx())
        .await
        .unwrap();
    assert!(secret.starts_with("nominal_api_key_"));
    assert_eq!(secret.len(), "nominal_api_key_".len() + 43);
    // The secret is a bearer, and it exchanges for a token carrying `akr`.
    let by_key = e.engine.authenticate(&secret).await.unwrap();
    assert_eq!(by_key.user, p.user);
    let minted = e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    assert!(minted.expires_at <= cred.expires_at.unwrap());
    let (_, claims) = parts(&minted.token);
    assert!(
        claims["akr"]
            .as_str()
            .unwrap()
            .starts_with("ri.authn.local.api-key.")
    );
    let by_minted = e.engine.authenticate(&minted.token).await.unwrap();
    // Neither may mint credentials or switch org.
    for q in [&by_key, &by_minted] {
        assert!(matches!(
            e.engine.create_api_key(q, "x", None, &ctx()).await,
            Err(CoreError::CredentialNotAllowed(_))
        ));
        assert!(matches!(
            e.engine.switch_org(q, org.id, &ctx()).await,
            Err(CoreError::CredentialNotAllowed(_))
        ));
    }
    e.engine.revoke_api_key(&p, cred.id, &ctx()).await.unwrap();
    assert!(e.engine.authenticate(&secret).await.is_err());
    assert!(e.engine.authenticate(&minted.token).await.is_err());
    assert!(e.engine.exchange_credential(&secret, &ctx()).await.is_err());
    // An unknown secret with the right prefix is refused the same way.
    assert!(
        e.engine
            .exchange_credential("nominal_api_key_nope", &ctx())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn proxy_login_rules() {
    let e = env().await;
    let org = e.org("acme").await;
    let root = e.user("root@example.com", true, &[&org]).await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    e.user("bob@example.com", false, &[&org]).await;
    e.user("root2@example.com", true, &[&org]).await;

    let g = e
        .engine
        .login_password(
            "root@example.com",
            PW,
            OrgChoice::Default,
            Some("ann@example.com"),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(g.user.id, ann.id);
    assert_eq!(g.proxy_admin.as_ref().unwrap().id, root.id);
    assert_eq!(g.session.kind, SessionKind::Proxy);
    assert!(g.session.expires_at <= Utc::now() + chrono::Duration::hours(1));
    let (_, claims) = parts(&g.token.token);
    assert_eq!(claims["act"]["sub"], root.id.to_string());
    let p = e.engine.authenticate(&g.token.token).await.unwrap();
    assert_eq!(p.actor, Some(root.id));
    // An impersonation session cannot mint credentials.
    assert!(
        e.engine
            .create_api_key(&p, "x", None, &ctx())
            .await
            .is_err()
    );

    // A non-admin learns nothing: same answer whether the target exists or not.
    for target in ["ann@example.com", "nobody@example.com"] {
        let r = e
            .engine
            .login_password(
                "bob@example.com",
                PW,
                OrgChoice::Default,
                Some(target),
                &ctx(),
            )
            .await;
        assert!(
            matches!(r, Err(CoreError::PermissionDenied(_))),
            "{target}: {r:?}"
        );
    }
    // A super-admin cannot be impersonated.
    let r = e
        .engine
        .login_password(
            "root@example.com",
            PW,
            OrgChoice::Default,
            Some("root2@example.com"),
            &ctx(),
        )
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))));
}

#[tokio::test]
async fn persistent_tokens_replace_the_previous_one() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("root@example.com", true, &[&org]).await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let admin = e
        .engine
        .authenticate(&e.login("root@example.com").await)
        .await
        .unwrap();
    let (_, first, _) = e
        .engine
        .create_persistent_token(&admin, ann.id, &ctx())
        .await
        .unwrap();
    assert_eq!(e.engine.authenticate(&first).await.unwrap().user, ann.id);
    let (_, second, _) = e
        .engine
        .create_persistent_token(&admin, ann.id, &ctx())
        .await
        .unwrap();
    assert!(e.engine.authenticate(&first).await.is_err());
    let p = e.engine.authenticate(&second).await.unwrap();
    // The credential acts as its user and cannot mint another.
    assert!(
        e.engine
            .create_persistent_token(&p, ann.id, &ctx())
            .await
            .is_err()
    );
    e.engine
        .revoke_persistent_tokens(&admin, ann.id, &ctx())
        .await
        .unwrap();
    assert!(e.engine.authenticate(&second).await.is_err());
    // A non-super-admin may not.
    let ann_p = e
        .engine
        .authenticate(&e.login("ann@example.com").await)
        .await
        .unwrap();
    assert!(matches!(
        e.engine
            .create_persistent_token(&ann_p, ann.id, &ctx())
            .await,
        Err(CoreError::PermissionDenied(_))
    ));
}

#[tokio::test]
async fn outdated_hashes_are_upgraded_on_login() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("ann@example.com", false, &[&org]).await;
    let old = HashParams {
        memory_kib: 19456,
        iterations: 3,
        parallelism: 1,
    };
    let phc = tokio::task::spawn_blocking(move || old.hash_blocking(PW))
        .await
        .unwrap()
        .unwrap();
    e.store
        .update_user(
            user.id,
            UserUpdate {
                password_hash: Some(Some(phc.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    e.login("ann@example.com").await;
    let now = e
        .store
        .get_user(user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_ne!(now, phc);
    assert!(now.contains("m=19456,t=2,p=1"), "{now}");
}

#[tokio::test]
async fn team_tokens_and_org_switch_require_membership() {
    let e = env().await;
    let a = e.org("alpha").await;
    let b = e.org("beta").await;
    let c = e.org("gamma").await;
    e.user("ann@example.com", false, &[&a, &b]).await;
    let p = e.signed_in("ann@example.com").await;
    let team = e.engine.team_token(&p, b.id, &ctx()).await.unwrap();
    let tp = e.engine.authenticate(&team.token).await.unwrap();
    assert_eq!(tp.org, b.id);
    assert_eq!(tp.session(), p.session());
    assert_eq!(
        team.expires_at.timestamp(),
        p.expires_at.unwrap().timestamp()
    );
    assert!(matches!(
        e.engine.team_token(&p, c.id, &ctx()).await,
        Err(CoreError::PermissionDenied(_))
    ));
    assert!(matches!(
        e.engine.team_token(&p, OrgId::new(), &ctx()).await,
        Err(CoreError::NotFound(_))
    ));
    let uc = portcullis_core::use_cases::UseCaseCtx::direct(e.store.as_ref());
    portcullis_core::use_cases::set_org_disabled(&uc, b.id, true, serde_json::json!({}))
        .await
        .unwrap();
    assert!(matches!(
        e.engine.team_token(&p, b.id, &ctx()).await,
        Err(CoreError::OrgDisabled)
    ));
    let switched = e.engine.switch_org(&p, a.id, &ctx()).await.unwrap();
    assert!(switched.expires_at <= Utc::now() + chrono::Duration::hours(24));
}

#[tokio::test]
async fn audit_records_logins_without_secrets() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    e.login("ann@example.com").await;
    let _ = e
        .engine
        .authenticate_password("ann@example.com", "the wrong secret!", &ctx())
        .await;
    e.engine.flush_audit().await;
    let events = e
        .store
        .list_audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.action == "login" && ev.outcome == AuditOutcome::Success)
    );
    assert!(
        events
            .iter()
            .any(|ev| ev.action == "login.password" && ev.outcome == AuditOutcome::Failure)
    );
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains(PW) && !dump.contains("the wrong secret!"));
}

// ---- password changes and sessions ---------------------------------------------------------------

const NEW_PW: &str = "another perfectly fine passphrase";

impl Env {
    /// The principal of a fresh password login.
    async fn signed_in(&self, email: &str) -> portcullis_core::tokens::Principal {
        let token = self.login(email).await;
        self.engine.authenticate(&token).await.unwrap()
    }
}

#[tokio::test]
async fn password_change_shares_the_login_throttle() {
    // Default delays: 1 s after the first failure.
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let r = e
        .engine
        .change_password(&p, "not my password", NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    // The very next attempt, right or wrong, through either door, waits without hashing.
    let before = e.engine.hasher().verifications();
    let r = e
        .engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::RateLimited { .. })), "{r:?}");
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::RateLimited { .. })), "{r:?}");
    assert_eq!(e.engine.hasher().verifications(), before);

    let failures = e.audit_events("password.change").await;
    let failure = failures
        .iter()
        .find(|ev| ev.outcome == AuditOutcome::Failure)
        .expect("a password.change failure event");
    assert_eq!(failure.actor, Some(ann.id));
    assert_eq!(failure.target.as_deref(), Some(ann.id.to_string().as_str()));
    assert_eq!(failure.detail["via"], "session");
    assert!(
        failures
            .iter()
            .any(|ev| ev.outcome == AuditOutcome::Denied && ev.detail["reason"] == "throttled")
    );
    let dump = serde_json::to_string(&failures).unwrap();
    assert!(!dump.contains("not my password") && !dump.contains(NEW_PW));
}

#[tokio::test]
async fn password_change_failures_lock_the_account() {
    let e = env_with(lock_after_three()).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    for _ in 0..3 {
        let r = e
            .engine
            .change_password(&p, "not my password", NEW_PW, false, false, &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    // Locked: the right current password is refused too, and so is a login.
    let r = e
        .engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    assert_eq!(e.audit_events("account.lock").await.len(), 1);
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();
    e.engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await
        .unwrap();
}

impl Env {
    fn admin(&self, cfg: &CoreConfig) -> portcullis_core::admin::Admin {
        portcullis_core::admin::Admin::new(self.store.clone(), cfg, "test")
    }

    /// The force-password-reset of the admin CLI: returns the one-time code.
    async fn force_reset(&self, email: &str, revoke_credentials: bool) -> String {
        let r = self
            .admin(&CoreConfig::default())
            .require_password_reset(email, revoke_credentials)
            .await
            .unwrap();
        assert!(r.user.password_reset_required);
        r.code.to_string()
    }
}

#[tokio::test]
async fn a_forced_reset_needs_the_one_time_code_not_the_old_password() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let before = e.login("ann@example.com").await;
    let code = e.force_reset("ann@example.com", false).await;
    // The admin's reset ended every session, on this process within a poll.
    let deadline = Instant::now() + Duration::from_secs(2);
    while e.engine.authenticate(&before).await.is_ok() {
        assert!(Instant::now() < deadline, "the session outlived the reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();

    // Whoever knows the old password cannot complete the reset with it.
    let r = e
        .engine
        .reset_password_with_code("ann@example.com", PW, NEW_PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();

    e.engine
        .reset_password_with_code("ANN@example.com ", &code, NEW_PW, &ctx())
        .await
        .unwrap();
    let flagged = e.store.get_user(ann.id).await.unwrap().unwrap();
    assert!(!flagged.password_reset_required);
    e.engine
        .login_password("ann@example.com", NEW_PW, OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    // Single use.
    let r = e
        .engine
        .reset_password_with_code("ann@example.com", &code, "a third fine passphrase", &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    let events = e.audit_events("password.change").await;
    assert!(events.iter().any(|ev| ev.outcome == AuditOutcome::Success
        && ev.actor == Some(ann.id)
        && ev.detail["via"] == "reset"
        && ev.detail["was_reset_required"] == true));
    let all = serde_json::to_string(&e.audit_events("user.require_password_reset").await).unwrap();
    assert!(!all.contains(&code), "the code is never audited");
}

#[tokio::test]
async fn a_forced_reset_can_revoke_credentials_and_codes_expire() {
    let mut cfg = CoreConfig::default();
    cfg.passwords.reset_code_secs = 1;
    let e = env_with(cfg.clone()).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let (_, secret) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let r = e
        .admin(&cfg)
        .require_password_reset("ann@example.com", true)
        .await
        .unwrap();
    assert_eq!(r.credentials_revoked, 1);
    assert!(r.sessions_revoked >= 1);
    let deadline = Instant::now() + Duration::from_secs(2);
    while e.engine.authenticate(&secret).await.is_ok() {
        assert!(Instant::now() < deadline, "the API key outlived the reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = e
        .engine
        .reset_password_with_code("ann@example.com", &r.code, NEW_PW, &ctx())
        .await;
    assert!(
        matches!(r, Err(CoreError::InvalidCredentials)),
        "expired: {r:?}"
    );
}

#[tokio::test]
async fn reset_by_code_answers_unknown_and_wrong_alike() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    e.user("gone@example.com", false, &[&org]).await;
    e.user("bob@example.com", false, &[&org]).await;
    let bob_code = e.force_reset("bob@example.com", false).await;
    let gone_code = e.force_reset("gone@example.com", false).await;
    let gone = e
        .store
        .get_user_by_email("gone@example.com")
        .await
        .unwrap()
        .unwrap();
    e.engine
        .deactivate_user(gone.id, None, &ctx())
        .await
        .unwrap();
    let attempts = [
        ("nobody@example.com", bob_code.as_str()),
        ("ann@example.com", bob_code.as_str()),
        ("bob@example.com", "a wrong code"),
        ("gone@example.com", gone_code.as_str()),
    ];
    for (email, code) in attempts {
        let r = e
            .engine
            .reset_password_with_code(email, code, NEW_PW, &ctx())
            .await;
        assert!(
            matches!(r, Err(CoreError::InvalidCredentials)),
            "{email}: {r:?}"
        );
        // Each key now waits its delay, known account or not.
        let r = e
            .engine
            .reset_password_with_code(email, code, NEW_PW, &ctx())
            .await;
        assert!(
            matches!(r, Err(CoreError::RateLimited { .. })),
            "{email}: {r:?}"
        );
    }
    // The new password is judged first, for any email, at no cost to the throttle.
    for email in ["nobody@example.com", "ann@example.com"] {
        for (new, why) in [("short", "at least 8"), ("password1", "common")] {
            match e
                .engine
                .reset_password_with_code(email, "code", new, &ctx())
                .await
            {
                Err(CoreError::InvalidArgument(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{email} {new}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn only_the_users_own_session_may_change_the_account() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    e.user("root@example.com", true, &[&org]).await;
    let ann_token = e.login("ann@example.com").await;
    let p = e.engine.authenticate(&ann_token).await.unwrap();
    let (_, secret) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let minted = e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    let proxy = e
        .engine
        .login_password(
            "root@example.com",
            PW,
            OrgChoice::Default,
            Some("ann@example.com"),
            &ctx(),
        )
        .await
        .unwrap();
    let key_p = e.engine.authenticate(&secret).await.unwrap();
    let minted_p = e.engine.authenticate(&minted.token).await.unwrap();
    let proxy_p = e.engine.authenticate(&proxy.token.token).await.unwrap();
    assert!(key_p.is_credential_based() && minted_p.is_credential_based());
    assert!(proxy_p.actor.is_some());

    let before = e.engine.hasher().verifications();
    for q in [&key_p, &minted_p] {
        let r = e
            .engine
            .change_password(q, PW, NEW_PW, false, false, &ctx())
            .await;
        assert!(
            matches!(r, Err(CoreError::CredentialNotAllowed(_))),
            "{r:?}"
        );
        let r = e.engine.list_my_sessions(q).await;
        assert!(
            matches!(r, Err(CoreError::CredentialNotAllowed(_))),
            "{r:?}"
        );
        let r = e.engine.end_my_other_sessions(q, &ctx()).await;
        assert!(
            matches!(r, Err(CoreError::CredentialNotAllowed(_))),
            "{r:?}"
        );
    }
    let r = e
        .engine
        .change_password(&proxy_p, PW, NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    let r = e
        .engine
        .end_my_session(&proxy_p, p.session().unwrap(), &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    assert_eq!(
        e.engine.hasher().verifications(),
        before,
        "refused before any password check"
    );
    // An impersonating admin may look: the user's session and the proxy one, marked current.
    let listed = e.engine.list_my_sessions(&proxy_p).await.unwrap();
    assert_eq!(listed.len(), 2);
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(Some(&current[0].session.id), proxy_p.session());
    assert!(current[0].session.actor_id.is_some());
    // The user's own session still works, and may change the password.
    e.engine
        .change_password(&p, PW, NEW_PW, true, false, &ctx())
        .await
        .unwrap();
    assert!(e.engine.authenticate(&proxy.token.token).await.is_err());
    e.engine.authenticate(&ann_token).await.unwrap();
}

// ---- signing keys: retirement and emergency revocation ----------------------------------------

#[tokio::test]
async fn a_retired_key_stops_verifying_once_its_tokens_have_expired() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let tokens = e.engine.access_tokens();
    let now = Utc::now();
    let life = CoreConfig::default().tokens.max_signed_lifetime();
    // A token that claims to outlive every lifetime the server hands out.
    let claims = tokens.claims(
        ann.id,
        org.id,
        "sid",
        now,
        now + life * 3,
        vec!["pwd".into()],
        false,
    );
    let old = tokens.sign(&claims).unwrap();
    e.engine.rotate_signing_key(&ctx()).await.unwrap();
    assert!(
        tokens.validate(&old, now).is_ok(),
        "retired keys still verify"
    );
    let later = now + life + chrono::Duration::seconds(5);
    assert_eq!(
        tokens.validate(&old, later).err(),
        Some(portcullis_core::tokens::TokenFailure::UnknownKey),
        "verified past every token it could have signed"
    );
    assert_eq!(
        e.engine.access_tokens().keys().jwks(later)["keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_revoked_key_verifies_nothing_on_any_process_within_a_second() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let token = e.login("ann@example.com").await;
    let store2 = portcullis_store::open(e.url()).await.unwrap();
    let other = Engine::start(store2, CoreConfig::default(), e.master.clone())
        .await
        .unwrap();
    other.authenticate(&token).await.unwrap();
    e.engine.authenticate(&token).await.unwrap();

    let kid = e.engine.access_tokens().keys().signing_kid();
    assert!(e.engine.revoke_signing_key(&kid, &ctx()).await.unwrap());
    // Here at once, though the token is in the verified-token cache.
    assert!(e.engine.authenticate(&token).await.is_err());
    // A new key signs, and it is the only one published.
    let fresh = e.login("ann@example.com").await;
    e.engine.authenticate(&fresh).await.unwrap();
    let jwks = e.engine.jwks();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != kid.as_str())
    );

    let start = Instant::now();
    while other.authenticate(&token).await.is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "key revocation not seen within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The other process stops signing with it too, and verifies the new key.
    let start = Instant::now();
    loop {
        let t = other
            .login_password("ann@example.com", PW, OrgChoice::Default, None, &ctx())
            .await
            .unwrap()
            .token
            .token;
        if parts(&t).0["kid"] != kid.as_str() && other.authenticate(&t).await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "still signing with a revoked key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    other.authenticate(&fresh).await.unwrap();
    // Idempotent; unknown kids are NotFound.
    assert!(!e.engine.revoke_signing_key(&kid, &ctx()).await.unwrap());
    assert!(matches!(
        e.engine.revoke_signing_key("nope", &ctx()).await,
        Err(CoreError::NotFound(_))
    ));
}

// ---- password change: other sessions and credentials ------------------------------------------

#[tokio::test]
async fn a_password_change_can_revoke_every_credential() {
    let e = env().await;
    let org = e.org("acme").await;
    let other_org = e.org("beta").await;
    let ann = e.user("ann@example.com", false, &[&org, &other_org]).await;
    let p = e.signed_in("ann@example.com").await;
    let (_, key) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let other = e.signed_in("ann@example.com").await;
    let other_token = e.login("ann@example.com").await;
    let _ = other;
    e.engine
        .change_password(&p, PW, NEW_PW, true, true, &ctx())
        .await
        .unwrap();
    assert!(
        e.engine.authenticate(&key).await.is_err(),
        "the API key is revoked"
    );
    assert!(
        e.engine.authenticate(&other_token).await.is_err(),
        "other sessions end"
    );
    let creds = e
        .store
        .list_credentials(
            &portcullis_core::store::CredentialFilter {
                user_id: Some(ann.id),
                include_revoked: true,
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert!(creds.iter().all(|c| c.revoked_at.is_some()));
    assert_eq!(e.audit_events("credential.revoke_all").await.len(), 1);
}

// ---- idle timeout -------------------------------------------------------------------------------

fn idle_config(secs: i64) -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.tokens.idle_timeout_secs = secs;
    cfg
}

#[tokio::test]
async fn idle_sessions_end_and_last_seen_is_written_at_most_once_a_minute() {
    use portcullis_core::idle::{IdleTracker, TOUCH_EVERY, Use};
    let e = env_with(idle_config(600)).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let sid = p.session().unwrap().clone();
    let s0 = e.store.get_session(&sid).await.unwrap().unwrap();
    assert_eq!(s0.idle_timeout_secs, Some(600));
    let t0 = s0.last_seen_at;
    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
    let store = e.store.as_ref();

    let here = IdleTracker::new(100);
    let there = IdleTracker::new(100);
    // Uses within the minute are not written.
    assert_eq!(
        here.use_session(store, &sid, at(10)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        here.use_session(store, &sid, at(50)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        t0
    );
    // A minute after the stored value: written once.
    assert_eq!(
        here.use_session(store, &sid, at(61)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        here.use_session(store, &sid, at(62)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        at(61)
    );
    // Another process saw the session long ago; the use written here keeps it alive there.
    assert_eq!(
        there.use_session(store, &sid, at(62)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        here.use_session(store, &sid, at(500)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        at(500)
    );
    // 600 s after 62 plus the one-minute grace, "there" has not seen a use, but the store has.
    assert_eq!(
        there
            .use_session(store, &sid, at(62 + 600) + TOUCH_EVERY)
            .await
            .unwrap(),
        Use::Live
    );
    // Never before the timeout, at most a minute after it.
    assert_eq!(
        here.use_session(store, &sid, at(62 + 600 + 599))
            .await
            .unwrap(),
        Use::Live
    );
    let last = at(62 + 600 + 599);
    let fresh = IdleTracker::new(100);
    assert_eq!(
        fresh
            .use_session(
                store,
                &sid,
                last + chrono::Duration::seconds(600) + TOUCH_EVERY
            )
            .await
            .unwrap(),
        Use::Idle
    );
}

#[tokio::test]
async fn an_idle_session_is_refused_and_ended_everywhere() {
    let e = env_with(idle_config(600)).await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let now = Utc::now();
    // A session last used two hours ago, with a token that is still valid.
    let stale = Session {
        id: SessionId::generate(),
        user_id: ann.id,
        org_id: org.id,
        kind: SessionKind::Login,
        amr: vec!["pwd".into()],
        actor_id: None,
        created_at: now - chrono::Duration::hours(2),
        expires_at: now + chrono::Duration::hours(1),
        idle_timeout_secs: Some(600),
        last_seen_at: now - chrono::Duration::hours(2),
        revoked_at: None,
        ip: None,
        user_agent: None,
    };
    e.store.create_session(stale.clone()).await.unwrap();
    let tokens = e.engine.access_tokens();
    let claims = tokens.claims(
        ann.id,
        org.id,
        &stale.id.0,
        now,
        stale.expires_at,
        vec!["pwd".into()],
        false,
    );
    let token = tokens.sign(&claims).unwrap();
    match e.engine.authenticate(&token).await {
        Err(CoreError::InvalidToken(m)) => assert!(m.contains("inactivity"), "{m}"),
        other => panic!("{other:?}"),
    }
    let ended = e.store.get_session(&stale.id).await.unwrap().unwrap();
    assert!(
        ended.revoked_at.is_some(),
        "ended in the store, for every process"
    );
    assert_eq!(e.audit_events("session.idle_timeout").await.len(), 1);

    // A fresh session works and lists its last use and idle deadline.
    let p = e.signed_in("ann@example.com").await;
    let mine = e.engine.list_my_sessions(&p).await.unwrap();
    assert_eq!(mine.len(), 1);
    let s = &mine[0];
    assert!(s.current);
    assert_eq!(
        s.idle_expires_at,
        Some(s.last_seen + chrono::Duration::seconds(600))
    );
}

#[tokio::test]
async fn without_an_idle_timeout_sessions_show_no_deadline() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let mine = e.engine.list_my_sessions(&p).await.unwrap();
    assert_eq!(mine[0].idle_expires_at, None);
    assert_eq!(mine[0].last_seen, mine[0].session.created_at);
}

/// A session the user did not start with the password (the federation crate's IdP logins end in
/// `finish_login` with `amr = ["fed"]`): the forced-reset flag does not refuse it.
async fn idp_session(e: &Env, email: &str) -> portcullis_core::tokens::Principal {
    let user = e.store.get_user_by_email(email).await.unwrap().unwrap();
    let grant = e
        .engine
        .finish_login(user, vec!["fed".into()], OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    e.engine.authenticate(&grant.token.token).await.unwrap()
}

#[tokio::test]
async fn a_user_flagged_for_a_reset_cannot_change_the_password_with_the_old_one() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let code = e.force_reset("ann@example.com", false).await;
    let p = idp_session(&e, "ann@example.com").await;
    let verified = e.engine.hasher().verifications();
    let r = e
        .engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await;
    match r {
        Err(CoreError::PermissionDenied(why)) => assert!(why.contains("reset code"), "{why}"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    // Nothing changed, no attempt was counted and no password was tested.
    let after = e.store.get_user(ann.id).await.unwrap().unwrap();
    assert!(after.password_reset_required);
    let stored = after.password_hash.as_deref().unwrap();
    assert_ne!(
        e.engine.hasher().verify(PW, Some(stored)).await.unwrap(),
        password::Verified::No,
        "the old password is still the stored one"
    );
    assert_eq!(e.engine.hasher().verifications(), verified + 1);
    assert!(
        e.store
            .throttle_get("ann@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // The one-time code is the way; afterwards the session may change the password again.
    e.engine
        .reset_password_with_code("ann@example.com", &code, NEW_PW, &ctx())
        .await
        .unwrap();
    let p = idp_session(&e, "ann@example.com").await;
    e.engine
        .change_password(
            &p,
            NEW_PW,
            "a third perfectly fine passphrase",
            false,
            false,
            &ctx(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_empty_allow_list_allows_nobody() {
    let cfg = CoreConfig::default();
    assert!(cfg.allowed_email_domains.is_empty() && cfg.allowed_emails.is_empty());
    let e = env_with(cfg).await;
    for email in ["ann@example.com", "root@localhost.localdomain", "x@y.z"] {
        assert!(
            !e.engine.is_email_allowed(email, None).await.unwrap(),
            "{email}"
        );
    }
    let e = env_with(CoreConfig {
        allowed_email_domains: vec!["example.com".into()],
        ..CoreConfig::default()
    })
    .await;
    assert!(
        e.engine
            .is_email_allowed("ann@example.com", None)
            .await
            .unwrap()
    );
    assert!(
        !e.engine
            .is_email_allowed("ann@other.org", None)
            .await
            .unwrap()
    );
}
