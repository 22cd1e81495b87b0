//! The token endpoint's grants (RFC 6749 §4.1.3 and §6, OIDC Core §3.1.3 and §12, RFC 9700
//! §4.14): a code is redeemed once, and a replay ends what it granted; a refresh token rotates
//! on every use, and reuse of a rotated one ends its family, its grant and the browser sign-in.
//!
//! Each redemption starts a *grant session*: a Portcullis session of the user for one client,
//! child of the browser sign-in (ended with it unless `offline_access`), so the client's tokens
//! are revoked, listed and audited like every other session's.

use chrono::{Duration, Utc};
use serde_json::json;

use super::error::OAuthError;
use super::provider::Provider;
use super::request::pkce_matches;
use crate::audit::{AuditAction, AuditContext, event};
use crate::crypto;
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::tokens::{Principal, Via};

/// A token response's contents (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

/// What a grant carries from sign-in to its tokens.
pub(super) struct GrantFacts<'a> {
    pub user: UserId,
    pub org: OrgId,
    pub grant_session: &'a SessionId,
    /// The browser sign-in (`sid` of ID tokens and logout tokens).
    pub browser_session: &'a SessionId,
    pub auth_time: Timestamp,
    pub amr: &'a [String],
    /// The class the sign-in satisfied (`acr`), settled when the code was issued.
    pub acr: &'a str,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
}

fn token_hash(token: &str) -> String {
    hex::encode(crypto::sha256(token.as_bytes()))
}

/// The grant as the revocation view judges it: issued at `issued_at` (a cut-off after it, a
/// removed or deactivated membership, a disabled org or an ended session refuse it).
fn principal_of(user: UserId, org: OrgId, session: &SessionId, issued_at: Timestamp) -> Principal {
    Principal {
        user,
        org,
        guest: false,
        via: Via::Session {
            session: session.clone(),
            org_scoped: false,
        },
        actor: None,
        amr: Vec::new(),
        expires_at: None,
        issued_at: Some(issued_at),
    }
}

impl Provider {
    /// `authorization_code`: redeems the code for the client that got it.
    pub async fn exchange_code(
        &self,
        client: &OAuthClient,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        ctx: &AuditContext,
    ) -> Result<TokenSet, OAuthError> {
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the authorization code grant",
            ));
        }
        let store = self.engine.store();
        let now = Utc::now();
        let hash = token_hash(code);
        let mut tx = store.begin_write().await.map_err(CoreError::from)?;
        let redeemed = tx
            .redeem_authorization_code(&hash, now)
            .await
            .map_err(CoreError::from)?;
        let c = match redeemed {
            CodeRedemption::Unknown => {
                return Err(OAuthError::invalid_grant("unknown authorization code"));
            }
            CodeRedemption::AlreadyUsed(c) => {
                self.end_replayed_code(tx, &c, ctx).await?;
                return Err(OAuthError::invalid_grant(
                    "the authorization code was already used; what it granted is revoked",
                ));
            }
            CodeRedemption::Redeemed(c) => c,
        };
        // Codes from before `acr` was recorded: the class their `amr` proves.
        let acr = c.acr.clone().unwrap_or_else(|| super::acr_for(&[], &c.amr));
        // From here a refused request still uses the code up: commit the consumption.
        let refusal = if c.client_id != client.client_id {
            Some("the code was issued to another client")
        } else if c.expires_at <= now {
            Some("the code expired")
        } else if c.redirect_uri != redirect_uri {
            Some("redirect_uri differs from the authorization request")
        } else if !c
            .code_challenge
            .as_deref()
            .is_some_and(|ch| pkce_matches(ch, code_verifier))
        {
            Some("PKCE verification failed")
        } else {
            None
        };
        let browser = tx
            .get_session(&c.browser_session)
            .await
            .map_err(CoreError::from)?
            .filter(|s| s.is_live(now));
        let refusal = refusal.or_else(|| match &browser {
            None => Some("the sign-in behind the code has ended"),
            Some(_)
                if self.engine.revocations().refuses(&principal_of(
                    c.user_id,
                    c.org_id,
                    &c.browser_session,
                    c.created_at,
                )) =>
            {
                Some("the user may no longer sign in to this org")
            }
            Some(_) => None,
        });
        let browser = match (refusal, browser) {
            (None, Some(b)) => b,
            (reason, _) => {
                let reason = reason.unwrap_or("the sign-in behind the code has ended");
                tx.commit().await.map_err(CoreError::from)?;
                self.audit_grant(ctx, &c.user_id, client, AuditAction::OidcToken, reason)
                    .await;
                return Err(OAuthError::invalid_grant(reason));
            }
        };
        let offline = c.scopes.iter().any(|s| s == "offline_access");
        let config = &self.engine.config().oidc;
        let grant = Session {
            id: SessionId::generate(),
            user_id: c.user_id,
            org_id: c.org_id,
            kind: SessionKind::Login,
            amr: c.amr.clone(),
            actor_id: None,
            created_at: now,
            expires_at: if offline {
                now + Duration::seconds(config.offline_secs)
            } else {
                browser.expires_at
            },
            idle_timeout_secs: None,
            last_seen_at: now,
            revoked_at: None,
            ip: ctx.ip.clone(),
            user_agent: None,
            grant: Some(SessionGrant {
                client_id: client.client_id.clone(),
                parent: Some(browser.id.clone()),
                offline,
            }),
        };
        tx.create_session(grant.clone())
            .await
            .map_err(|e| match e {
                // The browser sign-in ended while this request ran.
                crate::store::StoreError::Conflict(_) => {
                    OAuthError::invalid_grant("the sign-in behind the code has ended")
                }
                other => CoreError::from(other).into(),
            })?;
        tx.set_code_grant_session(&hash, &grant.id)
            .await
            .map_err(CoreError::from)?;
        let refresh = if client.grant_types.contains(&GrantType::RefreshToken) {
            let (token, record) =
                self.new_refresh_token(client, &grant, &c.scopes, c.auth_time, (&c.amr, &acr), now);
            tx.insert_refresh_token(record)
                .await
                .map_err(CoreError::from)?;
            Some(token)
        } else {
            None
        };
        tx.append_audit(&[event(
            ctx,
            now,
            Some(c.user_id),
            AuditAction::OidcToken,
            Some(client.client_id.clone()),
            AuditOutcome::Success,
            json!({ "grant": "authorization_code", "session": grant.id.0, "org": c.org_id.0,
                    "scopes": c.scopes, "offline": offline }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        let facts = GrantFacts {
            user: c.user_id,
            org: c.org_id,
            grant_session: &grant.id,
            browser_session: &browser.id,
            auth_time: c.auth_time,
            amr: &c.amr,
            acr: &acr,
            scopes: &c.scopes,
            nonce: c.nonce.as_deref(),
        };
        Ok(self.token_set(client, &facts, refresh, now).await?)
    }

    /// A replayed code: end the grant it started (its session and refresh tokens).
    async fn end_replayed_code(
        &self,
        mut tx: Box<dyn crate::store::WriteTx>,
        c: &AuthorizationCode,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let now = Utc::now();
        if let Some(g) = &c.grant_session {
            tx.revoke_session(g, now).await.map_err(CoreError::from)?;
            tx.revoke_refresh_family(g, now)
                .await
                .map_err(CoreError::from)?;
        }
        tx.append_audit(&[event(
            ctx,
            now,
            Some(c.user_id),
            AuditAction::OidcCodeReplay,
            Some(c.client_id.clone()),
            AuditOutcome::Denied,
            json!({ "session": c.grant_session.as_ref().map(|s| s.0.clone()) }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        self.refresh_view(c.user_id).await;
        Ok(())
    }

    /// `refresh_token`: rotates the token; reuse of a rotated one ends everything it came from.
    pub async fn refresh(
        &self,
        client: &OAuthClient,
        refresh_token: &str,
        scope: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<TokenSet, OAuthError> {
        if !client.grant_types.contains(&GrantType::RefreshToken) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the refresh token grant",
            ));
        }
        let store = self.engine.store();
        let now = Utc::now();
        let hash = token_hash(refresh_token);
        let mut tx = store.begin_write().await.map_err(CoreError::from)?;
        let rt = match tx
            .rotate_refresh_token(&hash, now)
            .await
            .map_err(CoreError::from)?
        {
            RefreshRedemption::Unknown => {
                return Err(OAuthError::invalid_grant("unknown refresh token"));
            }
            RefreshRedemption::Reused(rt) => {
                drop(tx);
                self.end_reused_family(&rt, ctx).await?;
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already used; the grant is revoked",
                ));
            }
            RefreshRedemption::Current(rt) => rt,
        };
        let acr = rt
            .acr
            .clone()
            .unwrap_or_else(|| super::acr_for(&[], &rt.amr));
        // A refusal below rolls the rotation back (the token was never valid for this call).
        if rt.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        if rt.expires_at <= now {
            return Err(OAuthError::invalid_grant("the refresh token expired"));
        }
        let grant = tx
            .get_session(&rt.grant_session)
            .await
            .map_err(CoreError::from)?
            .filter(|s| s.is_live(now))
            .filter(|s| {
                !self.engine.revocations().refuses(&principal_of(
                    rt.user_id,
                    rt.org_id,
                    &s.id,
                    s.created_at,
                ))
            })
            .ok_or_else(|| OAuthError::invalid_grant("the grant has ended"))?;
        let scopes = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => rt.scopes.clone(),
            Some(asked) => {
                let asked: Vec<String> = asked
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if !asked.iter().all(|s| rt.scopes.contains(s)) {
                    return Err(OAuthError::invalid_scope(
                        "a refresh may only narrow the granted scopes",
                    ));
                }
                asked
            }
        };
        let (token, record) = self.new_refresh_token(
            client,
            &grant,
            &rt.scopes,
            rt.auth_time,
            (&rt.amr, &acr),
            now,
        );
        tx.insert_refresh_token(record)
            .await
            .map_err(CoreError::from)?;
        tx.append_audit(&[event(
            ctx,
            now,
            Some(rt.user_id),
            AuditAction::OidcToken,
            Some(client.client_id.clone()),
            AuditOutcome::Success,
            json!({ "grant": "refresh_token", "session": grant.id.0 }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        let browser = grant
            .grant
            .as_ref()
            .and_then(|g| g.parent.clone())
            .unwrap_or_else(|| grant.id.clone());
        let facts = GrantFacts {
            user: rt.user_id,
            org: rt.org_id,
            grant_session: &grant.id,
            browser_session: &browser,
            auth_time: rt.auth_time,
            amr: &rt.amr,
            acr: &acr,
            scopes: &scopes,
            nonce: None,
        };
        Ok(self.token_set(client, &facts, Some(token), now).await?)
    }

    /// Reuse detected: revoke the family, its grant session and the browser sign-in.
    async fn end_reused_family(
        &self,
        rt: &RefreshToken,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let store = self.engine.store();
        let now = Utc::now();
        let parent = store
            .get_session(&rt.grant_session)
            .await
            .map_err(CoreError::from)?
            .and_then(|s| s.grant.and_then(|g| g.parent));
        let mut tx = store.begin_write().await.map_err(CoreError::from)?;
        tx.revoke_refresh_family(&rt.grant_session, now)
            .await
            .map_err(CoreError::from)?;
        tx.revoke_session(&rt.grant_session, now)
            .await
            .map_err(CoreError::from)?;
        if let Some(p) = &parent {
            tx.revoke_session(p, now).await.map_err(CoreError::from)?;
        }
        tx.append_audit(&[event(
            ctx,
            now,
            Some(rt.user_id),
            AuditAction::OidcRefreshReuse,
            Some(rt.client_id.clone()),
            AuditOutcome::Denied,
            json!({ "session": rt.grant_session.0, "browser_session": parent.map(|p| p.0) }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        self.refresh_view(rt.user_id).await;
        Ok(())
    }

    fn new_refresh_token(
        &self,
        client: &OAuthClient,
        grant: &Session,
        scopes: &[String],
        auth_time: Timestamp,
        amr: (&[String], &str),
        now: Timestamp,
    ) -> (String, RefreshToken) {
        let (amr, acr) = amr;
        let token = crypto::random_token(32);
        let expires_at = (now + Duration::seconds(client.refresh_token_secs)).min(grant.expires_at);
        let record = RefreshToken {
            token_hash: token_hash(&token),
            grant_session: grant.id.clone(),
            client_id: client.client_id.clone(),
            user_id: grant.user_id,
            org_id: grant.org_id,
            scopes: scopes.to_vec(),
            auth_time,
            amr: amr.to_vec(),
            acr: Some(acr.to_owned()),
            issued_at: now,
            expires_at,
            rotated_at: None,
            revoked_at: None,
        };
        (token, record)
    }

    /// The access token (EdDSA, `aud` = the client) and, with `openid`, the ID token.
    async fn token_set(
        &self,
        client: &OAuthClient,
        f: &GrantFacts<'_>,
        refresh_token: Option<String>,
        now: Timestamp,
    ) -> CoreResult<TokenSet> {
        let tokens = self.engine.access_tokens();
        let expires_in = client.access_token_secs;
        let mut claims = tokens.claims(
            f.user,
            f.org,
            &f.grant_session.0,
            now,
            now + Duration::seconds(expires_in),
            f.amr.to_vec(),
            false,
        );
        claims.aud = client.client_id.clone();
        claims.client_id = Some(client.client_id.clone());
        let scope = f.scopes.join(" ");
        claims.scope = Some(scope.clone());
        let access_token = tokens.sign(&claims)?;
        let id_token = if f.scopes.iter().any(|s| s == "openid") {
            Some(self.id_token(client, f, &access_token, now).await?)
        } else {
            None
        };
        Ok(TokenSet {
            access_token,
            expires_in,
            refresh_token,
            id_token,
            scope,
        })
    }

    /// Brings this process's revocation view up to date with what a unit just revoked.
    pub(super) async fn refresh_view(&self, user: UserId) {
        let store = self.engine.store();
        if let Err(e) = self
            .engine
            .revocations()
            .refresh_user(store.as_ref(), user, Utc::now())
            .await
        {
            tracing::warn!(error = %e, "revocation view refresh failed; the feed will catch up");
        }
    }

    async fn audit_grant(
        &self,
        ctx: &AuditContext,
        user: &UserId,
        client: &OAuthClient,
        action: AuditAction,
        reason: &str,
    ) {
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                Some(*user),
                action,
                Some(client.client_id.clone()),
                AuditOutcome::Denied,
                json!({ "reason": reason }),
            )
            .await;
    }
}
