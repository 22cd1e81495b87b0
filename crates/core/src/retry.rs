//! Retrying a store write that must not be forgotten (ending the session of a refused login)
//! until the store answers again, with a growing wait, for at most a given time.

use std::future::Future;
use std::time::Duration;

/// The first wait after a failure; each next one doubles, up to [`MAX_WAIT`]: the write lands
/// within a second of the store's return, and a failing try costs little (the store fails fast
/// while it is unreachable).
pub const FIRST_WAIT: Duration = Duration::from_millis(250);
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// Runs `op` until it succeeds or `give_up_after` has passed; true if it succeeded. Each
/// failure is logged with `what`.
pub async fn until_ok<F, Fut, T, E>(what: &str, give_up_after: Duration, mut op: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = tokio::time::Instant::now() + give_up_after;
    let mut wait = FIRST_WAIT;
    loop {
        match op().await {
            Ok(_) => return true,
            Err(e) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    tracing::error!(error = %e, what, "giving up retrying");
                    return false;
                }
                tracing::warn!(error = %e, what, retry_in_ms = wait.as_millis() as u64, "will retry");
                tokio::time::sleep(wait.min(deadline - now)).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_with_growing_waits_until_it_works() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let done = until_ok("test", Duration::from_secs(60), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err("store unavailable"),
                _ => Ok(()),
            }
        })
        .await;
        assert!(done);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(started.elapsed(), Duration::from_millis(250 + 500 + 1000));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_time_given() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let done = until_ok("test", Duration::from_secs(20), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("store unavailable")
        })
        .await;
        assert!(!done);
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        // Tries at 0, 0.25 and 0.75 s, then every second from 1.75 s to 19.75 s, and at 20 s.
        assert_eq!(calls.load(Ordering::SeqCst), 23);
    }
}
