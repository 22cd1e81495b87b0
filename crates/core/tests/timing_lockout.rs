//! Lockout is no timing oracle: a locked account is refused without a hash, yet as slowly as a
//! wrong password (or, for a reset by code, a wrong code). Its own test binary, so no other test
//! competes for the CPU while it measures; its tests take turns.

use std::time::{Duration, Instant};

use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, lock_after_three};

/// One measuring test at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const N: usize = 9;
/// A round is repeated, on fresh accounts, until one shows comparable medians: an oracle is
/// systematic and fails every round, while a noisy moment on a shared machine rarely spans three.
const ROUNDS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Only a gross difference counts; the machine is noisy.
fn comparable(locked: Vec<Duration>, wrong: Vec<Duration>) -> Result<(), String> {
    let (l, w) = (median(locked), median(wrong));
    let ratio = l.as_secs_f64() / w.as_secs_f64();
    if (0.5..2.0).contains(&ratio) {
        Ok(())
    } else {
        Err(format!("locked {l:?} vs wrong {w:?}"))
    }
}

/// An engine whose third failure locks an email until unlocked, and users user0..=user(ROUNDS*N).
async fn setup() -> TestEnv {
    let e = TestEnv::builder().config(lock_after_three()).build().await;
    let org = e.org("acme").await;
    for i in 0..=ROUNDS * N {
        e.user_in(&format!("user{i}@example.com"), &org, &[Role::Author])
            .await;
    }
    e
}

/// Alternates locked and open attempts, N of each, in both orders; round `r` uses the open
/// accounts r*N+1..=(r+1)*N.
async fn measure<F, Fut>(round: usize, attempt: F) -> (Vec<Duration>, Vec<Duration>)
where
    F: Fn(Option<usize>) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut locked = Vec::new();
    let mut open = Vec::new();
    for i in 1..=N {
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_locked in order {
            if is_locked {
                locked.push(attempt(None).await);
            } else {
                open.push(attempt(Some(round * N + i)).await);
            }
        }
    }
    (locked, open)
}

#[tokio::test]
async fn a_locked_account_is_refused_as_slowly_as_a_wrong_password() {
    let _turn = TURN.lock().await;
    let env = setup().await;
    let engine = env.engine.clone();
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
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let verified = engine.hasher().verifications();
        let (locked, wrong) = measure(round, |i| {
            attempt(format!("user{}@example.com", i.unwrap_or(0)))
        })
        .await;
        assert_eq!(
            engine.hasher().verifications() - verified,
            N as u64,
            "only the wrong passwords were hashed"
        );
        match comparable(locked, wrong) {
            Ok(()) => return,
            Err(e) => rounds.push(e),
        }
    }
    panic!("a locked account answered at another speed in every round: {rounds:?}");
}

#[tokio::test]
async fn a_locked_account_is_refused_a_reset_as_slowly_as_a_wrong_code() {
    let _turn = TURN.lock().await;
    let env = setup().await;
    let engine = env.engine.clone();
    let admin =
        portcullis_core::admin::Admin::new(env.store.clone(), &CoreConfig::default(), "test");
    let mut codes = Vec::new();
    for i in 0..=ROUNDS * N {
        let r = admin
            .require_password_reset(&format!("user{i}@example.com"), false)
            .await
            .unwrap();
        codes.push(r.code.to_string());
    }
    let ctx = AuditContext::default();
    let attempt = |email: String, code: String| {
        let engine = engine.clone();
        let ctx = ctx.clone();
        async move {
            let t = Instant::now();
            let r = engine
                .reset_password_with_code(&email, &code, "another perfectly fine passphrase", &ctx)
                .await;
            assert!(
                matches!(r, Err(CoreError::InvalidCredentials)),
                "{email}: {r:?}"
            );
            t.elapsed()
        }
    };
    // user0 gets locked; the others each try one wrong code (below the threshold).
    for _ in 0..3 {
        attempt("user0@example.com".into(), "a wrong code".into()).await;
    }
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let hashed = engine.hasher().hashes();
        // The locked account even tries its right code.
        let (locked, wrong) = measure(round, |i| match i {
            None => attempt("user0@example.com".into(), codes[0].clone()),
            Some(i) => attempt(format!("user{i}@example.com"), "a wrong code".into()),
        })
        .await;
        assert_eq!(
            engine.hasher().hashes() - hashed,
            N as u64,
            "only the open keys hashed the new password"
        );
        match comparable(locked, wrong) {
            Ok(()) => return,
            Err(e) => rounds.push(e),
        }
    }
    panic!("a locked account answered a reset at another speed in every round: {rounds:?}");
}
