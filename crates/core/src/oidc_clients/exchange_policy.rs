//! `[core.oidc.token_exchange]`: which clients may impersonate (RFC 8693 token exchange
//! without an actor token) the users of which org. Kept in the configuration file, not the
//! store: it is a deployment decision of the operator, never something an org admin or an API
//! call can grant (docs/design/oidc-provider.md, "Token exchange").

use serde::{Deserialize, Serialize};

/// One `[[core.oidc.token_exchange.impersonation]]` table: `client_id` may exchange a token of
/// a member of `org` for a token that represents that member, with no `act` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpersonationPolicy {
    pub client_id: String,
    /// The org, by id or name; the subject token's org must be this one.
    pub org: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenExchangeConfig {
    pub impersonation: Vec<ImpersonationPolicy>,
}

impl TokenExchangeConfig {
    pub fn validate(&self) -> Result<(), String> {
        for p in &self.impersonation {
            super::check_client_id(&p.client_id)
                .map_err(|e| format!("core.oidc.token_exchange.impersonation: {e}"))?;
            if p.org.trim().is_empty() {
                return Err(format!(
                    "core.oidc.token_exchange.impersonation {:?}: org is required",
                    p.client_id
                ));
            }
        }
        Ok(())
    }

    /// Whether a policy names the client and the org (given by its id and its name).
    pub fn allows_impersonation(&self, client_id: &str, org_id: &str, org_name: &str) -> bool {
        self.impersonation
            .iter()
            .any(|p| p.client_id == client_id && (p.org == org_id || p.org == org_name))
    }
}
