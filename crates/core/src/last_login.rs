//! Coalesced `last_login_at` writes for org switches (Nominal `setUserOrg`), so a switch costs
//! no store write on the request path.
//!
//! A switch records its time here; a background task writes what is pending every
//! [`FLUSH_EVERY`], but a membership's value at most once per [`WRITE_EVERY`]. So the stored
//! value lags a switch by at most [`WRITE_EVERY`] + [`FLUSH_EVERY`], and a busy user costs one
//! write a minute. Nothing pending is dropped: a failed write puts it back, the engine's
//! shutdown writes everything, and a reader of last-login times on this process
//! ([`crate::engine::Engine::login_activity`]) writes what is pending first, so it sees every
//! switch made here. Another process sees them within the lag above (the idle tracker,
//! `idle.rs`, makes the same trade for `last_seen_at`). Logins still mark the org in their own
//! durable write unit; the stored value only moves forward, so a late flush never hides a
//! newer login.

use std::time::Duration;

use chrono::Duration as Span;
use dashmap::DashMap;

use crate::model::{OrgId, Timestamp, UserId};

/// The least time between two writes of one membership's value.
pub const WRITE_EVERY: Span = Span::seconds(60);
/// How often the pending values are looked at.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    /// The newest switch not yet written.
    pending: Option<Timestamp>,
    /// When this process last wrote the value.
    written: Option<Timestamp>,
}

/// One last-login time to store: (user, org, at).
pub type LastLogin = (UserId, OrgId, Timestamp);

/// Per-process pending last-login times.
#[derive(Debug)]
pub struct LastLogins {
    map: DashMap<(UserId, OrgId), Entry>,
    cap: usize,
}

impl LastLogins {
    pub fn new(cap: usize) -> LastLogins {
        LastLogins {
            map: DashMap::new(),
            cap: cap.max(1),
        }
    }

    /// Notes a switch of `user` into `org` at `at`.
    pub fn record(&self, user: UserId, org: OrgId, at: Timestamp) {
        if self.map.len() >= self.cap && !self.map.contains_key(&(user, org)) {
            // Forget only what is written; pending values stay (they are gone within a minute).
            self.map.retain(|_, e| e.pending.is_some());
        }
        let mut e = self.map.entry((user, org)).or_default();
        e.pending = e.pending.max(Some(at));
    }

    /// Takes the pending values that may be written at `now` (all of them when `force`) and
    /// marks them written.
    pub fn take(&self, now: Timestamp, force: bool) -> Vec<LastLogin> {
        let mut out = Vec::new();
        for mut e in self.map.iter_mut() {
            let due = e.written.is_none_or(|w| now - w >= WRITE_EVERY);
            if let Some(at) = e.pending
                && (force || due)
            {
                let (user, org) = *e.key();
                out.push((user, org, at));
                e.pending = None;
                e.written = Some(now);
            }
        }
        out
    }

    /// Puts back values whose write failed, so the next flush tries again.
    pub fn restore(&self, failed: &[LastLogin]) {
        for (user, org, at) in failed {
            let mut e = self.map.entry((*user, *org)).or_default();
            e.pending = e.pending.max(Some(*at));
            e.written = None;
        }
    }

    /// The value pending for (user, org), if any.
    pub fn pending(&self, user: UserId, org: OrgId) -> Option<Timestamp> {
        self.map.get(&(user, org)).and_then(|e| e.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    #[test]
    fn a_value_is_written_at_most_once_a_minute_and_never_lost() {
        let l = LastLogins::new(100);
        let (u, o) = (UserId::new(), OrgId::new());
        l.record(u, o, t(0));
        l.record(u, o, t(1));
        assert_eq!(l.take(t(2), false), vec![(u, o, t(1))], "the newest, once");
        l.record(u, o, t(3));
        assert!(l.take(t(30), false).is_empty(), "written 28 s ago");
        assert_eq!(l.pending(u, o), Some(t(3)));
        assert_eq!(l.take(t(62), false), vec![(u, o, t(3))]);
        assert!(l.take(t(200), false).is_empty(), "nothing pending");
        l.record(u, o, t(201));
        l.take(t(201), false);
        l.record(u, o, t(202));
        assert_eq!(l.take(t(203), true), vec![(u, o, t(202))], "forced");
    }

    #[test]
    fn failed_writes_come_back_and_pending_values_survive_the_cap() {
        let l = LastLogins::new(2);
        let (u, o) = (UserId::new(), OrgId::new());
        l.record(u, o, t(5));
        let taken = l.take(t(6), false);
        l.restore(&taken);
        assert_eq!(l.take(t(7), false), vec![(u, o, t(5))], "retried at once");
        l.record(u, o, t(8));
        for _ in 0..5 {
            l.record(UserId::new(), o, t(9));
        }
        assert_eq!(l.pending(u, o), Some(t(8)));
        assert_eq!(l.take(t(9), true).len(), 6);
    }
}
