//! The token signing keys: the published JWKS, ID and logout tokens (RS256, ES256 or EdDSA),
//! verification of the engine's own tokens (`id_token_hint`), rotation, emergency revocation
//! and the rate-limited reload when a token names an unknown key.

use jsonwebtoken::Validation;
use serde::Serialize;

use super::*;
use crate::keys::{KeyError, SigningKeys, from_jwt_algorithm, jwt_algorithm};
use crate::use_cases::{KeyRevocation, Rotation};

/// Unknown `kid`s trigger at most one key reload per this interval.
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Longer than any ID or logout token this engine signs (an RS256 signature alone is 342
/// characters); anything longer is not one of ours.
const MAX_OWN_JWT_LEN: usize = 16 * 1024;

impl Engine {
    /// Every public key a live token may name, of every algorithm, as a JWK set.
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks(Utc::now())
    }

    /// The key rings (EdDSA, RS256, ES256).
    pub fn signing_keys(&self) -> &Arc<SigningKeys> {
        &self.keys
    }

    /// Signs `claims` as a compact JWS with the current key of `alg`: header `{"typ","alg",
    /// "kid"}` (`typ` is `JWT` for ID tokens, `logout+jwt` for back-channel logout tokens).
    /// The first RS256 or ES256 key is made here on first use.
    pub async fn sign_jwt<T: Serialize>(
        &self,
        alg: IdTokenAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        self.keys
            .sign(self.store.as_ref(), alg, typ, claims, Utc::now())
            .await
    }

    /// Verifies a JWS this engine signed (an `id_token_hint`) and returns its claims. Accepts
    /// RS256, ES256 and EdDSA only, with header `typ` equal to `typ`, a `kid` of a key of that
    /// very algorithm that is neither revoked nor past its verification window, and a valid
    /// signature; with `check_exp`, `exp` (plus the configured leeway) must not be before
    /// `now`. `iss`, `aud` and every other claim are the caller's to check.
    pub async fn verify_own_jwt(
        &self,
        token: &str,
        typ: &str,
        now: Timestamp,
        check_exp: bool,
    ) -> Result<serde_json::Value, TokenFailure> {
        let claims = match self.own_jwt_claims(token, typ, now) {
            // A key made or rotated by another process since the last reload.
            Err(TokenFailure::UnknownKey) if self.reload_keys_rate_limited().await => {
                self.own_jwt_claims(token, typ, now)
            }
            r => r,
        }?;
        // After the signature: a forgery never learns that it is "expired".
        if check_exp {
            let exp = claims["exp"].as_i64().ok_or(TokenFailure::Invalid)?;
            if exp.saturating_add(self.config.tokens.leeway_secs as i64) < now.timestamp() {
                return Err(TokenFailure::Expired);
            }
        }
        Ok(claims)
    }

    /// The claims of one of this engine's JWS once its header and signature check out.
    fn own_jwt_claims(
        &self,
        token: &str,
        typ: &str,
        now: Timestamp,
    ) -> Result<serde_json::Value, TokenFailure> {
        if token.len() > MAX_OWN_JWT_LEN {
            return Err(TokenFailure::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenFailure::Malformed)?;
        // The allowlist: `none`, HS* and every other algorithm never reach a key.
        let alg = from_jwt_algorithm(header.alg).ok_or(TokenFailure::Invalid)?;
        if header.typ.as_deref() != Some(typ) {
            return Err(TokenFailure::Invalid);
        }
        let kid = header.kid.ok_or(TokenFailure::Invalid)?;
        if self.revocations.is_key_revoked(&kid) {
            return Err(TokenFailure::Revoked);
        }
        // Only the ring of the header's algorithm is asked, so a kid never verifies under
        // another algorithm than its own.
        let Some(verifier) = self.keys.ring(alg).verifier(&kid, now) else {
            return Err(match self.keys.ring_knowing(&kid) {
                Some(other) if other.alg() != alg => TokenFailure::Invalid,
                _ => TokenFailure::UnknownKey,
            });
        };
        let mut v = Validation::new(jwt_algorithm(alg));
        v.set_required_spec_claims::<&str>(&[]);
        v.validate_exp = false;
        v.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(token, &verifier.key, &v)
            .map(|data| data.claims)
            .map_err(|e| TokenFailure::of(&e))
    }

    /// Rotates the EdDSA signing key (access tokens); the old public key stays published.
    pub async fn rotate_signing_key(&self, ctx: &AuditContext) -> CoreResult<String> {
        Ok(self
            .rotate_signing_key_of(IdTokenAlg::EdDsa, ctx)
            .await?
            .kid)
    }

    /// Rotates the signing key of `alg`; the old public key stays published.
    pub async fn rotate_signing_key_of(
        &self,
        alg: IdTokenAlg,
        ctx: &AuditContext,
    ) -> CoreResult<Rotation> {
        let uc = self.use_case(None, ctx);
        crate::use_cases::rotate_signing_key(&uc, &self.keys, alg).await
    }

    /// Emergency revocation of a signing key of any algorithm
    /// ([`crate::use_cases::revoke_signing_key`]). Returns whether it was not revoked before.
    pub async fn revoke_signing_key(&self, kid: &str, ctx: &AuditContext) -> CoreResult<bool> {
        Ok(!self
            .revoke_signing_key_of(kid, None, ctx)
            .await?
            .already_revoked)
    }

    /// Emergency revocation; `alg`, when given, must be the key's algorithm.
    pub async fn revoke_signing_key_of(
        &self,
        kid: &str,
        alg: Option<IdTokenAlg>,
        ctx: &AuditContext,
    ) -> CoreResult<KeyRevocation> {
        let uc = self.use_case(None, ctx);
        crate::use_cases::revoke_signing_key(&uc, &self.keys, kid, alg).await
    }

    /// Re-reads every key ring, at most once per [`KEY_RELOAD_EVERY`]; whether it did.
    pub(super) async fn reload_keys_rate_limited(&self) -> bool {
        {
            let mut last = self.last_key_reload.lock();
            if last.is_some_and(|t| t.elapsed() < KEY_RELOAD_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.keys.reload(self.store.as_ref()).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "key reload failed");
                false
            }
        }
    }
}
