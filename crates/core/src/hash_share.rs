//! A reserved share of the CPU for password hashing while logins wait.
//!
//! The hashing threads run at nice 10, so that token validation wins a contended core at once.
//! Alone, that starves logins: with validations saturating the core, the scheduler gives a
//! nice-10 thread about a tenth of it (weights 110 : 1024). The reserve puts a floor under that:
//! while the pool has work it measures how long the hashing threads ran and how long they waited
//! for a CPU (the kernel's per-thread `schedstat`), and when they got less than `share` of the
//! time they wanted, the async side yields: it blocks the runtime worker it runs on for a short,
//! bounded slice (the core is then the hashing threads'), which is what the kernel does when
//! a higher-priority thread preempts that worker. Between slices validations keep the core, so
//! one slice is the most any of them waits on hashing.
//!
//! Why not switch the threads' nice value back and forth: an unprivileged process may raise a
//! nice value but not lower it again (`RLIMIT_NICE` is 0 by default). Blocking a worker needs no
//! privilege, and the measurement makes it a no-op wherever hashing is not starved (idle cores).

use std::time::{Duration, Instant};

use crate::password::HashPool;

/// How often the reserve measures while the pool has work.
const PERIOD: Duration = Duration::from_millis(10);
/// The longest the async side yields at once: the most a request waits on hashing.
const MAX_SLICE: Duration = Duration::from_millis(4);
/// A yield checks this often whether the pool still has work, and ends early when it has none.
const STEP: Duration = Duration::from_micros(500);

/// Nanoseconds the hashing threads ran and waited runnable for a CPU, summed over them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Times {
    ran: u64,
    waited: u64,
}

/// `/proc/self/task/<tid>/schedstat`: run time, run-queue wait time (ns), time slices.
fn read_times(tids: &[i32]) -> Option<Times> {
    let mut sum = Times::default();
    for tid in tids {
        let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        let mut fields = text.split_whitespace().map(str::parse::<u64>);
        sum.ran += fields.next()?.ok()?;
        sum.waited += fields.next()?.ok()?;
    }
    Some(sum)
}

/// What the hashing threads are owed, in nanoseconds: `share` of the time they wanted a CPU
/// (ran + waited) minus what they got. Bounded both ways, so idle cores earn no burst later and
/// a long starvation does not turn into one long stall.
#[derive(Debug)]
struct Ledger {
    share: f64,
    owed: f64,
    last: Option<Times>,
}

impl Ledger {
    fn new(share: f64) -> Ledger {
        Ledger {
            share,
            owed: 0.0,
            last: None,
        }
    }

    fn reset(&mut self) {
        self.owed = 0.0;
        self.last = None;
    }

    /// Books the time since the last observation and returns how long to yield now.
    fn observe(&mut self, now: Times) -> Duration {
        if let Some(last) = self.last {
            let ran = now.ran.saturating_sub(last.ran) as f64;
            let waited = now.waited.saturating_sub(last.waited) as f64;
            let max = 2.0 * MAX_SLICE.as_nanos() as f64;
            let min = -(PERIOD.as_nanos() as f64);
            self.owed = (self.owed + self.share * (ran + waited) - ran).clamp(min, max);
        }
        self.last = Some(now);
        if self.owed <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.owed as u64).min(MAX_SLICE)
    }
}

/// Checks `[core.passwords] hash_share_percent`.
pub fn validate_share(percent: u8) -> Result<(), String> {
    if percent > 90 {
        return Err(format!("hash_share_percent must be 0-90, not {percent}"));
    }
    Ok(())
}

/// Runs the reserve for `pool` for as long as the task lives: `percent` of the CPU time its
/// threads want is theirs while they have work (0: nice alone, no reserve). Spawn it on the
/// runtime that serves requests: its yields pause the worker they run on.
pub(crate) async fn reserve(pool: HashPool, percent: u8) {
    if percent == 0 {
        return;
    }
    let activity = pool.activity().clone();
    let mut ledger = Ledger::new(f64::from(percent.min(90)) / 100.0);
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if pool.in_flight() == 0 {
            ledger.reset();
            activity.submitted.notified().await;
            tick.reset();
            continue;
        }
        tick.tick().await;
        let tids = activity.tids.lock().clone();
        let Some(times) = read_times(&tids) else {
            tracing::info!("no per-thread scheduler statistics here: no CPU share for hashing");
            return;
        };
        let slice = ledger.observe(times);
        if !slice.is_zero() {
            yield_cpu(&pool, slice);
        }
    }
}

/// Blocks this worker thread for `slice`, or until the pool has no work left. Blocking is the
/// point: meanwhile the core is the hashing threads'.
fn yield_cpu(pool: &HashPool, slice: Duration) {
    let until = Instant::now() + slice;
    while pool.in_flight() > 0 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(STEP));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn at(ran_ms: u64, waited_ms: u64) -> Times {
        Times {
            ran: ran_ms * MS,
            waited: waited_ms * MS,
        }
    }

    #[test]
    fn a_starved_pool_is_owed_its_share_and_a_slice_is_bounded() {
        let mut l = Ledger::new(0.3);
        assert_eq!(
            l.observe(at(0, 0)),
            Duration::ZERO,
            "the first sample is a baseline"
        );
        // Ran 1 ms, waited 9 ms: owed 0.3 × 10 − 1 = 2 ms.
        assert_eq!(l.observe(at(1, 9)), Duration::from_millis(2));
        // Starved for a long time: one slice at most, and the debt is capped.
        assert_eq!(l.observe(at(2, 1000)), MAX_SLICE);
        assert!(l.owed <= 2.0 * MAX_SLICE.as_nanos() as f64);
    }

    #[test]
    fn an_uncontended_pool_is_owed_nothing_and_earns_no_burst() {
        let mut l = Ledger::new(0.3);
        l.observe(at(0, 0));
        for i in 1..100 {
            assert_eq!(l.observe(at(10 * i, 0)), Duration::ZERO);
        }
        // Contention starts: the credit of the idle time is bounded to one period.
        let mut t = at(990, 0);
        let mut yielded = Duration::ZERO;
        for _ in 0..10 {
            t = Times {
                ran: t.ran + MS,
                waited: t.waited + 9 * MS,
            };
            yielded += l.observe(t);
        }
        assert!(yielded >= Duration::from_millis(15), "{yielded:?}");
    }

    #[test]
    fn the_share_is_met_at_the_steady_state() {
        // A core shared 1 : 9 by the scheduler, plus the yields: hashing converges to 30 %.
        let mut l = Ledger::new(0.3);
        let (mut ran, mut wall) = (0u64, 0u64);
        let mut t = Times::default();
        l.observe(t);
        for _ in 0..1000 {
            let slice = l.observe(t).as_nanos() as u64;
            let (r, w) = (slice + MS, 9 * MS);
            t = Times {
                ran: t.ran + r,
                waited: t.waited + w,
            };
            ran += r;
            wall += r + w;
        }
        let share = ran as f64 / wall as f64;
        assert!((0.28..0.32).contains(&share), "{share}");
    }

    #[test]
    fn shares_above_ninety_percent_are_refused() {
        assert!(validate_share(0).is_ok());
        assert!(validate_share(90).is_ok());
        assert!(validate_share(91).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_threads_times_can_be_read() {
        // Kernels built without scheduler statistics have no file: the reserve is then off.
        // (A running thread's own run time is only booked at a tick or a switch: not checked.)
        let tid = crate::password::current_tid().unwrap();
        let here = std::path::Path::new("/proc/self/task").join(tid.to_string());
        if here.join("schedstat").exists() {
            assert!(read_times(&[tid]).is_some());
        }
        assert_eq!(read_times(&[]), Some(Times::default()));
    }
}
