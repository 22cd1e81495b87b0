//! Service accounts: the non-person identity a confidential client with the
//! `client_credentials` grant acts as in its org (docs/design/oidc-provider.md, "Client
//! credentials").

use super::*;

/// A client's service account: its tokens' subject, its org and its roles there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// The tokens' `sub`. A random uuid in the users' id space: the revocation view keys every
    /// subject (user or service account) by it, so the same checks (deactivated, cut-off,
    /// org disabled) stop both.
    pub id: UserId,
    pub client_id: String,
    pub org_id: OrgId,
    pub roles: BTreeSet<Role>,
    /// Tokens issued before it are refused (set when the client is disabled or its tokens are
    /// revoked).
    pub tokens_not_before: Option<Timestamp>,
    /// Set when its client is deleted: the account is never live again.
    pub retired_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ServiceAccount {
    /// A new account for `client_id` in `org`, without roles.
    pub fn new(client_id: &str, org: OrgId, now: Timestamp) -> ServiceAccount {
        ServiceAccount {
            id: UserId::new(),
            client_id: client_id.to_owned(),
            org_id: org,
            roles: BTreeSet::new(),
            tokens_not_before: None,
            retired_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}
