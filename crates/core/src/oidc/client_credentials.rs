//! The client credentials grant (RFC 6749 §4.4): a confidential client bound to an org gets an
//! access token as its service account, a non-person identity with roles in that org
//! (docs/design/oidc-provider.md, "Client credentials").
//!
//! The token is the provider's usual EdDSA access token (`aud` = `client_id` = the client),
//! with `sub` = the service account, `org` = the client's org and `scope`; there is no ID token
//! (no end user) and no refresh token (the client can always ask again). Nothing is written on
//! this path but the audit queue, once the account exists.
//!
//! Revocation rides the revocation view like a user's: the account's id is a subject there.
//! A disabled or deleted client reads as a deactivated subject, a disabled org refuses every
//! token for it, and the account's cut-off (set when the client is disabled or a token is
//! revoked) keeps older tokens dead afterwards.

use chrono::{Duration, Utc};
use dashmap::DashMap;
use serde_json::{Value, json};

use super::error::OAuthError;
use super::grants::TokenSet;
use super::provider::Provider;
use crate::audit::{AuditAction, AuditContext};
use crate::error::CoreError;
use crate::model::*;
use crate::tokens::{Principal, Via};

/// Scopes that only mean something for an end user: `openid` (an ID token) and
/// `offline_access` (a refresh token). Asked for in this grant, they are left out of the
/// granted scope (RFC 6749 §3.3 lets the server grant less), not refused: libraries that
/// always send `openid` still work, and the answer's `scope` says what was granted.
const USER_ONLY_SCOPES: [&str; 2] = ["openid", "offline_access"];

/// Accounts kept per node: at most this many, then the map starts over.
const MAX_CACHED_ACCOUNTS: usize = 10_000;

/// The live account of each client this node issued tokens for, so a token costs no account
/// read. Keyed by the client's id *and creation time*: a client deleted and made again under the
/// same id is another client with another account. What a cached account is used for never goes
/// stale otherwise: its id and org never change, its roles are not in its tokens, and whether it
/// may act is the revocation view's decision on every request.
#[derive(Debug, Default)]
pub(super) struct AccountCache(DashMap<(String, Timestamp), ServiceAccount>);

/// A service account has no session: its tokens carry its own id as `sid`, which is how
/// introspection and revocation tell them from a user's (a session id is never a uuid).
pub(super) fn is_service_account_token(sub: &str, sid: &str) -> bool {
    !sid.is_empty() && sub == sid
}

/// The scopes granted for `asked` (space-separated; absent or empty: every scope the client
/// may have). A scope the client may not have is `invalid_scope`.
pub(super) fn granted_scopes(
    client: &OAuthClient,
    asked: Option<&str>,
) -> Result<Vec<String>, OAuthError> {
    let grantable = |s: &str| !USER_ONLY_SCOPES.contains(&s);
    let Some(asked) = asked.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(client
            .scopes
            .iter()
            .filter(|s| grantable(s))
            .cloned()
            .collect());
    };
    let mut granted: Vec<String> = Vec::new();
    for s in asked.split(' ').filter(|s| !s.is_empty()) {
        if !client.scopes.contains(s) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {s:?} is not allowed for this client"
            )));
        }
        if grantable(s) && !granted.iter().any(|g| g == s) {
            granted.push(s.to_owned());
        }
    }
    Ok(granted)
}

/// The account as the revocation view judges a token issued at `issued_at`.
fn principal_of(account: &ServiceAccount, issued_at: Timestamp) -> Principal {
    Principal {
        user: account.id,
        org: account.org_id,
        guest: false,
        via: Via::Session {
            session: SessionId(account.id.to_string()),
            org_scoped: false,
        },
        actor: None,
        amr: Vec::new(),
        expires_at: None,
        issued_at: Some(issued_at),
    }
}

impl Provider {
    /// `client_credentials`: an access token for the client's service account.
    pub async fn client_credentials(
        &self,
        client: &OAuthClient,
        scope: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<TokenSet, OAuthError> {
        if !client.grant_types.contains(&GrantType::ClientCredentials)
            || client.kind != ClientKind::Confidential
        {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the client credentials grant",
            ));
        }
        let Some(org) = client.org_id else {
            return Err(OAuthError::unauthorized_client(
                "the client belongs to no org, so it has no service account",
            ));
        };
        let scopes = granted_scopes(client, scope)?;
        let account = self.service_account(client, org).await?;
        let now = Utc::now();
        let refusal = if account.org_id != org {
            Some("the client's service account belongs to another org")
        } else if self
            .engine
            .revocations()
            .refuses(&principal_of(&account, now))
        {
            Some("the client's org is disabled or its service account is stopped")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.audit_service_account(
                ctx,
                client,
                &account,
                AuditOutcome::Denied,
                || json!({ "grant": "client_credentials", "reason": reason }),
            )
            .await;
            return Err(OAuthError::unauthorized_client(reason));
        }
        let tokens = self.engine.access_tokens();
        let expires_in = client.access_token_secs;
        let mut claims = tokens.claims(
            account.id,
            org,
            &account.id.to_string(),
            now,
            now + Duration::seconds(expires_in),
            Vec::new(),
            false,
        );
        let scope = scopes.join(" ");
        claims.aud = client.client_id.clone();
        claims.client_id = Some(client.client_id.clone());
        claims.scope = Some(scope.clone());
        let access_token = tokens.sign(&claims).map_err(OAuthError::from)?;
        self.audit_service_account(ctx, client, &account, AuditOutcome::Success, || {
            json!({ "grant": "client_credentials", "service_account": account.id,
                    "org": org, "scopes": scopes })
        })
        .await;
        Ok(TokenSet {
            access_token,
            expires_in,
            refresh_token: None,
            id_token: None,
            scope,
        })
    }

    /// The client's live service account (cached), made on first use when the client was
    /// registered before it had one (two nodes racing end with the same one).
    async fn service_account(
        &self,
        client: &OAuthClient,
        org: OrgId,
    ) -> Result<ServiceAccount, OAuthError> {
        let key = (client.client_id.clone(), client.created_at);
        if let Some(a) = self.service_accounts.0.get(&key) {
            return Ok(a.clone());
        }
        let store = self.engine.store();
        let account = match store
            .get_service_account(&client.client_id)
            .await
            .map_err(CoreError::from)?
        {
            Some(a) => a,
            None => {
                let fresh = ServiceAccount::new(&client.client_id, org, Utc::now());
                store
                    .ensure_service_account(fresh)
                    .await
                    .map_err(CoreError::from)?
            }
        };
        if self.service_accounts.0.len() >= MAX_CACHED_ACCOUNTS {
            self.service_accounts.0.clear();
        }
        self.service_accounts.0.insert(key, account.clone());
        Ok(account)
    }

    async fn audit_service_account(
        &self,
        ctx: &AuditContext,
        client: &OAuthClient,
        account: &ServiceAccount,
        outcome: AuditOutcome,
        detail: impl FnOnce() -> Value,
    ) {
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                Some(account.id),
                AuditAction::OidcToken,
                Some(client.client_id.clone()),
                outcome,
                detail(),
            )
            .await;
    }

    /// Adds what a resource server needs of a service account to an active introspection
    /// answer for one of its tokens: that it is one, and its roles now (so a role change
    /// counts at once). Other answers pass unchanged.
    pub(super) async fn describe_service_account(
        &self,
        mut answer: Value,
    ) -> Result<Value, OAuthError> {
        let (Some(sub), Some(sid)) = (answer["sub"].as_str(), answer["sid"].as_str()) else {
            return Ok(answer);
        };
        if answer["active"] != json!(true) || !is_service_account_token(sub, sid) {
            return Ok(answer);
        }
        let Ok(id) = sub.parse::<UserId>() else {
            return Ok(answer);
        };
        let Some(account) = self
            .engine
            .store()
            .get_service_account_by_id(id)
            .await
            .map_err(CoreError::from)?
        else {
            return Ok(answer);
        };
        if let Value::Object(fields) = &mut answer {
            // The account has no session; `sid` would only repeat `sub`.
            fields.remove("sid");
            fields.insert("service_account".into(), json!(true));
            fields.insert(
                "roles".into(),
                json!(account.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
            );
        }
        Ok(answer)
    }

    /// RFC 7009 for a service account's token: its tokens cannot be told apart from each
    /// other once issued, so every token the account holds so far ends (its cut-off moves to
    /// now), on every node through the revocation feed. The client can ask for a new one.
    pub(super) async fn revoke_service_account_tokens(
        &self,
        caller: &OAuthClient,
        subject: UserId,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let store = self.engine.store();
        let Some(account) = store
            .get_service_account_by_id(subject)
            .await
            .map_err(CoreError::from)?
            .filter(|a| a.client_id == caller.client_id && a.retired_at.is_none())
        else {
            return Ok(());
        };
        let now = Utc::now();
        store
            .announce_service_account(&account.client_id, Some(now))
            .await
            .map_err(CoreError::from)?;
        self.refresh_view(account.id).await;
        self.engine
            .audit()
            .log(
                ctx,
                now,
                Some(account.id),
                AuditAction::OidcRevoke,
                Some(caller.client_id.clone()),
                AuditOutcome::Success,
                json!({ "service_account": account.id, "tokens_not_before": now }),
            )
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn client(scopes: &[&str]) -> OAuthClient {
        let spec = crate::oidc_clients::ClientSpec {
            client_id: Some("svc".into()),
            name: "svc".into(),
            kind: ClientKind::Confidential,
            token_endpoint_auth: None,
            jwks: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: Some(BTreeSet::from([GrantType::ClientCredentials])),
            scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
            org_id: Some(OrgId::new()),
            first_party: false,
            id_token_alg: None,
            access_token_secs: None,
            refresh_token_secs: None,
            allow_offline: false,
            introspect_any: false,
            backchannel_logout_uri: None,
            token_exchange_audiences: Vec::new(),
        };
        spec.validate(&Default::default(), Utc::now())
            .expect("a valid client-credentials client")
    }

    #[test]
    fn no_scope_asked_grants_every_scope_but_the_user_only_ones() {
        let c = client(&["openid", "profile", "orgs"]);
        assert_eq!(granted_scopes(&c, None).unwrap(), ["orgs", "profile"]);
        assert_eq!(granted_scopes(&c, Some("  ")).unwrap(), ["orgs", "profile"]);
    }

    #[test]
    fn a_narrower_request_is_honoured_and_openid_is_left_out() {
        let c = client(&["openid", "profile", "orgs"]);
        assert_eq!(
            granted_scopes(&c, Some("openid orgs orgs")).unwrap(),
            ["orgs"]
        );
        assert!(granted_scopes(&c, Some("openid")).unwrap().is_empty());
    }

    #[test]
    fn a_wider_request_is_invalid_scope() {
        let c = client(&["openid", "profile"]);
        let e = granted_scopes(&c, Some("profile email")).unwrap_err();
        assert_eq!(e.code, "invalid_scope");
        let e = granted_scopes(&c, Some("admin")).unwrap_err();
        assert_eq!(e.code, "invalid_scope");
    }

    #[test]
    fn the_registry_gives_the_grant_to_confidential_org_clients_only() {
        let ok = client(&["openid", "orgs"]);
        assert!(ok.redirect_uris.is_empty(), "no redirect URI is needed");
        let mut spec = crate::oidc_clients::ClientSpec::from(&ok);
        spec.org_id = None;
        let e = spec.validate(&Default::default(), Utc::now()).unwrap_err();
        assert!(e.to_string().contains("needs orgId"), "{e}");
        let mut spec = crate::oidc_clients::ClientSpec::from(&ok);
        spec.kind = ClientKind::Public;
        spec.token_endpoint_auth = Some(TokenEndpointAuth::None);
        let e = spec.validate(&Default::default(), Utc::now()).unwrap_err();
        assert!(e.to_string().contains("confidential clients only"), "{e}");
    }

    #[test]
    fn a_declared_client_credentials_client_must_name_its_org() {
        let declared = |org: Option<&str>| {
            let mut v = serde_json::json!({
                "client_id": "nightly", "name": "Nightly", "kind": "confidential",
                "secret_file": "/run/secrets/nightly", "grant_types": ["client_credentials"],
            });
            if let Some(org) = org {
                v["org"] = serde_json::json!(org);
            }
            serde_json::from_value::<crate::oidc_clients::DeclaredClient>(v).unwrap()
        };
        let cfg = Default::default();
        assert!(declared(Some("acme")).validate(&cfg).is_ok());
        let e = declared(None).validate(&cfg).unwrap_err();
        assert!(e.to_string().contains("needs orgId"), "{e}");
    }

    #[test]
    fn only_a_token_whose_sid_is_its_sub_is_a_service_account_token() {
        let id = UserId::new().to_string();
        assert!(is_service_account_token(&id, &id));
        assert!(!is_service_account_token(&id, "a-session-id"));
        assert!(!is_service_account_token("", ""));
    }
}
