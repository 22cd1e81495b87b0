//! Enumeration by timing: a login for an unknown email costs the same as one with a wrong
//! password. This lives in its own test binary so that no other test competes for the CPU while
//! it measures (cargo runs test binaries one after another).

use std::time::{Duration, Instant};

use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn unknown_email_costs_the_same_as_a_wrong_password() {
    let e = TestEnv::new().await;
    let org = e.org("acme").await;
    const N: usize = 9;
    // A round is repeated, on fresh accounts, until one shows comparable medians: an oracle is
    // systematic and fails every round, while a noisy moment on a shared machine rarely spans
    // three.
    const ROUNDS: usize = 3;
    for i in 0..ROUNDS * N {
        e.user(&format!("user{i}@example.com"))
            .member(&org, &[Role::Author])
            .create()
            .await;
    }
    let ctx = ctx();
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for i in round * N..(round + 1) * N {
            // Alternate which kind goes first, so a slow moment does not always hit the same kind.
            let order = if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_known in order {
                let email = if is_known {
                    format!("user{i}@example.com")
                } else {
                    format!("nobody{i}@example.com")
                };
                let t = Instant::now();
                let r = e
                    .engine
                    .authenticate_password(&email, "wrong password!", &ctx)
                    .await;
                let took = t.elapsed();
                assert!(
                    matches!(r, Err(CoreError::InvalidCredentials)),
                    "{email}: {r:?}"
                );
                if is_known {
                    known.push(took)
                } else {
                    unknown.push(took)
                }
            }
        }
        let (k, u) = (median(known), median(unknown));
        let ratio = k.as_secs_f64() / u.as_secs_f64();
        // Only a gross difference counts; the machine is noisy.
        if (0.5..2.0).contains(&ratio) {
            return;
        }
        rounds.push(format!("known {k:?} vs unknown {u:?}"));
    }
    panic!("an unknown email answered at another speed in every round: {rounds:?}");
}
