//! The org policy: required means enrolment at the next sign-in, off asks nothing but of a
//! super-admin, passkeys only refuses TOTP; federated sign-ins; the operator's reset.

use std::sync::Arc;

use portcullis_core::admin::Admin;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::LoginCredential;

use super::*;

pub(super) async fn set_policy(e: &TestEnv, org: &Org, mode: MfaMode, passkeys_only: bool) {
    e.store
        .set_org_mfa_policy(
            org.id,
            MfaPolicy {
                mode,
                passkeys_only,
            },
            Utc::now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn required_policy_sends_a_user_without_a_factor_through_enrolment() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    set_policy(&e, &org, MfaMode::Required, false).await;
    is_mfa(
        e.try_login("ann@x.io", OrgChoice::Default)
            .await
            .map(|_| ()),
        MfaRefusal::EnrolmentRequired,
    );
    let step = e
        .engine
        .sign_in_password("ann@x.io", PASSWORD, OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    let SignInStep::Enrolment(c) = step else {
        panic!("expected an enrolment, got {step:?}");
    };
    assert_eq!(c.kinds, vec![FactorKind::Totp, FactorKind::Webauthn]);
    // An enrolment challenge is not a second-factor one.
    let wrong_kind = e
        .engine
        .complete_second_factor(&c.handle, SecondFactorProof::Totp("123456"), &ctx())
        .await;
    assert!(matches!(wrong_kind, Err(CoreError::InvalidToken(_))));
    let started = e
        .engine
        .start_challenge_enrolment(&c.handle, None, &ctx())
        .await
        .unwrap();
    let uri = started.otpauth_uri.to_string();
    let t = settled_now().await;
    is_mfa(
        e.engine
            .complete_challenge_enrolment(&c.handle, started.factor, "000000", &ctx())
            .await,
        MfaRefusal::InvalidCode,
    );
    let (grant, confirmed) = e
        .engine
        .complete_challenge_enrolment(&c.handle, started.factor, &code(&uri, t), &ctx())
        .await
        .unwrap();
    assert_eq!(grant.session.amr, vec!["pwd", "otp", "mfa"]);
    assert_eq!(grant.user.id, ann.id);
    assert_eq!(confirmed.recovery_codes.map(|c| c.len()), Some(10));
    // From now on: a second factor at each sign-in.
    let c = challenge(&e, "ann@x.io").await;
    e.engine
        .complete_second_factor(
            &c.handle,
            SecondFactorProof::Totp(&code(&uri, t + 30)),
            &ctx(),
        )
        .await
        .unwrap();
    // The last factor cannot go while the org requires one.
    let p = e.engine.authenticate(&grant.token.token).await.unwrap();
    let last = e.engine.remove_factor(&p, started.factor, &ctx()).await;
    assert!(matches!(last, Err(CoreError::Conflict(_))), "{last:?}");
}

#[tokio::test]
async fn mfa_off_asks_nothing_but_a_super_admin_is_always_asked() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let root = e
        .user("root@x.io")
        .super_admin()
        .member(&org, &[])
        .create()
        .await;
    enrol(&e, &ann).await;
    enrol(&e, &root).await;
    set_policy(&e, &org, MfaMode::Off, false).await;
    e.login("ann@x.io", OrgChoice::Default).await;
    is_mfa(
        e.try_login("root@x.io", OrgChoice::Default)
            .await
            .map(|_| ()),
        MfaRefusal::SecondFactorRequired,
    );
    challenge(&e, "root@x.io").await;
    // Optional: both are asked once enrolled.
    set_policy(&e, &org, MfaMode::Optional, false).await;
    challenge(&e, "ann@x.io").await;
}

#[tokio::test]
async fn passkeys_only_refuses_totp_enrolment_and_use() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let bob = e.user_in("bob@x.io", &org, &[]).await;
    let en = enrol(&e, &ann).await;
    set_policy(&e, &org, MfaMode::Optional, true).await;
    // Enrolment refused.
    let p = principal(&e, &bob).await;
    is_mfa(
        e.engine.start_totp_enrolment(&p, None, &ctx()).await,
        MfaRefusal::KindNotAllowed,
    );
    // Use refused: TOTP no longer counts as a factor, nor as a re-authentication.
    let pa = principal(&e, &ann).await;
    let t = settled_now().await;
    is_mfa(
        e.engine
            .reauthenticate(
                &pa,
                ReauthProof::Factor(SecondFactorProof::Totp(&code(&en.uri, t))),
                &ctx(),
            )
            .await,
        MfaRefusal::KindNotAllowed,
    );
    // Required and passkeys only: a passkey must be enrolled, TOTP cannot be.
    set_policy(&e, &org, MfaMode::Required, true).await;
    let step = e
        .engine
        .sign_in_password("ann@x.io", PASSWORD, OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    let SignInStep::Enrolment(c) = step else {
        panic!("expected an enrolment, got {step:?}");
    };
    assert_eq!(c.kinds, vec![FactorKind::Webauthn]);
    is_mfa(
        e.engine
            .start_challenge_enrolment(&c.handle, None, &ctx())
            .await,
        MfaRefusal::KindNotAllowed,
    );
    let denied = e.audit_events("factor.enrol").await;
    assert!(denied.iter().any(|ev| ev.outcome == AuditOutcome::Denied));
}

#[tokio::test]
async fn a_federated_sign_in_counts_upstream_mfa_only_when_passed_on() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    enrol(&e, &ann).await;
    let request = e.engine.login_request(None, None).unwrap();
    let verified = |amr: &[&str]| LoginCredential::Verified {
        user: ann.clone(),
        amr: amr.iter().map(|s| s.to_string()).collect(),
        not_after: None,
    };
    is_mfa(
        e.engine
            .login(verified(&["fed"]), OrgChoice::Default, &request, &ctx())
            .await
            .map(|_| ()),
        MfaRefusal::SecondFactorRequired,
    );
    let denied = e
        .engine
        .finish_login_until(
            ann.clone(),
            vec!["fed".into()],
            OrgChoice::Default,
            None,
            None,
            &ctx(),
        )
        .await;
    assert!(matches!(
        denied,
        Err(CoreError::Mfa(MfaRefusal::SecondFactorRequired))
    ));
    let ok = e
        .engine
        .login(
            verified(&["fed", "mfa"]),
            OrgChoice::Default,
            &request,
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(ok.grant.session.amr, vec!["fed", "mfa"]);
    // The browser path may stop half-way instead.
    let step = e
        .engine
        .sign_in_verified(
            ann.clone(),
            vec!["fed".into()],
            OrgChoice::Default,
            None,
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(step, SignInStep::SecondFactor(_)), "{step:?}");
}

#[tokio::test]
async fn an_operator_reset_removes_factors_and_ends_sessions() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    enrol(&e, &ann).await;
    let token = e.session(&ann, OrgChoice::Default).await;
    let admin = Admin::new(Arc::clone(&e.store), &CoreConfig::default(), "cli");
    let (_, overview) = admin.user_mfa("ann@x.io").await.unwrap();
    assert_eq!(overview.factors.len(), 1);
    let (_, reset) = admin.reset_user_mfa("ann@x.io").await.unwrap();
    assert_eq!(reset.factors_removed, 1);
    assert!(reset.sessions_ended >= 1);
    let st = e.engine.mfa_state(ann.id).await.unwrap();
    assert!(st.factors.is_empty() && st.recovery_codes_left == 0);
    portcullis_testkit::within_a_second("the session ends", || async {
        e.engine.authenticate(&token).await.is_err()
    })
    .await;
    assert_eq!(e.audit_events("factor.reset").await.len(), 1);
    e.login("ann@x.io", OrgChoice::Default).await;

    let (_, policy) = admin
        .set_org_mfa_policy("acme", Some(MfaMode::Required), None)
        .await
        .unwrap();
    assert_eq!(policy.mode, MfaMode::Required);
    assert_eq!(admin.org_mfa_policy("acme").await.unwrap(), policy);
    assert_eq!(e.audit_events("org.mfa_policy").await.len(), 1);
    assert!(admin.set_org_mfa_policy("acme", None, None).await.is_err());
}
