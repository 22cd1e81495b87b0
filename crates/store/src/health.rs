//! Failing fast while the database is unreachable.
//!
//! sqlx's pool retries a refused connection until its acquire timeout (10 s): with the database
//! down, every request would wait that long, past a short request timeout, before failing. So
//! every acquire goes through [`Health::gate`]: an acquire still waiting after [`SLOW_ACQUIRE`]
//! starts a probe (one at a time, at most one per [`PROBE_INTERVAL`]): a fresh connection outside
//! the pool, bounded by [`PROBE_TIMEOUT`]. A probe that fails marks the database down: waiting
//! acquires fail at once with `Unavailable`, and so do new ones, but for one per interval that
//! probes first; the first probe that connects marks it up again. A slow acquire on a healthy
//! database (a busy pool) only costs a probe that succeeds.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use portcullis_core::store::{StoreError, StoreResult};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long an acquire may wait before the database is probed.
pub(crate) const SLOW_ACQUIRE: Duration = Duration::from_millis(250);
/// How long a probe may take to connect before it counts as a failure.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The least time between two probes.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// The reachability of one store's database, shared by its clones.
#[derive(Debug)]
pub(crate) struct Health {
    /// The fast path: read on every acquire without the lock.
    down: AtomicBool,
    state: Mutex<State>,
    /// Wakes the acquires waiting in [`Health::gate`] when the database is marked down.
    changed: watch::Sender<bool>,
}

#[derive(Debug)]
struct State {
    down_since: Option<Instant>,
    cause: String,
    probing: bool,
    next_probe: Instant,
}

/// What [`Health::admit`] lets a caller do.
enum Admit {
    Go,
    ProbeFirst,
    Refuse(StoreError),
}

impl Default for Health {
    fn default() -> Self {
        Health {
            down: AtomicBool::new(false),
            state: Mutex::new(State {
                down_since: None,
                cause: String::new(),
                probing: false,
                next_probe: Instant::now(),
            }),
            changed: watch::Sender::new(false),
        }
    }
}

impl Health {
    /// Runs `acquire`, probing with `probe` when it is slow; see the module docs.
    pub(crate) async fn gate<T, A, P, F>(&self, acquire: A, probe: P) -> StoreResult<T>
    where
        A: Future<Output = StoreResult<T>>,
        P: Fn() -> F,
        F: Future<Output = StoreResult<()>>,
    {
        let mut down = self.changed.subscribe();
        match self.admit() {
            Admit::Go => {}
            Admit::Refuse(e) => return Err(e),
            Admit::ProbeFirst => {
                let claim = ProbeClaim(self);
                let outcome = bounded(probe()).await;
                claim.finish(outcome);
                if self.down.load(Ordering::Acquire) {
                    return Err(self.unavailable());
                }
            }
        }
        // Marked down between the subscription and now: `changed` would not fire for it.
        if *down.borrow_and_update() {
            return Err(self.unavailable());
        }
        let mut acquire = pin!(acquire);
        let mut slow = pin!(tokio::time::sleep(SLOW_ACQUIRE));
        let mut slow_seen = false;
        let mut probing = pin!(None);
        loop {
            tokio::select! {
                done = &mut acquire => {
                    if done.is_ok() && self.down.load(Ordering::Acquire) {
                        self.mark_up();
                    }
                    return done;
                }
                () = &mut slow, if !slow_seen => {
                    slow_seen = true;
                    if let Some(claim) = self.claim_probe() {
                        let running = bounded(probe());
                        probing.set(Some(async move { claim.finish(running.await) }));
                    }
                }
                () = run(probing.as_mut()) => probing.set(None),
                Ok(()) = down.changed() => {
                    if *down.borrow_and_update() {
                        return Err(self.unavailable());
                    }
                }
            }
        }
    }

    /// True while the last probe failed.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    fn admit(&self) -> Admit {
        if !self.down.load(Ordering::Acquire) {
            return Admit::Go;
        }
        let mut state = self.state.lock();
        if state.down_since.is_none() {
            return Admit::Go;
        }
        let now = Instant::now();
        if state.probing || now < state.next_probe {
            return Admit::Refuse(unavailable(&state, now));
        }
        state.probing = true;
        state.next_probe = now + PROBE_INTERVAL;
        Admit::ProbeFirst
    }

    fn claim_probe(&self) -> Option<ProbeClaim<'_>> {
        let mut state = self.state.lock();
        let now = Instant::now();
        if state.probing || now < state.next_probe {
            return None;
        }
        state.probing = true;
        state.next_probe = now + PROBE_INTERVAL;
        Some(ProbeClaim(self))
    }

    fn unavailable(&self) -> StoreError {
        unavailable(&self.state.lock(), Instant::now())
    }

    fn mark_up(&self) {
        let mut state = self.state.lock();
        if let Some(since) = state.down_since.take() {
            tracing::info!(
                down_ms = since.elapsed().as_millis() as u64,
                "database reachable again"
            );
        }
        self.down.store(false, Ordering::Release);
        self.changed.send_replace(false);
    }

    fn mark_down(&self, cause: String) {
        let mut state = self.state.lock();
        if state.down_since.is_none() {
            tracing::warn!(cause = %cause, "database unreachable: failing fast until a probe connects");
            state.down_since = Some(Instant::now());
        }
        state.cause = cause;
        self.down.store(true, Ordering::Release);
        self.changed.send_replace(true);
    }
}

fn unavailable(state: &State, now: Instant) -> StoreError {
    let secs = state
        .down_since
        .map_or(0.0, |since| now.duration_since(since).as_secs_f64());
    StoreError::Unavailable(format!(
        "database unreachable for {secs:.1}s: {}",
        state.cause
    ))
}

/// A probe bounded by [`PROBE_TIMEOUT`].
async fn bounded<F: Future<Output = StoreResult<()>>>(probe: F) -> StoreResult<()> {
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(outcome) => outcome,
        Err(_) => Err(StoreError::Unavailable(format!(
            "no connection within {}s",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// The running probe, if any; never resolves without one.
async fn run<F: Future<Output = ()>>(probe: std::pin::Pin<&mut Option<F>>) {
    match probe.as_pin_mut() {
        Some(probe) => probe.await,
        None => std::future::pending().await,
    }
}

/// The right to probe; released when dropped, so a probe abandoned with its caller (the
/// acquire won, or the request went away) does not block the next one.
struct ProbeClaim<'a>(&'a Health);

impl ProbeClaim<'_> {
    fn finish(self, outcome: StoreResult<()>) {
        match outcome {
            Ok(()) => self.0.mark_up(),
            Err(e) => self.0.mark_down(cause(e)),
        }
    }
}

impl Drop for ProbeClaim<'_> {
    fn drop(&mut self) {
        self.0.state.lock().probing = false;
    }
}

fn cause(e: StoreError) -> String {
    match e {
        StoreError::Unavailable(m) => m,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A probe that answers as told and counts its runs.
    #[derive(Clone, Default)]
    struct FakeDb {
        up: Arc<AtomicBool>,
        probes: Arc<AtomicUsize>,
    }

    impl FakeDb {
        fn probe(&self) -> impl Future<Output = StoreResult<()>> + use<> {
            let up = self.up.load(Ordering::SeqCst);
            self.probes.fetch_add(1, Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    Err(StoreError::Unavailable("connection refused".into()))
                }
            }
        }
    }

    /// An acquire that never connects, as sqlx's retry loop against a refused port.
    async fn hanging() -> StoreResult<u32> {
        std::future::pending().await
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_acquire_on_a_down_database_fails_after_one_probe() {
        let health = Health::default();
        let db = FakeDb::default();
        let started = Instant::now();
        let outcome = health.gate(hanging(), || db.probe()).await;
        assert!(matches!(outcome, Err(StoreError::Unavailable(m)) if m.contains("refused")));
        assert_eq!(started.elapsed(), SLOW_ACQUIRE);
        assert!(health.is_down());
        assert_eq!(db.probes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn while_down_acquires_fail_at_once_and_one_per_interval_probes() {
        let health = Health::default();
        let db = FakeDb::default();
        let _ = health.gate(hanging(), || db.probe()).await;
        let started = Instant::now();
        for _ in 0..50 {
            let outcome = health.gate(async { Ok(1) }, || db.probe()).await;
            assert!(matches!(outcome, Err(StoreError::Unavailable(_))));
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "no waiting while down");
        assert_eq!(
            db.probes.load(Ordering::SeqCst),
            1,
            "no probe before the interval"
        );
        tokio::time::advance(PROBE_INTERVAL).await;
        let outcome = health.gate(async { Ok(1) }, || db.probe()).await;
        assert!(outcome.is_err(), "the database is still down");
        assert_eq!(db.probes.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_probe_that_connects_lets_acquires_through_again() {
        let health = Health::default();
        let db = FakeDb::default();
        let _ = health.gate(hanging(), || db.probe()).await;
        db.up.store(true, Ordering::SeqCst);
        assert!(health.gate(async { Ok(1) }, || db.probe()).await.is_err());
        tokio::time::advance(PROBE_INTERVAL).await;
        assert_eq!(
            health.gate(async { Ok(7) }, || db.probe()).await.ok(),
            Some(7)
        );
        assert!(!health.is_down());
        assert_eq!(
            health.gate(async { Ok(8) }, || db.probe()).await.ok(),
            Some(8)
        );
        assert_eq!(db.probes.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_acquire_on_a_healthy_database_waits_for_its_connection() {
        let health = Health::default();
        let db = FakeDb::default();
        db.up.store(true, Ordering::SeqCst);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(5)
        };
        assert_eq!(health.gate(slow, || db.probe()).await.ok(), Some(5));
        assert!(!health.is_down());
        assert_eq!(
            db.probes.load(Ordering::SeqCst),
            1,
            "one probe per slow acquire"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_acquires_fail_together_when_one_probe_fails() {
        let health = Arc::new(Health::default());
        let db = FakeDb::default();
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (health, db) = (health.clone(), db.clone());
                tokio::spawn(async move { health.gate(hanging(), || db.probe()).await })
            })
            .collect();
        for w in waiters {
            assert!(matches!(w.await, Ok(Err(StoreError::Unavailable(_)))));
        }
        assert_eq!(db.probes.load(Ordering::SeqCst), 1, "one probe at a time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_hangs_counts_as_a_failure() {
        let health = Health::default();
        let outcome = health
            .gate(hanging(), std::future::pending::<StoreResult<()>>)
            .await;
        assert!(matches!(outcome, Err(StoreError::Unavailable(m)) if m.contains("no connection")));
        assert!(health.is_down());
    }
}
