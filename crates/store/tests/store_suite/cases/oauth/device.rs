//! Device codes (RFC 8628): round trip, unique hashes, compare-and-set polls, one decision, one
//! redemption (also under races), purge and client deletion; and the windowed counters of
//! user-code attempts.

use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use super::grants::race;
use super::signed_in;
use crate::common::*;

fn device_code(hash: &str, user_hash: &str, client: &str) -> DeviceCode {
    DeviceCode {
        device_code_hash: hash.into(),
        user_code_hash: user_hash.into(),
        client_id: client.into(),
        scopes: vec!["openid".into(), "profile".into()],
        created_at: t(0),
        expires_at: t(600),
        interval_secs: 5,
        polls: 0,
        last_polled_at: None,
        decision: None,
        decided_at: None,
        consumed_at: None,
        grant_session: None,
    }
}

fn approval(user: UserId, org: OrgId) -> DeviceApproval {
    DeviceApproval {
        user_id: user,
        org_id: org,
        browser_session: SessionId("b".into()),
        auth_time: t(-30),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        acr: "urn:portcullis:acr:mfa".into(),
    }
}

async fn redeem(s: &dyn Store, hash: &str, now: i64) -> DeviceRedemption {
    let mut tx = s.begin_write().await.unwrap();
    let found = tx.redeem_device_code(hash, t(now)).await.unwrap();
    tx.commit().await.unwrap();
    found
}

pub async fn oauth_device_codes_decided_and_redeemed_once(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    let code = device_code("d1", "u1", "app");
    s.insert_device_code(code.clone()).await.unwrap();
    for (bad, rule) in [
        (
            device_code("d2", "u1", "app"),
            "device user code already in use",
        ),
        (device_code("d1", "u2", "app"), "device code already exists"),
    ] {
        assert!(
            matches!(s.insert_device_code(bad).await, Err(StoreError::Conflict(m)) if m == rule),
            "{rule}"
        );
    }
    assert!(matches!(
        s.insert_device_code(device_code("d9", "u9", "nope")).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));
    assert_eq!(s.get_device_code("d1").await.unwrap(), Some(code.clone()));
    assert_eq!(
        s.get_device_code_by_user_code("u1").await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(s.get_device_code("u1").await.unwrap(), None);

    // A poll is recorded only against the poll count it read.
    assert!(s.record_device_poll("d1", 0, t(10), 5).await.unwrap());
    assert!(!s.record_device_poll("d1", 0, t(11), 10).await.unwrap());
    assert!(s.record_device_poll("d1", 1, t(12), 10).await.unwrap());
    assert!(!s.record_device_poll("d9", 0, t(12), 10).await.unwrap());
    let polled = s.get_device_code("d1").await.unwrap().unwrap();
    assert_eq!(
        (polled.polls, polled.last_polled_at, polled.interval_secs),
        (2, Some(t(12)), 10)
    );

    // Not yet approved: nothing to redeem.
    assert_eq!(redeem(&*s, "d1", 13).await, DeviceRedemption::NotApproved);
    assert_eq!(redeem(&*s, "d9", 13).await, DeviceRedemption::NotApproved);

    // One decision, and none after the code expired.
    let approved = DeviceDecision::Approved(approval(u.id, o));
    assert!(
        s.decide_device_code("u1", approved.clone(), t(20))
            .await
            .unwrap()
    );
    assert!(
        !s.decide_device_code("u1", DeviceDecision::Denied, t(21))
            .await
            .unwrap()
    );
    s.insert_device_code(device_code("d3", "u3", "app"))
        .await
        .unwrap();
    assert!(
        !s.decide_device_code("u3", DeviceDecision::Denied, t(600))
            .await
            .unwrap()
    );
    assert!(
        s.decide_device_code("u3", DeviceDecision::Denied, t(599))
            .await
            .unwrap()
    );
    let decided = s.get_device_code("d1").await.unwrap().unwrap();
    assert_eq!(
        (&decided.decision, decided.decided_at),
        (&Some(approved.clone()), Some(t(20)))
    );
    let denied = s.get_device_code("d3").await.unwrap().unwrap();
    assert_eq!(denied.decision, Some(DeviceDecision::Denied));
    assert_eq!(redeem(&*s, "d3", 30).await, DeviceRedemption::NotApproved);

    // A redemption rolled back consumes nothing; then one redemption, and a replay that finds
    // the session it started.
    let mut tx = s.begin_write().await.unwrap();
    assert!(matches!(
        tx.redeem_device_code("d1", t(30)).await.unwrap(),
        DeviceRedemption::Redeemed(_)
    ));
    drop(tx);
    let consumed = DeviceCode {
        consumed_at: Some(t(31)),
        ..decided
    };
    assert_eq!(
        redeem(&*s, "d1", 31).await,
        DeviceRedemption::Redeemed(consumed.clone())
    );
    let mut tx = s.begin_write().await.unwrap();
    assert!(matches!(
        tx.set_device_grant_session("d9", &SessionId("g1".into())).await,
        Err(StoreError::NotFound(m)) if m == "unknown device code"
    ));
    drop(tx);
    let mut tx = s.begin_write().await.unwrap();
    tx.set_device_grant_session("d1", &SessionId("g1".into()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        redeem(&*s, "d1", 32).await,
        DeviceRedemption::AlreadyUsed(DeviceCode {
            grant_session: Some(SessionId("g1".into())),
            ..consumed
        })
    );

    // Expired codes go with the purge; a deleted client takes its codes along.
    assert_eq!(s.purge_oauth_grants(t(599)).await.unwrap(), 0);
    assert_eq!(s.purge_oauth_grants(t(600)).await.unwrap(), 2);
    assert_eq!(s.get_device_code("d1").await.unwrap(), None);
    s.insert_device_code(device_code("d4", "u4", "app"))
        .await
        .unwrap();
    assert!(s.delete_oauth_client("app", t(40)).await.unwrap());
    assert_eq!(s.get_device_code("d4").await.unwrap(), None);
}

pub async fn oauth_device_code_races(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    s.insert_device_code(device_code("d1", "u1", "app"))
        .await
        .unwrap();

    // Simultaneous polls that read the same count: one is recorded.
    let polls: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.record_device_poll("d1", 0, t(10 + i), 5).await })
        })
        .collect();
    let mut recorded = 0;
    for p in polls {
        recorded += usize::from(p.await.unwrap().unwrap());
    }
    assert_eq!(recorded, 1);

    // Simultaneous decisions: one wins.
    let decisions: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&s);
            let d = if i % 2 == 0 {
                DeviceDecision::Approved(approval(u.id, o))
            } else {
                DeviceDecision::Denied
            };
            tokio::spawn(async move { s.decide_device_code("u1", d, t(20)).await })
        })
        .collect();
    let mut decided = 0;
    for d in decisions {
        decided += usize::from(d.await.unwrap().unwrap());
    }
    assert_eq!(decided, 1);

    // Simultaneous redemptions of an approved code: one gets it, the others see it used.
    s.insert_device_code(device_code("d2", "u2", "app"))
        .await
        .unwrap();
    let approved = DeviceDecision::Approved(approval(u.id, o));
    assert!(s.decide_device_code("u2", approved, t(20)).await.unwrap());
    let found = race(&s, 8, |tx| Box::pin(tx.redeem_device_code("d2", t(30)))).await;
    let redeemed = found
        .iter()
        .filter(|f| matches!(f, DeviceRedemption::Redeemed(_)))
        .count();
    let replays = found
        .iter()
        .filter(|f| matches!(f, DeviceRedemption::AlreadyUsed(c) if c.consumed_at == Some(t(30))))
        .count();
    assert_eq!((redeemed, replays), (1, 7), "{found:?}");
}

pub async fn oauth_device_guess_windows(db: DbStore) {
    let s = dyn_store(&db);
    for n in 1..=3 {
        assert_eq!(
            s.count_device_guess("ip:a", t(n), t(600)).await.unwrap(),
            (n, t(600))
        );
    }
    // Another key counts apart; a refund takes one back, never below zero.
    assert_eq!(
        s.count_device_guess("all", t(5), t(605)).await.unwrap(),
        (1, t(605))
    );
    s.refund_device_guess("ip:a").await.unwrap();
    assert_eq!(
        s.count_device_guess("ip:a", t(6), t(606)).await.unwrap(),
        (3, t(600))
    );
    for _ in 0..5 {
        s.refund_device_guess("all").await.unwrap();
    }
    s.refund_device_guess("ip:unknown").await.unwrap();
    assert_eq!(
        s.count_device_guess("all", t(7), t(607)).await.unwrap(),
        (1, t(605))
    );
    // A window that ended starts again.
    assert_eq!(
        s.count_device_guess("ip:a", t(600), t(1200)).await.unwrap(),
        (1, t(1200))
    );

    // Every one of simultaneous attempts is counted.
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.count_device_guess("ip:b", t(10), t(610)).await })
        })
        .collect();
    let mut counts = Vec::new();
    for a in attempts {
        counts.push(a.await.unwrap().unwrap().0);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<i64>>());

    // Ended windows go with the purge.
    assert!(s.purge_oauth_grants(t(1200)).await.unwrap() >= 3);
    assert_eq!(
        s.count_device_guess("ip:b", t(1201), t(1800))
            .await
            .unwrap(),
        (1, t(1800))
    );
}
