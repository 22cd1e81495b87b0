//! Lockout is no timing oracle: a locked account is refused without a hash, yet as slowly as a
//! wrong password. Its own test binary, so no other test competes for the CPU while it measures.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::Engine;
use portcullis_core::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn a_locked_account_is_refused_as_slowly_as_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("store.sqlite")
        .to_string_lossy()
        .into_owned();
    let store = portcullis_store::open(&path).await.unwrap();
    let mut cfg = CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    cfg.lockout.lock_after = 3;
    cfg.lockout.lock_secs = 0;
    store.upsert_region(cfg.region.clone()).await.unwrap();
    let engine = Engine::start(store.clone(), cfg, MasterKey::generate())
        .await
        .unwrap();
    let org = store
        .create_org(NewOrg {
            name: "acme".into(),
            display_name: None,
            region_id: "local".into(),
        })
        .await
        .unwrap();
    let hash = engine
        .hasher()
        .hash("a perfectly fine passphrase")
        .await
        .unwrap();
    const N: usize = 9;
    for i in 0..=N {
        let u = store
            .create_user(NewUser {
                email: format!("user{i}@example.com"),
                display_name: format!("user{i}"),
                avatar_url: None,
                password_hash: Some(hash.clone()),
                validated_at: None,
                super_admin: false,
            })
            .await
            .unwrap();
        store
            .upsert_membership(
                u.id,
                org.id,
                BTreeSet::from([Role::Author]),
                MembershipKind::Member,
            )
            .await
            .unwrap();
    }
    let ctx = AuditContext::default();
    let attempt = |email: String| {
        let engine = engine.clone();
        let ctx = ctx.clone();
        async move {
            let t = Instant::now();
            let r = engine
                .authenticate_password(&email, "wrong password!", &ctx)
                .await;
            assert!(
                matches!(r, Err(CoreError::InvalidCredentials)),
                "{email}: {r:?}"
            );
            t.elapsed()
        }
    };
    // user0 gets locked; the others each fail once (below the threshold).
    for _ in 0..3 {
        attempt("user0@example.com".into()).await;
    }
    let verified = engine.hasher().verifications();
    let mut locked = Vec::new();
    let mut wrong = Vec::new();
    for i in 1..=N {
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_locked in order {
            if is_locked {
                locked.push(attempt("user0@example.com".into()).await);
            } else {
                wrong.push(attempt(format!("user{i}@example.com")).await);
            }
        }
    }
    assert_eq!(
        engine.hasher().verifications() - verified,
        N as u64,
        "only the wrong passwords were hashed"
    );
    let (l, w) = (median(locked), median(wrong));
    let ratio = l.as_secs_f64() / w.as_secs_f64();
    // Fails only on a gross difference; the machine is noisy.
    assert!((0.5..2.0).contains(&ratio), "locked {l:?} vs wrong {w:?}");
}
