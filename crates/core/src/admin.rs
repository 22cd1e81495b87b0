//! Administration of the identity model: users, orgs, memberships, regions, workspaces and
//! grants, the email allow-list, the audit log, and the first-start bootstrap. Used by the
//! `portcullis admin` CLI (and later an HTTP admin surface).
//!
//! Inputs are validated before the store is touched, so bad input writes nothing. Every change
//! that reaches the store appends an [`AuditEvent`] (`admin.<noun>.<verb>`) with its outcome;
//! audit details never hold a secret. Reads are not audited.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::config::CoreConfig;
use crate::model::*;
use crate::password::{HashError, HashParams, PasswordPolicy, PasswordRejection};
use crate::store::{Deactivation, Store, StoreError};

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

/// Random bytes in a reset code: 160 bits, 27 base64url characters.
const RESET_CODE_BYTES: usize = 20;

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

/// The admin service. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    store: Arc<dyn Store>,
    policy: PasswordPolicy,
    hash: HashParams,
    default_region: Region,
    reset_code_secs: i64,
    actor: Option<UserId>,
    via: String,
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
            actor: None,
            via: via.to_owned(),
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

    async fn audit(
        &self,
        action: &str,
        target: Option<String>,
        outcome: AuditOutcome,
        mut detail: Value,
    ) -> AdminResult<()> {
        if let Value::Object(map) = &mut detail {
            map.insert("via".into(), Value::String(self.via.clone()));
        }
        let event = AuditEvent {
            id: Uuid::new_v4(),
            at: now(),
            actor: self.actor,
            action: action.to_owned(),
            target,
            outcome,
            ip: None,
            request_id: None,
            detail,
        };
        self.store.append_audit(&[event]).await?;
        Ok(())
    }

    /// Runs a store change and audits it with its outcome.
    pub(crate) async fn audited<T, F>(
        &self,
        action: &str,
        target: Option<String>,
        detail: Value,
        change: F,
    ) -> AdminResult<T>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        match change.await {
            Ok(v) => {
                self.audit(action, target, AuditOutcome::Success, detail)
                    .await?;
                Ok(v)
            }
            Err(e) => {
                let err = AdminError::from(e);
                let mut detail = detail;
                if let Value::Object(map) = &mut detail {
                    map.insert("error".into(), Value::String(err.to_string()));
                }
                if let Err(audit_err) = self
                    .audit(action, target, AuditOutcome::Failure, detail)
                    .await
                {
                    tracing::warn!(error = %audit_err, action, "could not audit a failed admin action");
                }
                Err(err)
            }
        }
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

    // ---- bootstrap ----------------------------------------------------------------------------

    /// On an empty store, creates `region`, an org named `org_name`, and a super-admin with
    /// `email` who is an ADMIN member of it. Without `password` one is generated and returned.
    /// Returns `None` when the store already has users.
    pub async fn bootstrap(
        &self,
        region: Region,
        org_name: &str,
        email: &str,
        password: Option<Zeroizing<String>>,
    ) -> AdminResult<Option<Bootstrapped>> {
        if !self.store.list_users(0, 1).await?.is_empty() {
            return Ok(None);
        }
        let email = clean(email);
        if !is_valid_email(&email) {
            return Err(AdminError::Invalid(format!(
                "bootstrap admin email {email:?} is not an email address"
            )));
        }
        let org_name = clean(org_name);
        check_name("org name", &org_name)?;
        let (password, generated) = match password {
            Some(p) => {
                self.policy.check(&p, Some(&email))?;
                (p, false)
            }
            None => (Zeroizing::new(crate::crypto::random_token(18)), true),
        };
        let hash = self.hash_password(password.clone()).await?;
        let admin = NewUser {
            email: email.clone(),
            display_name: "Administrator".into(),
            avatar_url: None,
            password_hash: Some(hash),
            validated_at: Some(now()),
            super_admin: true,
        };
        let org = NewOrg {
            name: org_name.clone(),
            display_name: Some("Default organization".into()),
            region_id: region.id.clone(),
        };
        let Some((org, user)) = self.store.bootstrap(region, org, admin).await? else {
            return Ok(None);
        };
        self.audit(
            "admin.bootstrap",
            Some(user.id.to_string()),
            AuditOutcome::Success,
            json!({ "email": user.email, "org": org.name, "password_generated": generated }),
        )
        .await?;
        Ok(Some(Bootstrapped {
            org,
            user,
            generated_password: generated.then_some(password),
        }))
    }

    // ---- users ------------------------------------------------------------------------------

    pub async fn create_user(&self, spec: NewUserSpec) -> AdminResult<User> {
        let email = clean(&spec.email);
        if !is_valid_email(&email) {
            return Err(AdminError::Invalid(format!(
                "{email:?} is not an email address"
            )));
        }
        let display_name = match spec.display_name {
            Some(n) => clean(&n),
            None => email
                .split_once('@')
                .map(|(l, _)| l.to_owned())
                .unwrap_or_default(),
        };
        check_name("display name", &display_name)?;
        if let Some(existing) = self
            .store
            .get_user_by_email(&normalize_email(&email))
            .await?
        {
            return Err(AdminError::Conflict(format!(
                "a user with email {:?} already exists (id {})",
                existing.email, existing.id
            )));
        }
        let password_hash = match spec.password {
            Some(p) => {
                self.policy.check(&p, Some(&email))?;
                Some(self.hash_password(p).await?)
            }
            None => None,
        };
        let with_password = password_hash.is_some();
        let new = NewUser {
            email: email.clone(),
            display_name,
            avatar_url: None,
            password_hash,
            validated_at: spec.validated.then(now),
            super_admin: spec.super_admin,
        };
        let user = self
            .audited(
                "admin.user.create",
                None,
                json!({ "email": email, "super_admin": spec.super_admin, "with_password": with_password }),
                self.store.create_user(new),
            )
            .await?;
        Ok(user)
    }

    pub async fn list_users(&self, offset: u64, limit: u32) -> AdminResult<Vec<User>> {
        Ok(self.store.list_users(offset, limit).await?)
    }

    pub async fn show_user(&self, reference: &str) -> AdminResult<UserDetail> {
        let user = self.find_user(reference).await?;
        let memberships = self.store.list_user_memberships(user.id, true).await?;
        let memberships = self.member_views(memberships).await?;
        let workspace_grants = self.store.list_user_workspace_grants(user.id).await?;
        let identities = self.store.list_user_identities(user.id).await?;
        let throttle = self
            .store
            .throttle_get(&normalize_email(&user.email))
            .await?;
        Ok(UserDetail {
            user: UserView::from(&user),
            memberships,
            workspace_grants,
            identities,
            failed_logins: throttle.as_ref().map(|t| t.failures).unwrap_or(0),
            locked_until: throttle.and_then(|t| t.locked_until),
        })
    }

    pub async fn update_user(&self, reference: &str, patch: UserPatchSpec) -> AdminResult<User> {
        let user = self.find_user(reference).await?;
        let display_name = match patch.display_name {
            Some(n) => {
                let n = clean(&n);
                check_name("display name", &n)?;
                Some(n)
            }
            None => None,
        };
        let update = UserUpdate {
            display_name,
            avatar_url: patch.avatar_url.clone(),
            validated_at: patch.validated.map(|v| v.then(now)),
            super_admin: patch.super_admin,
            ..UserUpdate::default()
        };
        if update == UserUpdate::default() {
            return Err(AdminError::Invalid("nothing to update".into()));
        }
        let detail = json!({
            "display_name": update.display_name,
            "avatar_url": update.avatar_url,
            "super_admin": update.super_admin,
            "validated": patch.validated,
        });
        self.audited(
            "admin.user.update",
            Some(user.id.to_string()),
            detail,
            self.store.update_user(user.id, update),
        )
        .await
    }

    /// Deactivates the user everywhere and revokes every session and credential.
    pub async fn deactivate_user(&self, reference: &str) -> AdminResult<DeactivationReport> {
        let user = self.find_user(reference).await?;
        let d: Deactivation = self
            .audited(
                "admin.user.deactivate",
                Some(user.id.to_string()),
                json!({ "email": user.email }),
                self.store.deactivate_user(user.id, now()),
            )
            .await?;
        Ok(DeactivationReport {
            user_id: user.id,
            sessions_revoked: d.sessions_revoked,
            credentials_revoked: d.credentials_revoked,
        })
    }

    pub async fn reactivate_user(&self, reference: &str) -> AdminResult<User> {
        let user = self.find_user(reference).await?;
        self.audited(
            "admin.user.reactivate",
            Some(user.id.to_string()),
            json!({ "email": user.email }),
            self.store.reactivate_user(user.id),
        )
        .await?;
        self.find_user(&user.id.to_string()).await
    }

    /// Forces a password reset: in one transaction the user is flagged (password login is
    /// refused), every session ends, with `revoke_credentials` every API key and persistent
    /// token is revoked, and a new one-time code replaces any earlier one. Only the code's
    /// SHA-256 is stored; the code is returned once, for the admin to hand over, and the user
    /// redeems it with a new password (`POST /account/v1/password/reset-required`). Any lockout
    /// of the email is cleared, so the user can redeem it.
    pub async fn require_password_reset(
        &self,
        reference: &str,
        revoke_credentials: bool,
    ) -> AdminResult<PasswordReset> {
        let user = self.find_user(reference).await?;
        if self.reset_code_secs <= 0 {
            return Err(AdminError::Invalid(
                "core.passwords.reset_code_secs must be positive".into(),
            ));
        }
        let at = now();
        let expires_at = at + chrono::Duration::seconds(self.reset_code_secs);
        let code = Zeroizing::new(crate::crypto::random_token(RESET_CODE_BYTES));
        let hash = crate::crypto::sha256(code.as_bytes());
        let d = self
            .audited(
                "admin.user.require_password_reset",
                Some(user.id.to_string()),
                json!({
                    "email": user.email,
                    "revoke_credentials": revoke_credentials,
                    "code_expires_at": expires_at,
                }),
                self.store.require_password_reset(
                    user.id,
                    &hash,
                    expires_at,
                    revoke_credentials,
                    at,
                ),
            )
            .await?;
        self.store
            .throttle_reset(&normalize_email(&user.email))
            .await?;
        Ok(PasswordReset {
            user: self.find_user(&user.id.to_string()).await?,
            code,
            expires_at,
            sessions_revoked: d.sessions_revoked,
            credentials_revoked: d.credentials_revoked,
        })
    }

    /// Ends every live session of a user. Returns the user id and how many ended.
    pub async fn end_sessions(&self, reference: &str) -> AdminResult<(UserId, u64)> {
        let user = self.find_user(reference).await?;
        let n = self
            .audited(
                "admin.user.end_sessions",
                Some(user.id.to_string()),
                json!({}),
                self.store.revoke_user_sessions(user.id, None, now()),
            )
            .await?;
        Ok((user.id, n))
    }

    pub async fn list_sessions(&self, reference: &str) -> AdminResult<Vec<Session>> {
        let user = self.find_user(reference).await?;
        Ok(self.store.list_user_sessions(user.id, false, now()).await?)
    }

    /// Appends an audit event for an action the CLI performed itself (e.g. a key rotation).
    pub async fn record(
        &self,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> AdminResult<()> {
        self.audited(action, target, detail, async { Ok::<(), StoreError>(()) })
            .await
    }

    /// Clears the brute-force throttle for a login email (a user reference or any address).
    /// Returns the normalised key that was reset.
    pub async fn unlock(&self, reference: &str) -> AdminResult<String> {
        let key = match self.find_user(reference).await {
            Ok(u) => normalize_email(&u.email),
            Err(AdminError::NotFound(_)) if is_valid_email(reference) => normalize_email(reference),
            Err(e) => return Err(e),
        };
        self.audited(
            "admin.user.unlock",
            Some(key.clone()),
            json!({}),
            self.store.throttle_reset(&key),
        )
        .await?;
        Ok(key)
    }

    // ---- orgs -------------------------------------------------------------------------------

    pub async fn create_org(
        &self,
        name: &str,
        display_name: Option<String>,
        region: Option<String>,
    ) -> AdminResult<Org> {
        let name = clean(name);
        check_name("org name", &name)?;
        if Uuid::parse_str(&name).is_ok() || name.contains('/') {
            return Err(AdminError::Invalid(format!(
                "org name {name:?} must not be a uuid or contain '/'"
            )));
        }
        let display_name = display_name.map(|d| clean(&d));
        if let Some(d) = &display_name {
            check_name("display name", d)?;
        }
        let region = region
            .map(|r| clean(&r))
            .unwrap_or_else(|| self.default_region.id.clone());
        if self.store.get_org_by_name(&name).await?.is_some() {
            return Err(AdminError::Conflict(format!(
                "an org named {name:?} already exists"
            )));
        }
        self.require_region(&region).await?;
        self.audited(
            "admin.org.create",
            None,
            json!({ "name": name, "region": region }),
            self.store.create_org(NewOrg {
                name: name.clone(),
                display_name,
                region_id: region.clone(),
            }),
        )
        .await
    }

    pub async fn list_orgs(&self) -> AdminResult<Vec<Org>> {
        Ok(self.store.list_orgs().await?)
    }

    pub async fn show_org(&self, reference: &str) -> AdminResult<OrgDetail> {
        let org = self.find_org(reference).await?;
        let members = self.store.list_org_memberships(org.id, false).await?;
        let members = self.member_views(members).await?;
        let workspaces = self.store.list_org_workspaces(org.id).await?;
        Ok(OrgDetail {
            org,
            members,
            workspaces,
        })
    }

    pub async fn update_org(&self, reference: &str, patch: OrgPatchSpec) -> AdminResult<Org> {
        let org = self.find_org(reference).await?;
        let display_name = match patch.display_name {
            Some(Some(d)) => {
                let d = clean(&d);
                check_name("display name", &d)?;
                Some(Some(d))
            }
            other => other,
        };
        if let Some(r) = &patch.region {
            self.require_region(r.trim()).await?;
        }
        let default_workspace = match patch.default_workspace {
            Some(Some(w)) => {
                let ws = self.find_workspace(&w).await?;
                if ws.org_id != org.id {
                    return Err(AdminError::Invalid(format!(
                        "workspace {w:?} belongs to another org"
                    )));
                }
                Some(Some(ws.id))
            }
            Some(None) => Some(None),
            None => None,
        };
        let update = OrgUpdate {
            display_name,
            region_id: patch.region.map(|r| clean(&r)),
            disabled: None,
            default_workspace,
        };
        if update == OrgUpdate::default() {
            return Err(AdminError::Invalid("nothing to update".into()));
        }
        let detail = json!({
            "display_name": update.display_name,
            "region": update.region_id,
            "default_workspace": update.default_workspace.map(|w| w.map(|w| w.to_string())),
        });
        self.audited(
            "admin.org.update",
            Some(org.id.to_string()),
            detail,
            self.store.update_org(org.id, update),
        )
        .await
    }

    pub async fn set_org_disabled(&self, reference: &str, disabled: bool) -> AdminResult<Org> {
        let org = self.find_org(reference).await?;
        let action = if disabled {
            "admin.org.disable"
        } else {
            "admin.org.enable"
        };
        self.audited(
            action,
            Some(org.id.to_string()),
            json!({ "name": org.name }),
            self.store.update_org(
                org.id,
                OrgUpdate {
                    disabled: Some(disabled),
                    ..OrgUpdate::default()
                },
            ),
        )
        .await
    }

    // ---- memberships ----------------------------------------------------------------------------

    /// Adds a user to an org. Fails if they are already an active member (use `update_member`).
    pub async fn add_member(
        &self,
        user: &str,
        org: &str,
        roles: BTreeSet<Role>,
        kind: MembershipKind,
    ) -> AdminResult<Membership> {
        let user = self.find_user(user).await?;
        let org = self.find_org(org).await?;
        if let Some(m) = self.store.get_membership(user.id, org.id).await?
            && m.removed_at.is_none()
        {
            return Err(AdminError::Conflict(format!(
                "{} is already a member of {}; use `member update`",
                user.email, org.name
            )));
        }
        self.upsert_member("admin.member.add", &user, &org, roles, kind)
            .await
    }

    /// Changes the roles and kind of an existing membership.
    pub async fn update_member(
        &self,
        user: &str,
        org: &str,
        roles: Option<BTreeSet<Role>>,
        kind: Option<MembershipKind>,
    ) -> AdminResult<Membership> {
        let user = self.find_user(user).await?;
        let org = self.find_org(org).await?;
        let current = self
            .store
            .get_membership(user.id, org.id)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or_else(|| {
                AdminError::NotFound(format!("{} is not a member of {}", user.email, org.name))
            })?;
        if roles.is_none() && kind.is_none() {
            return Err(AdminError::Invalid("nothing to update".into()));
        }
        let roles = roles.unwrap_or(current.roles);
        let kind = kind.unwrap_or(current.kind);
        self.upsert_member("admin.member.update", &user, &org, roles, kind)
            .await
    }

    async fn upsert_member(
        &self,
        action: &str,
        user: &User,
        org: &Org,
        roles: BTreeSet<Role>,
        kind: MembershipKind,
    ) -> AdminResult<Membership> {
        let detail = json!({
            "user": user.id.to_string(),
            "email": user.email,
            "org": org.id.to_string(),
            "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "kind": kind.as_str(),
        });
        self.audited(
            action,
            Some(format!("{}/{}", org.id, user.id)),
            detail,
            self.store.upsert_membership(user.id, org.id, roles, kind),
        )
        .await
    }

    /// Removes a membership and revokes the user's sessions and credentials in that org.
    pub async fn remove_member(&self, user: &str, org: &str) -> AdminResult<DeactivationReport> {
        let user = self.find_user(user).await?;
        let org = self.find_org(org).await?;
        self.store
            .get_membership(user.id, org.id)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or_else(|| {
                AdminError::NotFound(format!("{} is not a member of {}", user.email, org.name))
            })?;
        let d = self
            .audited(
                "admin.member.remove",
                Some(format!("{}/{}", org.id, user.id)),
                json!({ "email": user.email, "org": org.name }),
                self.store.remove_membership(user.id, org.id, now()),
            )
            .await?;
        Ok(DeactivationReport {
            user_id: user.id,
            sessions_revoked: d.sessions_revoked,
            credentials_revoked: d.credentials_revoked,
        })
    }

    /// Deactivates (or reactivates) a user in one org only.
    pub async fn set_member_deactivated(
        &self,
        user: &str,
        org: &str,
        deactivated: bool,
    ) -> AdminResult<()> {
        let user = self.find_user(user).await?;
        let org = self.find_org(org).await?;
        self.store
            .get_membership(user.id, org.id)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or_else(|| {
                AdminError::NotFound(format!("{} is not a member of {}", user.email, org.name))
            })?;
        let target = Some(format!("{}/{}", org.id, user.id));
        let detail = json!({ "email": user.email, "org": org.name });
        if deactivated {
            self.audited(
                "admin.member.deactivate",
                target,
                detail,
                self.store
                    .deactivate_membership(user.id, org.id, self.actor, now()),
            )
            .await?;
        } else {
            self.audited(
                "admin.member.reactivate",
                target,
                detail,
                self.store.reactivate_membership(user.id, org.id),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn list_org_members(
        &self,
        org: &str,
        include_removed: bool,
    ) -> AdminResult<Vec<MemberView>> {
        let org = self.find_org(org).await?;
        let m = self
            .store
            .list_org_memberships(org.id, include_removed)
            .await?;
        self.member_views(m).await
    }

    pub async fn list_user_memberships(
        &self,
        user: &str,
        include_removed: bool,
    ) -> AdminResult<Vec<MemberView>> {
        let user = self.find_user(user).await?;
        let m = self
            .store
            .list_user_memberships(user.id, include_removed)
            .await?;
        self.member_views(m).await
    }

    // ---- regions ----------------------------------------------------------------------------

    pub async fn upsert_region(&self, region: Region) -> AdminResult<Region> {
        let region = Region {
            id: clean(&region.id),
            api_host: clean(&region.api_host),
            sig_host: clean(&region.sig_host),
            static_host: clean(&region.static_host),
        };
        if region.id.is_empty()
            || !region
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(AdminError::Invalid(format!(
                "region id {:?} must be non-empty letters, digits, '-', '_' or '.'",
                region.id
            )));
        }
        for (what, host) in [
            ("api host", &region.api_host),
            ("sig host", &region.sig_host),
            ("static host", &region.static_host),
        ] {
            if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AdminError::Invalid(format!(
                    "region {what} {host:?} must be a host name without spaces"
                )));
            }
        }
        let detail = serde_json::to_value(&region).unwrap_or(Value::Null);
        self.audited(
            "admin.region.upsert",
            Some(region.id.clone()),
            json!({ "region": detail }),
            self.store.upsert_region(region.clone()),
        )
        .await
    }

    pub async fn list_regions(&self) -> AdminResult<Vec<Region>> {
        Ok(self.store.list_regions().await?)
    }

    // ---- workspaces -----------------------------------------------------------------------------

    pub async fn create_workspace(
        &self,
        org: &str,
        slug: &str,
        display_name: Option<String>,
    ) -> AdminResult<Workspace> {
        let slug = clean(slug);
        if !is_valid_workspace_slug(&slug) {
            return Err(AdminError::Invalid(format!(
                "workspace slug {slug:?} must be lower-case letters and digits in dash-separated \
                 groups (e.g. team-1), at most 128 characters"
            )));
        }
        let display_name = display_name.map(|d| clean(&d));
        if let Some(d) = &display_name {
            check_name("display name", d)?;
        }
        let org = self.find_org(org).await?;
        if self
            .store
            .list_org_workspaces(org.id)
            .await?
            .iter()
            .any(|w| w.slug == slug)
        {
            return Err(AdminError::Conflict(format!(
                "org {} already has a workspace {slug:?}",
                org.name
            )));
        }
        self.audited(
            "admin.workspace.create",
            None,
            json!({ "org": org.id.to_string(), "slug": slug }),
            self.store.create_workspace(org.id, &slug, display_name),
        )
        .await
    }

    pub async fn list_workspaces(&self, org: &str) -> AdminResult<Vec<Workspace>> {
        let org = self.find_org(org).await?;
        Ok(self.store.list_org_workspaces(org.id).await?)
    }

    /// Grants a member of the workspace's org access to it.
    pub async fn grant_workspace(
        &self,
        workspace: &str,
        user: &str,
        access: WorkspaceAccess,
    ) -> AdminResult<WorkspaceGrant> {
        let ws = self.find_workspace(workspace).await?;
        let user = self.find_user(user).await?;
        let member = self
            .store
            .get_membership(user.id, ws.org_id)
            .await?
            .is_some_and(|m| m.removed_at.is_none());
        if !member {
            return Err(AdminError::Invalid(format!(
                "{} is not a member of the workspace's org",
                user.email
            )));
        }
        let grant = WorkspaceGrant {
            workspace_id: ws.id,
            user_id: user.id,
            access,
        };
        self.audited(
            "admin.workspace.grant",
            Some(ws.id.to_string()),
            json!({
                "user": user.id.to_string(),
                "email": user.email,
                "access": serde_json::to_value(access).unwrap_or(Value::Null),
            }),
            self.store.grant_workspace(grant.clone()),
        )
        .await?;
        Ok(grant)
    }

    pub async fn revoke_workspace(&self, workspace: &str, user: &str) -> AdminResult<()> {
        let ws = self.find_workspace(workspace).await?;
        let user = self.find_user(user).await?;
        let had = self
            .store
            .list_user_workspace_grants(user.id)
            .await?
            .iter()
            .any(|g| g.workspace_id == ws.id);
        if !had {
            return Err(AdminError::NotFound(format!(
                "{} has no grant on workspace {}",
                user.email, ws.slug
            )));
        }
        self.audited(
            "admin.workspace.revoke",
            Some(ws.id.to_string()),
            json!({ "user": user.id.to_string(), "email": user.email }),
            self.store.revoke_workspace_grant(ws.id, user.id),
        )
        .await?;
        Ok(())
    }

    pub async fn list_workspace_grants(&self, user: &str) -> AdminResult<Vec<WorkspaceGrant>> {
        let user = self.find_user(user).await?;
        Ok(self.store.list_user_workspace_grants(user.id).await?)
    }

    // ---- allow-list -------------------------------------------------------------------------

    fn allowlist_value(kind: AllowlistKind, value: &str) -> AdminResult<String> {
        let v = normalize_email(value);
        let ok = match kind {
            AllowlistKind::Address => is_valid_email(&v),
            AllowlistKind::Domain => {
                let d = v.strip_prefix('@').unwrap_or(&v);
                is_valid_email(&format!("x@{d}"))
            }
        };
        if !ok {
            let what = match kind {
                AllowlistKind::Address => "an email address",
                AllowlistKind::Domain => "a domain name",
            };
            return Err(AdminError::Invalid(format!("{value:?} is not {what}")));
        }
        Ok(match kind {
            AllowlistKind::Domain => v.trim_start_matches('@').to_owned(),
            AllowlistKind::Address => v,
        })
    }

    /// Adds a domain or address to the deployment's (no org) or an org's allow-list.
    pub async fn allowlist_add(
        &self,
        org: Option<&str>,
        kind: AllowlistKind,
        value: &str,
    ) -> AdminResult<AllowlistEntry> {
        let value = Self::allowlist_value(kind, value)?;
        let org_id = match org {
            Some(o) => Some(self.find_org(o).await?.id),
            None => None,
        };
        let entry = AllowlistEntry {
            org_id,
            kind,
            value: value.clone(),
            created_at: now(),
        };
        self.audited(
            "admin.allowlist.add",
            org_id.map(|o| o.to_string()),
            json!({ "kind": serde_json::to_value(kind).unwrap_or(Value::Null), "value": value }),
            self.store.add_allowlist(entry.clone()),
        )
        .await?;
        Ok(entry)
    }

    pub async fn allowlist_remove(
        &self,
        org: Option<&str>,
        kind: AllowlistKind,
        value: &str,
    ) -> AdminResult<()> {
        let value = Self::allowlist_value(kind, value)?;
        let org_id = match org {
            Some(o) => Some(self.find_org(o).await?.id),
            None => None,
        };
        let present = self
            .store
            .list_allowlist()
            .await?
            .iter()
            .any(|e| e.org_id == org_id && e.kind == kind && e.value == value);
        if !present {
            return Err(AdminError::NotFound(format!(
                "{value:?} is not on that allow-list"
            )));
        }
        self.audited(
            "admin.allowlist.remove",
            org_id.map(|o| o.to_string()),
            json!({ "kind": serde_json::to_value(kind).unwrap_or(Value::Null), "value": value }),
            self.store.remove_allowlist(org_id, kind, &value),
        )
        .await?;
        Ok(())
    }

    /// Entries of the deployment (`None`) and every org, or only of one org.
    pub async fn allowlist_list(&self, org: Option<&str>) -> AdminResult<Vec<AllowlistEntry>> {
        let all = self.store.list_allowlist().await?;
        match org {
            Some(o) => {
                let id = self.find_org(o).await?.id;
                Ok(all.into_iter().filter(|e| e.org_id == Some(id)).collect())
            }
            None => Ok(all),
        }
    }

    // ---- audit ------------------------------------------------------------------------------

    pub async fn list_audit(&self, filter: &AuditFilter) -> AdminResult<Vec<AuditEvent>> {
        Ok(self.store.list_audit(filter).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse() {
        let r = parse_roles("admin, AUTHOR,,parsable_admin").unwrap();
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            vec![Role::Admin, Role::Author, Role::ParsableAdmin]
        );
        assert!(matches!(parse_roles("boss"), Err(AdminError::Invalid(_))));
        assert!(parse_roles("").unwrap().is_empty());
    }

    #[test]
    fn allowlist_values_normalise() {
        assert_eq!(
            Admin::allowlist_value(AllowlistKind::Domain, " @Example.COM ").unwrap(),
            "example.com"
        );
        assert_eq!(
            Admin::allowlist_value(AllowlistKind::Address, "Ann@Example.com").unwrap(),
            "ann@example.com"
        );
        assert!(Admin::allowlist_value(AllowlistKind::Domain, "nodot").is_err());
        assert!(Admin::allowlist_value(AllowlistKind::Address, "example.com").is_err());
    }

    #[test]
    fn store_errors_map() {
        assert!(matches!(
            AdminError::from(StoreError::Conflict("x".into())),
            AdminError::Conflict(_)
        ));
        assert!(matches!(
            AdminError::from(StoreError::Unavailable("x".into())),
            AdminError::Store(_)
        ));
    }
}
