//! Throttle, revocation feed, audit log, keys, password resets, revoking credentials.

use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;
use serde_json::json;

use crate::common::*;

pub async fn throttle_claim_is_atomic(db: DbStore) {
    let s = dyn_store(&db);
    let claims = (0..50).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.throttle_claim("victim@x.io", t(0), t(30)).await })
    });
    let mut granted = 0;
    for c in claims.collect::<Vec<_>>() {
        match c.await.unwrap().unwrap() {
            ThrottleClaim::Granted { failures } => {
                assert_eq!(failures, 0);
                granted += 1;
            }
            ThrottleClaim::Wait { until } => assert_eq!(until, t(30)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(granted, 1, "exactly one of 50 concurrent claims is granted");
    // Also on a key with history, once its window has passed.
    s.throttle_fail("victim@x.io", t(40), None).await.unwrap();
    let claims = (0..50).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.throttle_claim("victim@x.io", t(50), t(60)).await })
    });
    let mut granted = 0;
    for c in claims.collect::<Vec<_>>() {
        if let ThrottleClaim::Granted { failures } = c.await.unwrap().unwrap() {
            assert_eq!(failures, 1);
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
}

pub async fn throttle_lock_semantics(db: DbStore) {
    let s = dyn_store(&db);
    let k = "k@x.io";
    assert_eq!(s.throttle_get(k).await.unwrap(), None);
    assert_eq!(
        s.throttle_claim(k, t(0), t(5)).await.unwrap(),
        ThrottleClaim::Granted { failures: 0 }
    );
    assert_eq!(
        s.throttle_claim(k, t(1), t(6)).await.unwrap(),
        ThrottleClaim::Wait { until: t(5) }
    );
    assert_eq!(s.throttle_fail(k, t(10), None).await.unwrap(), 1);
    assert_eq!(
        s.throttle_claim(k, t(9), t(12)).await.unwrap(),
        ThrottleClaim::Wait { until: t(10) }
    );
    assert_eq!(
        s.throttle_claim(k, t(10), t(12)).await.unwrap(),
        ThrottleClaim::Granted { failures: 1 }
    );
    assert_eq!(
        s.throttle_fail(k, t(20), Some(Some(t(100)))).await.unwrap(),
        2
    );
    assert_eq!(
        s.throttle_get(k).await.unwrap(),
        Some(ThrottleState {
            failures: 2,
            next_attempt_at: t(20),
            locked_until: Some(t(100))
        })
    );
    assert_eq!(
        s.throttle_claim(k, t(50), t(55)).await.unwrap(),
        ThrottleClaim::Locked {
            until: Some(t(100))
        }
    );
    // A later failure without a lock keeps the lock.
    assert_eq!(s.throttle_fail(k, t(60), None).await.unwrap(), 3);
    assert_eq!(
        s.throttle_claim(k, t(99), t(101)).await.unwrap(),
        ThrottleClaim::Locked {
            until: Some(t(100))
        }
    );
    assert_eq!(
        s.throttle_claim(k, t(100), t(105)).await.unwrap(),
        ThrottleClaim::Granted { failures: 3 }
    );
    // Locked until an admin unlocks.
    assert_eq!(s.throttle_fail(k, t(110), Some(None)).await.unwrap(), 4);
    assert_eq!(
        s.throttle_claim(k, t(1_000_000), t(1_000_005))
            .await
            .unwrap(),
        ThrottleClaim::Locked { until: None }
    );
    let st = s.throttle_get(k).await.unwrap().unwrap();
    assert_eq!(st.locked_until, Some(portcullis_store::INDEFINITE_LOCK));
    s.throttle_reset(k).await.unwrap();
    assert_eq!(s.throttle_get(k).await.unwrap(), None);
    assert_eq!(
        s.throttle_claim(k, t(200), t(205)).await.unwrap(),
        ThrottleClaim::Granted { failures: 0 }
    );
    // A fail on an unknown key starts at one; keys are independent.
    assert_eq!(
        s.throttle_fail("other", t(3), Some(Some(t(4))))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.throttle_claim("other", t(3), t(4)).await.unwrap(),
        ThrottleClaim::Locked { until: Some(t(4)) }
    );
    s.throttle_reset("never-seen").await.unwrap();
}

pub async fn revocation_snapshot_and_events(db: DbStore) {
    let s = dyn_store(&db);
    let empty = s.revocation_snapshot(t(0)).await.unwrap();
    assert_eq!(empty, RevocationSnapshot::default());
    let o = org(&*s, "acme").await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let v = member(&*s, "v@x.io", o, &[]).await;
    s.create_session(session("live", u.id, o, t(100)))
        .await
        .unwrap();
    s.create_session(session("short", u.id, o, t(20)))
        .await
        .unwrap();
    let k = credential(u.id, o, CredentialKind::ApiKey, 1, t(1));
    let mut k_exp = credential(u.id, o, CredentialKind::ApiKey, 2, t(1));
    k_exp.expires_at = Some(t(20));
    s.create_credential(k.clone(), None).await.unwrap();
    s.create_credential(k_exp.clone(), None).await.unwrap();
    let base = s.revocation_snapshot(t(0)).await.unwrap().seq;

    s.revoke_session(&SessionId("live".into()), t(5))
        .await
        .unwrap();
    s.revoke_session(&SessionId("short".into()), t(5))
        .await
        .unwrap();
    s.revoke_credential(k.id, None, t(6)).await.unwrap();
    s.revoke_credential(k_exp.id, None, t(6)).await.unwrap();
    deactivate_user(&*s, v.id, t(7)).await.unwrap();
    deactivate_member(&*s, u.id, o, None, t(8)).await.unwrap();

    let snap = s.revocation_snapshot(t(30)).await.unwrap();
    let events = s.revocation_events_since(base, 100).await.unwrap();
    assert_eq!(snap.seq, events.last().unwrap().0);
    assert_eq!(snap.deactivated_users, vec![v.id]);
    assert_eq!(snap.deactivated_memberships, vec![(u.id, o)]);
    assert_eq!(
        snap.revoked_sessions,
        vec![(SessionId("live".into()), t(100))]
    ); // "short" expired
    assert_eq!(snap.revoked_credentials, vec![k.id]); // k_exp expired
    let kinds: Vec<RevocationEvent> = events.iter().map(|e| e.1.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            RevocationEvent::Session(SessionId("live".into())),
            RevocationEvent::Session(SessionId("short".into())),
            RevocationEvent::Credential(k.id),
            RevocationEvent::Credential(k_exp.id),
            RevocationEvent::User(v.id),
            RevocationEvent::User(u.id),
        ]
    );
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    let two = s.revocation_events_since(base, 2).await.unwrap();
    assert_eq!(two, events[..2].to_vec());
    let rest = s.revocation_events_since(two[1].0, 100).await.unwrap();
    assert_eq!(rest, events[2..].to_vec());
    assert!(
        s.revocation_events_since(snap.seq, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

fn audit(at: i64, action: &str, actor: Option<UserId>, outcome: AuditOutcome) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4(),
        at: t(at),
        actor,
        action: action.into(),
        target: Some(format!("target-{at}")),
        outcome,
        ip: Some("127.0.0.1".into()),
        request_id: Some(format!("req-{at}")),
        detail: json!({"n": at}),
    }
}

/// Batches span several multi-row statements; every event lands, in append order.
pub async fn audit_large_batches_keep_every_event_in_order(db: DbStore) {
    let s = dyn_store(&db);
    let evs: Vec<AuditEvent> = (0..250)
        .map(|i| {
            let mut e = audit(7, "bulk", None, AuditOutcome::Success);
            e.detail = json!({ "i": i });
            e
        })
        .collect();
    s.append_audit(&evs).await.unwrap();
    let got = s
        .list_audit(&AuditFilter {
            action: Some("bulk".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let want: Vec<AuditEvent> = evs.into_iter().rev().collect();
    assert_eq!(got, want, "newest-appended first, nothing lost or altered");
}

pub async fn audit_append_and_filters(db: DbStore) {
    let s = dyn_store(&db);
    let alice = UserId::new();
    let evs = vec![
        audit(1, "login", Some(alice), AuditOutcome::Success),
        audit(2, "login", None, AuditOutcome::Failure),
        audit(3, "logout", Some(alice), AuditOutcome::Success),
        audit(3, "apikey.create", Some(alice), AuditOutcome::Denied),
    ];
    s.append_audit(&evs).await.unwrap();
    s.append_audit(&[]).await.unwrap();
    let list = |f: AuditFilter| {
        let s = Arc::clone(&s);
        async move {
            s.list_audit(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    // Newest first; equal instants newest-appended first.
    assert_eq!(
        list(AuditFilter::default()).await,
        vec![evs[3].id, evs[2].id, evs[1].id, evs[0].id]
    );
    assert_eq!(
        s.list_audit(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![evs[3].clone()]
    );
    assert_eq!(
        list(AuditFilter {
            actor: Some(alice),
            ..Default::default()
        })
        .await,
        vec![evs[3].id, evs[2].id, evs[0].id]
    );
    assert_eq!(
        list(AuditFilter {
            action: Some("login".into()),
            ..Default::default()
        })
        .await,
        vec![evs[1].id, evs[0].id]
    );
    assert_eq!(
        list(AuditFilter {
            outcome: Some(AuditOutcome::Denied),
            ..Default::default()
        })
        .await,
        vec![evs[3].id]
    );
    assert_eq!(
        list(AuditFilter {
            target: Some("target-2".into()),
            ..Default::default()
        })
        .await,
        vec![evs[1].id]
    );
    assert_eq!(
        list(AuditFilter {
            since: Some(t(2)),
            until: Some(t(3)),
            ..Default::default()
        })
        .await,
        vec![evs[1].id]
    );
    assert!(matches!(
        s.append_audit(&evs[..1]).await,
        Err(StoreError::Conflict(_))
    ));
    // The failed batch wrote nothing.
    let batch = vec![audit(9, "x", None, AuditOutcome::Success), evs[0].clone()];
    assert!(s.append_audit(&batch).await.is_err());
    assert_eq!(list(AuditFilter::default()).await.len(), 4);
}

pub async fn keys_lifecycle(db: DbStore) {
    let s = dyn_store(&db);
    let key = |kid: &str, purpose, at| KeyRecord {
        kid: kid.into(),
        purpose,
        algorithm: "EdDSA".into(),
        sealed_private: vec![1, 2, 3, 0, 255],
        public: vec![9; 32],
        created_at: t(at),
        retired_at: None,
        revoked_at: None,
    };
    s.insert_key(key("k2", KeyPurpose::TokenSigning, 2))
        .await
        .unwrap();
    s.insert_key(key("k1", KeyPurpose::TokenSigning, 1))
        .await
        .unwrap();
    s.insert_key(key("ca", KeyPurpose::CertificateAuthority, 0))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_key(key("k1", KeyPurpose::TokenSigning, 5)).await,
        Err(StoreError::Conflict(m)) if m == "key id already exists"
    ));
    let signing = s.list_keys(KeyPurpose::TokenSigning).await.unwrap();
    assert_eq!(
        signing.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        vec!["k1", "k2"]
    );
    assert_eq!(signing[0], key("k1", KeyPurpose::TokenSigning, 1));
    s.retire_key("k1", t(10)).await.unwrap();
    s.retire_key("k1", t(20)).await.unwrap(); // keeps the first retirement
    let k1 = s
        .list_keys(KeyPurpose::TokenSigning)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(k1.retired_at, Some(t(10)));
    assert_eq!(
        s.list_keys(KeyPurpose::CertificateAuthority)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        s.retire_key("nope", t(1)).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn key_revocation_is_atomic_with_event(db: DbStore) {
    let s = dyn_store(&db);
    let key = |kid: &str, at| KeyRecord {
        kid: kid.into(),
        purpose: KeyPurpose::TokenSigning,
        algorithm: "EdDSA".into(),
        sealed_private: vec![1],
        public: vec![9; 32],
        created_at: t(at),
        retired_at: None,
        revoked_at: None,
    };
    s.insert_key(key("k1", 1)).await.unwrap();
    s.insert_key(key("k2", 2)).await.unwrap();
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert!(s.revoke_key("k1", t(5)).await.unwrap());
    assert!(!s.revoke_key("k1", t(6)).await.unwrap()); // idempotent, no second event
    assert!(matches!(
        s.revoke_key("nope", t(6)).await,
        Err(StoreError::NotFound(_))
    ));
    let k1 = s
        .list_keys(KeyPurpose::TokenSigning)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((k1.revoked_at, k1.retired_at), (Some(t(5)), Some(t(5))));
    let ev = s.revocation_events_since(seq, 10).await.unwrap();
    assert_eq!(
        ev.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
        vec![RevocationEvent::Key("k1".into())]
    );
    let snap = s.revocation_snapshot(t(100)).await.unwrap();
    assert_eq!(snap.revoked_keys, vec!["k1".to_string()]);
}

pub async fn password_reset_codes_are_single_use(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let other = member(&*s, "v@x.io", o, &[]).await;
    s.create_session(session("s1", u.id, o, t(1000)))
        .await
        .unwrap();
    s.create_credential(credential(u.id, o, CredentialKind::ApiKey, 1, t(1)), None)
        .await
        .unwrap();
    assert!(matches!(
        s.require_password_reset(UserId::new(), &[7; 32], t(100), false, t(10))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let d = s
        .require_password_reset(u.id, &[7; 32], t(100), false, t(10))
        .await
        .unwrap();
    assert_eq!((d.sessions_revoked, d.credentials_revoked), (1, 0));
    let flagged = s.get_user(u.id).await.unwrap().unwrap();
    assert!(flagged.password_reset_required);
    assert_eq!(
        s.revocation_events_since(seq, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.1)
            .collect::<Vec<_>>(),
        vec![RevocationEvent::User(u.id)]
    );
    // A second reset replaces the code, and may revoke credentials.
    let d = s
        .require_password_reset(u.id, &[8; 32], t(100), true, t(11))
        .await
        .unwrap();
    assert_eq!((d.sessions_revoked, d.credentials_revoked), (0, 1));
    // Wrong code, someone else's user, expired, replaced: nothing changes.
    for (user, code, at) in [
        (u.id, [9; 32], t(20)),
        (other.id, [8; 32], t(20)),
        (u.id, [8; 32], t(100)),
        (u.id, [7; 32], t(20)),
    ] {
        assert_eq!(
            s.redeem_password_reset(user, &code, "$argon2id$x", at)
                .await
                .unwrap(),
            None
        );
    }
    assert!(
        s.get_user(u.id)
            .await
            .unwrap()
            .unwrap()
            .password_reset_required
    );
    s.create_session(session("s2", u.id, o, t(1000)))
        .await
        .unwrap();
    assert_eq!(
        s.redeem_password_reset(u.id, &[8; 32], "$argon2id$new", t(20))
            .await
            .unwrap(),
        Some(1)
    );
    let done = s.get_user(u.id).await.unwrap().unwrap();
    assert!(!done.password_reset_required);
    assert_eq!(done.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(
        s.get_session(&SessionId("s2".into()))
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    // Spent.
    assert_eq!(
        s.redeem_password_reset(u.id, &[8; 32], "$argon2id$again", t(21))
            .await
            .unwrap(),
        None
    );
    // A deactivated user cannot redeem.
    s.require_password_reset(other.id, &[5; 32], t(100), false, t(10))
        .await
        .unwrap();
    deactivate_user(&*s, other.id, t(12)).await.unwrap();
    assert_eq!(
        s.redeem_password_reset(other.id, &[5; 32], "$argon2id$x", t(20))
            .await
            .unwrap(),
        None
    );
}

pub async fn revoke_user_credentials_everywhere(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "acme").await;
    let b = org(&*s, "beta").await;
    let u = member(&*s, "u@x.io", a, &[]).await;
    s.upsert_membership(u.id, b, roles(&[]), MembershipKind::Member)
        .await
        .unwrap();
    let v = member(&*s, "v@x.io", a, &[]).await;
    s.create_credential(credential(u.id, a, CredentialKind::ApiKey, 1, t(1)), None)
        .await
        .unwrap();
    s.create_credential(credential(u.id, b, CredentialKind::ApiKey, 2, t(1)), None)
        .await
        .unwrap();
    s.create_credential(credential(v.id, a, CredentialKind::ApiKey, 3, t(1)), None)
        .await
        .unwrap();
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert_eq!(
        s.revoke_user_credentials(u.id, Some(u.id), t(5))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.revoke_user_credentials(u.id, Some(u.id), t(6))
            .await
            .unwrap(),
        0
    );
    let state = s.user_revocation_state(u.id, t(7)).await.unwrap();
    assert_eq!(state.revoked_credentials.len(), 2);
    assert!(
        s.find_credential_by_hash(&[3; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!(
        s.revocation_events_since(seq, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.1)
            .collect::<Vec<_>>(),
        vec![RevocationEvent::User(u.id)]
    );
}
