//! Token introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients. A client
//! sees and revokes only tokens issued to it, unless it may introspect any. Both read the
//! revocation view, so a revocation anywhere is seen here within the feed interval.

use chrono::Utc;
use serde_json::{Value, json};

use super::error::OAuthError;
use super::provider::Provider;
use crate::audit::{AuditAction, AuditContext, event};
use crate::crypto;
use crate::error::CoreError;
use crate::model::*;
use crate::tokens::{Principal, TokenAudience, Via};

/// The hint a client may give (RFC 7009 §2.1); an unknown hint is ignored.
fn hinted_refresh(hint: Option<&str>) -> bool {
    hint == Some("refresh_token")
}

fn inactive() -> Value {
    json!({ "active": false })
}

impl Provider {
    /// RFC 7662 §2.2: `{"active": false}` for anything not active or not the caller's to see.
    /// A service account's token also says so, with the account's roles.
    pub async fn introspect(
        &self,
        caller: &OAuthClient,
        token: &str,
        hint: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let answer = self.introspect_token(caller, token, hint).await?;
        self.describe_service_account(answer).await
    }

    async fn introspect_token(
        &self,
        caller: &OAuthClient,
        token: &str,
        hint: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 8192 {
            return Ok(inactive());
        }
        let first_refresh = hinted_refresh(hint) || !token.contains('.');
        if first_refresh {
            if let Some(v) = self.introspect_refresh(caller, token).await? {
                return Ok(v);
            }
            return Ok(self
                .introspect_access(caller, token)
                .unwrap_or_else(inactive));
        }
        if let Some(v) = self.introspect_access(caller, token) {
            return Ok(v);
        }
        Ok(self
            .introspect_refresh(caller, token)
            .await?
            .unwrap_or_else(inactive))
    }

    fn may_see(caller: &OAuthClient, owner: &str) -> bool {
        caller.client_id == owner || caller.introspect_any
    }

    fn introspect_access(&self, caller: &OAuthClient, token: &str) -> Option<Value> {
        let (claims, _) = self
            .engine
            .access_tokens()
            .validate_for(token, Utc::now(), TokenAudience::OidcClient)
            .ok()?;
        let owner = claims.client_id.as_deref()?;
        // The audience of an exchanged token is the party it was made for (RFC 8693).
        if !Self::may_see(caller, owner) && caller.client_id != claims.aud {
            return None;
        }
        let mut v = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": owner,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "jti": claims.jti,
            "org": claims.org,
            "sid": claims.sid,
        });
        if let Some(act) = &claims.act {
            v["act"] = json!(act);
        }
        Some(v)
    }

    async fn introspect_refresh(
        &self,
        caller: &OAuthClient,
        token: &str,
    ) -> Result<Option<Value>, OAuthError> {
        let now = Utc::now();
        let hash = hex::encode(crypto::sha256(token.as_bytes()));
        let Some(rt) = self
            .engine
            .store()
            .get_refresh_token(&hash)
            .await
            .map_err(CoreError::from)?
        else {
            return Ok(None);
        };
        let live = rt.rotated_at.is_none()
            && rt.revoked_at.is_none()
            && rt.expires_at > now
            && !self.engine.revocations().refuses(&Principal {
                user: rt.user_id,
                org: rt.org_id,
                guest: false,
                via: Via::Session {
                    session: rt.grant_session.clone(),
                    org_scoped: false,
                },
                actor: None,
                amr: Vec::new(),
                expires_at: None,
                issued_at: Some(rt.issued_at),
            });
        if !live || !Self::may_see(caller, &rt.client_id) {
            return Ok(Some(inactive()));
        }
        Ok(Some(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": rt.scopes.join(" "),
            "client_id": rt.client_id,
            "sub": rt.user_id.0,
            "iss": self.issuer(),
            "exp": rt.expires_at.timestamp(),
            "iat": rt.issued_at.timestamp(),
            "org": rt.org_id.0,
        })))
    }

    /// RFC 7009: revokes the grant the token belongs to (its session, so every access and
    /// refresh token of it). An unknown token, or one of another client, is a success that
    /// changes nothing (§2.2), so the endpoint cannot be used to probe tokens.
    pub async fn revoke(
        &self,
        caller: &OAuthClient,
        token: &str,
        hint: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 8192 {
            return Ok(());
        }
        let target = match self.refresh_grant(token).await? {
            Some(found) => Some(found),
            None if !hinted_refresh(hint) || token.contains('.') => self.access_grant(token),
            None => None,
        };
        let Some((owner, user, session)) = target else {
            return Ok(());
        };
        if owner != caller.client_id {
            return Ok(());
        }
        if super::client_credentials::is_service_account_token(&user.to_string(), &session.0) {
            return self.revoke_service_account_tokens(caller, user, ctx).await;
        }
        let now = Utc::now();
        let store = self.engine.store();
        let mut tx = store.begin_write().await.map_err(CoreError::from)?;
        tx.revoke_refresh_family(&session, now)
            .await
            .map_err(CoreError::from)?;
        let ended = tx
            .revoke_session(&session, now)
            .await
            .map_err(CoreError::from)?;
        tx.append_audit(&[event(
            ctx,
            now,
            Some(user),
            AuditAction::OidcRevoke,
            Some(owner),
            AuditOutcome::Success,
            json!({ "session": session.0, "ended": ended }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        self.refresh_view(user).await;
        Ok(())
    }

    async fn refresh_grant(
        &self,
        token: &str,
    ) -> Result<Option<(String, UserId, SessionId)>, OAuthError> {
        let hash = hex::encode(crypto::sha256(token.as_bytes()));
        Ok(self
            .engine
            .store()
            .get_refresh_token(&hash)
            .await
            .map_err(CoreError::from)?
            .map(|rt| (rt.client_id, rt.user_id, rt.grant_session)))
    }

    fn access_grant(&self, token: &str) -> Option<(String, UserId, SessionId)> {
        // An expired access token can still be revoked: its grant may hold live refresh tokens.
        let claims = self
            .engine
            .access_tokens()
            .verify_ignoring_expiry(token)
            .ok()?;
        // The client the token was issued to (for an exchanged token, not its audience).
        let owner = claims.client_id.clone()?;
        Some((owner, UserId(claims.sub), SessionId(claims.sid)))
    }
}
