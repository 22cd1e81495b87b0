//! The consents a user gave OpenID clients, as the account surface lists and revokes them. (Not
//! in `oidc`: this names the engine, which `oidc`'s settings may not lead back to.)

use std::collections::BTreeSet;

use serde::Serialize;

use crate::audit::AuditContext;
use crate::engine::{Engine, require_own_session};
use crate::error::{CoreError, CoreResult};
use crate::model::Timestamp;
use crate::tokens::Principal;
use crate::use_cases;

/// One remembered consent, with the client's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    pub client_id: String,
    pub client_name: String,
    pub scopes: BTreeSet<String>,
    pub granted_at: Timestamp,
}

/// Consents are the user's to see: not a machine's credential's.
fn require_user(p: &Principal) -> CoreResult<()> {
    if p.is_credential_based() {
        return Err(CoreError::CredentialNotAllowed("manage consents"));
    }
    Ok(())
}

impl Engine {
    /// The caller's remembered consents, by client id.
    pub async fn list_my_consents(&self, p: &Principal) -> CoreResult<Vec<ConsentView>> {
        require_user(p)?;
        let consents = self.store().list_user_consents(p.user).await?;
        let mut views = Vec::with_capacity(consents.len());
        for c in consents {
            let client_name = self
                .store()
                .get_oauth_client(&c.client_id)
                .await?
                .map_or_else(|| c.client_id.clone(), |client| client.name);
            views.push(ConsentView {
                client_id: c.client_id,
                client_name,
                scopes: c.scopes,
                granted_at: c.granted_at,
            });
        }
        views.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(views)
    }

    /// Revokes the caller's consent to `client_id`, ending the client's sessions for them
    /// ([`use_cases::revoke_consent`]). Returns how many sessions ended.
    pub async fn revoke_my_consent(
        &self,
        p: &Principal,
        client_id: &str,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        require_own_session(p, "manage consents")?;
        use_cases::revoke_consent(&self.use_case(Some(p.user), ctx), p.user, client_id).await
    }
}
