//! The throttle and hash path under load (issue 11): the bounded hashing queue, locked accounts
//! that cost no hash, and the per-IP limiter's keys and memory. On a real SQLite store.

use std::net::IpAddr;
use std::time::Duration;

use portcullis_core::config::CoreConfig;
use portcullis_core::password::{HashError, HashParams};
use portcullis_core::*;
use portcullis_testkit::{PASSWORD as PW, TestEnv, ctx, lock_after_three};

const NEW_PW: &str = "another perfectly fine passphrase";

async fn env_with(cfg: CoreConfig) -> TestEnv {
    TestEnv::builder().config(cfg).build().await
}

/// An author of an org of its own.
async fn author(e: &TestEnv, email: &str) {
    let org = e
        .org(&format!("org-{}", email.split('@').next().unwrap()))
        .await;
    e.user_in(email, &org, &[Role::Author]).await;
}

/// What `portcullis admin user force-password-reset` does: flags the account and returns the
/// one-time code.
async fn force_reset(e: &TestEnv, email: &str) -> String {
    portcullis_core::admin::Admin::new(e.store.clone(), &CoreConfig::default(), "test")
        .require_password_reset(email, false)
        .await
        .unwrap()
        .code
        .to_string()
}

/// Fills a pool of one thread and one queue place with slow verifications: one running, one
/// waiting. Returns their tasks.
async fn fill_the_pool(
    hasher: &portcullis_core::password::HashPool,
) -> Vec<tokio::task::JoinHandle<Result<portcullis_core::password::Verified, HashError>>> {
    let slow = HashParams {
        memory_kib: 65536,
        iterations: 6,
        parallelism: 1,
    }
    .hash_blocking("slow")
    .unwrap();
    let before = hasher.verifications();
    let mut busy = Vec::new();
    // One job on the thread, then one in the queue (a second submission before the thread
    // took the first would itself be refused).
    for queued in [0, 1] {
        let (h, slow) = (hasher.clone(), slow.clone());
        busy.push(tokio::spawn(
            async move { h.verify("x", Some(&slow)).await },
        ));
        until("the job to be placed", || {
            hasher.verifications() == before + 1 && hasher.queued() == queued
        })
        .await;
    }
    busy
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..5000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The call answered at once (within the timeout) that it is rate-limited, with a retry hint.
fn assert_rate_limited_at_once<T: std::fmt::Debug>(
    r: Result<CoreResult<T>, tokio::time::error::Elapsed>,
) {
    match r {
        Ok(Err(CoreError::RateLimited { retry_after })) => {
            assert!(retry_after >= Duration::from_secs(1))
        }
        other => panic!("expected an immediate rate-limited answer, got {other:?}"),
    }
}

/// With the hashing pool full, `call` (for ann@example.com) answers rate-limited at once and
/// claims no throttle state, so it succeeds once the pool drains.
async fn rate_limited_until_the_pool_drains<T, F, Fut>(e: &TestEnv, call: F)
where
    T: std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = CoreResult<T>>,
{
    let busy = fill_the_pool(e.engine.hasher()).await;
    let r = tokio::time::timeout(Duration::from_millis(200), call()).await;
    assert_rate_limited_at_once(r);
    // No throttle state was claimed: the user is not held off once the pool drains.
    assert!(!e.throttled("ann@example.com").await);
    for t in busy {
        t.await.unwrap().unwrap();
    }
    call().await.unwrap();
}

fn one_thread_one_slot() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.passwords.hash_threads = 1;
    cfg.passwords.hash_queue = 1;
    cfg
}

#[tokio::test]
async fn a_full_hash_queue_answers_rate_limited_at_once_and_touches_nothing() {
    let e = env_with(one_thread_one_slot()).await;
    author(&e, "ann@example.com").await;
    let audit = ctx();
    rate_limited_until_the_pool_drains(&e, || {
        e.engine
            .authenticate_password("ann@example.com", PW, &audit)
    })
    .await;
}

#[tokio::test]
async fn a_locked_account_costs_no_hash_and_answers_like_a_wrong_password() {
    let e = env_with(lock_after_three()).await;
    author(&e, "ann@example.com").await;
    for _ in 0..3 {
        let r = e
            .engine
            .authenticate_password("ann@example.com", "wrong password!", &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    let before = e.engine.hasher().verifications();
    for attempt in [PW, "wrong password!", PW] {
        let r = e
            .engine
            .authenticate_password("ann@example.com", attempt, &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    assert_eq!(
        e.engine.hasher().verifications(),
        before,
        "a locked account must not cost a hash"
    );
    // An unknown email that got locked answers the same way.
    for _ in 0..4 {
        let r = e
            .engine
            .authenticate_password("nobody@example.com", "wrong password!", &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    assert_eq!(e.engine.hasher().verifications(), before + 3);
}

#[tokio::test]
async fn ipv6_clients_share_one_limit_per_64() {
    let mut cfg = CoreConfig::default();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 1;
    let e = env_with(cfg).await;
    let limited = |r: Result<(), CoreError>| matches!(r, Err(CoreError::RateLimited { .. }));
    assert!(e.engine.check_ip_rate(ip("2001:db8:1:2::1")).is_ok());
    // Another address in the same /64 is the same client.
    assert!(limited(
        e.engine
            .check_ip_rate(ip("2001:db8:1:2:ffff:ffff:ffff:fffe"))
    ));
    // The next /64 is someone else.
    assert!(e.engine.check_ip_rate(ip("2001:db8:1:3::1")).is_ok());
    // IPv4 stays per address, and a v4-mapped v6 address is the v4 client.
    assert!(e.engine.check_ip_rate(ip("192.0.2.1")).is_ok());
    assert!(e.engine.check_ip_rate(ip("192.0.2.2")).is_ok());
    assert!(limited(e.engine.check_ip_rate(ip("::ffff:192.0.2.1"))));
    assert!(e.engine.check_ip_rate(None).is_ok());
}

#[tokio::test]
async fn idle_entries_of_the_ip_limiter_are_pruned() {
    let mut cfg = CoreConfig::default();
    cfg.rate_limit.per_ip_per_sec = 100;
    cfg.rate_limit.burst = 1;
    let e = env_with(cfg).await;
    for i in 0..500u32 {
        let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        e.engine.check_ip_rate(Some(addr)).unwrap();
    }
    // Each bucket refills in 10 ms; after that the entries carry no information.
    tokio::time::sleep(Duration::from_millis(50)).await;
    e.engine.check_ip_rate(ip("198.51.100.1")).unwrap();
    assert_eq!(
        e.engine.prune_ip_limits(),
        1,
        "only the client just seen remains"
    );
    // A pruned client starts again with a full bucket, as it would have anyway.
    assert!(e.engine.check_ip_rate(ip("10.0.0.1")).is_ok());
}

#[tokio::test]
async fn reset_by_code_on_a_full_hash_queue_answers_rate_limited_and_touches_nothing() {
    let e = env_with(one_thread_one_slot()).await;
    author(&e, "ann@example.com").await;
    let code = force_reset(&e, "ann@example.com").await;
    let audit = ctx();
    rate_limited_until_the_pool_drains(&e, || {
        e.engine
            .reset_password_with_code("ann@example.com", &code, NEW_PW, &audit)
    })
    .await;
}

#[tokio::test]
async fn reset_by_code_for_a_locked_account_costs_no_hash_and_answers_like_a_wrong_code() {
    let e = env_with(lock_after_three()).await;
    author(&e, "ann@example.com").await;
    let code = force_reset(&e, "ann@example.com").await;
    let reset = |code: String| {
        let engine = e.engine.clone();
        async move {
            engine
                .reset_password_with_code("ann@example.com", &code, NEW_PW, &ctx())
                .await
        }
    };
    let hashes = e.engine.hasher().hashes();
    for _ in 0..3 {
        let r = reset("a wrong code".into()).await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    assert_eq!(
        e.engine.hasher().hashes(),
        hashes + 3,
        "each attempt on an open key hashes the new password"
    );
    // Locked: the right code and a wrong one get the wrong code's answer, without argon2.
    for attempt in [code.as_str(), "a wrong code", code.as_str()] {
        let r = reset(attempt.into()).await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    assert_eq!(
        e.engine.hasher().hashes(),
        hashes + 3,
        "a locked account must not cost a hash"
    );
    // Nothing was redeemed: once unlocked, the code still works.
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();
    reset(code).await.unwrap();
}
