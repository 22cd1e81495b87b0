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
use crate::store::WriteTx;
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

/// A redeemed code (an authorization code or an approved device code): who, in which browser
/// sign-in, with what; what its grant session and tokens carry.
pub(super) struct Redeemed<'a> {
    /// The grant's name in the audit event.
    pub grant: &'static str,
    pub user: UserId,
    pub org: OrgId,
    pub browser_session: &'a SessionId,
    /// When the code was issued or approved: the revocation view refuses a grant whose user
    /// lost the org since.
    pub issued_at: Timestamp,
    pub scopes: &'a [String],
    pub auth_time: Timestamp,
    pub amr: &'a [String],
    pub acr: &'a str,
    pub nonce: Option<&'a str>,
}

/// A used code presented again: the grant it started ends.
pub(super) struct Replay<'a> {
    pub grant: &'static str,
    pub user: UserId,
    pub client_id: &'a str,
    pub grant_session: Option<&'a SessionId>,
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

pub(super) fn token_hash(token: &str) -> String {
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
                let replay = Replay {
                    grant: "authorization_code",
                    user: c.user_id,
                    client_id: &c.client_id,
                    grant_session: c.grant_session.as_ref(),
                };
                self.end_replayed_code(tx, &replay, ctx).await?;
                return Err(OAuthError::invalid_grant(
                    "the authorization code was already used; what it granted is revoked",
                ));
            }
            CodeRedemption::Redeemed(c) => c,
        };
        // Codes from before `acr` was recorded: the class their `amr` proves.
        let acr = c.acr.clone().unwrap_or_else(|| super::acr_for(&[], &c.amr));
        let redeemed = Redeemed {
            grant: "authorization_code",
            user: c.user_id,
            org: c.org_id,
            browser_session: &c.browser_session,
            issued_at: c.created_at,
            scopes: &c.scopes,
            auth_time: c.auth_time,
            amr: &c.amr,
            acr: &acr,
            nonce: c.nonce.as_deref(),
        };
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
        let browser = self.sign_in_behind(&mut *tx, &redeemed, now).await?;
        let browser = match (refusal, browser) {
            (None, Ok(b)) => b,
            (Some(reason), _) | (None, Err(reason)) => {
                tx.commit().await.map_err(CoreError::from)?;
                self.audit_grant(ctx, &c.user_id, client, AuditAction::OidcToken, reason)
                    .await;
                return Err(OAuthError::invalid_grant(reason));
            }
        };
        let (grant, refresh) = self
            .open_grant(&mut *tx, client, &redeemed, &browser, ctx, now)
            .await?;
        tx.set_code_grant_session(&hash, &grant.id)
            .await
            .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        self.grant_tokens(client, &redeemed, &grant, refresh, now)
            .await
    }

    /// The browser sign-in behind a redeemed code, or why it can no longer grant anything: it
    /// ended, or the user may no longer sign in to the org.
    pub(super) async fn sign_in_behind(
        &self,
        tx: &mut dyn WriteTx,
        r: &Redeemed<'_>,
        now: Timestamp,
    ) -> Result<Result<Session, &'static str>, OAuthError> {
        let browser = tx
            .get_session(r.browser_session)
            .await
            .map_err(CoreError::from)?
            .filter(|s| s.is_live(now));
        Ok(match browser {
            None => Err("the sign-in behind the code has ended"),
            Some(_)
                if self.engine.revocations().refuses(&principal_of(
                    r.user,
                    r.org,
                    r.browser_session,
                    r.issued_at,
                )) =>
            {
                Err("the user may no longer sign in to this org")
            }
            Some(b) => Ok(b),
        })
    }

    /// Starts the grant session (child of the browser sign-in; with `offline_access` it lives
    /// on its own), its refresh token when the client may refresh, and the audit event, in
    /// `tx`. The caller links the session to its code, commits, then calls [`Self::grant_tokens`].
    pub(super) async fn open_grant(
        &self,
        tx: &mut dyn WriteTx,
        client: &OAuthClient,
        r: &Redeemed<'_>,
        browser: &Session,
        ctx: &AuditContext,
        now: Timestamp,
    ) -> Result<(Session, Option<String>), OAuthError> {
        let offline = r.scopes.iter().any(|s| s == "offline_access");
        let config = &self.engine.config().oidc;
        let grant = Session {
            id: SessionId::generate(),
            user_id: r.user,
            org_id: r.org,
            kind: SessionKind::Login,
            amr: r.amr.to_vec(),
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
        let refresh = if client.grant_types.contains(&GrantType::RefreshToken) {
            let (token, record) =
                self.new_refresh_token(client, &grant, r.scopes, r.auth_time, (r.amr, r.acr), now);
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
            Some(r.user),
            AuditAction::OidcToken,
            Some(client.client_id.clone()),
            AuditOutcome::Success,
            json!({ "grant": r.grant, "session": grant.id.0, "org": r.org.0,
                    "scopes": r.scopes, "offline": offline }),
        )])
        .await
        .map_err(CoreError::from)?;
        Ok((grant, refresh))
    }

    /// The tokens of a grant [`Self::open_grant`] started (after its unit committed).
    pub(super) async fn grant_tokens(
        &self,
        client: &OAuthClient,
        r: &Redeemed<'_>,
        grant: &Session,
        refresh: Option<String>,
        now: Timestamp,
    ) -> Result<TokenSet, OAuthError> {
        let facts = GrantFacts {
            user: r.user,
            org: r.org,
            grant_session: &grant.id,
            browser_session: r.browser_session,
            auth_time: r.auth_time,
            amr: r.amr,
            acr: r.acr,
            scopes: r.scopes,
            nonce: r.nonce,
        };
        Ok(self.token_set(client, &facts, refresh, now).await?)
    }

    /// A replayed code: end the grant it started (its session and refresh tokens).
    pub(super) async fn end_replayed_code(
        &self,
        mut tx: Box<dyn WriteTx>,
        c: &Replay<'_>,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let now = Utc::now();
        if let Some(g) = c.grant_session {
            tx.revoke_session(g, now).await.map_err(CoreError::from)?;
            tx.revoke_refresh_family(g, now)
                .await
                .map_err(CoreError::from)?;
        }
        tx.append_audit(&[event(
            ctx,
            now,
            Some(c.user),
            AuditAction::OidcCodeReplay,
            Some(c.client_id.to_owned()),
            AuditOutcome::Denied,
            json!({ "grant": c.grant, "session": c.grant_session.map(|s| s.0.clone()) }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        self.refresh_view(c.user).await;
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

    pub(super) async fn audit_grant(
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
