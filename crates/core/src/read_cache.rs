//! Bounded in-memory copies of the rows the hot paths read on every request: credentials by
//! secret hash (API-key exchange), memberships (admin checks), users (who am I), and what a
//! team token's `LoginResult` shows (a user's memberships and settings; an org with its region,
//! permission table, settings and priorities).
//!
//! Correctness never rests on these copies:
//! * revocation (of credentials, sessions, users and memberships) is still decided by the
//!   [`RevocationView`] on every request, as for uncached reads;
//! * every entry is stamped with its user's (or, for org entries, its org's) epoch, read
//!   *before* the store read. Any change to the user or their memberships bumps the user's
//!   epoch, any change to the org's rows the org's (through the revocation feed, or at once for
//!   changes this process makes), so a stamp that no longer matches is a miss;
//! * entries also expire after a short TTL, which bounds how stale a field the feed does not
//!   cover could ever be.
//!
//! Unknown credentials are never cached, so guessing secrets cannot fill the cache.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use parking_lot::Mutex;

use crate::model::{
    Credential, JobPermissions, Membership, Org, OrgId, PriorityLevel, Region, Role, SettingsMap,
    User, UserId,
};
use crate::revocation::RevocationView;

/// A credential and what its exchange needs besides it.
#[derive(Debug, Clone)]
pub struct CachedCredential {
    pub credential: Credential,
    /// The user's membership in the credential's org is active and of kind guest.
    pub guest: bool,
}

/// An org as a login result shows it: its row and the rows hanging off it.
#[derive(Debug, Clone)]
pub struct OrgBundle {
    pub org: Org,
    pub region: Option<Region>,
    /// The org's stored permission table (overrides of the configured one).
    pub job_table: BTreeMap<Role, JobPermissions>,
    /// The org's Parsable settings, parsed.
    pub settings: SettingsMap,
    pub priorities: Option<Vec<PriorityLevel>>,
}

struct Entry<T> {
    value: T,
    epoch: u64,
    loaded: Instant,
}

/// Independently locked parts of a map: a lookup locks one, so concurrent requests rarely wait.
const SHARDS: usize = 64;

type Shard<K, T> = Mutex<IndexMap<K, Entry<T>>>;

/// One bounded map. A full shard makes room by evicting one entry at random: with a working set
/// larger than the cache, the hit rate stays at the cached share of it (random replacement),
/// where clearing the whole map when full averaged half of that and dropped every hot entry at
/// once.
struct Bounded<K, T> {
    shards: Box<[Shard<K, T>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Eq + Hash, T: Clone> Bounded<K, T> {
    fn new(cap: usize) -> Self {
        Bounded {
            shards: (0..SHARDS).map(|_| Mutex::new(IndexMap::new())).collect(),
            per_shard: cap.div_ceil(SHARDS),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Shard<K, T> {
        let h = self.hasher.hash_one(key);
        // The high bits: IndexMap's own hasher is seeded apart, so the two do not correlate.
        &self.shards[(h >> 32) as usize % SHARDS]
    }

    /// The value, unless its stamp differs from `epoch(value)` or it is older than `ttl`.
    fn get(&self, key: &K, epoch: impl FnOnce(&T) -> u64, ttl: Duration) -> Option<T> {
        let mut shard = self.shard(key).lock();
        let entry = shard.get(key)?;
        if entry.epoch == epoch(&entry.value) && entry.loaded.elapsed() < ttl {
            Some(entry.value.clone())
        } else {
            shard.swap_remove(key);
            None
        }
    }

    fn put(&self, key: K, value: T, epoch: u64) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(&key).lock();
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            let victim = (self.hasher.hash_one(Instant::now()) as usize) % shard.len();
            shard.swap_remove_index(victim);
        }
        shard.insert(
            key,
            Entry {
                value,
                epoch,
                loaded: Instant::now(),
            },
        );
    }

    fn remove(&self, key: &K) {
        self.shard(key).lock().swap_remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

pub struct ReadCache {
    revocations: Arc<RevocationView>,
    ttl: Duration,
    credentials: Bounded<[u8; 32], CachedCredential>,
    memberships: Bounded<(UserId, OrgId), Option<Membership>>,
    users: Bounded<UserId, User>,
    /// A user's Parsable settings document, parsed.
    user_settings: Bounded<UserId, SettingsMap>,
    orgs: Bounded<OrgId, OrgBundle>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").field("ttl", &self.ttl).finish()
    }
}

impl ReadCache {
    /// `entries` bounds each of the maps; 0 disables caching.
    pub fn new(revocations: Arc<RevocationView>, entries: usize, ttl: Duration) -> ReadCache {
        ReadCache {
            revocations,
            ttl,
            credentials: Bounded::new(entries),
            memberships: Bounded::new(entries),
            users: Bounded::new(entries),
            user_settings: Bounded::new(entries),
            orgs: Bounded::new(entries),
        }
    }

    /// The stamp to take before a store read whose result will be cached.
    pub fn epoch(&self, user: UserId) -> u64 {
        self.revocations.user_epoch(user)
    }

    /// The epoch clock: every user epoch is drawn from it, so it only grows.
    pub fn clock(&self) -> u64 {
        self.revocations.epoch_clock()
    }

    /// For a read of `user`'s rows that began at `clock()` = `started` (when the user was not
    /// yet known): the stamp to cache it under, or `None` when the user changed since.
    pub fn stamp_since(&self, user: UserId, started: u64) -> Option<u64> {
        let epoch = self.epoch(user);
        (epoch <= started).then_some(epoch)
    }

    /// The org's stamp, to take before a store read of its rows.
    pub fn org_epoch(&self, org: OrgId) -> u64 {
        self.revocations.org_epoch(org)
    }

    pub fn user_settings(&self, user: UserId) -> Option<SettingsMap> {
        self.user_settings
            .get(&user, |_| self.epoch(user), self.ttl)
    }

    pub fn put_user_settings(&self, user: UserId, settings: SettingsMap, epoch: u64) {
        self.user_settings.put(user, settings, epoch);
    }

    pub fn org(&self, org: OrgId) -> Option<OrgBundle> {
        self.orgs.get(&org, |_| self.org_epoch(org), self.ttl)
    }

    pub fn put_org(&self, bundle: OrgBundle, epoch: u64) {
        self.orgs.put(bundle.org.id, bundle, epoch);
    }

    pub fn credential(&self, hash: &[u8; 32]) -> Option<CachedCredential> {
        self.credentials
            .get(hash, |c| self.epoch(c.credential.user_id), self.ttl)
    }

    pub fn put_credential(&self, hash: [u8; 32], value: CachedCredential, epoch: u64) {
        self.credentials.put(hash, value, epoch);
    }

    /// Drops a credential at once (its revocation is also in the revocation view).
    pub fn forget_credential(&self, hash: &[u8; 32]) {
        self.credentials.remove(hash);
    }

    pub fn membership(&self, user: UserId, org: OrgId) -> Option<Option<Membership>> {
        self.memberships
            .get(&(user, org), |_| self.epoch(user), self.ttl)
    }

    pub fn put_membership(&self, user: UserId, org: OrgId, m: Option<Membership>, epoch: u64) {
        self.memberships.put((user, org), m, epoch);
    }

    pub fn user(&self, user: UserId) -> Option<User> {
        self.users.get(&user, |_| self.epoch(user), self.ttl)
    }

    /// Caches the user's profile; the password hash is never kept here.
    pub fn put_user(&self, mut user: User, epoch: u64) {
        user.password_hash = None;
        self.users.put(user.id, user, epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserRevocationState;

    fn user(id: UserId) -> User {
        let now = chrono::Utc::now();
        User {
            id,
            email: "ann@example.com".into(),
            display_name: "Ann".into(),
            avatar_url: None,
            password_hash: Some("$argon2id$…".into()),
            validated_at: None,
            super_admin: false,
            deactivated: false,
            password_reset_required: false,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn an_epoch_bump_makes_an_entry_a_miss() {
        let view = Arc::new(RevocationView::default());
        let cache = ReadCache::new(view.clone(), 10, Duration::from_secs(60));
        let id = UserId(uuid::Uuid::new_v4());
        let stamp = cache.epoch(id);
        cache.put_user(user(id), stamp);
        let cached = cache.user(id).expect("a fresh entry is served");
        assert_eq!(cached.password_hash, None, "hashes stay in the store");
        view.apply_user_state(
            id,
            &UserRevocationState {
                exists: true,
                ..UserRevocationState::default()
            },
        );
        assert!(cache.user(id).is_none(), "a changed user must be re-read");
    }

    #[test]
    fn a_stamp_taken_before_a_concurrent_change_is_never_served() {
        let view = Arc::new(RevocationView::default());
        let cache = ReadCache::new(view.clone(), 10, Duration::from_secs(60));
        let id = UserId(uuid::Uuid::new_v4());
        let stamp = cache.epoch(id);
        // The change lands between the stamp and the insert of what was read before it.
        view.apply_user_state(id, &UserRevocationState::default());
        cache.put_user(user(id), stamp);
        assert!(cache.user(id).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_stamped() {
        let view = Arc::new(RevocationView::default());
        let cache = ReadCache::new(view.clone(), 10, Duration::from_secs(60));
        let id = UserId(uuid::Uuid::new_v4());
        let started = cache.clock();
        assert_eq!(cache.stamp_since(id, started), Some(0));
        view.bump_user(id);
        assert_eq!(cache.stamp_since(id, started), None);
        let later = cache.clock();
        assert!(cache.stamp_since(id, later).is_some());
    }

    #[test]
    fn entries_expire_and_the_cap_bounds_the_map() {
        let view = Arc::new(RevocationView::default());
        let cache = ReadCache::new(view.clone(), 2, Duration::ZERO);
        let id = UserId(uuid::Uuid::new_v4());
        cache.put_user(user(id), cache.epoch(id));
        assert!(cache.user(id).is_none(), "a zero TTL serves nothing");
        // The bound is per shard: `entries` rounded up to a multiple of the shard count.
        let cap = 4 * SHARDS;
        let cache = ReadCache::new(view, cap, Duration::from_secs(60));
        let ids: Vec<UserId> = (0..10 * cap)
            .map(|_| UserId(uuid::Uuid::new_v4()))
            .collect();
        for &id in &ids {
            cache.put_user(user(id), cache.epoch(id));
        }
        let len = cache.users.len();
        assert!(len <= cap && len > cap / 2, "{len} of {cap}");
        // A full map still takes the newest entry (evicting another).
        assert!(cache.user(ids[ids.len() - 1]).is_some());
        let off = ReadCache::new(
            Arc::new(RevocationView::default()),
            0,
            Duration::from_secs(60),
        );
        off.put_user(user(id), 0);
        assert!(off.user(id).is_none());
    }
}
