//! OAuth 2.0 Token Exchange (RFC 8693) at the token endpoint (docs/design/oidc-provider.md,
//! "Token exchange"): a confidential client with the grant trades a token of a user for an
//! access token for another audience it is allowed (`token_exchange_audiences`), with the same
//! or fewer scopes, never a refresh token. With an actor token the new token says who acts
//! (`act`, nested when chained, at most two actors); without one it is impersonation, allowed
//! only where `[[core.oidc.token_exchange.impersonation]]` names the client and the subject's
//! org, never for a super-admin. Everything not allowed is refused.
//!
//! The new token rides a session of its own, child of the subject token's session, so ending
//! the subject's grant (logout, revocation, reuse detection, admin) ends it in the same
//! transaction, and revoking the new token (RFC 7009) ends only it.

mod subject;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;

use super::error::OAuthError;
use super::provider::Provider;
use crate::audit::{AuditAction, AuditContext, event};
use crate::error::CoreError;
use crate::model::*;
use crate::oidc_clients::SCOPE_OFFLINE;
use crate::tokens::Actor;

use subject::{ActorToken, Subject, may_act_allows, scopes_of};
pub use subject::{
    TOKEN_TYPE_ACCESS, TOKEN_TYPE_ID, UpstreamIdToken, UpstreamIdTokens, UpstreamRefusal,
};

/// The grant type (RFC 8693 §2.1).
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The longest `act` chain a token may carry: the actor and the one it acts for.
pub const MAX_ACT_DEPTH: usize = 2;

/// A token-exchange request's parameters (RFC 8693 §2.1, RFC 8707 `resource`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenExchangeRequest<'a> {
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
    pub actor_token: Option<&'a str>,
    pub actor_token_type: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub requested_token_type: Option<&'a str>,
}

/// The answer (RFC 8693 §2.2.1): an access token, no refresh token.
#[derive(Debug, Clone)]
pub struct ExchangedToken {
    pub access_token: String,
    pub issued_token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// The one audience of the new token: `audience` and `resource` may both be given only when
/// they agree (a token has one `aud`); a `resource` is an absolute URI without a fragment.
fn target(req: &TokenExchangeRequest<'_>, client: &OAuthClient) -> Result<String, OAuthError> {
    let audience = present(req.audience);
    let resource = present(req.resource);
    if let Some(r) = resource
        && (!r.contains("://") || r.contains('#'))
    {
        return Err(OAuthError::invalid_target(
            "resource must be an absolute URI without a fragment (RFC 8707)",
        ));
    }
    let wanted = match (audience, resource) {
        (None, None) => {
            return Err(OAuthError::invalid_request(
                "audience or resource is required",
            ));
        }
        (Some(a), Some(r)) if a != r => {
            return Err(OAuthError::invalid_target(
                "one target per token: audience and resource differ",
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
    };
    if !client.token_exchange_audiences.iter().any(|a| a == wanted) {
        return Err(OAuthError::invalid_target(format!(
            "this client may not exchange tokens for {wanted:?}"
        )));
    }
    Ok(wanted.to_owned())
}

/// The new token's scopes: those asked for, each held by the subject token and allowed to the
/// client; without `scope`, all of those. Never `offline_access` (no refresh token is issued).
fn narrowed_scopes(
    asked: Option<&str>,
    subject: &[String],
    client: &OAuthClient,
) -> Result<Vec<String>, OAuthError> {
    let allowed = |s: &String| {
        s != SCOPE_OFFLINE && subject.contains(s) && client.scopes.contains(s.as_str())
    };
    match present(asked) {
        None => Ok(subject.iter().filter(|s| allowed(s)).cloned().collect()),
        Some(asked) => {
            let asked = scopes_of(Some(asked));
            match asked.iter().find(|s| !allowed(s)) {
                Some(s) => Err(OAuthError::invalid_scope(format!(
                    "scope {s:?} is not held by the subject token or not allowed to this client"
                ))),
                None => Ok(asked),
            }
        }
    }
}

/// Who the new token names as acting: the actor over the subject's own chain.
fn delegated_act(
    subject: &Subject,
    actor: &ActorToken,
    client_id: &str,
) -> Result<Actor, OAuthError> {
    let act = Actor {
        sub: actor.sub,
        client_id: Some(client_id.to_owned()),
        act: subject.act.clone().map(Box::new),
    };
    if act.depth() > MAX_ACT_DEPTH {
        return Err(OAuthError::invalid_request(format!(
            "delegation chains are limited to {MAX_ACT_DEPTH} actors"
        )));
    }
    Ok(act)
}

/// What was decided about the request, for the audit record.
struct Decision<'a> {
    action: AuditAction,
    /// The acting user (delegation), never the subject.
    actor: Option<UserId>,
    subject: &'a Subject,
    audience: &'a str,
}

impl Provider {
    /// Trusts the upstream ID tokens this verifier accepts as subject tokens (set once, by the
    /// binary, with the federation); without it an ID token is refused.
    pub fn trust_upstream_id_tokens(&self, verifier: Arc<dyn UpstreamIdTokens>) {
        if self.upstream.set(verifier).is_err() {
            tracing::warn!("the upstream ID-token verifier was already set; keeping the first");
        }
    }

    /// `urn:ietf:params:oauth:grant-type:token-exchange` for an authenticated client.
    pub async fn exchange_token(
        &self,
        client: &OAuthClient,
        req: &TokenExchangeRequest<'_>,
        ctx: &AuditContext,
    ) -> Result<ExchangedToken, OAuthError> {
        if client.kind != ClientKind::Confidential
            || !client.grant_types.contains(&GrantType::TokenExchange)
        {
            return Err(OAuthError::unauthorized_client(
                "this client may not use token exchange",
            ));
        }
        if let Some(t) = present(req.requested_token_type)
            && t != TOKEN_TYPE_ACCESS
        {
            return Err(OAuthError::invalid_request(format!(
                "requested_token_type: only {TOKEN_TYPE_ACCESS} is issued"
            )));
        }
        let (Some(token), Some(token_type)) =
            (present(req.subject_token), present(req.subject_token_type))
        else {
            return Err(OAuthError::invalid_request(
                "subject_token and subject_token_type are required",
            ));
        };
        let audience = target(req, client)?;
        let subject = self.subject(client, token, token_type).await?;
        let scopes = narrowed_scopes(req.scope, &subject.scopes, client)?;
        let actor = match (present(req.actor_token), present(req.actor_token_type)) {
            (Some(t), tt) => Some(self.actor(client, t, tt)?),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type without actor_token",
                ));
            }
            (None, None) => None,
        };
        if let Some(wanted) = client.org_id
            && wanted != subject.org
        {
            return Err(OAuthError::invalid_request(
                "the subject token belongs to another org than this client",
            ));
        }
        let actor_sub = actor.as_ref().map(|a| a.sub.to_string());
        if let Some(m) = &subject.may_act
            && !may_act_allows(m, actor_sub.as_deref(), &client.client_id)
        {
            return Err(OAuthError::invalid_request(
                "the subject token's may_act does not name this actor",
            ));
        }
        let (act, decision) = match &actor {
            Some(a) => (
                Some(delegated_act(&subject, a, &client.client_id)?),
                Decision {
                    action: AuditAction::OidcTokenExchange,
                    actor: Some(UserId(a.sub)),
                    subject: &subject,
                    audience: &audience,
                },
            ),
            None => {
                let d = Decision {
                    action: AuditAction::OidcImpersonation,
                    actor: None,
                    subject: &subject,
                    audience: &audience,
                };
                self.check_impersonation(client, &d, ctx).await?;
                // A delegated subject keeps saying who acts for it.
                (subject.act.clone(), d)
            }
        };
        let now = Utc::now();
        let mut expires_at =
            (now + Duration::seconds(client.access_token_secs)).min(subject.expires_at);
        if let Some(a) = &actor {
            expires_at = expires_at.min(a.expires_at);
        }
        if expires_at <= now {
            return Err(OAuthError::invalid_request("the subject token has expired"));
        }
        let session = self
            .exchange_session(client, &decision, &scopes, expires_at, ctx)
            .await?;
        let tokens = self.engine.access_tokens();
        let mut claims = tokens.claims(
            subject.user,
            subject.org,
            &session.0,
            now,
            expires_at,
            subject.amr.clone(),
            subject.guest,
        );
        claims.aud = audience;
        claims.client_id = Some(client.client_id.clone());
        let scope = scopes.join(" ");
        claims.scope = Some(scope.clone());
        claims.act = act;
        let access_token = tokens.sign(&claims)?;
        Ok(ExchangedToken {
            access_token,
            issued_token_type: TOKEN_TYPE_ACCESS,
            expires_in: (expires_at - now).num_seconds(),
            scope,
        })
    }

    /// Impersonation: a policy names the client and the subject's org, and the subject is not
    /// a super-admin. A refusal is audited like a refused proxy login.
    async fn check_impersonation(
        &self,
        client: &OAuthClient,
        d: &Decision<'_>,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let store = self.engine.store();
        let org = store
            .get_org(d.subject.org)
            .await
            .map_err(CoreError::from)?;
        let policy = &self.engine.config().oidc.token_exchange;
        let named = org.as_ref().is_some_and(|o| {
            policy.allows_impersonation(&client.client_id, &o.id.0.to_string(), &o.name)
        });
        let user = store
            .get_user(d.subject.user)
            .await
            .map_err(CoreError::from)?;
        let refusal = match user {
            None => Some("the subject's account no longer exists"),
            Some(u) if u.super_admin => Some("a super-admin cannot be impersonated"),
            Some(_) if !named => {
                Some("no impersonation policy names this client and the subject's org")
            }
            Some(_) => None,
        };
        let Some(reason) = refusal else {
            return Ok(());
        };
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                d.actor,
                d.action,
                Some(d.subject.user.to_string()),
                AuditOutcome::Denied,
                json!({ "client_id": client.client_id, "org": d.subject.org.0,
                        "audience": d.audience, "reason": reason }),
            )
            .await;
        Err(OAuthError::invalid_request(format!(
            "impersonation refused: {reason}"
        )))
    }

    /// The new token's session, child of the subject token's, written with its audit record.
    async fn exchange_session(
        &self,
        client: &OAuthClient,
        d: &Decision<'_>,
        scopes: &[String],
        expires_at: Timestamp,
        ctx: &AuditContext,
    ) -> Result<SessionId, OAuthError> {
        let now = Utc::now();
        let s = d.subject;
        let session = Session {
            id: SessionId::generate(),
            user_id: s.user,
            org_id: s.org,
            kind: SessionKind::Login,
            amr: s.amr.clone(),
            actor_id: None,
            created_at: now,
            expires_at,
            idle_timeout_secs: None,
            last_seen_at: now,
            revoked_at: None,
            ip: ctx.ip.clone(),
            user_agent: None,
            grant: Some(SessionGrant {
                client_id: client.client_id.clone(),
                parent: s.session.clone(),
                offline: false,
            }),
        };
        let mut tx = self
            .engine
            .store()
            .begin_write()
            .await
            .map_err(CoreError::from)?;
        tx.create_session(session.clone())
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => {
                    OAuthError::invalid_request("the subject token's grant has ended")
                }
                other => CoreError::from(other).into(),
            })?;
        tx.append_audit(&[event(
            ctx,
            now,
            d.actor,
            d.action,
            Some(s.user.to_string()),
            AuditOutcome::Success,
            json!({ "client_id": client.client_id, "org": s.org.0, "audience": d.audience,
                    "scopes": scopes, "session": session.id.0,
                    "parent_session": s.session.as_ref().map(|p| p.0.clone()),
                    "upstream_issuer": s.upstream }),
        )])
        .await
        .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        Ok(session.id)
    }
}
