//! Browser SSO flow state (docs/design/browser-sso.md). Two single-use records live in the store,
//! so a flow survives restarts and may end on another node:
//!
//! 1. a *start token*, minted by Parsable `startLogin` and carried in `webSSO.url`
//!    (`/login/sso/start?t=…`), valid [`SSO_START_TTL_SECS`];
//! 2. a *callback record*, keyed by the OAuth `state`, holding the nonce and the PKCE verifier
//!    and bound to the browser by the hash of a random cookie value, valid [`SSO_FLOW_TTL_SECS`].
//!
//! Only SHA-256 hashes of the start token, the state and the browser binding are stored. Each
//! record is taken with one atomic delete, so replaying it fails, even across nodes.

use chrono::Utc;
use serde_json::json;

use crate::audit::AuditAction;
use crate::audit::AuditContext;
use crate::crypto;
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::{AuditOutcome, Timestamp};
pub use crate::model::{SsoFlowKind, SsoFlowRecord};

/// How long a `webSSO.url` may wait before the browser follows it.
pub const SSO_START_TTL_SECS: i64 = 120;
/// How long the user may take at the identity provider.
pub const SSO_FLOW_TTL_SECS: i64 = 600;
/// The `provider` of a start token for Portcullis's own browser sign-in (`/login?t=`): no
/// provider alias is empty, so the two kinds of start token never redeem as each other.
const OWN_SIGN_IN: &str = "";
/// Longest accepted start token, state or cookie value (ours are 43 characters).
const MAX_SECRET_LEN: usize = 128;

/// What `/login/sso/start` needs to send the browser to the provider.
#[derive(Debug, Clone)]
pub struct SsoBegin {
    pub provider: String,
    pub login_hint: Option<String>,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The value of the browser-binding cookie.
    pub browser_binding: String,
}

/// What `/login/sso/callback` needs to redeem the code.
#[derive(Debug, Clone)]
pub struct SsoPending {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

fn hash_hex(secret: &str) -> String {
    hex::encode(crypto::sha256(secret.as_bytes()))
}

/// Whether a start token, state or binding cookie may be one of ours (checked before any
/// look-up).
#[doc(hidden)]
pub fn well_formed(secret: &str) -> bool {
    !secret.is_empty()
        && secret.len() <= MAX_SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One answer for every unusable link or state, so probing learns nothing.
const EXPIRED: CoreError = CoreError::InvalidToken("the sign-in link is invalid, used or expired");

impl Engine {
    /// Mints the single-use start token of a browser SSO flow (Parsable `startLogin`). Expired
    /// records are purged on the way, so unauthenticated callers cannot grow the table beyond
    /// what the per-IP limit lets through in [`SSO_START_TTL_SECS`].
    pub async fn sso_start_token(
        &self,
        provider: &str,
        login_hint: Option<&str>,
    ) -> CoreResult<String> {
        let now = Utc::now();
        self.store().purge_sso_flows(now).await?;
        let token = crypto::random_token(32);
        self.store()
            .insert_sso_flow(SsoFlowRecord {
                key_hash: hash_hex(&token),
                kind: SsoFlowKind::Start,
                provider: provider.to_owned(),
                login_hint: login_hint.map(str::to_owned),
                nonce: None,
                pkce_verifier: None,
                binding_hash: None,
                created_at: now,
                expires_at: now + chrono::Duration::seconds(SSO_START_TTL_SECS),
            })
            .await?;
        Ok(token)
    }

    /// Mints the single-use start token of Portcullis's own browser sign-in (`/login?t=`, the
    /// `webSSO.url` of Parsable `startLogin` for password accounts): same TTL and store as an
    /// upstream start token.
    pub async fn own_sign_in_token(&self, login_hint: Option<&str>) -> CoreResult<String> {
        self.sso_start_token(OWN_SIGN_IN, login_hint).await
    }

    /// Redeems (once) a start token of the own browser sign-in; its login hint, if any.
    pub async fn own_sign_in_begin(
        &self,
        start_token: &str,
        ctx: &AuditContext,
    ) -> CoreResult<Option<String>> {
        match self.take_start(start_token, ctx).await? {
            start if start.provider == OWN_SIGN_IN => Ok(start.login_hint),
            _ => {
                self.sso_denied(ctx, Utc::now(), "start token of an upstream sign-in")
                    .await;
                Err(EXPIRED)
            }
        }
    }

    /// Takes a start record (single use), whichever sign-in it starts.
    async fn take_start(&self, start_token: &str, ctx: &AuditContext) -> CoreResult<SsoFlowRecord> {
        let now = Utc::now();
        let start = if well_formed(start_token) {
            self.store()
                .take_sso_flow(SsoFlowKind::Start, &hash_hex(start_token), now)
                .await?
        } else {
            None
        };
        match start {
            Some(s) => Ok(s),
            None => {
                self.sso_denied(ctx, now, "start token invalid, used or expired")
                    .await;
                Err(EXPIRED)
            }
        }
    }

    /// Redeems a start token (once) and opens the callback record: fresh `state`, `nonce`,
    /// PKCE verifier and browser binding.
    pub async fn sso_begin(&self, start_token: &str, ctx: &AuditContext) -> CoreResult<SsoBegin> {
        let now = Utc::now();
        let start = self.take_start(start_token, ctx).await?;
        if start.provider == OWN_SIGN_IN {
            self.sso_denied(ctx, now, "start token of the own sign-in")
                .await;
            return Err(EXPIRED);
        }
        let begin = SsoBegin {
            provider: start.provider,
            login_hint: start.login_hint,
            state: crypto::random_token(32),
            nonce: crypto::random_token(32),
            pkce_verifier: crypto::random_token(32),
            browser_binding: crypto::random_token(32),
        };
        self.store()
            .insert_sso_flow(SsoFlowRecord {
                key_hash: hash_hex(&begin.state),
                kind: SsoFlowKind::Callback,
                provider: begin.provider.clone(),
                login_hint: begin.login_hint.clone(),
                nonce: Some(begin.nonce.clone()),
                pkce_verifier: Some(begin.pkce_verifier.clone()),
                binding_hash: Some(hash_hex(&begin.browser_binding)),
                created_at: now,
                expires_at: now + chrono::Duration::seconds(SSO_FLOW_TTL_SECS),
            })
            .await?;
        Ok(begin)
    }

    /// Takes the callback record of `state` (once) and checks that the browser presents the
    /// binding cookie it was given at the start (login CSRF / code injection defence).
    pub async fn sso_complete(
        &self,
        state: &str,
        browser_binding: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<SsoPending> {
        let now = Utc::now();
        let rec = if well_formed(state) {
            self.store()
                .take_sso_flow(SsoFlowKind::Callback, &hash_hex(state), now)
                .await?
        } else {
            None
        };
        let Some(rec) = rec else {
            self.sso_denied(ctx, now, "state invalid, used or expired")
                .await;
            return Err(EXPIRED);
        };
        let bound = match (browser_binding, rec.binding_hash.as_deref()) {
            (Some(b), Some(h)) if well_formed(b) => {
                crypto::constant_time_eq(hash_hex(b).as_bytes(), h.as_bytes())
            }
            _ => false,
        };
        let (Some(nonce), Some(pkce_verifier), true) = (rec.nonce, rec.pkce_verifier, bound) else {
            self.sso_denied(ctx, now, "browser binding missing or different")
                .await;
            return Err(EXPIRED);
        };
        Ok(SsoPending {
            provider: rec.provider,
            nonce,
            pkce_verifier,
        })
    }

    async fn sso_denied(&self, ctx: &AuditContext, now: Timestamp, reason: &str) {
        self.audit()
            .log(
                ctx,
                now,
                None,
                AuditAction::SsoBrowser,
                None,
                AuditOutcome::Denied,
                json!({ "reason": reason }),
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_before_any_lookup() {
        assert!(well_formed(&crypto::random_token(32)));
        assert!(!well_formed(""));
        assert!(!well_formed("a b"));
        assert!(!well_formed("a%27"));
        assert!(!well_formed(&"a".repeat(MAX_SECRET_LEN + 1)));
    }

    #[test]
    fn kinds_round_trip() {
        for k in [SsoFlowKind::Start, SsoFlowKind::Callback] {
            assert_eq!(SsoFlowKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(SsoFlowKind::parse("x"), None);
    }
}
