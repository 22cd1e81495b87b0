//! Token signing keys: listing, rotation and revocation, through the same use cases as the
//! engine. The key rings are opened by the caller, which holds the master key.

use super::*;
use crate::keys::{SIGNING_ALGS, SigningKeys, key_purpose};
use crate::use_cases::{self, KeyRevocation, Rotation};

impl Admin {
    /// The signing keys of every algorithm (EdDSA, RS256, ES256), each oldest first.
    pub async fn signing_keys(&self) -> AdminResult<Vec<KeyRecord>> {
        let mut all = Vec::new();
        for alg in SIGNING_ALGS {
            all.extend(self.store.list_keys(key_purpose(alg)).await?);
        }
        Ok(all)
    }

    pub async fn rotate_signing_key(
        &self,
        keys: &SigningKeys,
        alg: IdTokenAlg,
    ) -> AdminResult<Rotation> {
        Ok(use_cases::rotate_signing_key(&self.use_case(), keys, alg).await?)
    }

    pub async fn revoke_signing_key(
        &self,
        keys: &SigningKeys,
        kid: &str,
        alg: Option<IdTokenAlg>,
    ) -> AdminResult<KeyRevocation> {
        Ok(use_cases::revoke_signing_key(&self.use_case(), keys, kid, alg).await?)
    }
}
