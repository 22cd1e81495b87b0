//! Regions, orgs, roles and their job permissions, memberships, invitations and the email
//! allow-list.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub id: String,
    pub api_host: String,
    pub sig_host: String,
    pub static_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: OrgId,
    /// Unique, stable name (Nominal `orgs` map value).
    pub name: String,
    pub display_name: Option<String>,
    pub region_id: String,
    pub disabled: bool,
    pub default_workspace: Option<WorkspaceId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrg {
    pub name: String,
    pub display_name: Option<String>,
    pub region_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgUpdate {
    pub display_name: Option<Option<String>>,
    pub region_id: Option<String>,
    pub default_workspace: Option<Option<WorkspaceId>>,
}

/// Parsable `user.TeamRole`; a Nominal org admin is a member holding `Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin = 1,
    Author = 2,
    Jobcreator = 3,
    Executor = 4,
    ParsableAdmin = 5,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Author,
        Role::Jobcreator,
        Role::Executor,
        Role::ParsableAdmin,
    ];

    pub fn number(self) -> i32 {
        self as i32
    }

    pub fn from_number(n: i32) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.number() == n)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Author => "AUTHOR",
            Role::Jobcreator => "JOBCREATOR",
            Role::Executor => "EXECUTOR",
            Role::ParsableAdmin => "PARSABLE_ADMIN",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.trim().to_ascii_uppercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == up)
            .ok_or_else(|| format!("unknown role {s:?} (expected one of ADMIN, AUTHOR, JOBCREATOR, EXECUTOR, PARSABLE_ADMIN)"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MembershipKind {
    Member,
    Guest,
}

impl MembershipKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipKind::Member => "member",
            MembershipKind::Guest => "guest",
        }
    }
}

impl FromStr for MembershipKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_either(
            s,
            "membership kind",
            ("member", MembershipKind::Member),
            ("guest", MembershipKind::Guest),
        )
    }
}

/// Parses one of two lower-case names, ignoring case and surrounding space; the error names
/// `what` and both choices (the CLI shows it as is).
fn parse_either<T>(s: &str, what: &str, a: (&str, T), b: (&str, T)) -> Result<T, String> {
    match s.trim().to_ascii_lowercase() {
        name if name == a.0 => Ok(a.1),
        name if name == b.0 => Ok(b.1),
        other => Err(format!(
            "unknown {what} {other:?} (expected {} or {})",
            a.0, b.0
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub roles: BTreeSet<Role>,
    pub kind: MembershipKind,
    /// Per-org deactivation (Nominal `deactivateUser`).
    pub deactivated: bool,
    pub last_login_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when the user left the org; the row is kept for history.
    pub removed_at: Option<Timestamp>,
}

impl Membership {
    /// Active: present and not deactivated in this org.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none() && !self.deactivated
    }

    pub fn is_admin(&self) -> bool {
        self.is_active() && self.roles.contains(&Role::Admin)
    }
}

/// An existing account's pending invitation to an org (preregistration): it becomes a
/// membership with these roles and kind at the account's next sign-in, unless expired or
/// revoked first. One per (org, user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub roles: BTreeSet<Role>,
    pub kind: MembershipKind,
    pub invited_by: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl Invitation {
    /// Not yet accepted or revoked, and not expired at `now`.
    pub fn is_pending(&self, now: Timestamp) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Parsable `job_role.JobPermissions`, flattened.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct JobPermissions {
    pub edit_title: bool,
    pub edit_metadata: bool,
    pub complete: bool,
    pub uncomplete: bool,
    pub add_and_duplicate_steps: bool,
    pub add_and_duplicate_step_groups: bool,
    pub mark_steps_na: bool,
    pub send_field_input: bool,
    pub complete_steps: bool,
    pub invite_users: bool,
    pub remove_users: bool,
    pub add_templates: bool,
    pub add_sets: bool,
    pub add_documents: bool,
    pub remove_documents: bool,
    pub issue_create: bool,
    pub issue_resolve: bool,
    pub issue_invite_users: bool,
    pub issue_remove_users: bool,
}

impl JobPermissions {
    /// Every flag: the job and step flags plus the rest.
    pub fn all() -> Self {
        JobPermissions {
            invite_users: true,
            remove_users: true,
            add_templates: true,
            add_sets: true,
            add_documents: true,
            remove_documents: true,
            issue_create: true,
            issue_resolve: true,
            issue_invite_users: true,
            issue_remove_users: true,
            ..JobPermissions::job_and_steps()
        }
    }

    /// The four job flags and the step flags only.
    pub fn job_and_steps() -> Self {
        JobPermissions {
            edit_title: true,
            edit_metadata: true,
            complete: true,
            uncomplete: true,
            add_and_duplicate_steps: true,
            add_and_duplicate_step_groups: true,
            mark_steps_na: true,
            send_field_input: true,
            complete_steps: true,
            ..JobPermissions::default()
        }
    }

    pub fn union(self, o: Self) -> Self {
        JobPermissions {
            edit_title: self.edit_title || o.edit_title,
            edit_metadata: self.edit_metadata || o.edit_metadata,
            complete: self.complete || o.complete,
            uncomplete: self.uncomplete || o.uncomplete,
            add_and_duplicate_steps: self.add_and_duplicate_steps || o.add_and_duplicate_steps,
            add_and_duplicate_step_groups: self.add_and_duplicate_step_groups
                || o.add_and_duplicate_step_groups,
            mark_steps_na: self.mark_steps_na || o.mark_steps_na,
            send_field_input: self.send_field_input || o.send_field_input,
            complete_steps: self.complete_steps || o.complete_steps,
            invite_users: self.invite_users || o.invite_users,
            remove_users: self.remove_users || o.remove_users,
            add_templates: self.add_templates || o.add_templates,
            add_sets: self.add_sets || o.add_sets,
            add_documents: self.add_documents || o.add_documents,
            remove_documents: self.remove_documents || o.remove_documents,
            issue_create: self.issue_create || o.issue_create,
            issue_resolve: self.issue_resolve || o.issue_resolve,
            issue_invite_users: self.issue_invite_users || o.issue_invite_users,
            issue_remove_users: self.issue_remove_users || o.issue_remove_users,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowlistKind {
    Domain,
    Address,
}

impl FromStr for AllowlistKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_either(
            s,
            "allow-list kind",
            ("domain", AllowlistKind::Domain),
            ("address", AllowlistKind::Address),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistEntry {
    /// `None`: the whole deployment.
    pub org_id: Option<OrgId>,
    pub kind: AllowlistKind,
    /// Normalised (lower case, trimmed).
    pub value: String,
    pub created_at: Timestamp,
}
