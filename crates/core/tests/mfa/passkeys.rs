//! Passkeys (docs/design/mfa.md "Passkeys"), driven by `webauthn-authenticator-rs`'s software
//! authenticator through the real ceremonies: registration on a recent session, the second
//! step, passwordless sign-in, the sign counter, other users' and unknown credentials,
//! passkeys only, single-use ceremonies.

use portcullis_core::engine::LoginGrant;
use portcullis_core::factors::{PasskeyAnswer, PasskeyCeremony};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::policy::set_policy;
use super::*;

const ORIGIN: &str = "http://localhost:8080";

async fn env() -> TestEnv {
    let mut cfg = no_delay();
    cfg.public_url = ORIGIN.into();
    TestEnv::builder().config(cfg).build().await
}

/// A software authenticator that reports user verification (as a PIN or biometric would).
fn authenticator() -> SoftPasskey {
    SoftPasskey::new(true)
}

fn create(key: &mut SoftPasskey, c: &PasskeyCeremony) -> Value {
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": c.options})).unwrap();
    let answer = key
        .do_registration(Url::parse(ORIGIN).unwrap(), options)
        .expect("the authenticator registers");
    serde_json::to_value(answer).unwrap()
}

fn get(key: &mut SoftPasskey, options: &Value) -> Value {
    let options: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": options})).unwrap();
    let answer = key
        .do_authentication(Url::parse(ORIGIN).unwrap(), options)
        .expect("the authenticator answers");
    serde_json::to_value(answer).unwrap()
}

fn answer<'a>(c: &'a PasskeyCeremony, credential: &'a Value) -> PasskeyAnswer<'a> {
    PasskeyAnswer {
        ceremony: &c.ceremony,
        credential,
    }
}

/// Registers a passkey for `user` on a fresh (recent) session; returns the factor id.
async fn register(e: &TestEnv, user: &User, key: &mut SoftPasskey, name: &str) -> FactorId {
    let p = principal(e, user).await;
    let c = e
        .engine
        .start_passkey_registration(&p, &ctx())
        .await
        .unwrap();
    assert_eq!(c.options["rp"]["id"], "localhost");
    assert_eq!(
        c.options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    let cred = create(key, &c);
    let done = e
        .engine
        .finish_passkey_registration(&p, answer(&c, &cred), Some(name), &ctx())
        .await
        .unwrap();
    assert_eq!(done.factor.kind, FactorKind::Webauthn);
    assert_eq!(done.factor.name, name);
    done.factor.id
}

/// A stopped sign-in and the passkey options for its second step.
async fn second_step(e: &TestEnv, email: &str) -> (MfaChallenge, PasskeyCeremony) {
    let c = challenge(e, email).await;
    let ceremony = e
        .engine
        .start_second_factor_passkey(&c.handle)
        .await
        .unwrap();
    (c, ceremony)
}

/// Ann's password, then `key` answers the second step.
async fn use_key(e: &TestEnv, key: &mut SoftPasskey) -> CoreResult<LoginGrant> {
    let (c, ceremony) = second_step(e, "ann@x.io").await;
    let a = get(key, &ceremony.options);
    let proof = SecondFactorProof::Passkey(answer(&ceremony, &a));
    e.engine
        .complete_second_factor(&c.handle, proof, &ctx())
        .await
}

#[tokio::test]
async fn a_passkey_registers_then_answers_the_second_step_once() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let mut key = authenticator();
    let p = principal(&e, &ann).await;
    let c = e
        .engine
        .start_passkey_registration(&p, &ctx())
        .await
        .unwrap();
    let cred = create(&mut key, &c);
    let done = e
        .engine
        .finish_passkey_registration(&p, answer(&c, &cred), None, &ctx())
        .await
        .unwrap();
    assert_eq!(done.factor.name, "Passkey");
    assert_eq!(done.recovery_codes.map(|c| c.len()), Some(10));
    // The registration ceremony was single use.
    assert!(matches!(
        e.engine
            .finish_passkey_registration(&p, answer(&c, &cred), None, &ctx())
            .await,
        Err(CoreError::InvalidToken(_))
    ));
    // A second passkey (after a passkey re-authentication: the session's password alone no
    // longer does): the first is excluded from its options; both listed with their names.
    let r = e.engine.start_passkey_reauth(&p).await.unwrap();
    let a = get(&mut key, &r.options);
    let proof = SecondFactorProof::Passkey(answer(&r, &a));
    e.engine
        .reauthenticate(&p, ReauthProof::Factor(proof), &ctx())
        .await
        .unwrap();
    let c2 = e
        .engine
        .start_passkey_registration(&p, &ctx())
        .await
        .unwrap();
    assert_eq!(
        c2.options["excludeCredentials"].as_array().unwrap().len(),
        1
    );
    let mut key2 = authenticator();
    let cred2 = create(&mut key2, &c2);
    e.engine
        .finish_passkey_registration(&p, answer(&c2, &cred2), Some("desk key"), &ctx())
        .await
        .unwrap();
    let listed = e.engine.list_factors(&p).await.unwrap();
    let names: Vec<_> = listed.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Passkey", "desk key"]);

    let (challenge, ceremony) = second_step(&e, "ann@x.io").await;
    assert_eq!(challenge.kinds, vec![FactorKind::Webauthn]);
    assert_eq!(
        ceremony.options["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let assertion = get(&mut key, &ceremony.options);
    let grant = e
        .engine
        .complete_second_factor(
            &challenge.handle,
            SecondFactorProof::Passkey(answer(&ceremony, &assertion)),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(grant.session.amr, vec!["pwd", "swk", "mfa"]);
    // The same answer again: its ceremony is spent.
    let (again, _) = second_step(&e, "ann@x.io").await;
    assert!(matches!(
        e.engine
            .complete_second_factor(
                &again.handle,
                SecondFactorProof::Passkey(answer(&ceremony, &assertion)),
                &ctx(),
            )
            .await,
        Err(CoreError::InvalidToken(_))
    ));
    let verified = e.audit_events("factor.verify").await;
    assert!(
        verified
            .iter()
            .any(|ev| ev.outcome == AuditOutcome::Success && ev.detail["method"] == "passkey")
    );
    let enrolled = e.audit_events("factor.enrol").await;
    assert!(enrolled.iter().any(|ev| ev.outcome == AuditOutcome::Success
        && ev.detail["kind"] == "webauthn"
        && ev.detail["stage"] == "confirm"));
}

#[tokio::test]
async fn a_counter_that_does_not_move_forward_is_refused() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let mut key = authenticator();
    let id = register(&e, &ann, &mut key, "key").await;
    // First use: counter 1.
    use_key(&e, &mut key).await.unwrap();
    let stored = |st: &MfaState| st.factors.iter().find(|f| f.id == id).unwrap().clone();
    let st = e.engine.mfa_state(ann.id).await.unwrap();
    assert_eq!(stored(&st).counter, 1);
    // A clone of the key already answered with counter 10: the real key's 2 is refused by
    // the library (counter check) and the store (conditional update) alike.
    let mut cred: Value = serde_json::from_str(stored(&st).credential.as_deref().unwrap()).unwrap();
    *cred.pointer_mut("/passkey/cred/counter").unwrap() = json!(10);
    e.store
        .record_passkey_use(id, 10, &cred.to_string(), Utc::now())
        .await
        .unwrap();
    is_mfa(use_key(&e, &mut key).await, MfaRefusal::InvalidCode);
    let failed = e.audit_events("factor.verify").await;
    assert!(failed.iter().any(|ev| ev.outcome == AuditOutcome::Failure
        && ev.detail["reason"] == "passkey counter did not advance"));
    // The store guard on its own: the library's copy says 1, the column says 10.
    *cred.pointer_mut("/passkey/cred/counter").unwrap() = json!(1);
    e.store
        .record_passkey_use(id, 11, &cred.to_string(), Utc::now())
        .await
        .unwrap();
    is_mfa(use_key(&e, &mut key).await, MfaRefusal::InvalidCode);
    assert_eq!(
        stored(&e.engine.mfa_state(ann.id).await.unwrap()).counter,
        11
    );
}

#[tokio::test]
async fn another_users_or_an_unknown_credential_is_refused() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let bob = e.user_in("bob@x.io", &org, &[]).await;
    let mut ann_key = authenticator();
    let mut bob_key = authenticator();
    register(&e, &ann, &mut ann_key, "ann's").await;
    register(&e, &bob, &mut bob_key, "bob's").await;
    // Bob's valid answer to Bob's ceremony, handed in for Ann's sign-in.
    let (ann_c, ann_ceremony) = second_step(&e, "ann@x.io").await;
    let (_, bob_ceremony) = second_step(&e, "bob@x.io").await;
    let bobs = get(&mut bob_key, &bob_ceremony.options);
    for ceremony in [&ann_ceremony, &bob_ceremony] {
        let proof = SecondFactorProof::Passkey(answer(ceremony, &bobs));
        is_mfa(
            e.engine
                .complete_second_factor(&ann_c.handle, proof, &ctx())
                .await,
            MfaRefusal::InvalidCode,
        );
    }
    // An unknown credential id.
    let (c, ceremony) = second_step(&e, "ann@x.io").await;
    let mut unknown = get(&mut ann_key, &ceremony.options);
    unknown["id"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
    unknown["rawId"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
    let proof = SecondFactorProof::Passkey(answer(&ceremony, &unknown));
    is_mfa(
        e.engine
            .complete_second_factor(&c.handle, proof, &ctx())
            .await,
        MfaRefusal::InvalidCode,
    );
    // Not a credential at all: a clear error, not a failure count.
    let (c, ceremony) = second_step(&e, "ann@x.io").await;
    let junk = json!({"nope": 1});
    let proof = SecondFactorProof::Passkey(answer(&ceremony, &junk));
    assert!(matches!(
        e.engine
            .complete_second_factor(&c.handle, proof, &ctx())
            .await,
        Err(CoreError::InvalidArgument(_))
    ));
}

/// What a discoverable authenticator returns: the assertion plus the user handle it stored.
async fn passwordless_answer(
    e: &TestEnv,
    key: &mut SoftPasskey,
    owner: &User,
    handle_of: UserId,
) -> (PasskeyCeremony, Value) {
    let c = e.engine.start_passkey_sign_in().await.unwrap();
    assert!(
        c.options
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().unwrap().is_empty())
    );
    assert_eq!(c.options["userVerification"], "required");
    // The software key keeps no resident credentials: name its credential for it (the
    // challenge, origin and signature are still the ceremony's).
    let st = e.engine.mfa_state(owner.id).await.unwrap();
    let id = st.factors[0].credential_id.clone().unwrap();
    let mut options = c.options.clone();
    options["allowCredentials"] = json!([{"type": "public-key", "id": id}]);
    let mut a = get(key, &options);
    a["response"]["userHandle"] = json!(base64_url(handle_of.0.as_bytes()));
    (c, a)
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn passwordless_sign_in_counts_as_two_factors() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let bob = e.user_in("bob@x.io", &org, &[]).await;
    let mut key = authenticator();
    register(&e, &ann, &mut key, "key").await;
    let (c, a) = passwordless_answer(&e, &mut key, &ann, ann.id).await;
    let step = e
        .engine
        .finish_passkey_sign_in(answer(&c, &a), OrgChoice::Default, &ctx())
        .await
        .unwrap();
    let SignInStep::SignedIn(grant) = step else {
        panic!("a verified passkey signs in, got {step:?}")
    };
    assert_eq!(grant.session.amr, vec!["swk", "mfa"]);
    assert_eq!(grant.session.user_id, ann.id);
    // Single use.
    assert!(matches!(
        e.engine
            .finish_passkey_sign_in(answer(&c, &a), OrgChoice::Default, &ctx())
            .await,
        Err(CoreError::InvalidToken(_))
    ));
    // Ann's key claiming to be Bob's (user handle): Bob has no such credential.
    let (c, a) = passwordless_answer(&e, &mut key, &ann, bob.id).await;
    assert!(matches!(
        e.engine
            .finish_passkey_sign_in(answer(&c, &a), OrgChoice::Default, &ctx())
            .await,
        Err(CoreError::InvalidCredentials)
    ));
    // A user handle of nobody.
    let (c, a) = passwordless_answer(&e, &mut key, &ann, UserId::new()).await;
    assert!(matches!(
        e.engine
            .finish_passkey_sign_in(answer(&c, &a), OrgChoice::Default, &ctx())
            .await,
        Err(CoreError::InvalidCredentials)
    ));
    let logins = e.audit_events("login").await;
    assert!(logins.iter().any(|ev| ev.outcome == AuditOutcome::Success));
    assert!(
        logins
            .iter()
            .any(|ev| ev.outcome == AuditOutcome::Failure && ev.detail["method"] == "passkey")
    );
}

#[tokio::test]
async fn an_answer_without_user_verification_is_refused() {
    // The software key sets the UV flag only by claiming it; clearing the flag in the signed
    // authenticator data breaks the signature, so the library refuses the answer: no session,
    // and in no case an `mfa` one.
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let mut key = authenticator();
    register(&e, &ann, &mut key, "key").await;
    let (c, ceremony) = second_step(&e, "ann@x.io").await;
    let mut a = get(&mut key, &ceremony.options);
    let data = a["response"]["authenticatorData"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = b64.decode(data).unwrap();
    bytes[32] &= !0x04; // flags: UV off
    a["response"]["authenticatorData"] = json!(b64.encode(bytes));
    let proof = SecondFactorProof::Passkey(answer(&ceremony, &a));
    is_mfa(
        e.engine
            .complete_second_factor(&c.handle, proof, &ctx())
            .await,
        MfaRefusal::InvalidCode,
    );
}

#[tokio::test]
async fn passkeys_only_enrols_a_passkey_at_sign_in() {
    let e = env().await;
    let org = e.org("acme").await;
    set_policy(&e, &org, MfaMode::Required, true).await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let step = e
        .engine
        .sign_in_password("ann@x.io", PASSWORD, OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    let SignInStep::Enrolment(c) = step else {
        panic!("expected enrolment, got {step:?}")
    };
    assert_eq!(c.kinds, vec![FactorKind::Webauthn]);
    is_mfa(
        e.engine
            .start_challenge_enrolment(&c.handle, None, &ctx())
            .await,
        MfaRefusal::KindNotAllowed,
    );
    let mut key = authenticator();
    let ceremony = e
        .engine
        .start_challenge_passkey_enrolment(&c.handle, &ctx())
        .await
        .unwrap();
    let cred = create(&mut key, &ceremony);
    let (grant, confirmed) = e
        .engine
        .complete_challenge_passkey_enrolment(
            &c.handle,
            answer(&ceremony, &cred),
            Some("laptop"),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(confirmed.recovery_codes.map(|c| c.len()), Some(10));
    assert_eq!(grant.session.amr, vec!["pwd", "swk", "mfa"]);
    // From now on the passkey is asked for.
    let (next, _) = second_step(&e, "ann@x.io").await;
    assert_eq!(next.kinds, vec![FactorKind::Webauthn]);
    let _ = ann;
}

#[tokio::test]
async fn passkey_changes_need_a_recent_authentication() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user_in("ann@x.io", &org, &[]).await;
    let mut key = authenticator();
    let id = register(&e, &ann, &mut key, "key").await;
    // A password-only session of a user with a passkey: not enough to add or remove one.
    let p = principal(&e, &ann).await;
    is_mfa(
        e.engine.start_passkey_registration(&p, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    is_mfa(
        e.engine.remove_factor(&p, id, &ctx()).await,
        MfaRefusal::RecentAuthenticationRequired,
    );
    // A passkey re-authentication makes it recent.
    let c = e.engine.start_passkey_reauth(&p).await.unwrap();
    let a = get(&mut key, &c.options);
    e.engine
        .reauthenticate(
            &p,
            ReauthProof::Factor(SecondFactorProof::Passkey(answer(&c, &a))),
            &ctx(),
        )
        .await
        .unwrap();
    e.engine.remove_factor(&p, id, &ctx()).await.unwrap();
    assert!(e.engine.mfa_state(ann.id).await.unwrap().factors.is_empty());
    // A ceremony started on another session cannot finish a registration here.
    let fresh = principal(&e, &ann).await;
    let other = principal(&e, &ann).await;
    let c = e
        .engine
        .start_passkey_registration(&fresh, &ctx())
        .await
        .unwrap();
    let cred = create(&mut authenticator(), &c);
    assert!(matches!(
        e.engine
            .finish_passkey_registration(&other, answer(&c, &cred), None, &ctx())
            .await,
        Err(CoreError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn pages_offer_passkeys_only_on_a_secure_context_with_a_host_name() {
    for (url, offered) in [
        ("http://localhost:8080", true),
        ("http://id.localhost", true),
        ("https://id.example.com", true),
        ("http://127.0.0.1:8080", false),
        ("https://10.0.0.1", false),
        ("http://id.example.com", false),
    ] {
        let mut cfg = no_delay();
        cfg.public_url = url.into();
        let e = TestEnv::builder().config(cfg).build().await;
        assert_eq!(e.engine.passkeys_available(), offered, "{url}");
    }
}
