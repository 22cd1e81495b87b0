//! `[core.oidc]`: the OpenID provider's settings. Every field has a default, so a zero-config
//! server is a provider with no clients.

use serde::{Deserialize, Serialize};

use super::DeclaredClient;
use super::exchange_policy::TokenExchangeConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// How long a rotated client secret keeps working beside the new one.
    pub secret_rotation_grace_secs: i64,
    /// A new client's access-token lifetime unless it names one.
    pub access_token_secs: i64,
    /// The longest access-token lifetime a client may have (bounds key retirement).
    pub max_access_token_secs: i64,
    /// A new client's refresh-token lifetime unless it names one (online refresh tokens also end
    /// with the browser sign-in).
    pub refresh_token_secs: i64,
    /// Lifetime of an `offline_access` grant.
    pub offline_secs: i64,
    /// ID-token lifetime.
    pub id_token_secs: i64,
    /// Clients declared here (`[[core.oidc.clients]]`), reconciled into the store at start.
    pub clients: Vec<DeclaredClient>,
    /// RFC 8693 impersonation policies (`[[core.oidc.token_exchange.impersonation]]`).
    pub token_exchange: TokenExchangeConfig,
    /// `[core.oidc.registration]`: dynamic registration and metadata documents.
    pub registration: super::RegistrationConfig,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            secret_rotation_grace_secs: 24 * 3600,
            access_token_secs: 300,
            max_access_token_secs: 3600,
            refresh_token_secs: 8 * 3600,
            offline_secs: 30 * 24 * 3600,
            id_token_secs: 300,
            clients: Vec::new(),
            token_exchange: TokenExchangeConfig::default(),
            registration: Default::default(),
        }
    }
}

impl OidcConfig {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            (
                "secret_rotation_grace_secs",
                self.secret_rotation_grace_secs,
                0,
            ),
            ("access_token_secs", self.access_token_secs, 30),
            ("max_access_token_secs", self.max_access_token_secs, 30),
            ("refresh_token_secs", self.refresh_token_secs, 60),
            ("offline_secs", self.offline_secs, 60),
            ("id_token_secs", self.id_token_secs, 30),
        ];
        for (name, value, min) in positive {
            if value < min {
                return Err(format!("oidc.{name} must be at least {min}"));
            }
        }
        if self.access_token_secs > self.max_access_token_secs {
            return Err("oidc.access_token_secs exceeds oidc.max_access_token_secs".into());
        }
        self.token_exchange.validate()?;
        self.registration.validate()?;
        let mut ids = std::collections::BTreeSet::new();
        for c in &self.clients {
            if !ids.insert(c.client_id.as_str()) {
                return Err(format!(
                    "core.oidc.clients: client_id {:?} is declared twice",
                    c.client_id
                ));
            }
            c.validate(self).map_err(|e| match e {
                crate::error::CoreError::InvalidArgument(m) => m,
                other => other.to_string(),
            })?;
        }
        Ok(())
    }
}
