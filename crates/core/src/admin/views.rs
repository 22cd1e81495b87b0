//! What the admin service returns and takes: operator views of users, orgs and members, and
//! the specs of creations and updates.

use super::*;

/// A user as shown to operators: everything but the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub has_password: bool,
    pub validated_at: Option<Timestamp>,
    pub super_admin: bool,
    pub deactivated: bool,
    pub password_reset_required: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            avatar_url: u.avatar_url.clone(),
            has_password: u.password_hash.is_some(),
            validated_at: u.validated_at,
            super_admin: u.super_admin,
            deactivated: u.deactivated,
            password_reset_required: u.password_reset_required,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The result of a forced password reset. `code` is shown once and never stored.
pub struct PasswordReset {
    pub user: User,
    pub code: Zeroizing<String>,
    pub expires_at: Timestamp,
    pub sessions_revoked: u64,
    pub credentials_revoked: u64,
}

impl std::fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset")
            .field("user", &self.user.id)
            .field("code", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A membership with the org's name and the user's email, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub email: String,
    pub org_name: String,
    #[serde(flatten)]
    pub membership: Membership,
}

/// One user with everything attached to them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserDetail {
    pub user: UserView,
    pub memberships: Vec<MemberView>,
    pub workspace_grants: Vec<WorkspaceGrant>,
    pub identities: Vec<ExternalIdentity>,
    /// Consecutive failed password attempts and any lock.
    pub failed_logins: i32,
    pub locked_until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgDetail {
    pub org: Org,
    pub members: Vec<MemberView>,
    pub workspaces: Vec<Workspace>,
}

#[derive(Debug, Clone, Default)]
pub struct NewUserSpec {
    pub email: String,
    /// Defaults to the email's local part.
    pub display_name: Option<String>,
    pub super_admin: bool,
    /// Marks the email as verified now.
    pub validated: bool,
    /// An initial password; checked against the policy and hashed, never stored or logged.
    pub password: Option<Zeroizing<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatchSpec {
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub avatar_url: Option<Option<String>>,
    pub super_admin: Option<bool>,
    pub validated: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct OrgPatchSpec {
    pub display_name: Option<Option<String>>,
    pub region: Option<String>,
    /// A workspace reference (uuid or `ORG/SLUG`); `Some(None)` clears it.
    pub default_workspace: Option<Option<String>>,
}

/// The result of a first-start bootstrap.
#[derive(Debug)]
pub struct Bootstrapped {
    pub org: Org,
    pub user: User,
    /// Set when no password was given: show it to the operator once, then forget it.
    pub generated_password: Option<Zeroizing<String>>,
}

/// The outcome of a deactivation, as reported to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeactivationReport {
    pub user_id: UserId,
    pub sessions_revoked: u64,
    pub credentials_revoked: u64,
}
