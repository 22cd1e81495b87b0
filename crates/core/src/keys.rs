//! The token-signing key ring: Ed25519 keys made on first start, sealed under the master key in
//! the store, rotated by `portcullis admin keys rotate`. The newest key signs; older keys keep
//! verifying (and stay in the JWKS) until every token they signed has expired.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer as _, SigningKey};
use jsonwebtoken::DecodingKey;
use parking_lot::RwLock;
use serde_json::json;

use crate::crypto::{MasterKey, MasterKeyError};
use crate::model::{KeyPurpose, KeyRecord, Timestamp};
use crate::store::{Store, StoreError};

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
}

pub const ALGORITHM: &str = "EdDSA";

#[derive(serde::Serialize)]
struct JwsHeader<'a> {
    typ: &'a str,
    alg: &'static str,
    kid: &'a str,
}

pub(crate) struct Verifier {
    pub key: DecodingKey,
    public_b64: String,
    retired_at: Option<Timestamp>,
}

struct Ring {
    signing_kid: String,
    /// Parsed once per (re)load: re-reading PKCS#8 and re-deriving the public key on every
    /// signature cost as much as the signature itself.
    signing: SigningKey,
    verifiers: HashMap<String, Arc<Verifier>>,
}

pub struct KeyRing {
    ring: RwLock<Ring>,
    master: MasterKey,
    /// Longest lifetime of any token, which bounds how long a retired key must verify.
    max_token_lifetime: Duration,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("signing_kid", &self.ring.read().signing_kid)
            .finish()
    }
}

fn new_key_record(master: &MasterKey, now: Timestamp) -> Result<KeyRecord, KeyError> {
    let mut seed = crate::crypto::random_bytes::<32>();
    let key = SigningKey::from_bytes(&seed);
    seed.iter_mut().for_each(|b| *b = 0);
    let kid = format!("ed25519-{}", &crate::crypto::random_token(9));
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Malformed(format!("cannot encode new key: {e}")))?;
    Ok(KeyRecord {
        sealed_private: master.seal(kid.as_bytes(), der.as_bytes()),
        public: key.verifying_key().to_bytes().to_vec(),
        kid,
        purpose: KeyPurpose::TokenSigning,
        algorithm: ALGORITHM.into(),
        created_at: now,
        retired_at: None,
        revoked_at: None,
    })
}

fn build_ring(master: &MasterKey, records: &[KeyRecord]) -> Result<Option<Ring>, KeyError> {
    // A revoked key neither signs nor verifies.
    let records: Vec<&KeyRecord> = records.iter().filter(|r| r.revoked_at.is_none()).collect();
    let Some(newest) = records
        .iter()
        .rfind(|r| r.retired_at.is_none())
        .or(records.last())
    else {
        return Ok(None);
    };
    let der = master.open(newest.kid.as_bytes(), &newest.sealed_private)?;
    let signing =
        SigningKey::from_pkcs8_der(&der).map_err(|_| KeyError::Malformed(newest.kid.clone()))?;
    let mut verifiers = HashMap::new();
    for r in &records {
        if r.public.len() != 32 {
            return Err(KeyError::Malformed(r.kid.clone()));
        }
        let public_b64 = URL_SAFE_NO_PAD.encode(&r.public);
        let key = DecodingKey::from_ed_components(&public_b64)
            .map_err(|_| KeyError::Malformed(r.kid.clone()))?;
        verifiers.insert(
            r.kid.clone(),
            Arc::new(Verifier {
                key,
                public_b64,
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
    /// Loads the ring, creating the first key on an empty store.
    pub async fn load_or_create(
        store: &dyn Store,
        master: MasterKey,
        max_token_lifetime: Duration,
        now: Timestamp,
    ) -> Result<KeyRing, KeyError> {
        let mut records = store.list_keys(KeyPurpose::TokenSigning).await?;
        if records.iter().all(|r| r.revoked_at.is_some()) {
            store.insert_key(new_key_record(&master, now)?).await?;
            // Another process may have raced us; use whatever the store now holds.
            records = store.list_keys(KeyPurpose::TokenSigning).await?;
        }
        let ring = build_ring(&master, &records)?
            .ok_or_else(|| KeyError::Malformed("no signing key after creation".into()))?;
        Ok(KeyRing {
            ring: RwLock::new(ring),
            master,
            max_token_lifetime,
        })
    }

    /// Re-reads the keys, e.g. after a rotation by another process.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let records = store.list_keys(KeyPurpose::TokenSigning).await?;
        if let Some(ring) = build_ring(&self.master, &records)? {
            *self.ring.write() = ring;
        }
        Ok(())
    }

    /// Adds a new signing key and retires the current one. Returns the new kid.
    pub async fn rotate(&self, store: &dyn Store, now: Timestamp) -> Result<String, KeyError> {
        let record = new_key_record(&self.master, now)?;
        let kid = record.kid.clone();
        let old = self.signing_kid();
        store.insert_key(record).await?;
        store.retire_key(&old, now).await?;
        self.reload(store).await?;
        Ok(kid)
    }

    pub fn signing_kid(&self) -> String {
        self.ring.read().signing_kid.clone()
    }

    /// Signs `claims` as a compact JWS (RFC 7515) with the current key: header
    /// `{"typ","alg":"EdDSA","kid"}`, base64url parts, an Ed25519 signature over both.
    pub(crate) fn sign<T: serde::Serialize>(
        &self,
        header_typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims)?;
        let ring = self.ring.read();
        let header = serde_json::to_vec(&JwsHeader {
            typ: header_typ,
            alg: ALGORITHM,
            kid: &ring.signing_kid,
        })?;
        let mut jws = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 96);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = ring.signing.sign(jws.as_bytes());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut jws);
        Ok(jws)
    }

    /// The key to check a signature with: `None` for an unknown or revoked kid, and for a retired
    /// one once every token it signed has expired.
    pub(crate) fn verifier(&self, kid: &str, now: Timestamp) -> Option<Arc<Verifier>> {
        self.ring
            .read()
            .verifiers
            .get(kid)
            .filter(|v| self.still_verifies(v, now))
            .cloned()
    }

    fn still_verifies(&self, v: &Verifier, now: Timestamp) -> bool {
        v.retired_at
            .is_none_or(|r| r + self.max_token_lifetime > now)
    }

    /// Adds a new signing key if `kid` is the one signing now, then revokes `kid` for good. The
    /// new key is in place before the old one stops verifying, so this process never signs with
    /// a revoked key. Returns whether `kid` was not revoked before.
    pub async fn revoke(
        &self,
        store: &dyn Store,
        kid: &str,
        now: Timestamp,
    ) -> Result<bool, KeyError> {
        self.reload(store).await?;
        if self.signing_kid() == kid {
            self.rotate(store, now).await?;
        }
        let revoked = store.revoke_key(kid, now).await?;
        self.reload(store).await?;
        Ok(revoked)
    }

    /// The public keys still needed to verify live tokens, as a JWK set.
    pub fn jwks(&self, now: Timestamp) -> serde_json::Value {
        let ring = self.ring.read();
        let mut keys: Vec<(&String, &Arc<Verifier>)> = ring
            .verifiers
            .iter()
            .filter(|(_, v)| self.still_verifies(v, now))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        json!({
            "keys": keys.into_iter().map(|(kid, v)| json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": ALGORITHM,
                "kid": kid, "x": v.public_b64,
            })).collect::<Vec<_>>()
        })
    }
}
