//! Idle timeout of sessions (`core.tokens.idle_timeout_secs`), checked on every token validation
//! without a database write per request.
//!
//! Each process keeps, per session, the last use it saw and the `last_seen_at` it last knows to be
//! in the store. A use is written to the store only when that stored value is [`TOUCH_EVERY`] old,
//! so a session costs at most one write a minute per process, and the stored value is never more
//! than a minute behind the session's real last use on any process. Before a process ends a
//! session as idle it re-reads the stored value, so a use elsewhere counts. Because the stored
//! value may lag by up to [`TOUCH_EVERY`], a session ends between `idle_timeout_secs` and
//! `idle_timeout_secs` + [`TOUCH_EVERY`] after its last use (Keycloak, too, grants a grace period
//! on idle expiry in a cluster), never before.

use chrono::Duration;
use dashmap::DashMap;

use crate::model::{Session, SessionId, Timestamp};
use crate::store::{Store, StoreResult};

/// The longest the stored `last_seen_at` lags behind a use: the write interval per session.
pub const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(Debug, Clone, Copy)]
struct Seen {
    /// `None`: the session has no idle timeout.
    idle: Option<Duration>,
    /// The newest use known here (local or stored).
    last_seen: Timestamp,
    /// The newest `last_seen_at` known to be stored.
    stored: Timestamp,
}

impl Seen {
    fn of(s: &Session) -> Seen {
        Seen {
            idle: s
                .idle_timeout_secs
                .filter(|secs| *secs > 0)
                .map(Duration::seconds),
            last_seen: s.last_seen_at,
            stored: s.last_seen_at,
        }
    }

    fn learn(&mut self, s: &Session) {
        self.last_seen = self.last_seen.max(s.last_seen_at);
        self.stored = self.stored.max(s.last_seen_at);
    }

    /// Ended when even the latest use the stored value allows for is `idle` ago.
    fn is_idle(&self, now: Timestamp) -> bool {
        self.idle
            .is_some_and(|idle| now >= self.last_seen.max(self.stored) + idle + TOUCH_EVERY)
    }
}

/// What a session's activity shows: for the account API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub last_seen: Timestamp,
    /// `last_seen` + the idle timeout; `None` without one.
    pub idle_expires_at: Option<Timestamp>,
}

/// The outcome of [`IdleTracker::use_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// The session is in use (or has no idle timeout, or is unknown to the store).
    Live,
    /// Unused for longer than its idle timeout: the caller ends it.
    Idle,
}

/// Per-process last-use bookkeeping.
#[derive(Debug)]
pub struct IdleTracker {
    seen: DashMap<SessionId, Seen>,
    cap: usize,
}

impl IdleTracker {
    pub fn new(cap: usize) -> IdleTracker {
        IdleTracker {
            seen: DashMap::new(),
            cap: cap.max(1),
        }
    }

    /// Records a use of `sid` at `now`, or reports that it has been idle too long. Reads the
    /// store the first time this process sees the session and before declaring it idle; writes
    /// it at most once per [`TOUCH_EVERY`].
    pub async fn use_session(
        &self,
        store: &dyn Store,
        sid: &SessionId,
        now: Timestamp,
    ) -> StoreResult<Use> {
        let known = self.seen.get(sid).map(|e| *e);
        let mut seen = match known {
            Some(seen) => seen,
            None => match store.get_session(sid).await? {
                Some(s) => Seen::of(&s),
                None => return Ok(Use::Live),
            },
        };
        if seen.is_idle(now) && known.is_some() {
            // Another process may have seen a use since: the store has it within a minute.
            if let Some(s) = store.get_session(sid).await? {
                seen.learn(&s);
            }
        }
        if seen.is_idle(now) {
            self.seen.remove(sid);
            return Ok(Use::Idle);
        }
        seen.last_seen = seen.last_seen.max(now);
        if self.remember(sid, seen, now) {
            // A failed write only makes other processes re-read sooner; the use still counts.
            if let Err(e) = store.touch_session(sid, now).await {
                tracing::warn!(error = %e, "could not record a session's last use");
            }
        }
        Ok(Use::Live)
    }

    /// Merges `seen` into the map and decides, under the entry's lock, whether this use is the
    /// one written to the store (so concurrent requests write once).
    fn remember(&self, sid: &SessionId, seen: Seen, now: Timestamp) -> bool {
        if self.seen.len() >= self.cap && !self.seen.contains_key(sid) {
            // Bounded like the token cache: forgetting costs one read per session.
            self.seen.clear();
        }
        let mut entry = self.seen.entry(sid.clone()).or_insert(seen);
        let e = entry.value_mut();
        e.last_seen = e.last_seen.max(seen.last_seen);
        e.stored = e.stored.max(seen.stored);
        let write = e.idle.is_some() && now - e.stored >= TOUCH_EVERY;
        if write {
            e.stored = now;
        }
        write
    }

    /// The session's last use and idle deadline as this process knows them (the stored row,
    /// updated by any newer local use).
    pub fn activity(&self, s: &Session) -> Activity {
        let mut seen = Seen::of(s);
        if let Some(local) = self.seen.get(&s.id) {
            seen.last_seen = seen.last_seen.max(local.last_seen);
        }
        Activity {
            last_seen: seen.last_seen,
            idle_expires_at: seen.idle.map(|idle| seen.last_seen + idle),
        }
    }

    /// Whether the session has been idle too long by what the store says and this process saw.
    pub fn is_idle(&self, s: &Session, now: Timestamp) -> bool {
        let mut seen = Seen::of(s);
        if let Some(local) = self.seen.get(&s.id) {
            seen.last_seen = seen.last_seen.max(local.last_seen);
        }
        seen.is_idle(now)
    }
}
