//! Passkeys (docs/design/mfa.md "Passkeys"): ceremonies taken once (also without a user, for
//! passwordless sign-in) and purged when expired; the sign counter only moves forward, once
//! per value under races, and 0 stays accepted for authenticators without a counter.

use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

fn passkey_factor(user: UserId, cred: &str) -> Factor {
    Factor {
        id: FactorId::new(),
        user_id: user,
        kind: FactorKind::Webauthn,
        name: "key".into(),
        secret: None,
        credential_id: Some(cred.into()),
        credential: Some("{\"v\":0}".into()),
        counter: 0,
        confirmed_at: None,
        created_at: t(0),
        last_used_at: None,
    }
}

pub async fn webauthn_ceremonies_single_use(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let rec = |key: &str, user: Option<UserId>, expires| WebauthnCeremonyRecord {
        key_hash: key.into(),
        user_id: user,
        purpose: "second_factor".into(),
        binding: user.map(|_| "challenge-hash".to_owned()),
        state: serde_json::json!({"challenge": "abc"}),
        created_at: t(0),
        expires_at: t(expires),
    };
    let c = rec("c1", Some(u.id), 300);
    s.insert_webauthn_ceremony(c.clone()).await.unwrap();
    assert!(matches!(
        s.insert_webauthn_ceremony(c.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    let racers = (0..10).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.take_webauthn_ceremony("c1", t(1)).await })
    });
    let mut taken = Vec::new();
    for r in racers.collect::<Vec<_>>() {
        if let Some(got) = r.await.unwrap().unwrap() {
            taken.push(got);
        }
    }
    assert_eq!(taken, vec![c], "exactly one of 10 concurrent takes gets it");
    // Passwordless: no user yet.
    let anon = rec("c2", None, 300);
    s.insert_webauthn_ceremony(anon.clone()).await.unwrap();
    assert_eq!(
        s.take_webauthn_ceremony("c2", t(1)).await.unwrap(),
        Some(anon)
    );
    // Expired ones are never returned, and purged.
    s.insert_webauthn_ceremony(rec("c3", Some(u.id), 10))
        .await
        .unwrap();
    assert_eq!(s.take_webauthn_ceremony("c3", t(10)).await.unwrap(), None);
    s.insert_webauthn_ceremony(rec("c4", None, 10))
        .await
        .unwrap();
    assert_eq!(s.purge_mfa_pending(t(10), t(-100)).await.unwrap(), 1);
    assert_eq!(s.take_webauthn_ceremony("c4", t(5)).await.unwrap(), None);
    // An admin's MFA reset takes the user's ceremonies with it.
    s.insert_webauthn_ceremony(rec("c5", Some(u.id), 300))
        .await
        .unwrap();
    let mut w = s.begin_write().await.unwrap();
    w.delete_user_factors(u.id).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(s.take_webauthn_ceremony("c5", t(1)).await.unwrap(), None);
}

pub async fn passkey_counter_moves_forward_once(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let f = passkey_factor(u.id, "cred-1");
    s.insert_pending_factor(f.clone()).await.unwrap();
    // Pending: never used.
    assert!(!s.record_passkey_use(f.id, 1, "{}", t(1)).await.unwrap());
    s.confirm_factor(u.id, f.id, 0, t(-1), None, t(1))
        .await
        .unwrap();
    // Another user's factor with the same credential id is refused.
    let other = s.create_user(new_user("bob@x.io")).await.unwrap();
    assert!(matches!(
        s.insert_pending_factor(passkey_factor(other.id, "cred-1"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // No counter (0 stays 0): accepted, credential updated.
    assert!(
        s.record_passkey_use(f.id, 0, "{\"v\":1}", t(2))
            .await
            .unwrap()
    );
    let racers = (0..10).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.record_passkey_use(f.id, 5, "{\"v\":2}", t(3)).await })
    });
    let mut won = 0;
    for r in racers.collect::<Vec<_>>() {
        if r.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one of 10 uses with the same counter wins");
    // Equal, lower or back to 0: refused (a cloned authenticator).
    for c in [5, 4, 0] {
        assert!(!s.record_passkey_use(f.id, c, "{}", t(4)).await.unwrap());
    }
    let st = s.mfa_state(u.id).await.unwrap();
    assert_eq!(st.factors[0].counter, 5);
    assert_eq!(st.factors[0].credential.as_deref(), Some("{\"v\":2}"));
    assert_eq!(st.factors[0].last_used_at, Some(t(3)));
    assert!(s.record_passkey_use(f.id, 6, "{}", t(5)).await.unwrap());
}
