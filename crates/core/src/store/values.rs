//! The store port's error and the values its methods take and return.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message names it (e.g. "email already in use").
    #[error("conflict: {0}")]
    Conflict(String),
    /// A referenced row does not exist; the message names which (e.g. "unknown user").
    #[error("not found: {0}")]
    NotFound(String),
    /// A resource is already registered to another workspace.
    #[error("resource {resource} is registered to another workspace")]
    ResourceConflict {
        resource: String,
        existing: WorkspaceId,
    },
    /// The database could not be reached or answered with an error.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded (a bug or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The Nominal user-search query union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserQuery {
    And(Vec<UserQuery>),
    Or(Vec<UserQuery>),
    /// Case-insensitive email equality.
    ExactEmail(String),
    /// Case-insensitive substring of email or display name.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortField {
    Name,
    Email,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSort {
    pub field: UserSortField,
    pub descending: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialFilter {
    pub user_id: Option<UserId>,
    pub org_id: Option<OrgId>,
    pub kind: Option<CredentialKind>,
    pub include_revoked: bool,
    /// With `Some(now)`, credentials expired at `now` are left out.
    pub exclude_expired_at: Option<Timestamp>,
}

/// The outcome of trying to start a password check for a login key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleClaim {
    /// The caller may verify; `failures` consecutive failures precede it.
    Granted { failures: i32 },
    /// Another attempt is in flight or the delay after a failure has not passed.
    Wait { until: Timestamp },
    /// Locked after too many failures.
    Locked { until: Option<Timestamp> },
}

/// Everything a revocation view needs to know about one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRevocationState {
    pub exists: bool,
    pub deactivated: bool,
    /// Orgs where the membership is deactivated or removed.
    pub deactivated_orgs: BTreeSet<OrgId>,
    /// Per org: tokens issued before this instant are refused (set on removal and deactivation,
    /// kept when the membership comes back).
    pub org_cutoffs: BTreeMap<OrgId, Timestamp>,
    /// Revoked sessions that have not yet expired, with their expiry.
    pub revoked_sessions: Vec<(SessionId, Timestamp)>,
    /// Revoked credentials (unexpired or without expiry).
    pub revoked_credentials: Vec<CredentialId>,
}

/// A whole-store snapshot of revocation state, loaded at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSnapshot {
    /// The newest event sequence number included.
    pub seq: i64,
    pub deactivated_users: Vec<UserId>,
    /// Memberships deactivated or removed.
    pub deactivated_memberships: Vec<(UserId, OrgId)>,
    /// Memberships whose tokens issued before the instant are refused.
    pub membership_cutoffs: Vec<(UserId, OrgId, Timestamp)>,
    pub disabled_orgs: Vec<OrgId>,
    /// Orgs whose tokens issued before the instant are refused.
    pub org_cutoffs: Vec<(OrgId, Timestamp)>,
    pub revoked_sessions: Vec<(SessionId, Timestamp)>,
    pub revoked_credentials: Vec<CredentialId>,
    /// Kids of revoked signing keys.
    pub revoked_keys: Vec<String>,
}

/// What a revocation view needs to know about one org.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgRevocationState {
    pub disabled: bool,
    /// Tokens for the org issued before this instant are refused (set when it is disabled).
    pub tokens_not_before: Option<Timestamp>,
}

/// What a deactivation or removal revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deactivation {
    pub sessions_revoked: u64,
    pub credentials_revoked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePatch {
    pub display_name: Option<Option<String>>,
    pub symbol: Option<Option<serde_json::Value>>,
    pub settings: Option<serde_json::Value>,
}

/// Metadata of a persistent token with the people involved, for Parsable's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialWithPeople {
    pub credential: Credential,
    pub user: Option<User>,
    pub creator: Option<User>,
    pub revoker: Option<User>,
}

/// What a preregistration asks for: the membership of new accounts and the invitation of
/// existing ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreregisterTerms {
    pub roles: BTreeSet<Role>,
    pub kind: MembershipKind,
    pub invited_by: Option<UserId>,
    /// When an invitation lapses unaccepted.
    pub expires_at: Timestamp,
}

/// The outcome of preregistering one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preregistered {
    /// A new account, now a member.
    Created(User),
    /// An existing account outside the org, now invited.
    Invited(Invitation),
    /// An account already in the org (or an email repeated in the batch): nothing changed.
    AlreadyInOrg,
}

/// How one back-channel logout delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    Delivered,
    Failed {
        error: String,
        /// When to try again; `None` gives up.
        retry_at: Option<Timestamp>,
    },
}
