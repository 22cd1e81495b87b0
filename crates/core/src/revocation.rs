//! The in-memory view of revocation state that token validation consults, so a validation needs
//! no database round-trip. Changes made by this process are applied at once; changes made by
//! other processes sharing the store arrive through the store's revocation feed, polled
//! every few hundred milliseconds.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use dashmap::{DashMap, DashSet};
use tokio::sync::Notify;

use crate::model::{CredentialId, OrgId, RevocationEvent, SessionId, Timestamp, UserId};
use crate::model::{Principal, Via};
use crate::store::{OrgRevocationState, Store, StoreResult, UserRevocationState};

#[derive(Debug, Default)]
pub struct RevocationView {
    /// Revoked sessions with their expiry (pruned after it).
    sessions: DashMap<SessionId, Timestamp>,
    credentials: DashSet<CredentialId>,
    users: DashSet<UserId>,
    /// Memberships deactivated or removed.
    memberships: DashSet<(UserId, OrgId)>,
    /// Tokens for (user, org) issued before the instant are refused, whatever the membership
    /// is now: a re-added or reactivated member does not get old tokens back.
    membership_cutoffs: DashMap<(UserId, OrgId), Timestamp>,
    disabled_orgs: DashSet<OrgId>,
    /// Tokens for the org issued before the instant (its last disabling) are refused.
    org_cutoffs: DashMap<OrgId, Timestamp>,
    /// Kids of revoked signing keys.
    keys: DashSet<String>,
    /// Woken when a key revocation arrives, so the key ring reloads at once.
    key_revoked: Notify,
    seq: AtomicI64,
    /// Per-user change stamps for the read cache: bumped whenever a user's state is re-read
    /// (every user event, local or from the feed). Absent = 0.
    epochs: DashMap<UserId, u64>,
    /// Per-org change stamps, from the same clock: bumped on every org event (disabling, and
    /// changes to the org's profile, settings, permissions, priorities or region).
    org_epochs: DashMap<OrgId, u64>,
    next_epoch: AtomicU64,
    /// The OpenID clients' change stamp: bumped by every client change (local, or a
    /// `Client` event from the feed), which empties the provider's client cache. Clients
    /// change rarely, so one stamp for all of them is enough.
    clients_epoch: AtomicU64,
    /// When the store's events were last read through (the snapshot counts), in milliseconds
    /// since [`CLOCK_BASE`]; 0 = never. A view that stops hearing from the store cannot see
    /// revocations made elsewhere, so readiness checks this.
    caught_up_at: AtomicU64,
}

/// The origin of `caught_up_at`: a monotonic clock, so a wall-clock jump cannot make the feed
/// look fresh or stale.
static CLOCK_BASE: LazyLock<Instant> = LazyLock::new(Instant::now);

fn clock_ms() -> u64 {
    // +1 so that a reading is never 0 ("never").
    CLOCK_BASE.elapsed().as_millis() as u64 + 1
}

impl RevocationView {
    pub async fn load(store: &dyn Store, now: Timestamp) -> StoreResult<RevocationView> {
        let asked = clock_ms();
        let snap = store.revocation_snapshot(now).await?;
        let view = RevocationView::default();
        for (s, exp) in snap.revoked_sessions {
            view.sessions.insert(s, exp);
        }
        for c in snap.revoked_credentials {
            view.credentials.insert(c);
        }
        for u in snap.deactivated_users {
            view.users.insert(u);
        }
        for m in snap.deactivated_memberships {
            view.memberships.insert(m);
        }
        for (u, o, at) in snap.membership_cutoffs {
            view.membership_cutoffs.insert((u, o), at);
        }
        for o in snap.disabled_orgs {
            view.disabled_orgs.insert(o);
        }
        for (o, at) in snap.org_cutoffs {
            view.org_cutoffs.insert(o, at);
        }
        for k in snap.revoked_keys {
            view.keys.insert(k);
        }
        view.seq.store(snap.seq, Ordering::SeqCst);
        view.mark_caught_up(asked);
        Ok(view)
    }

    fn mark_caught_up(&self, asked: u64) {
        self.caught_up_at.fetch_max(asked, Ordering::SeqCst);
    }

    /// How long since this view last read the store's revocation feed through (or loaded its
    /// snapshot); `None` if it never has. The poller reads it every 250 ms, so anything past a
    /// few seconds means the store is failing or hanging for this process.
    pub fn feed_age(&self) -> Option<Duration> {
        match self.caught_up_at.load(Ordering::SeqCst) {
            0 => None,
            at => Some(Duration::from_millis(clock_ms().saturating_sub(at))),
        }
    }

    /// Whether the feed has not been read for longer than `max` (or never was).
    pub fn is_feed_stale(&self, max: Duration) -> bool {
        self.feed_age().is_none_or(|age| age > max)
    }

    pub fn is_session_revoked(&self, id: &SessionId) -> bool {
        self.sessions.contains_key(id)
    }
    pub fn is_credential_revoked(&self, id: CredentialId) -> bool {
        self.credentials.contains(&id)
    }
    pub fn is_user_deactivated(&self, id: UserId) -> bool {
        self.users.contains(&id)
    }
    /// Deactivated or removed.
    pub fn is_membership_deactivated(&self, user: UserId, org: OrgId) -> bool {
        self.memberships.contains(&(user, org))
    }
    pub fn is_org_disabled(&self, org: OrgId) -> bool {
        self.disabled_orgs.contains(&org)
    }
    /// Whether a token or credential of `p` must be refused: its user, membership or org is
    /// deactivated, removed or disabled, it predates a cut-off, its impersonating admin is
    /// deactivated, or its session or credential is revoked.
    pub fn refuses(&self, p: &Principal) -> bool {
        if self.is_user_deactivated(p.user)
            || self.is_membership_deactivated(p.user, p.org)
            || self.is_org_disabled(p.org)
        {
            return true;
        }
        // An access token (not a credential secret, whose own state is checked above and
        // below) issued before its membership was removed or deactivated, or its org disabled,
        // stays dead: team and setUserOrg tokens ride a session of another org.
        if !matches!(p.via, Via::Credential { .. })
            && p.issued_at
                .is_none_or(|iat| self.is_cut_off(p.user, p.org, iat))
        {
            return true;
        }
        if p.actor.is_some_and(|actor| self.is_user_deactivated(actor)) {
            return true;
        }
        match &p.via {
            Via::Session { session, .. } => self.is_session_revoked(session),
            Via::MintedFromCredential { credential, .. } | Via::Credential { credential } => {
                self.is_credential_revoked(*credential)
            }
        }
    }

    /// Whether a token for (user, org) issued at `issued_at` predates a removal, deactivation
    /// or disabling of the org.
    pub fn is_cut_off(&self, user: UserId, org: OrgId, issued_at: Timestamp) -> bool {
        self.membership_cutoffs
            .get(&(user, org))
            .is_some_and(|c| issued_at < *c)
            || self.org_cutoffs.get(&org).is_some_and(|c| issued_at < *c)
    }

    /// The `iat` for a token for (user, org) minted at `now`. `iat` has whole seconds, so a
    /// token minted in the same second as, but after, a cut-off would read as older than it;
    /// such a token gets the second after the cut-off instead (never more than 1 s ahead).
    pub fn issue_second(&self, user: UserId, org: OrgId, now: Timestamp) -> i64 {
        let mut iat = now.timestamp();
        let cutoffs = [
            self.membership_cutoffs.get(&(user, org)).map(|c| *c),
            self.org_cutoffs.get(&org).map(|c| *c),
        ];
        for c in cutoffs.into_iter().flatten() {
            if c <= now && c.timestamp() == iat && c.timestamp_subsec_nanos() > 0 {
                iat = iat.max(c.timestamp() + 1);
            }
        }
        iat
    }

    /// Replaces what is known about one org with the store's current state.
    pub fn apply_org_state(&self, org: OrgId, state: &OrgRevocationState) {
        self.bump_org(org);
        // Disable first, so no interleaving reader sees an enabled org without its cut-off.
        if state.disabled {
            self.disabled_orgs.insert(org);
        }
        match state.tokens_not_before {
            Some(at) => self.org_cutoffs.insert(org, at),
            None => self.org_cutoffs.remove(&org).map(|(_, at)| at),
        };
        if !state.disabled {
            self.disabled_orgs.remove(&org);
        }
    }

    pub async fn refresh_org(&self, store: &dyn Store, org: OrgId) -> StoreResult<()> {
        let state = store.org_revocation_state(org).await?;
        self.apply_org_state(org, &state);
        Ok(())
    }

    pub fn is_key_revoked(&self, kid: &str) -> bool {
        !self.keys.is_empty() && self.keys.contains(kid)
    }

    /// Marks a signing key revoked and wakes whoever waits in [`Self::key_revoked`].
    pub fn revoke_key(&self, kid: String) {
        if self.keys.insert(kid) {
            // Stores a permit if the waiter is busy, so no revocation goes unnoticed.
            self.key_revoked.notify_one();
        }
    }

    /// Completes when a key revocation has been applied (one waiter: the key refresher).
    pub async fn key_revoked(&self) {
        self.key_revoked.notified().await;
    }

    pub fn revoke_session(&self, id: SessionId, expires_at: Timestamp) {
        self.sessions.insert(id, expires_at);
    }
    pub fn revoke_credential(&self, id: CredentialId) {
        self.credentials.insert(id);
    }

    /// The user's change stamp (see the read cache, `read_cache.rs`).
    pub fn user_epoch(&self, user: UserId) -> u64 {
        self.epochs.get(&user).map_or(0, |e| *e)
    }

    /// The last epoch handed out (to any user).
    pub fn epoch_clock(&self) -> u64 {
        self.next_epoch.load(Ordering::SeqCst)
    }

    /// Marks the user as changed, so cached copies of their rows are re-read.
    pub fn bump_user(&self, user: UserId) {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.epochs.insert(user, epoch);
    }

    /// The stamp of the OpenID clients' cached copies (see `oidc/client_cache.rs`).
    pub fn clients_epoch(&self) -> u64 {
        self.clients_epoch.load(Ordering::SeqCst)
    }

    /// Marks every OpenID client as changed, so cached copies are read again.
    pub fn bump_clients(&self) {
        self.clients_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The org's change stamp (see the read cache).
    pub fn org_epoch(&self, org: OrgId) -> u64 {
        self.org_epochs.get(&org).map_or(0, |e| *e)
    }

    /// Marks the org as changed, so cached copies of its rows are re-read.
    pub fn bump_org(&self, org: OrgId) {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.org_epochs.insert(org, epoch);
    }

    /// Replaces everything known about one user with the store's current state.
    pub fn apply_user_state(&self, user: UserId, state: &UserRevocationState) {
        self.bump_user(user);
        if state.deactivated || !state.exists {
            self.users.insert(user);
        } else {
            self.users.remove(&user);
        }
        // New entries first, then the stale ones go: a concurrent check never sees the user
        // with fewer entries than either the old or the new state has.
        for org in &state.deactivated_orgs {
            self.memberships.insert((user, *org));
        }
        for (org, at) in &state.org_cutoffs {
            self.membership_cutoffs.insert((user, *org), *at);
        }
        self.memberships
            .retain(|(u, o)| *u != user || state.deactivated_orgs.contains(o));
        self.membership_cutoffs
            .retain(|(u, o), _| *u != user || state.org_cutoffs.contains_key(o));
        for (s, exp) in &state.revoked_sessions {
            self.sessions.insert(s.clone(), *exp);
        }
        for c in &state.revoked_credentials {
            self.credentials.insert(*c);
        }
    }

    pub async fn refresh_user(
        &self,
        store: &dyn Store,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<()> {
        let state = store.user_revocation_state(user, now).await?;
        self.apply_user_state(user, &state);
        Ok(())
    }

    /// Applies the store's events newer than what this view has seen. Returns how many.
    pub async fn catch_up(&self, store: &dyn Store, now: Timestamp) -> StoreResult<usize> {
        let mut applied = 0;
        loop {
            let after = self.seq.load(Ordering::SeqCst);
            // Fresh as of when the read was asked, not when a slow answer came.
            let asked = clock_ms();
            let events = store.revocation_events_since(after, 500).await?;
            if events.is_empty() {
                self.mark_caught_up(asked);
                return Ok(applied);
            }
            let batch = events.len();
            for (seq, event) in events {
                match event {
                    RevocationEvent::Session(id) => {
                        let exp = store
                            .get_session(&id)
                            .await?
                            .map(|s| s.expires_at)
                            .unwrap_or(now + chrono::Duration::days(400));
                        self.sessions.insert(id, exp);
                    }
                    RevocationEvent::Credential(id) => {
                        self.credentials.insert(id);
                    }
                    RevocationEvent::User(id) => self.refresh_user(store, id, now).await?,
                    RevocationEvent::Org(id) => self.refresh_org(store, id).await?,
                    RevocationEvent::Key(kid) => self.revoke_key(kid),
                    RevocationEvent::Client(_) => self.bump_clients(),
                }
                self.seq.fetch_max(seq, Ordering::SeqCst);
                applied += 1;
            }
            if batch < 500 {
                self.mark_caught_up(asked);
                return Ok(applied);
            }
        }
    }

    /// Forgets revoked sessions that have expired anyway.
    pub fn prune(&self, now: Timestamp) {
        self.sessions.retain(|_, exp| *exp > now);
    }

    /// Polls the store until the returned handle is aborted.
    pub fn spawn_poller(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let view = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rounds: u64 = 0;
            loop {
                tick.tick().await;
                let now = chrono::Utc::now();
                if let Err(e) = view.catch_up(store.as_ref(), now).await {
                    tracing::warn!(error = %e, "revocation feed poll failed; will retry");
                }
                rounds += 1;
                if rounds.is_multiple_of(600) {
                    view.prune(now);
                }
            }
        })
    }
}
