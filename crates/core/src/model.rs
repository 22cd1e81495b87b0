//! The identity model shared by both APIs: users, orgs (Parsable "teams"), memberships, regions,
//! workspaces, external identities, sessions, credentials and audit events.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub type Timestamp = DateTime<Utc>;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A user's uuid: the Parsable `User.id` and the locator of the Nominal user RID.
    UserId
);
id_type!(
    /// An org's uuid: the Parsable `teamId` and the locator of the Nominal org RID.
    OrgId
);

impl OrgId {
    /// No org: the org of a team-less Parsable session (PARSABLE.md §8, a team-select login of
    /// a user on no team). No org row has it; sessions store it as NULL, and every lookup by
    /// it finds nothing, so such a session can act in no org.
    pub const NONE: OrgId = OrgId(Uuid::nil());

    pub fn is_none(self) -> bool {
        self == OrgId::NONE
    }
}
id_type!(
    /// A workspace's uuid: the locator of its RID.
    WorkspaceId
);
id_type!(
    /// A long-lived credential (API key or persistent token).
    CredentialId
);

/// A session id: 128 random bits, base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl SessionId {
    pub fn generate() -> Self {
        Self(crate::crypto::random_token(16))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-cased, trimmed form of an email: the key for uniqueness and lookups.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A syntactic check that rejects what is clearly not an address; deliverability is not judged.
pub fn is_valid_email(email: &str) -> bool {
    let email = email.trim();
    if email.len() > 320 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !domain.contains('@')
                && domain.contains('.')
        }
        None => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    /// As given by the user or admin; matched case-insensitively.
    pub email: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// A PHC string; `None` means password login is disabled for this account.
    pub password_hash: Option<String>,
    pub validated_at: Option<Timestamp>,
    pub super_admin: bool,
    pub deactivated: bool,
    /// Set by an admin: the next password login must be followed by a change.
    pub password_reset_required: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub password_hash: Option<String>,
    pub validated_at: Option<Timestamp>,
    pub super_admin: bool,
}

/// Patch for a user; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub password_hash: Option<Option<String>>,
    pub validated_at: Option<Option<Timestamp>>,
    pub super_admin: Option<bool>,
    pub deactivated: Option<bool>,
    pub password_reset_required: Option<bool>,
}

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
    pub disabled: Option<bool>,
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
        match s.trim().to_ascii_lowercase().as_str() {
            "member" => Ok(MembershipKind::Member),
            "guest" => Ok(MembershipKind::Guest),
            other => Err(format!(
                "unknown membership kind {other:?} (expected member or guest)"
            )),
        }
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

/// One value of a Parsable-style settings map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
pub enum SettingValue {
    Bool(bool),
    Text(String),
    Option(String),
    StringList(Vec<String>),
    ReferenceList(Vec<SettingReference>),
}

/// Parsable `setting.Reference`: one object a reference-list setting selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingReference {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

pub type SettingsMap = BTreeMap<String, SettingValue>;

/// Parsable `job.PriorityLevel`: one entry of a team's job priority list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriorityLevel {
    /// A UUID.
    pub id: String,
    /// Lower = more urgent.
    pub priority: i32,
    pub title: String,
    /// Epoch seconds; 0 = not archived.
    #[serde(default)]
    pub archived_at: i64,
}

/// Whose settings a document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingsScope {
    Org(OrgId),
    User(UserId),
}

/// Settings documents are kept per scope and namespace: `parsable` holds a [`SettingsMap`],
/// `nominal` holds the Conjure `UserSettings`/`OrgSettings` object as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingsNamespace {
    Parsable,
    Nominal,
}

impl SettingsNamespace {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsNamespace::Parsable => "parsable",
            SettingsNamespace::Nominal => "nominal",
        }
    }
}

/// Merge org settings with a user's overrides (the user's value wins).
pub fn merge_settings(org: &SettingsMap, user: &SettingsMap) -> SettingsMap {
    let mut merged = org.clone();
    for (k, v) in user {
        merged.insert(k.clone(), v.clone());
    }
    merged
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
        match s.trim().to_ascii_lowercase().as_str() {
            "domain" => Ok(AllowlistKind::Domain),
            "address" => Ok(AllowlistKind::Address),
            other => Err(format!(
                "unknown allow-list kind {other:?} (expected domain or address)"
            )),
        }
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

/// Parsable `job_role.JobPermissions`, flattened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    pub fn all() -> Self {
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub org_id: OrgId,
    /// The human id, unique in its org: `[a-z0-9]+(-[a-z0-9]+)*`.
    pub slug: String,
    pub display_name: Option<String>,
    /// Conjure `WorkspaceSymbol` as JSON, kept verbatim.
    pub symbol: Option<serde_json::Value>,
    /// Conjure `WorkspaceSettings` as JSON, kept verbatim.
    pub settings: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub fn is_valid_workspace_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceAccess {
    /// Full member of the workspace.
    Full,
    /// A guest grant.
    Guest,
}

impl FromStr for WorkspaceAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" | "member" => Ok(WorkspaceAccess::Full),
            "guest" => Ok(WorkspaceAccess::Guest),
            other => Err(format!(
                "unknown workspace access {other:?} (expected full or guest)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceGrant {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub access: WorkspaceAccess,
}

/// Links an upstream identity (issuer, subject) to a user. Never by email alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
    pub user_id: UserId,
    pub provider_alias: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// An ordinary login.
    Login,
    /// A super-admin acting as another user.
    Proxy,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Login => "login",
            SessionKind::Proxy => "proxy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub kind: SessionKind,
    /// RFC 8176 method references, e.g. `pwd`, `fed`.
    pub amr: Vec<String>,
    /// The impersonating super-admin, for proxy sessions.
    pub actor_id: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub idle_timeout_secs: Option<i64>,
    pub last_seen_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A Nominal API key.
    ApiKey,
    /// A Parsable persistent token.
    Persistent,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "api_key",
            CredentialKind::Persistent => "persistent",
        }
    }
}

impl FromStr for CredentialKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api_key" => Ok(CredentialKind::ApiKey),
            "persistent" => Ok(CredentialKind::Persistent),
            other => Err(format!("unknown credential kind {other:?}")),
        }
    }
}

/// A long-lived credential. Only the SHA-256 of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    pub kind: CredentialKind,
    /// The user the credential acts as.
    pub user_id: UserId,
    pub org_id: OrgId,
    pub creator_id: UserId,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: [u8; 32],
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<UserId>,
}

impl Credential {
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    Failure,
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
        }
    }
}

impl FromStr for AuditOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(AuditOutcome::Success),
            "failure" => Ok(AuditOutcome::Failure),
            "denied" => Ok(AuditOutcome::Denied),
            other => Err(format!("unknown audit outcome {other:?}")),
        }
    }
}

/// One append-only audit record. `detail` never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub at: Timestamp,
    pub actor: Option<UserId>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: u32,
}

/// A signing or CA key, its private half sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    pub purpose: KeyPurpose,
    pub algorithm: String,
    /// Ciphertext of the private key (see `crypto::seal`).
    pub sealed_private: Vec<u8>,
    /// Public key (raw bytes for Ed25519) or certificate PEM for the CA.
    pub public: Vec<u8>,
    pub created_at: Timestamp,
    /// Set when a newer key took over signing; the public half stays published for verification.
    pub retired_at: Option<Timestamp>,
    /// Set by an emergency revocation: the key verifies nothing from then on.
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    TokenSigning,
    CertificateAuthority,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::TokenSigning => "token_signing",
            KeyPurpose::CertificateAuthority => "certificate_authority",
        }
    }
}

impl FromStr for KeyPurpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "token_signing" => Ok(KeyPurpose::TokenSigning),
            "certificate_authority" => Ok(KeyPurpose::CertificateAuthority),
            other => Err(format!("unknown key purpose {other:?}")),
        }
    }
}

/// Brute-force state for one login key (the normalised email, known or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: i32,
    pub next_attempt_at: Timestamp,
    pub locked_until: Option<Timestamp>,
}

/// A change that cached views of revocation state must pick up. Rows are hints: the entity
/// tables stay the truth, and a view reloads the named subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationEvent {
    Session(SessionId),
    Credential(CredentialId),
    /// The user's flags, memberships, sessions or credentials changed.
    User(UserId),
    /// The org was disabled or enabled.
    Org(OrgId),
    /// A signing key was revoked (its kid).
    Key(String),
}

/// Which page of a listing to return: rows strictly after the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}
