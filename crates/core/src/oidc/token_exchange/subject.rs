//! The tokens a token exchange is made of (RFC 8693 §2.1): the subject token (a Portcullis
//! access token issued for the requesting client, or an ID token of a trusted upstream provider
//! whose identity is linked to a Portcullis user) and the actor token (an access token issued to
//! the requesting client itself). Each is checked like every other token of its kind: the
//! access-token validation (signature, `iss`, `exp`, revocation) or the federation's.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

use super::super::error::OAuthError;
use super::super::provider::Provider;
use crate::federated_accounts::LinkedAccount;
use crate::model::*;
use crate::tokens::{Actor, Claims, TokenAudience, TokenFailure};

/// `subject_token_type` / `actor_token_type` / `issued_token_type` of an access token.
pub const TOKEN_TYPE_ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
/// `subject_token_type` of an OpenID Connect ID token.
pub const TOKEN_TYPE_ID: &str = "urn:ietf:params:oauth:token-type:id_token";

/// The scopes an upstream ID token stands for: the claims it carries itself, no more.
const ID_TOKEN_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// An upstream ID token the federation verified (keys, `iss`, `aud`/`azp`, `exp`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamIdToken {
    pub issuer: String,
    pub subject: String,
    pub expires_at: Timestamp,
    /// RFC 8693 §4.4, when the token names who may act for its subject.
    pub may_act: Option<Value>,
    /// The token names an actor (`act`) of the upstream's own.
    pub has_act: bool,
}

/// Why an upstream ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamRefusal {
    /// No configured provider has the token's issuer.
    #[error("the ID token's issuer is not a trusted upstream provider")]
    Untrusted,
    #[error("the ID token expired")]
    Expired,
    /// Signature, audience or claims.
    #[error("the ID token is invalid: {0}")]
    Invalid(String),
    /// The provider's keys could not be fetched.
    #[error("the upstream provider is unavailable")]
    Unavailable,
}

/// The federation's verification of upstream ID tokens, as the provider needs it (the
/// federation crate implements it; the binary plugs it in with
/// [`Provider::trust_upstream_id_tokens`]).
#[async_trait]
pub trait UpstreamIdTokens: Send + Sync {
    async fn verify_for_exchange(&self, id_token: &str)
    -> Result<UpstreamIdToken, UpstreamRefusal>;
}

/// A validated subject token: whom the new token is for, and its limits.
#[derive(Debug, Clone)]
pub(super) struct Subject {
    pub user: UserId,
    pub org: OrgId,
    pub guest: bool,
    /// The subject token's session: the new token's session is its child, so it ends with it.
    pub session: Option<SessionId>,
    pub scopes: Vec<String>,
    pub amr: Vec<String>,
    pub expires_at: Timestamp,
    pub act: Option<Actor>,
    pub may_act: Option<Value>,
    /// The upstream issuer, for an ID token.
    pub upstream: Option<String>,
}

/// A validated actor token: the client's own identity.
#[derive(Debug, Clone)]
pub(super) struct ActorToken {
    pub sub: uuid::Uuid,
    pub expires_at: Timestamp,
}

fn refusal(what: &str, f: TokenFailure) -> OAuthError {
    let why = match f {
        TokenFailure::Expired => "expired",
        TokenFailure::Revoked => "revoked",
        TokenFailure::Malformed => "malformed",
        TokenFailure::Invalid | TokenFailure::UnknownKey => "not a valid token of this server",
    };
    OAuthError::invalid_request(format!("{what} is {why}"))
}

fn timestamp(secs: i64) -> Result<Timestamp, OAuthError> {
    chrono::DateTime::<Utc>::from_timestamp(secs, 0)
        .ok_or_else(|| OAuthError::invalid_request("a token's exp is out of range"))
}

impl Provider {
    /// A Portcullis access token, checked like at every resource, that was issued for
    /// `client` (`aud` is the client: a token the client received, not one for another party).
    fn own_access_token(
        &self,
        what: &str,
        token: &str,
        client: &OAuthClient,
    ) -> Result<std::sync::Arc<Claims>, OAuthError> {
        let (claims, _) = self
            .engine
            .access_tokens()
            .validate_for(token, Utc::now(), TokenAudience::OidcClient)
            .map_err(|f| refusal(what, f))?;
        if claims.aud != client.client_id {
            return Err(OAuthError::invalid_request(format!(
                "{what} was not issued for this client"
            )));
        }
        Ok(claims)
    }

    pub(super) async fn subject(
        &self,
        client: &OAuthClient,
        token: &str,
        token_type: &str,
    ) -> Result<Subject, OAuthError> {
        match token_type {
            TOKEN_TYPE_ACCESS => {
                let c = self.own_access_token("subject_token", token, client)?;
                Ok(Subject {
                    user: UserId(c.sub),
                    org: OrgId(c.org),
                    guest: c.guest,
                    session: Some(SessionId(c.sid.clone())),
                    scopes: scopes_of(c.scope.as_deref()),
                    amr: c.amr.clone(),
                    expires_at: timestamp(c.exp)?,
                    act: c.act.clone(),
                    may_act: None,
                    upstream: None,
                })
            }
            TOKEN_TYPE_ID => self.upstream_subject(client, token).await,
            other => Err(OAuthError::invalid_request(format!(
                "subject_token_type {other:?} is not supported: use {TOKEN_TYPE_ACCESS} or \
                 {TOKEN_TYPE_ID}"
            ))),
        }
    }

    /// An upstream ID token: verified by the federation, mapped to the user its identity is
    /// already linked to (never provisioned or linked here), in the client's org or the user's
    /// only one.
    async fn upstream_subject(
        &self,
        client: &OAuthClient,
        token: &str,
    ) -> Result<Subject, OAuthError> {
        let Some(upstream) = self.upstream.get() else {
            return Err(OAuthError::invalid_request(
                "no upstream provider is trusted for token exchange",
            ));
        };
        let id = upstream
            .verify_for_exchange(token)
            .await
            .map_err(|e| match e {
                UpstreamRefusal::Unavailable => OAuthError::temporarily_unavailable(e.to_string()),
                other => OAuthError::invalid_request(format!("subject_token: {other}")),
            })?;
        if id.has_act {
            return Err(OAuthError::invalid_request(
                "subject_token: an upstream token that names an actor is not accepted",
            ));
        }
        let user = match self.engine.linked_account(&id.issuer, &id.subject).await? {
            LinkedAccount::Linked(u) if !u.deactivated => u,
            _ => {
                return Err(OAuthError::invalid_request(
                    "subject_token: no active Portcullis account is linked to this identity",
                ));
            }
        };
        let orgs = self.active_orgs(user.id).await?;
        let org = match client.org_id {
            Some(wanted) => orgs.into_iter().find(|o| o.id == wanted),
            None if orgs.len() == 1 => orgs.into_iter().next(),
            None => None,
        }
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "subject_token: the user has no single active org for this client",
            )
        })?;
        let guest = self
            .engine
            .store()
            .get_membership(user.id, org.id)
            .await
            .map_err(crate::error::CoreError::from)?
            .is_some_and(|m| m.kind == MembershipKind::Guest);
        Ok(Subject {
            user: user.id,
            org: org.id,
            guest,
            session: None,
            scopes: ID_TOKEN_SCOPES.map(String::from).to_vec(),
            amr: vec!["fed".into()],
            expires_at: id.expires_at,
            act: None,
            may_act: id.may_act,
            upstream: Some(id.issuer),
        })
    }

    /// The actor: an access token issued to the requesting client for itself (`client_id` and
    /// `aud` both the client), acting for no one else.
    pub(super) fn actor(
        &self,
        client: &OAuthClient,
        token: &str,
        token_type: Option<&str>,
    ) -> Result<ActorToken, OAuthError> {
        if token_type != Some(TOKEN_TYPE_ACCESS) {
            return Err(OAuthError::invalid_request(format!(
                "actor_token_type must be {TOKEN_TYPE_ACCESS}"
            )));
        }
        let c = self.own_access_token("actor_token", token, client)?;
        if c.client_id.as_deref() != Some(client.client_id.as_str()) {
            return Err(OAuthError::invalid_request(
                "actor_token must be a token issued to this client",
            ));
        }
        if c.act.is_some() {
            return Err(OAuthError::invalid_request(
                "actor_token must not itself act for someone",
            ));
        }
        Ok(ActorToken {
            sub: c.sub,
            expires_at: timestamp(c.exp)?,
        })
    }
}

/// The space-separated scopes of a token.
pub(super) fn scopes_of(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// RFC 8693 §4.4: a `may_act` claim names who may act for the subject; the party must match
/// every member it names. Only `sub` (a Portcullis user id) and `client_id` can be checked
/// here, so a claim naming anything else, or nothing, lets no one act. Impersonation has no
/// acting user, so it matches only a claim that names just the client.
pub(super) fn may_act_allows(may_act: &Value, actor_sub: Option<&str>, client_id: &str) -> bool {
    let Some(m) = may_act.as_object() else {
        return false;
    };
    if m.is_empty() || m.keys().any(|k| k != "sub" && k != "client_id") {
        return false;
    }
    let sub_ok = match m.get("sub") {
        None => true,
        Some(v) => v.as_str().is_some_and(|s| Some(s) == actor_sub),
    };
    let client_ok = match m.get("client_id") {
        None => true,
        Some(v) => v.as_str() == Some(client_id),
    };
    sub_ok && client_ok
}
