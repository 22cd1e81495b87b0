//! The token signing keys: the published JWKS, rotation, emergency revocation and the
//! rate-limited reload when a token names an unknown key.

use super::*;

/// Unknown `kid`s trigger at most one key reload per this interval.
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(1);

impl Engine {
    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.keys().jwks(Utc::now())
    }

    /// Rotates the signing key; the old public key stays published.
    pub async fn rotate_signing_key(&self, ctx: &AuditContext) -> CoreResult<String> {
        let uc = self.use_case(None, ctx);
        let r = crate::use_cases::rotate_signing_key(&uc, self.tokens.keys()).await?;
        Ok(r.kid)
    }

    /// Emergency revocation of a signing key ([`crate::use_cases::revoke_signing_key`]).
    /// Returns whether it was not revoked before.
    pub async fn revoke_signing_key(&self, kid: &str, ctx: &AuditContext) -> CoreResult<bool> {
        let uc = self.use_case(None, ctx);
        let r = crate::use_cases::revoke_signing_key(&uc, self.tokens.keys(), kid).await?;
        Ok(!r.already_revoked)
    }

    pub(super) async fn reload_keys_rate_limited(&self) -> bool {
        {
            let mut last = self.last_key_reload.lock();
            if last.is_some_and(|t| t.elapsed() < KEY_RELOAD_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.tokens.keys().reload(self.store.as_ref()).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "key reload failed");
                false
            }
        }
    }
}
