//! Second factors in the core (docs/design/mfa.md), on a real SQLite store: the stopped
//! sign-in, TOTP once only, the shared lockout, recovery codes, recent authentication, the
//! org policy, the super-admin rule, passkeys only, credentials, federation, the admin reset.
//! Codes are computed with `totp-rs` from the `otpauth://` URI the engine hands out.

mod passkeys;
mod policy;

use std::time::Duration;

use chrono::Utc;
use portcullis_core::engine::{OrgChoice, SecondFactorProof};
use portcullis_core::factors::{MfaChallenge, ReauthProof, SignInStep};
use portcullis_core::*;
use portcullis_testkit::{PASSWORD, TestEnv, ctx, lock_after_three};

/// Unix seconds now, after waiting out the last seconds of a 30 s step: a code computed now
/// stays in the window of the check that follows.
async fn settled_now() -> u64 {
    loop {
        let t = Utc::now().timestamp();
        if t % 30 < 26 {
            return u64::try_from(t).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The code of `unix` for the factor behind `uri`, computed by `totp-rs` from the URI.
fn code(uri: &str, unix: u64) -> String {
    totp_rs::Totp::from_url(uri)
        .expect("otpauth uri")
        .generate(unix)
        .to_string()
}

/// No delay between failures (the default makes the next attempt wait a second), no lock soon.
fn no_delay() -> portcullis_core::config::CoreConfig {
    let mut cfg = portcullis_core::config::CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    cfg
}

struct Enrolled {
    uri: String,
    factor: FactorId,
    recovery: Vec<String>,
}

async fn principal(e: &TestEnv, user: &User) -> Principal {
    let token = e.session(user, OrgChoice::Default).await;
    e.engine.authenticate(&token).await.unwrap()
}

/// Enrols a TOTP factor for a user without one, on a fresh session (recent by its sign-in),
/// confirmed with the previous step's code so the current and next steps stay unused.
async fn enrol(e: &TestEnv, user: &User) -> Enrolled {
    let p = principal(e, user).await;
    let t = settled_now().await;
    let started = e
        .engine
        .start_totp_enrolment(&p, Some("phone"), &ctx())
        .await
        .unwrap();
    assert!(started.qr_svg.contains("<svg"));
    let uri = started.otpauth_uri.to_string();
    let confirmed = e
        .engine
        .confirm_totp_enrolment(&p, started.factor, &code(&uri, t - 30), &ctx())
        .await
        .unwrap();
    Enrolled {
        uri,
        factor: started.factor,
        recovery: confirmed
            .recovery_codes
            .expect("first factor brings recovery codes")
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }
}

async fn challenge(e: &TestEnv, email: &str) -> MfaChallenge {
    match e
        .engine
        .sign_in_password(email, PASSWORD, OrgChoice::Default, None, &ctx())
        .await
        .unwrap()
    {
        SignInStep::SecondFactor(c) => c,
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

fn is_mfa(r: CoreResult<impl std::fmt::Debug>, want: MfaRefusal) {
    match r {
        Err(CoreError::Mfa(got)) => assert_eq!(got, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_needs_the_code() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    // Before: a plain password login, as ever.
    e.login("ann@x.io", OrgChoice::Default).await;
    let en = enrol(&e, &ann).await;
    assert_eq!(en.recovery.len(), 10);
    let listed = e
        .engine
        .list_factors(&principal(&e, &ann).await)
        .await
        .unwrap();
    assert_eq!(listed.factors.len(), 1);
    assert_eq!(listed.recovery_codes_left, 10);

    // The API logins refuse after the right password; nothing started.
    is_mfa(
        e.try_login("ann@x.io", OrgChoice::Default)
            .await
            .map(|_| ()),
        MfaRefusal::SecondFactorRequired,
    );
    let before = e
        .store
        .list_user_sessions(ann.id, false, Utc::now())
        .await
        .unwrap()
        .len();
    let c = challenge(&e, "ann@x.io").await;
    assert_eq!(c.kinds, vec![FactorKind::Totp]);
    assert!(c.recovery_codes);
    assert_eq!(
        e.store
            .list_user_sessions(ann.id, false, Utc::now())
            .await
            .unwrap()
            .len(),
        before,
        "no session before the second factor"
    );
    let t = settled_now().await;
    let grant = e
        .engine
        .complete_second_factor(
            &c.handle,
            SecondFactorProof::Totp(&code(&en.uri, t)),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(grant.session.amr, vec!["pwd", "otp", "mfa"]);
    let p = e.engine.authenticate(&grant.token.token).await.unwrap();
    assert_eq!(p.amr, vec!["pwd", "otp", "mfa"]);
    // The challenge is spent.
    let again = e
        .engine
        .complete_second_factor(
            &c.handle,
            SecondFactorProof::Totp(&code(&en.uri, t + 30)),
            &ctx(),
        )
        .await;
    assert!(
        matches!(again, Err(CoreError::InvalidToken(_))),
        "{again:?}"
    );
    assert!(!e.audit_events("factor.verify").await.is_empty());
    assert_eq!(e.audit_events("factor.enrol").await.len(), 2);
}

#[tokio::test]
async fn a_totp_code_is_accepted_once() {
    let e = TestEnv::builder().config(no_delay()).build().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let en = enrol(&e, &ann).await;
    let t = settled_now().await;
    let now_code = code(&en.uri, t);
    let c1 = challenge(&e, "ann@x.io").await;
    e.engine
        .complete_second_factor(&c1.handle, SecondFactorProof::Totp(&now_code), &ctx())
        .await
        .unwrap();
    // Replayed inside its window: refused, on this challenge and any other.
    let c2 = challenge(&e, "ann@x.io").await;
    is_mfa(
        e.engine
            .complete_second_factor(&c2.handle, SecondFactorProof::Totp(&now_code), &ctx())
            .await,
        MfaRefusal::InvalidCode,
    );
    // The code that confirmed the enrolment is spent as well.
    is_mfa(
        e.engine
            .complete_second_factor(
                &c2.handle,
                SecondFactorProof::Totp(&code(&en.uri, t - 30)),
                &ctx(),
            )
            .await,
        MfaRefusal::InvalidCode,
    );
    let failures = e.audit_events("factor.verify").await;
    assert!(
        failures
            .iter()
            .any(|ev| ev.detail["reason"] == "code already used"),
        "{failures:?}"
    );
    // The next step still works on the same challenge.
    e.engine
        .complete_second_factor(
            &c2.handle,
            SecondFactorProof::Totp(&code(&en.uri, t + 30)),
            &ctx(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_codes_count_toward_the_password_lockout() {
    let e = TestEnv::builder().config(lock_after_three()).build().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let en = enrol(&e, &ann).await;
    // A wrong code, a wrong password, and a right password between them clears nothing.
    let c = challenge(&e, "ann@x.io").await;
    is_mfa(
        e.engine
            .complete_second_factor(&c.handle, SecondFactorProof::Totp("000000"), &ctx())
            .await,
        MfaRefusal::InvalidCode,
    );
    let wrong = e
        .login_grant("ann@x.io", "not the password", OrgChoice::Default)
        .await;
    assert!(matches!(wrong, Err(CoreError::InvalidCredentials)));
    let c = challenge(&e, "ann@x.io").await;
    is_mfa(
        e.engine
            .complete_second_factor(
                &c.handle,
                SecondFactorProof::RecoveryCode("0000-0000-0000-0000-0000-0000"),
                &ctx(),
            )
            .await,
        MfaRefusal::InvalidCode,
    );
    // Third failure: locked. The right code and the right password are refused now.
    let lock = e.audit_events("account.lock").await;
    assert_eq!(lock.len(), 1, "{lock:?}");
    let t = settled_now().await;
    is_mfa(
        e.engine
            .complete_second_factor(
                &c.handle,
                SecondFactorProof::Totp(&code(&en.uri, t)),
                &ctx(),
            )
            .await,
        MfaRefusal::InvalidCode,
    );
    let locked = e
        .engine
        .sign_in_password("ann@x.io", PASSWORD, OrgChoice::Default, None, &ctx())
        .await;
    assert!(
        matches!(locked, Err(CoreError::InvalidCredentials)),
        "{locked:?}"
    );
    // An admin unlock lets the same code through (it was not spent while locked).
    e.engine.unlock("ann@x.io", &ctx()).await.unwrap();
    let c = challenge(&e, "ann@x.io").await;
    e.engine
        .complete_second_factor(
            &c.handle,
            SecondFactorProof::Totp(&code(&en.uri, t)),
            &ctx(),
        )
        .await
        .unwrap();
    assert!(
        !e.throttled("ann@x.io").await,
        "a completed sign-in clears the counter"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let e = TestEnv::builder().config(no_delay()).build().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let en = enrol(&e, &ann).await;
    let rc = en.recovery[3].to_uppercase();
    let c = challenge(&e, "ann@x.io").await;
    let grant = e
        .engine
        .complete_second_factor(&c.handle, SecondFactorProof::RecoveryCode(&rc), &ctx())
        .await
        .unwrap();
    assert_eq!(grant.session.amr, vec!["pwd", "mfa"]);
    let c = challenge(&e, "ann@x.io").await;
    is_mfa(
        e.engine
            .complete_second_factor(&c.handle, SecondFactorProof::RecoveryCode(&rc), &ctx())
            .await,
        MfaRefusal::InvalidCode,
    );
    assert_eq!(
        e.engine
            .mfa_state(ann.id)
            .await
            .unwrap()
            .recovery_codes_left,
        9
    );

    // Regenerated (after a factor re-authentication): the old codes die.
    let p = e.engine.authenticate(&grant.token.token).await.unwrap();
    let fresh = e
        .engine
        .regenerate_recovery_codes(&p, &ctx())
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    is_mfa(
        e.engine
            .complete_second_factor(
                &c.handle,
                SecondFactorProof::RecoveryCode(&en.recovery[0]),
                &ctx(),
            )
            .await,
        MfaRefusal::InvalidCode,
    );
    e.engine
        .complete_second_factor(
            &c.handle,
            SecondFactorProof::RecoveryCode(&fresh[0]),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(e.audit_events("recovery_codes.regenerate").await.len(), 1);
}

#[tokio::test]
async fn factor_changes_need_a_recent_authentication() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let en = enrol(&e, &ann).await;
    // A password-only session of a user with a factor: not recent enough for changes.
    let p = principal(&e, &ann).await;
    is_mfa(
        e.engine.remove_factor(&p, en.factor, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    is_mfa(
        e.engine.start_totp_enrolment(&p, None, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    is_mfa(
        e.engine.regenerate_recovery_codes(&p, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    // The password alone does not do for a user with a factor.
    e.engine
        .reauthenticate(&p, ReauthProof::Password(PASSWORD), &ctx())
        .await
        .unwrap();
    is_mfa(
        e.engine.remove_factor(&p, en.factor, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    // A factor re-authentication older than five minutes does not count either.
    let sid = p.session().unwrap().clone();
    let old = Utc::now() - chrono::Duration::seconds(301);
    e.store
        .record_session_reauth(&sid, old, &["otp".into(), "mfa".into()])
        .await
        .unwrap();
    is_mfa(
        e.engine.remove_factor(&p, en.factor, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    let t = settled_now().await;
    let until = e
        .engine
        .reauthenticate(
            &p,
            ReauthProof::Factor(SecondFactorProof::Totp(&code(&en.uri, t))),
            &ctx(),
        )
        .await
        .unwrap();
    assert!(until > Utc::now() + chrono::Duration::seconds(290));
    e.engine.remove_factor(&p, en.factor, &ctx()).await.unwrap();
    let st = e.engine.mfa_state(ann.id).await.unwrap();
    assert!(st.factors.is_empty());
    assert_eq!(
        st.recovery_codes_left, 0,
        "the codes go with the last factor"
    );
    let removed = e.audit_events("factor.remove").await;
    assert!(removed.iter().any(|ev| ev.outcome == AuditOutcome::Denied));
    assert!(removed.iter().any(|ev| ev.outcome == AuditOutcome::Success));
    assert!(!e.audit_events("session.reauth").await.is_empty());
    // Back to a plain password login.
    e.login("ann@x.io", OrgChoice::Default).await;
}

#[tokio::test]
async fn credentials_need_a_session_with_a_second_factor() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    // No factor, optional policy: as before.
    let p = principal(&e, &ann).await;
    e.engine
        .create_api_key(&p, "before", None, &ctx())
        .await
        .unwrap();
    let en = enrol(&e, &ann).await;
    let p = principal(&e, &ann).await;
    is_mfa(
        e.engine.create_api_key(&p, "pwd only", None, &ctx()).await,
        MfaRefusal::SessionWithoutSecondFactor,
    );
    let c = challenge(&e, "ann@x.io").await;
    let t = settled_now().await;
    let grant = e
        .engine
        .complete_second_factor(
            &c.handle,
            SecondFactorProof::Totp(&code(&en.uri, t)),
            &ctx(),
        )
        .await
        .unwrap();
    let p = e.engine.authenticate(&grant.token.token).await.unwrap();
    e.engine
        .create_api_key(&p, "with mfa", None, &ctx())
        .await
        .unwrap();
}
