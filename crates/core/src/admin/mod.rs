//! Administration of the identity model: users, orgs, memberships, regions, workspaces and
//! grants, the email allow-list, the audit log, and the first-start bootstrap. Used by the
//! `portcullis admin` CLI (and later an HTTP admin surface).
//!
//! Inputs are validated before the store is touched, so bad input writes nothing. Every change
//! that reaches the store appends an [`AuditEvent`] (docs/design/audit.md) with its outcome;
//! audit details never hold a secret. Reads are not audited.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::audit::{AuditAction, AuditWriter};
use crate::config::CoreConfig;
use crate::error::CoreError;
use crate::model::*;
use crate::password::{HashError, HashParams, PasswordPolicy, PasswordRejection};
use crate::store::{Store, StoreError};
use crate::use_cases::{NO_REQUEST, UseCaseCtx};

mod allowlist;
mod bootstrap;
mod clients;
mod initial_tokens;
mod keys;
mod members;
mod mfa;
mod orgs;
mod users;
mod views;
mod workspaces;

#[cfg(test)]
mod tests;

pub use clients::*;
pub use initial_tokens::{InitialTokenView, IssuedInitialToken};
pub use mfa::MfaReset;
pub use views::*;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is malformed (a bad email, slug, role, …).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A referenced user, org, workspace, region or row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule would be broken (e.g. the email is taken).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("password rejected: {0}")]
    Password(#[from] PasswordRejection),
    #[error("password hashing failed: {0}")]
    Hash(#[from] HashError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(StoreError),
    /// A refusal from a shared use case with no operator meaning of its own (permission,
    /// state, limits); surfaces map it like any `CoreError`.
    #[error(transparent)]
    Core(CoreError),
}

impl From<CoreError> for AdminError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidArgument(m) => AdminError::Invalid(m),
            CoreError::NotFound(what) => AdminError::NotFound(format!("{what} not found")),
            CoreError::Conflict(m) => AdminError::Conflict(m),
            CoreError::Store(e) => AdminError::from(e),
            CoreError::Internal(m) => AdminError::Internal(m),
            e @ (CoreError::InvalidCredentials
            | CoreError::Unauthenticated
            | CoreError::InvalidToken(_)
            | CoreError::TokenExpired
            | CoreError::PermissionDenied(_)
            | CoreError::CredentialNotAllowed(_)
            | CoreError::OrgDisabled
            | CoreError::NoMembership
            | CoreError::LimitExceeded { .. }
            | CoreError::Mfa(_)
            | CoreError::RateLimited { .. }) => AdminError::Core(e),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AdminError::Conflict(m),
            StoreError::NotFound(m) => AdminError::NotFound(m),
            other => AdminError::Store(other),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// The admin service. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    store: Arc<dyn Store>,
    policy: PasswordPolicy,
    hash: HashParams,
    default_region: Region,
    reset_code_secs: i64,
    oidc: Arc<crate::oidc_clients::OidcConfig>,
    actor: Option<UserId>,
    via: String,
    /// The revocation view of the server this service runs in, if any: org changes made
    /// through it are then seen at once there (other processes learn of them from the feed).
    view: Option<Arc<crate::revocation::RevocationView>>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("store", &self.store.backend())
            .field("actor", &self.actor)
            .field("via", &self.via)
            .finish()
    }
}

fn now() -> Timestamp {
    Utc::now()
}

fn clean(s: &str) -> String {
    s.trim().to_owned()
}

fn check_name(what: &str, s: &str) -> AdminResult<()> {
    if s.is_empty() {
        return Err(AdminError::Invalid(format!("{what} must not be empty")));
    }
    if s.chars().count() > 200 || s.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "{what} must be at most 200 characters without control characters"
        )));
    }
    Ok(())
}

/// Parses a comma-separated role list such as `ADMIN,author`.
pub fn parse_roles(s: &str) -> AdminResult<BTreeSet<Role>> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| Role::from_str(r).map_err(AdminError::Invalid))
        .collect()
}

impl Admin {
    /// `via` names the channel in audit details (e.g. `cli`).
    pub fn new(store: Arc<dyn Store>, core: &CoreConfig, via: &str) -> Admin {
        Admin {
            store,
            policy: core.passwords.policy,
            hash: core.passwords.argon2,
            default_region: core.region.clone(),
            reset_code_secs: core.passwords.reset_code_secs,
            oidc: Arc::new(core.oidc.clone()),
            actor: None,
            via: via.to_owned(),
            view: None,
        }
    }

    /// Runs inside a server, whose revocation view and read caches then see this service's
    /// changes at once (other processes learn of them from the feed).
    pub fn with_view(mut self, view: Arc<crate::revocation::RevocationView>) -> Admin {
        self.view = Some(view);
        self
    }

    /// Marks the org's cached rows stale in the server this service runs in.
    pub(crate) fn org_changed(&self, org: OrgId) {
        if let Some(view) = &self.view {
            view.bump_org(org);
        }
    }

    /// Records `actor` as the operator in audit events.
    pub fn with_actor(mut self, actor: Option<UserId>) -> Admin {
        self.actor = actor;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    // ---- audit ------------------------------------------------------------------------------

    /// The use-case context of this service: its store, direct audit appends, the operator as
    /// actor and `via`. Without a revocation view, running servers learn of changes from the
    /// feed.
    pub(crate) fn use_case(&self) -> UseCaseCtx<'_> {
        UseCaseCtx {
            store: self.store.as_ref(),
            revocations: self.view.as_deref(),
            audit: AuditWriter::Direct(self.store.as_ref()),
            request: &NO_REQUEST,
            actor: self.actor,
            via: Some(&self.via),
        }
    }

    async fn audit(
        &self,
        action: AuditAction,
        target: Option<String>,
        outcome: AuditOutcome,
        detail: Value,
    ) -> AdminResult<()> {
        Ok(self
            .use_case()
            .audit(action, target, outcome, detail)
            .await?)
    }

    /// Runs a store change and audits it with its outcome.
    pub(crate) async fn audited<T, F>(
        &self,
        action: AuditAction,
        target: Option<String>,
        detail: Value,
        change: F,
    ) -> AdminResult<T>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        Ok(self
            .use_case()
            .audited(action, target, detail, change, |_| json!({}))
            .await?)
    }

    // ---- references -----------------------------------------------------------------------------

    /// A user by id or email (any letter case).
    pub async fn find_user(&self, reference: &str) -> AdminResult<User> {
        let r = reference.trim();
        let found = match UserId::from_str(r) {
            Ok(id) => self.store.get_user(id).await?,
            Err(_) => self.store.get_user_by_email(&normalize_email(r)).await?,
        };
        found.ok_or_else(|| AdminError::NotFound(format!("unknown user {r:?}")))
    }

    /// An org by id or name.
    pub async fn find_org(&self, reference: &str) -> AdminResult<Org> {
        let r = reference.trim();
        let found = match OrgId::from_str(r) {
            Ok(id) => self.store.get_org(id).await?,
            Err(_) => self.store.get_org_by_name(r).await?,
        };
        found.ok_or_else(|| AdminError::NotFound(format!("unknown org {r:?}")))
    }

    /// A workspace by id or `ORG/SLUG`.
    pub async fn find_workspace(&self, reference: &str) -> AdminResult<Workspace> {
        let r = reference.trim();
        if let Ok(id) = WorkspaceId::from_str(r) {
            return self
                .store
                .get_workspace(id)
                .await?
                .ok_or_else(|| AdminError::NotFound(format!("unknown workspace {r:?}")));
        }
        let Some((org, slug)) = r.rsplit_once('/') else {
            return Err(AdminError::Invalid(format!(
                "workspace {r:?}: expected a uuid or ORG/SLUG"
            )));
        };
        let org = self.find_org(org).await?;
        self.store
            .list_org_workspaces(org.id)
            .await?
            .into_iter()
            .find(|w| w.slug == slug)
            .ok_or_else(|| AdminError::NotFound(format!("unknown workspace {r:?}")))
    }

    async fn require_region(&self, id: &str) -> AdminResult<Region> {
        if let Some(r) = self.store.get_region(id).await? {
            return Ok(r);
        }
        // The configured region is created on demand, so a fresh store works without setup.
        if id == self.default_region.id {
            return Ok(self
                .store
                .upsert_region(self.default_region.clone())
                .await?);
        }
        Err(AdminError::NotFound(format!(
            "unknown region {id:?} (create it with `admin region upsert`)"
        )))
    }

    async fn member_views(&self, memberships: Vec<Membership>) -> AdminResult<Vec<MemberView>> {
        let user_ids: Vec<UserId> = memberships.iter().map(|m| m.user_id).collect();
        let users = self.store.get_users(&user_ids).await?;
        let orgs = self.store.list_orgs().await?;
        Ok(memberships
            .into_iter()
            .map(|m| MemberView {
                email: users
                    .iter()
                    .find(|u| u.id == m.user_id)
                    .map(|u| u.email.clone())
                    .unwrap_or_default(),
                org_name: orgs
                    .iter()
                    .find(|o| o.id == m.org_id)
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
                membership: m,
            })
            .collect())
    }

    async fn hash_password(&self, password: Zeroizing<String>) -> AdminResult<String> {
        let params = self.hash;
        tokio::task::spawn_blocking(move || params.hash_blocking(&password))
            .await
            .map_err(|e| AdminError::Internal(format!("hashing task failed: {e}")))?
            .map_err(AdminError::from)
    }
}
