//! The three key rings together: what the engine signs ID and logout tokens with, verifies its
//! own tokens with, publishes as one JWK set and reloads.

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};

use super::{KeyError, KeyRing};
use crate::crypto::MasterKey;
use crate::model::{IdTokenAlg, Timestamp};
use crate::store::Store;

/// Every signing key ring: EdDSA (access tokens, and ID tokens on request), RS256 and ES256.
#[derive(Debug)]
pub struct SigningKeys {
    eddsa: Arc<KeyRing>,
    rs256: KeyRing,
    es256: KeyRing,
}

impl SigningKeys {
    /// Loads every ring. The EdDSA ring gets its first key at once (every access token needs
    /// it); RS256 and ES256 keys are made on first use ([`SigningKeys::sign`]) or by
    /// [`SigningKeys::ensure_all`], so starting an engine makes no RSA key.
    pub async fn load(
        store: &dyn Store,
        master: MasterKey,
        max_token_lifetime: Duration,
        now: Timestamp,
    ) -> Result<SigningKeys, KeyError> {
        let eddsa = KeyRing::load_or_create(
            store,
            master.clone(),
            IdTokenAlg::EdDsa,
            max_token_lifetime,
            now,
        )
        .await?;
        let rs256 =
            KeyRing::load(store, master.clone(), IdTokenAlg::Rs256, max_token_lifetime).await?;
        let es256 = KeyRing::load(store, master, IdTokenAlg::Es256, max_token_lifetime).await?;
        Ok(SigningKeys {
            eddsa: Arc::new(eddsa),
            rs256,
            es256,
        })
    }

    pub fn ring(&self, alg: IdTokenAlg) -> &KeyRing {
        match alg {
            IdTokenAlg::EdDsa => &self.eddsa,
            IdTokenAlg::Rs256 => &self.rs256,
            IdTokenAlg::Es256 => &self.es256,
        }
    }

    /// The access tokens' ring.
    pub fn eddsa(&self) -> &Arc<KeyRing> {
        &self.eddsa
    }

    /// Every ring, in the JWKS order.
    pub fn rings(&self) -> [&KeyRing; 3] {
        [&self.eddsa, &self.rs256, &self.es256]
    }

    /// Re-reads every ring (a rotation or first key made elsewhere). Tries all; reports the
    /// first failure.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let mut first = Ok(());
        for ring in self.rings() {
            if let Err(e) = ring.reload(store).await {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// Makes the first key of every ring that has none (a server at start, so that its JWKS
    /// lists every algorithm before the first ID token is signed anywhere).
    pub async fn ensure_all(&self, store: &dyn Store, now: Timestamp) -> Result<(), KeyError> {
        for ring in self.rings() {
            ring.ensure_key(store, now).await?;
        }
        Ok(())
    }

    /// Signs `claims` as a compact JWS with `alg`'s current key, making the first key of that
    /// algorithm if there is none yet.
    pub async fn sign<T: serde::Serialize>(
        &self,
        store: &dyn Store,
        alg: IdTokenAlg,
        typ: &str,
        claims: &T,
        now: Timestamp,
    ) -> Result<String, KeyError> {
        let ring = self.ring(alg);
        ring.ensure_key(store, now).await?;
        ring.sign(typ, claims)
    }

    /// Every published public key of every algorithm, as one JWK set.
    pub fn jwks(&self, now: Timestamp) -> Value {
        let keys: Vec<Value> = self
            .rings()
            .into_iter()
            .flat_map(|r| r.jwk_entries(now))
            .collect();
        json!({ "keys": keys })
    }

    /// The algorithm of the ring whose stored keys include `kid` (revoked or not).
    pub async fn alg_of(
        &self,
        store: &dyn Store,
        kid: &str,
    ) -> Result<Option<IdTokenAlg>, KeyError> {
        for ring in self.rings() {
            if ring.holds(store, kid).await? {
                return Ok(Some(ring.alg()));
            }
        }
        Ok(None)
    }

    /// The ring that has loaded `kid`, whatever its age.
    pub(crate) fn ring_knowing(&self, kid: &str) -> Option<&KeyRing> {
        self.rings().into_iter().find(|r| r.knows(kid))
    }
}
