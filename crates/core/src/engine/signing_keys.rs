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
        let kid = self
            .tokens
            .keys()
            .rotate(self.store.as_ref(), Utc::now())
            .await?;
        self.audit
            .log(
                ctx,
                Utc::now(),
                None,
                AuditAction::KeysRotate,
                Some(kid.clone()),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(kid)
    }

    /// Emergency revocation of a signing key: a new key takes over signing first if `kid` signs
    /// now; from then on `kid` verifies nothing, here at once and elsewhere through the
    /// revocation feed. Returns whether it was not revoked before.
    pub async fn revoke_signing_key(&self, kid: &str, ctx: &AuditContext) -> CoreResult<bool> {
        let now = Utc::now();
        let revoked = self
            .tokens
            .keys()
            .revoke(self.store.as_ref(), kid, now)
            .await
            .map_err(|e| match e {
                crate::keys::KeyError::Store(crate::store::StoreError::NotFound(_)) => {
                    CoreError::NotFound("signing key")
                }
                other => other.into(),
            })?;
        self.revocations.revoke_key(kid.to_owned());
        self.audit
            .log(
                ctx,
                now,
                None,
                AuditAction::KeysRevoke,
                Some(kid.to_owned()),
                AuditOutcome::Success,
                json!({"was_revoked": !revoked}),
            )
            .await;
        Ok(revoked)
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
