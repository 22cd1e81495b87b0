//! Second factors (docs/design/mfa.md): pending and confirmed factors, the once-only TOTP step
//! and recovery codes under races, org policies, stopped sign-ins, session re-authentication.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

fn totp_factor(user: UserId, created: Timestamp) -> Factor {
    Factor {
        id: FactorId::new(),
        user_id: user,
        kind: FactorKind::Totp,
        name: "phone".into(),
        secret: Some(vec![7; 64]),
        credential_id: None,
        credential: None,
        counter: 0,
        confirmed_at: None,
        created_at: created,
        last_used_at: None,
    }
}

fn hashes(seed: u8) -> Vec<[u8; 32]> {
    (0..10).map(|i| [seed.wrapping_add(i); 32]).collect()
}

pub async fn factors_pending_confirm_and_delete(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let other = s.create_user(new_user("bob@x.io")).await.unwrap();
    let fresh = s.mfa_state(u.id).await.unwrap();
    assert!(fresh.factors.is_empty() && fresh.policies.is_empty());
    assert_eq!(fresh.recovery_codes_left, 0);

    // One pending enrolment per kind: a new start replaces the old one.
    let first = totp_factor(u.id, t(0));
    s.insert_pending_factor(first.clone()).await.unwrap();
    let second = totp_factor(u.id, t(1));
    s.insert_pending_factor(second.clone()).await.unwrap();
    let st = s.mfa_state(u.id).await.unwrap();
    assert_eq!(st.factors, vec![second.clone()]);
    assert!(matches!(
        s.insert_pending_factor(totp_factor(UserId::new(), t(0)))
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Confirm: only the owner's, only while pending and fresh; codes come with it.
    let codes = hashes(1);
    assert!(
        !s.confirm_factor(other.id, second.id, 5, t(0), Some(&codes), t(2))
            .await
            .unwrap()
    );
    assert!(
        !s.confirm_factor(u.id, second.id, 5, t(1), Some(&codes), t(2))
            .await
            .unwrap(),
        "created at t(1) is not after t(1): expired"
    );
    assert!(
        s.confirm_factor(u.id, second.id, 5, t(0), Some(&codes), t(2))
            .await
            .unwrap()
    );
    assert!(
        !s.confirm_factor(u.id, second.id, 6, t(0), None, t(3))
            .await
            .unwrap(),
        "already confirmed"
    );
    let st = s.mfa_state(u.id).await.unwrap();
    let f = &st.factors[0];
    assert_eq!((f.confirmed_at, f.counter), (Some(t(2)), 5));
    assert_eq!(st.recovery_codes_left, 10);
    // A pending one next to the confirmed one is kept apart.
    s.insert_pending_factor(totp_factor(u.id, t(3)))
        .await
        .unwrap();
    assert_eq!(s.mfa_state(u.id).await.unwrap().factors.len(), 2);

    // Purge drops pending factors older than the cut-off, never confirmed ones.
    assert_eq!(s.purge_mfa_pending(t(10), t(5)).await.unwrap(), 1);
    let st = s.mfa_state(u.id).await.unwrap();
    assert_eq!(st.factors.len(), 1);
    assert!(st.factors[0].is_confirmed());

    // Delete: not another user's; the last confirmed factor takes the codes with it.
    assert!(!s.delete_factor(other.id, second.id).await.unwrap());
    assert!(s.delete_factor(u.id, second.id).await.unwrap());
    assert!(!s.delete_factor(u.id, second.id).await.unwrap());
    let st = s.mfa_state(u.id).await.unwrap();
    assert!(st.factors.is_empty());
    assert_eq!(st.recovery_codes_left, 0);
}

pub async fn totp_step_accepted_once_under_races(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let f = totp_factor(u.id, t(0));
    s.insert_pending_factor(f.clone()).await.unwrap();
    // A pending factor accepts nothing.
    assert!(!s.advance_factor_counter(f.id, 10, t(1)).await.unwrap());
    s.confirm_factor(u.id, f.id, 10, t(-1), None, t(1))
        .await
        .unwrap();
    // The confirming step and older ones are spent.
    assert!(!s.advance_factor_counter(f.id, 10, t(2)).await.unwrap());
    assert!(!s.advance_factor_counter(f.id, 9, t(2)).await.unwrap());
    // Twenty nodes present the same next code at once: one wins.
    let racers = (0..20).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.advance_factor_counter(f.id, 11, t(3)).await })
    });
    let mut won = 0;
    for r in racers.collect::<Vec<_>>() {
        if r.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(
        won, 1,
        "exactly one of 20 concurrent uses of a step is accepted"
    );
    let st = s.mfa_state(u.id).await.unwrap();
    assert_eq!(st.factors[0].counter, 11);
    assert_eq!(st.factors[0].last_used_at, Some(t(3)));
    // A later step still works; going back does not.
    assert!(s.advance_factor_counter(f.id, 13, t(4)).await.unwrap());
    assert!(!s.advance_factor_counter(f.id, 12, t(4)).await.unwrap());
}

pub async fn recovery_codes_single_use_and_regenerated(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let other = s.create_user(new_user("bob@x.io")).await.unwrap();
    let old = hashes(1);
    s.replace_recovery_codes(u.id, &old, t(0)).await.unwrap();
    assert_eq!(s.mfa_state(u.id).await.unwrap().recovery_codes_left, 10);
    // Another user's code is not this one's.
    assert!(!s.use_recovery_code(other.id, &old[0], t(1)).await.unwrap());
    // Ten racers, one code: one winner.
    let racers = (0..10).map(|_| {
        let s = Arc::clone(&s);
        let code = old[0];
        let user = u.id;
        tokio::spawn(async move { s.use_recovery_code(user, &code, t(1)).await })
    });
    let mut won = 0;
    for r in racers.collect::<Vec<_>>() {
        if r.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "a recovery code is spent once");
    assert_eq!(s.mfa_state(u.id).await.unwrap().recovery_codes_left, 9);
    // Regenerating kills every old code, used or not.
    let new = hashes(100);
    s.replace_recovery_codes(u.id, &new, t(2)).await.unwrap();
    assert!(!s.use_recovery_code(u.id, &old[1], t(3)).await.unwrap());
    assert!(s.use_recovery_code(u.id, &new[1], t(3)).await.unwrap());
    assert_eq!(s.mfa_state(u.id).await.unwrap().recovery_codes_left, 9);
    assert!(matches!(
        s.replace_recovery_codes(UserId::new(), &new, t(2)).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn org_mfa_policies_apply_to_active_memberships(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "a").await;
    let b = org(&*s, "b").await;
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    assert_eq!(s.get_org_mfa_policy(a).await.unwrap(), MfaPolicy::default());
    let strict = MfaPolicy {
        mode: MfaMode::Required,
        passkeys_only: true,
    };
    s.set_org_mfa_policy(b, strict, t(0)).await.unwrap();
    assert_eq!(s.get_org_mfa_policy(b).await.unwrap(), strict);
    assert!(matches!(
        s.set_org_mfa_policy(OrgId::new(), strict, t(0)).await,
        Err(StoreError::NotFound(_))
    ));
    for o in [a, b] {
        s.upsert_membership(u.id, o, BTreeSet::new(), MembershipKind::Member)
            .await
            .unwrap();
    }
    let mut got = s.mfa_state(u.id).await.unwrap().policies;
    got.sort_by_key(|p| p.mode);
    assert_eq!(got, vec![MfaPolicy::default(), strict]);
    // A removed membership and a disabled org no longer count.
    remove_member(&*s, u.id, b, t(1)).await.unwrap();
    assert_eq!(
        s.mfa_state(u.id).await.unwrap().policies,
        vec![MfaPolicy::default()]
    );
    set_org_disabled(&*s, a, true, t(2)).await.unwrap();
    assert!(s.mfa_state(u.id).await.unwrap().policies.is_empty());
}

pub async fn mfa_challenges_single_use_and_reauth(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let rec = |key: &str, expires| MfaChallengeRecord {
        key_hash: key.into(),
        user_id: u.id,
        kind: MfaChallengeKind::Verify,
        login: serde_json::json!({"amr": ["pwd"]}),
        created_at: t(0),
        expires_at: t(expires),
    };
    let c = rec("h1", 300);
    s.insert_mfa_challenge(c.clone()).await.unwrap();
    assert!(matches!(
        s.insert_mfa_challenge(c.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    // Reading leaves it; taking is once, among racers too.
    assert_eq!(
        s.get_mfa_challenge("h1", t(1)).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(s.get_mfa_challenge("h1", t(300)).await.unwrap(), None);
    let racers = (0..10).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.take_mfa_challenge("h1", t(1)).await })
    });
    let mut taken = 0;
    for r in racers.collect::<Vec<_>>() {
        if r.await.unwrap().unwrap().is_some() {
            taken += 1;
        }
    }
    assert_eq!(taken, 1);
    assert_eq!(s.get_mfa_challenge("h1", t(1)).await.unwrap(), None);
    // Expired ones are purged and never returned.
    s.insert_mfa_challenge(rec("h2", 10)).await.unwrap();
    assert_eq!(s.take_mfa_challenge("h2", t(10)).await.unwrap(), None);
    s.insert_mfa_challenge(rec("h3", 10)).await.unwrap();
    assert_eq!(s.purge_mfa_pending(t(10), t(0)).await.unwrap(), 1);

    // Re-authentication: the newest replaces the older.
    let sid = SessionId("sess-1".into());
    assert_eq!(s.get_session_reauth(&sid).await.unwrap(), None);
    s.record_session_reauth(&sid, t(5), &["pwd".to_owned()])
        .await
        .unwrap();
    let methods = vec!["otp".to_owned(), "mfa".to_owned()];
    s.record_session_reauth(&sid, t(6), &methods).await.unwrap();
    assert_eq!(
        s.get_session_reauth(&sid).await.unwrap(),
        Some((t(6), methods))
    );
}

pub async fn mfa_reset_in_a_unit(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let u = member(&*s, "ann@x.io", o, &[]).await;
    let f = totp_factor(u.id, t(0));
    s.insert_pending_factor(f.clone()).await.unwrap();
    s.confirm_factor(u.id, f.id, 1, t(-1), Some(&hashes(1)), t(1))
        .await
        .unwrap();
    s.insert_mfa_challenge(MfaChallengeRecord {
        key_hash: "h".into(),
        user_id: u.id,
        kind: MfaChallengeKind::Verify,
        login: serde_json::json!({}),
        created_at: t(0),
        expires_at: t(1_000_000),
    })
    .await
    .unwrap();
    // Dropped unit: nothing happens.
    {
        let mut tx = s.begin_write().await.unwrap();
        assert_eq!(tx.delete_user_factors(u.id).await.unwrap(), 1);
    }
    assert_eq!(s.mfa_state(u.id).await.unwrap().factors.len(), 1);
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(tx.delete_user_factors(u.id).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let st = s.mfa_state(u.id).await.unwrap();
    assert!(st.factors.is_empty());
    assert_eq!(st.recovery_codes_left, 0);
    assert_eq!(s.get_mfa_challenge("h", t(1)).await.unwrap(), None);
}

pub async fn throttle_release_keeps_failures(db: DbStore) {
    let s = dyn_store(&db);
    s.throttle_fail("ann@x.io", t(1), None).await.unwrap();
    assert_eq!(
        s.throttle_claim("ann@x.io", t(2), t(12)).await.unwrap(),
        ThrottleClaim::Granted { failures: 1 }
    );
    // Held: a second claim waits.
    assert!(matches!(
        s.throttle_claim("ann@x.io", t(3), t(13)).await.unwrap(),
        ThrottleClaim::Wait { .. }
    ));
    s.throttle_release("ann@x.io", t(3)).await.unwrap();
    assert_eq!(
        s.throttle_claim("ann@x.io", t(3), t(13)).await.unwrap(),
        ThrottleClaim::Granted { failures: 1 },
        "released, and the failure is still counted"
    );
    // Releasing an unknown key is a no-op.
    s.throttle_release("nobody@x.io", t(3)).await.unwrap();
    assert_eq!(s.throttle_get("nobody@x.io").await.unwrap(), None);
}
