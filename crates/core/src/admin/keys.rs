//! Token signing keys: listing, rotation and revocation, through the same use cases as the
//! engine. The key ring is opened by the caller, which holds the master key.

use super::*;
use crate::keys::KeyRing;
use crate::use_cases::{self, KeyRevocation, Rotation};

impl Admin {
    /// The signing keys, oldest first.
    pub async fn signing_keys(&self) -> AdminResult<Vec<KeyRecord>> {
        Ok(self.store.list_keys(KeyPurpose::TokenSigning).await?)
    }

    pub async fn rotate_signing_key(&self, ring: &KeyRing) -> AdminResult<Rotation> {
        Ok(use_cases::rotate_signing_key(&self.use_case(), ring).await?)
    }

    pub async fn revoke_signing_key(
        &self,
        ring: &KeyRing,
        kid: &str,
    ) -> AdminResult<KeyRevocation> {
        Ok(use_cases::revoke_signing_key(&self.use_case(), ring, kid).await?)
    }
}
