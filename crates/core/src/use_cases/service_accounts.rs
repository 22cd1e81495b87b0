//! The roles of a client-credentials client's service account (docs/design/oidc-provider.md,
//! "Client credentials"), set by the operator or by an admin of the client's org: managed like
//! the client itself, through its [`ClientScope`], so another org's client is unknown.

use std::collections::BTreeSet;

use super::*;
use crate::error::CoreError;
use crate::model::{GrantType, Role, ServiceAccount};

/// Replaces the roles of the client's service account (made now if the client has none yet).
/// Roles are not in the account's tokens: introspection reads them, so a change counts at once
/// and nothing needs revoking.
pub async fn set_service_account_roles(
    uc: &UseCaseCtx<'_>,
    scope: ClientScope,
    client_id: &str,
    roles: BTreeSet<Role>,
) -> CoreResult<ServiceAccount> {
    let c = find_oauth_client(uc.store, scope, client_id).await?;
    let org = match c.org_id {
        Some(org) if c.grant_types.contains(&GrantType::ClientCredentials) => org,
        _ => {
            return Err(CoreError::InvalidArgument(format!(
                "client {client_id:?} has no client_credentials grant, so no service account \
                 to give roles to"
            )));
        }
    };
    let before = uc.store.get_service_account(client_id).await?;
    let now = Utc::now();
    let store = uc.store;
    let change = async move {
        store
            .ensure_service_account(ServiceAccount::new(client_id, org, now))
            .await?;
        store.set_service_account_roles(client_id, roles, now).await
    };
    uc.audited(
        AuditAction::ClientRoles,
        Some(client_id.to_owned()),
        json!({ "before": before.map(|a| a.roles) }),
        change,
        |a: &ServiceAccount| json!({ "roles": a.roles, "service_account": a.id, "org": a.org_id }),
    )
    .await
}
