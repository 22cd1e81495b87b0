//! A per-node copy of the OpenID clients that requests name, so a token request does not read
//! its client (with its secrets) from the store every time.
//!
//! Correctness never rests on the copy:
//! * every entry is stamped with the revocation view's clients epoch, read *before* the store
//!   read. Every client change bumps it: at once on the node that made it, and through the
//!   store's revocation feed (a `Client` event written in the change's transaction) on the
//!   others. A stamp that no longer matches is a miss, so a disabled client or a rotated secret
//!   takes effect as soon as the node hears of it, like any other revocation;
//! * entries also expire after [`TTL`], which bounds how long a node that stopped hearing the
//!   feed could serve an old copy (readiness fails long before that);
//! * unknown and disabled clients are never cached, so made-up client ids cannot fill it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::model::OAuthClient;

const TTL: Duration = Duration::from_secs(60);
/// Clients per node; a full cache starts over rather than growing.
const CAPACITY: usize = 4096;

struct Entry {
    client: OAuthClient,
    epoch: u64,
    loaded: Instant,
}

#[derive(Default)]
pub(super) struct ClientCache(DashMap<String, Arc<Entry>>);

impl ClientCache {
    /// The cached client, when its stamp is still `epoch` and it is younger than the TTL.
    pub(super) fn get(&self, client_id: &str, epoch: u64) -> Option<OAuthClient> {
        let entry = self.0.get(client_id).map(|e| Arc::clone(e.value()))?;
        if entry.epoch == epoch && entry.loaded.elapsed() < TTL {
            Some(entry.client.clone())
        } else {
            self.0.remove(client_id);
            None
        }
    }

    /// Keeps `client` as read from the store after `epoch` was read.
    pub(super) fn put(&self, client: &OAuthClient, epoch: u64) {
        if client.is_disabled() {
            return;
        }
        if self.0.len() >= CAPACITY {
            self.0.clear();
        }
        let entry = Entry {
            client: client.clone(),
            epoch,
            loaded: Instant::now(),
        };
        self.0.insert(client.client_id.clone(), Arc::new(entry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn client(id: &str) -> OAuthClient {
        let spec: crate::oidc_clients::ClientSpec = serde_json::from_value(serde_json::json!({
            "clientId": id,
            "name": id,
            "kind": "public",
            "redirectUris": ["https://app.example/cb"],
        }))
        .expect("a spec");
        spec.validate(&Default::default(), Utc::now())
            .expect("a valid client")
    }

    #[test]
    fn an_entry_serves_only_its_own_epoch() {
        let cache = ClientCache::default();
        cache.put(&client("app"), 3);
        assert_eq!(cache.get("app", 3).map(|c| c.client_id), Some("app".into()));
        assert!(cache.get("other", 3).is_none());
        // A client changed somewhere: the copy goes, and stays gone.
        assert!(cache.get("app", 4).is_none());
        assert!(cache.get("app", 3).is_none());
    }

    #[test]
    fn a_disabled_client_is_never_kept() {
        let cache = ClientCache::default();
        let mut c = client("app");
        c.disabled_at = Some(Utc::now());
        cache.put(&c, 1);
        assert!(cache.get("app", 1).is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = ClientCache::default();
        for i in 0..CAPACITY {
            cache.put(&client(&format!("app-{i}")), 1);
        }
        assert!(cache.get("app-0", 1).is_some());
        cache.put(&client("one-more"), 1);
        assert!(cache.get("app-0", 1).is_none());
        assert!(cache.get("one-more", 1).is_some());
    }
}
