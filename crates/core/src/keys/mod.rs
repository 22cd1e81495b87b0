//! The token-signing key rings, one per algorithm: Ed25519 (`EdDSA`, access tokens, made on
//! first start), RSA-2048 (`RS256`) and P-256 (`ES256`) for ID tokens, made on first use. Keys
//! are sealed under the master key in the store and rotated by `portcullis admin keys rotate`.
//! The newest key signs; older keys keep verifying (and stay in the JWKS) until every token they
//! signed has expired. A revoked key neither signs nor verifies.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::DecodingKey;
use parking_lot::RwLock;
use serde_json::{Map, Value, json};

use crate::crypto::{MasterKey, MasterKeyError};
use crate::model::{IdTokenAlg, KeyRecord, Timestamp};
use crate::store::{Store, StoreError};

mod algs;
mod set;

pub use algs::purpose as key_purpose;
pub(crate) use algs::{from_jwt_algorithm, jwt_algorithm};
pub use set::SigningKeys;

/// Every signing algorithm, in the order rings are listed and published.
pub const SIGNING_ALGS: [IdTokenAlg; 3] = [IdTokenAlg::EdDsa, IdTokenAlg::Rs256, IdTokenAlg::Es256];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("stored key {0} is malformed")]
    Malformed(String),
    #[error("cannot encode token claims: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("no {0} signing key")]
    NoKey(IdTokenAlg),
}

/// The access tokens' algorithm.
pub const ALGORITHM: &str = "EdDSA";

#[derive(serde::Serialize)]
struct JwsHeader<'a> {
    typ: &'a str,
    alg: &'static str,
    kid: &'a str,
}

pub(crate) struct Verifier {
    pub key: DecodingKey,
    /// The public JWK's algorithm-specific members.
    jwk: Map<String, Value>,
    retired_at: Option<Timestamp>,
}

struct Ring {
    signing_kid: String,
    signing: algs::PrivateKey,
    verifiers: HashMap<String, Arc<Verifier>>,
}

/// The keys of one algorithm.
pub struct KeyRing {
    alg: IdTokenAlg,
    /// `None` until the first key exists (ID-token rings are made on first use).
    ring: RwLock<Option<Ring>>,
    master: MasterKey,
    /// Longest lifetime of any token, which bounds how long a retired key must verify.
    max_token_lifetime: Duration,
    /// One key creation at a time in this process (others wait and find it made).
    creating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("alg", &self.alg)
            .field("signing_kid", &self.signing_kid())
            .finish()
    }
}

fn new_key_record(
    alg: IdTokenAlg,
    master: &MasterKey,
    now: Timestamp,
) -> Result<KeyRecord, KeyError> {
    let key = algs::generate(alg)?;
    let kid = algs::new_kid(alg);
    Ok(KeyRecord {
        sealed_private: master.seal(kid.as_bytes(), key.pkcs8.as_slice()),
        public: key.public,
        kid,
        purpose: algs::purpose(alg),
        algorithm: alg.as_str().into(),
        created_at: now,
        retired_at: None,
        revoked_at: None,
    })
}

/// The key that signs: the newest unretired one (the newest of all when every one is retired).
fn signer_of(records: &[&KeyRecord]) -> Option<usize> {
    records
        .iter()
        .rposition(|r| r.retired_at.is_none())
        .or(records.len().checked_sub(1))
}

fn build_ring(
    alg: IdTokenAlg,
    master: &MasterKey,
    records: &[KeyRecord],
) -> Result<Option<Ring>, KeyError> {
    // A revoked key neither signs nor verifies.
    let records: Vec<&KeyRecord> = records.iter().filter(|r| r.revoked_at.is_none()).collect();
    let Some(newest) = signer_of(&records).map(|i| records[i]) else {
        return Ok(None);
    };
    let der = master.open(newest.kid.as_bytes(), &newest.sealed_private)?;
    let signing = algs::PrivateKey::from_pkcs8(alg, &der)
        .ok_or_else(|| KeyError::Malformed(newest.kid.clone()))?;
    let mut verifiers = HashMap::new();
    for r in &records {
        let malformed = || KeyError::Malformed(r.kid.clone());
        if r.algorithm != alg.as_str() {
            return Err(malformed());
        }
        let (key, jwk) = algs::public_key(alg, &r.public).ok_or_else(malformed)?;
        verifiers.insert(
            r.kid.clone(),
            Arc::new(Verifier {
                key,
                jwk,
                retired_at: r.retired_at,
            }),
        );
    }
    Ok(Some(Ring {
        signing_kid: newest.kid.clone(),
        signing,
        verifiers,
    }))
}

impl KeyRing {
    /// Loads the ring of `alg` as stored; it may hold no key yet.
    pub async fn load(
        store: &dyn Store,
        master: MasterKey,
        alg: IdTokenAlg,
        max_token_lifetime: Duration,
    ) -> Result<KeyRing, KeyError> {
        let records = store.list_keys(algs::purpose(alg)).await?;
        KeyRing::from_records(alg, master, &records, max_token_lifetime)
    }

    /// The ring of `alg` over records already read (`load` without the store; the fuzz
    /// targets build a ring in memory with it).
    #[doc(hidden)]
    pub fn from_records(
        alg: IdTokenAlg,
        master: MasterKey,
        records: &[KeyRecord],
        max_token_lifetime: Duration,
    ) -> Result<KeyRing, KeyError> {
        Ok(KeyRing {
            alg,
            ring: RwLock::new(build_ring(alg, &master, records)?),
            master,
            max_token_lifetime,
            creating: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads the ring, creating the first key on an empty store.
    pub async fn load_or_create(
        store: &dyn Store,
        master: MasterKey,
        alg: IdTokenAlg,
        max_token_lifetime: Duration,
        now: Timestamp,
    ) -> Result<KeyRing, KeyError> {
        let ring = KeyRing::load(store, master, alg, max_token_lifetime).await?;
        ring.ensure_key(store, now).await?;
        Ok(ring)
    }

    pub fn alg(&self) -> IdTokenAlg {
        self.alg
    }

    /// Makes the first key when the store holds none that may sign. Safe to race: every
    /// process re-reads the store after inserting and signs with the newest key it finds, so
    /// two processes creating at once agree on one signer and both keys verify.
    pub async fn ensure_key(&self, store: &dyn Store, now: Timestamp) -> Result<(), KeyError> {
        if self.ring.read().is_some() {
            return Ok(());
        }
        let _creating = self.creating.lock().await;
        // Another task here, or another process, may have made it meanwhile.
        self.reload(store).await?;
        if self.ring.read().is_some() {
            return Ok(());
        }
        store
            .insert_key(new_key_record(self.alg, &self.master, now)?)
            .await?;
        self.reload(store).await?;
        if self.ring.read().is_none() {
            return Err(KeyError::Malformed(format!(
                "no {} signing key after creation",
                self.alg
            )));
        }
        Ok(())
    }

    /// Re-reads the keys, e.g. after a rotation by another process.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let records = store.list_keys(algs::purpose(self.alg)).await?;
        if let Some(ring) = build_ring(self.alg, &self.master, &records)? {
            *self.ring.write() = Some(ring);
        }
        Ok(())
    }

    /// Adds a new signing key and retires every other unretired one (the signer, and a key a
    /// racing first creation left behind). Returns the new kid and the kid that signed before.
    pub async fn rotate(
        &self,
        store: &dyn Store,
        now: Timestamp,
    ) -> Result<(String, Option<String>), KeyError> {
        let purpose = algs::purpose(self.alg);
        let before = store.list_keys(purpose).await?;
        let live: Vec<&KeyRecord> = before.iter().filter(|r| r.revoked_at.is_none()).collect();
        let retired = signer_of(&live).map(|i| live[i].kid.clone());
        let record = new_key_record(self.alg, &self.master, now)?;
        let kid = record.kid.clone();
        store.insert_key(record).await?;
        for r in before.iter().filter(|r| r.retired_at.is_none()) {
            store.retire_key(&r.kid, now).await?;
        }
        self.reload(store).await?;
        Ok((kid, retired))
    }

    /// The kid that signs now; `None` before the first key exists.
    pub fn signing_kid(&self) -> Option<String> {
        self.ring.read().as_ref().map(|r| r.signing_kid.clone())
    }

    /// Whether the store holds `kid` among this ring's keys, revoked or not.
    pub async fn holds(&self, store: &dyn Store, kid: &str) -> Result<bool, KeyError> {
        Ok(store
            .list_keys(algs::purpose(self.alg))
            .await?
            .iter()
            .any(|r| r.kid == kid))
    }

    /// Signs `claims` as a compact JWS (RFC 7515) with the current key: header
    /// `{"typ","alg","kid"}`, base64url parts, the algorithm's signature over both.
    pub(crate) fn sign<T: serde::Serialize>(
        &self,
        header_typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims)?;
        let guard = self.ring.read();
        let ring = guard.as_ref().ok_or(KeyError::NoKey(self.alg))?;
        let header = serde_json::to_vec(&JwsHeader {
            typ: header_typ,
            alg: self.alg.as_str(),
            kid: &ring.signing_kid,
        })?;
        let mut jws = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = ring.signing.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }

    /// The key to check a signature with: `None` for an unknown or revoked kid, and for a retired
    /// one once every token it signed has expired.
    pub(crate) fn verifier(&self, kid: &str, now: Timestamp) -> Option<Arc<Verifier>> {
        self.ring
            .read()
            .as_ref()?
            .verifiers
            .get(kid)
            .filter(|v| self.still_verifies(v, now))
            .cloned()
    }

    /// Whether `kid` is one of this ring's loaded keys, however old (not revoked ones).
    pub(crate) fn knows(&self, kid: &str) -> bool {
        self.ring
            .read()
            .as_ref()
            .is_some_and(|r| r.verifiers.contains_key(kid))
    }

    fn still_verifies(&self, v: &Verifier, now: Timestamp) -> bool {
        v.retired_at
            .is_none_or(|r| r + self.max_token_lifetime > now)
    }

    /// Adds a new signing key if `kid` is the one signing now, then revokes `kid` for good. The
    /// new key is in place before the old one stops verifying, so this process never signs with
    /// a revoked key. Returns whether `kid` was not revoked before; `NotFound` when `kid` is not
    /// one of this ring's keys.
    pub async fn revoke(
        &self,
        store: &dyn Store,
        kid: &str,
        now: Timestamp,
    ) -> Result<bool, KeyError> {
        if !self.holds(store, kid).await? {
            return Err(StoreError::NotFound(format!("no {} key {kid}", self.alg)).into());
        }
        self.reload(store).await?;
        if self.signing_kid().as_deref() == Some(kid) {
            self.rotate(store, now).await?;
        }
        let revoked = store.revoke_key(kid, now).await?;
        self.reload(store).await?;
        Ok(revoked)
    }

    /// The public JWKs still needed to verify live tokens, by kid.
    pub fn jwk_entries(&self, now: Timestamp) -> Vec<Value> {
        let guard = self.ring.read();
        let Some(ring) = guard.as_ref() else {
            return Vec::new();
        };
        let mut keys: Vec<(&String, &Arc<Verifier>)> = ring
            .verifiers
            .iter()
            .filter(|(_, v)| self.still_verifies(v, now))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        keys.into_iter()
            .map(|(kid, v)| {
                let mut jwk = v.jwk.clone();
                jwk.insert("use".into(), json!("sig"));
                jwk.insert("alg".into(), json!(self.alg.as_str()));
                jwk.insert("kid".into(), json!(kid));
                Value::Object(jwk)
            })
            .collect()
    }

    /// This ring's public keys as a JWK set.
    pub fn jwks(&self, now: Timestamp) -> Value {
        json!({ "keys": self.jwk_entries(now) })
    }
}
