//! The login use case, whole (`engine/login_request.rs`): the request's rules before anything
//! is written, the rollback of a login refused after its session was written, and the one
//! impersonation policy (`impersonation.rs`) on every login path.

use chrono::Utc;
use portcullis_core::engine::{
    LoginCredential, LoginOutcome, LoginRequest, OrgChoice, OrgSelectOutcome,
};
use portcullis_core::*;
use portcullis_testkit::{PASSWORD as PW, TestEnv, ctx};

fn csr_pem() -> String {
    rcgen::CertificateParams::new(vec!["x.example".to_string()])
        .unwrap()
        .serialize_request(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem()
        .unwrap()
}

/// The user's sessions, ended ones too when `all`.
async fn sessions(e: &TestEnv, user: &User, all: bool) -> Vec<Session> {
    e.store
        .list_user_sessions(user.id, all, Utc::now())
        .await
        .unwrap()
}

/// A password login into the default org.
async fn login(e: &TestEnv, email: &str, request: &LoginRequest) -> CoreResult<LoginOutcome> {
    e.engine
        .login(password(email), OrgChoice::Default, request, &ctx())
        .await
}

fn password<'a>(email: &'a str) -> LoginCredential<'a> {
    LoginCredential::Password {
        email,
        password: PW,
    }
}

#[tokio::test]
async fn an_impersonation_session_gets_no_client_certificate() {
    let e = TestEnv::builder().build().await;
    assert!(e.engine.certificate_authority().is_some(), "signing is on");
    let org = e.org("acme").await;
    let ann = e.user_in("ann@example.com", &org, &[Role::Admin]).await;
    let csr = csr_pem();
    let denied = |r: CoreResult<_>| matches!(r, Err(CoreError::PermissionDenied(_)));
    assert!(denied(
        e.engine.login_request(Some("ann@example.com"), Some(&csr))
    ));
    assert!(
        e.engine
            .login_request(Some("ann@example.com"), None)
            .is_ok()
    );
    assert!(e.engine.login_request(None, Some(&csr)).is_ok());
    // Blank values count as absent.
    assert!(e.engine.login_request(Some("  "), Some(&csr)).is_ok());
    let exp = Utc::now() + chrono::Duration::hours(1);
    let r = e.engine.sign_csr(&ann, &csr, exp, true, &ctx()).await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    assert!(
        e.audit_events("certificate.sign").await.is_empty(),
        "nothing was signed"
    );
    let own = e.engine.sign_csr(&ann, &csr, exp, false, &ctx()).await;
    assert!(matches!(own, Ok(Some(_))), "{own:?}");
}

#[tokio::test]
async fn a_login_returns_its_certificates() {
    let e = TestEnv::builder().build().await;
    let org = e.org("acme").await;
    e.user_in("ann@example.com", &org, &[Role::Author]).await;
    let request = e.engine.login_request(None, Some(&csr_pem())).unwrap();
    let out = login(&e, "ann@example.com", &request).await.unwrap();
    assert!(out.result.ca_certificate.is_some());
    assert!(out.result.user_certificate.is_some());
    assert_eq!(out.result.token, out.grant.token.token);
    let plain = e.engine.login_request(None, None).unwrap();
    let out = login(&e, "ann@example.com", &plain).await.unwrap();
    assert!(out.result.ca_certificate.is_some());
    assert!(out.result.user_certificate.is_none());
}

/// A CSR refused after the session was written ends that session (its token is refused) and
/// is audited once, as a failed login.
#[tokio::test]
async fn a_refused_csr_leaves_no_usable_session() {
    let e = TestEnv::builder().build().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@example.com", &org, &[Role::Author]).await;
    let bad = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    let request = e.engine.login_request(None, Some(bad)).unwrap();
    let r = login(&e, "ann@example.com", &request).await;
    assert!(matches!(r, Err(CoreError::InvalidArgument(_))), "{r:?}");
    let live = sessions(&e, &ann, false).await;
    assert!(live.is_empty(), "no live session: {live:?}");
    let all = sessions(&e, &ann, true).await;
    assert_eq!(all.len(), 1, "the session was written, then ended");
    assert!(e.engine.revocations().is_session_revoked(&all[0].id));
    let failed: Vec<_> = e
        .audit_events("login")
        .await
        .into_iter()
        .filter(|ev| ev.outcome == AuditOutcome::Failure)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].detail["session"], all[0].id.0);
    assert!(e.audit_events("logout").await.is_empty());
}

/// A team token login ends its session when the team is refused.
#[tokio::test]
async fn a_team_token_login_in_a_foreign_team_is_undone() {
    let e = TestEnv::builder().build().await;
    let org = e.org("acme").await;
    let other = e.org("beta").await;
    let ann = e.user_in("ann@example.com", &org, &[Role::Author]).await;
    let ok = e
        .engine
        .login_request(None, None)
        .unwrap()
        .with_org_token(org.id);
    let out = login(&e, "ann@example.com", &ok).await.unwrap();
    let p = e.engine.authenticate(&out.result.token).await.unwrap();
    assert_eq!(p.org, org.id);
    assert!(p.is_org_bound(), "a team token");
    let foreign = e
        .engine
        .login_request(None, None)
        .unwrap()
        .with_org_token(other.id);
    let r = login(&e, "ann@example.com", &foreign).await;
    assert!(r.is_err(), "{r:?}");
    let live = sessions(&e, &ann, false).await;
    assert_eq!(live.len(), 1, "only the first login's session is live");
}

/// The one impersonation policy: both the session login and the team-select login refuse a
/// super-admin target, and both audit the refusal the same way.
#[tokio::test]
async fn every_login_path_refuses_and_audits_a_super_admin_target() {
    let e = TestEnv::builder().build().await;
    let org = e.org("acme").await;
    let root = e
        .user("root@example.com")
        .super_admin()
        .member(&org, &[Role::Admin])
        .create()
        .await;
    let other = e
        .user("other@example.com")
        .super_admin()
        .member(&org, &[Role::Admin])
        .create()
        .await;
    let request = e
        .engine
        .login_request(Some("other@example.com"), None)
        .unwrap();
    let r = login(&e, "root@example.com", &request).await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    let r = e
        .engine
        .login_with_org_select(password("root@example.com"), &request, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    let denied: Vec<_> = e
        .audit_events("impersonation.start")
        .await
        .into_iter()
        .filter(|ev| ev.outcome == AuditOutcome::Denied)
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    for ev in &denied {
        assert_eq!(ev.actor, Some(root.id));
        assert_eq!(ev.target, Some(other.id.to_string()));
        assert_eq!(ev.detail["reason"], "target is a super-admin");
    }
    let theirs = sessions(&e, &other, true).await;
    assert!(theirs.is_empty());
}

/// A team-select login offers the teams of a user on two, and logs in a user on one.
#[tokio::test]
async fn a_team_select_login_offers_or_logs_in() {
    let e = TestEnv::builder().build().await;
    let a = e.org("acme").await;
    let b = e.org("beta").await;
    e.user("two@example.com")
        .member(&a, &[Role::Author])
        .member(&b, &[Role::Author])
        .create()
        .await;
    e.user_in("one@example.com", &a, &[Role::Author]).await;
    let request = e.engine.login_request(None, None).unwrap();
    let two = e
        .engine
        .login_with_org_select(password("two@example.com"), &request, &ctx())
        .await
        .unwrap();
    assert!(
        matches!(two, OrgSelectOutcome::Choose(ref c) if c.len() == 2),
        "{two:?}"
    );
    let one = e
        .engine
        .login_with_org_select(password("one@example.com"), &request, &ctx())
        .await
        .unwrap();
    let OrgSelectOutcome::LoggedIn(out) = one else {
        panic!("a login");
    };
    assert_eq!(out.result.orgs.len(), 1);
}
