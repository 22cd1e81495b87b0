//! What a login returns, whole: the token, the user, the orgs (teams, on the Parsable wire) and
//! their settings, the periods, and the certificates.

use std::collections::BTreeMap;

use crate::model::*;

/// Seconds before expiry at which clients are told to warn (PARSABLE.md §7).
pub const WARNING_LEAD_SECS: i64 = 3 * 24 * 3600;

/// `AuthPeriods`: durations in seconds from the moment of issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthPeriods {
    pub warning: i64,
    pub lockout: i64,
    pub dump: i64,
    pub expiry: i64,
}

impl AuthPeriods {
    /// expiry = remaining lifetime; warning = max(0, expiry − 3 days); lockout = expiry;
    /// dump = 0. A token without expiry gets all zeros ("not used").
    pub fn for_expiry(expires_at: Option<Timestamp>, now: Timestamp) -> AuthPeriods {
        let Some(exp) = expires_at else {
            return AuthPeriods::default();
        };
        let expiry = (exp - now).num_seconds().max(0);
        AuthPeriods {
            warning: (expiry - WARNING_LEAD_SECS).max(0),
            lockout: expiry,
            dump: 0,
            expiry,
        }
    }
}

/// One team of a user, as a login result shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgView {
    pub org: Org,
    pub membership: Membership,
    /// Ascending.
    pub roles: Vec<Role>,
    pub region: Option<Region>,
    pub job_permissions: JobPermissions,
    /// Org settings merged with the user's overrides.
    pub settings: SettingsMap,
    /// The team's job priority list, when one is configured.
    pub priorities: Option<Vec<PriorityLevel>>,
}

/// Everything a `LoginResult` holds, computed for one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginData {
    pub token: String,
    pub session_id: String,
    /// The user the token acts as (the proxied user for proxy sessions).
    pub user: User,
    /// The super-admin behind a proxy session.
    pub proxy_admin_email: Option<String>,
    /// Sorted by team id.
    pub orgs: Vec<OrgView>,
    /// Every region referenced by `teams`.
    pub regions: BTreeMap<String, Region>,
    pub preferred_region_id: String,
    pub periods: AuthPeriods,
    pub expires_at: Option<Timestamp>,
    /// The CA certificate (PEM), whenever certificate signing is configured.
    pub ca_certificate: Option<String>,
    /// The user's certificate (PEM), signed from a login's CSR.
    pub user_certificate: Option<String>,
}

/// A team offered by a team-select login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgOption {
    pub name: String,
    pub org: OrgId,
}
