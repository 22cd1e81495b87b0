//! Workspaces and resources (NOMINAL.md §6, §7 AuthorizationService/WorkspaceService).
//!
//! Access: a user can access a workspace when they hold an active membership in its org and
//! either are an admin of that org (admins count as full members of every workspace), or hold
//! a grant on the workspace (`Full` or `Guest`). A session reads a resource only when the
//! resource's workspace is in the session org and the session can access it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use serde_json::json;

use crate::audit::AuditAction;
use crate::audit::AuditContext;
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::store::{StoreError, WorkspacePatch};
use crate::tokens::Principal;

/// Why a workspace operation failed where the surface must tell the cases apart.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// Unknown, in another org, or not accessible to the caller.
    #[error("workspace not found")]
    NotFound,
    /// The caller cannot write to the workspace.
    #[error("no access to the workspace")]
    NoAccess,
    /// The caller is not an admin of this org.
    #[error("not an admin of org {0}")]
    NotAdmin(OrgId),
    /// A resource is already registered to another workspace (the lowest such RID).
    #[error("resource {resource} is registered to another workspace")]
    Conflict { resource: String },
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<StoreError> for WorkspaceError {
    fn from(e: StoreError) -> Self {
        WorkspaceError::Core(e.into())
    }
}

/// A change to a workspace; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceUpdate {
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<String>>,
    /// `Some(None)` clears the symbol (Conjure `WorkspaceSymbol` JSON).
    pub symbol: Option<Option<serde_json::Value>>,
    /// Replaces the whole settings object (Conjure `WorkspaceSettings` JSON).
    pub settings: Option<serde_json::Value>,
}

impl Engine {
    /// The user's access to a workspace, or `None`.
    pub async fn workspace_access(
        &self,
        user: UserId,
        ws: &Workspace,
    ) -> CoreResult<Option<WorkspaceAccess>> {
        let Some(m) = self
            .store()
            .get_membership(user, ws.org_id)
            .await?
            .filter(Membership::is_active)
        else {
            return Ok(None);
        };
        if m.kind == MembershipKind::Member && m.is_admin() {
            return Ok(Some(WorkspaceAccess::Full));
        }
        let grants = self.store().list_user_workspace_grants(user).await?;
        Ok(grants
            .into_iter()
            .find(|g| g.workspace_id == ws.id)
            .map(|g| match (m.kind, g.access) {
                // A guest of the org holds guest access at most.
                (MembershipKind::Guest, _) => WorkspaceAccess::Guest,
                (_, a) => a,
            }))
    }

    /// Every workspace the user can access in the given orgs, with the access level.
    async fn accessible_workspaces(
        &self,
        user: UserId,
        orgs: &[OrgId],
    ) -> CoreResult<Vec<(Workspace, WorkspaceAccess)>> {
        let grants: BTreeMap<WorkspaceId, WorkspaceAccess> = self
            .store()
            .list_user_workspace_grants(user)
            .await?
            .into_iter()
            .map(|g| (g.workspace_id, g.access))
            .collect();
        let mut out = Vec::new();
        for &org in orgs {
            let Some(m) = self
                .store()
                .get_membership(user, org)
                .await?
                .filter(Membership::is_active)
            else {
                continue;
            };
            let admin = m.kind == MembershipKind::Member && m.is_admin();
            for ws in self.store().list_org_workspaces(org).await? {
                let access = if admin {
                    Some(WorkspaceAccess::Full)
                } else {
                    grants.get(&ws.id).map(|a| match m.kind {
                        MembershipKind::Guest => WorkspaceAccess::Guest,
                        MembershipKind::Member => *a,
                    })
                };
                if let Some(a) = access {
                    out.push((ws, a));
                }
            }
        }
        Ok(out)
    }

    /// Which of `rids` the session can read, with their workspace. Unregistered RIDs and RIDs
    /// in workspaces outside the session org or without access are left out.
    pub async fn readable_resources(
        &self,
        p: &Principal,
        rids: &[String],
    ) -> CoreResult<BTreeMap<String, WorkspaceId>> {
        if rids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let registered = self.store().resource_workspaces(rids).await?;
        let mut verdict: BTreeMap<WorkspaceId, bool> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for (rid, ws_id) in registered {
            let ok = match verdict.get(&ws_id) {
                Some(ok) => *ok,
                None => {
                    let ok = match self.store().get_workspace(ws_id).await? {
                        Some(ws) if ws.org_id == p.org => {
                            self.workspace_access(p.user, &ws).await?.is_some()
                        }
                        _ => false,
                    };
                    verdict.insert(ws_id, ok);
                    ok
                }
            };
            if ok {
                out.insert(rid, ws_id);
            }
        }
        Ok(out)
    }

    /// Registers resources in a workspace of the session org, all or nothing. Needs full access.
    pub async fn register_in_workspace(
        &self,
        p: &Principal,
        workspace: WorkspaceId,
        rids: &[String],
        ctx: &AuditContext,
    ) -> Result<(), WorkspaceError> {
        let ws = self
            .store()
            .get_workspace(workspace)
            .await?
            .filter(|w| w.org_id == p.org)
            .ok_or(WorkspaceError::NotFound)?;
        match self.workspace_access(p.user, &ws).await? {
            Some(WorkspaceAccess::Full) => {}
            _ => return Err(WorkspaceError::NoAccess),
        }
        if rids.is_empty() {
            return Ok(());
        }
        match self.store().register_resources(ws.id, rids).await {
            Ok(()) => {}
            Err(StoreError::ResourceConflict { resource, .. }) => {
                return Err(WorkspaceError::Conflict { resource });
            }
            Err(e) => return Err(e.into()),
        }
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(p.user),
                AuditAction::WorkspaceRegisterResources,
                Some(self.rids().workspace(ws.id)),
                AuditOutcome::Success,
                json!({"count": rids.len()}),
            )
            .await;
        Ok(())
    }

    /// Workspaces the user can access: the session org only, or all the user's orgs; full
    /// membership only, or guest grants too.
    pub async fn list_workspaces(
        &self,
        p: &Principal,
        session_org_only: bool,
        include_guest: bool,
    ) -> CoreResult<Vec<Workspace>> {
        // A credential or a team token is bound to its org (`authz.rs`): it never lists the
        // workspaces of the user's other orgs.
        let orgs: Vec<OrgId> = if session_org_only || p.is_org_bound() {
            vec![p.org]
        } else {
            let mut orgs: BTreeSet<OrgId> = self
                .store()
                .list_user_memberships(p.user, false)
                .await?
                .into_iter()
                .filter(Membership::is_active)
                .map(|m| m.org_id)
                .filter(|o| !self.revocations().is_org_disabled(*o))
                .collect();
            orgs.insert(p.org);
            orgs.into_iter().collect()
        };
        Ok(self
            .accessible_workspaces(p.user, &orgs)
            .await?
            .into_iter()
            .filter(|(_, a)| include_guest || *a == WorkspaceAccess::Full)
            .map(|(w, _)| w)
            .collect())
    }

    /// One workspace the caller can access in any of their orgs.
    pub async fn get_workspace_for(
        &self,
        p: &Principal,
        id: WorkspaceId,
    ) -> Result<Workspace, WorkspaceError> {
        let ws = self
            .store()
            .get_workspace(id)
            .await?
            .ok_or(WorkspaceError::NotFound)?;
        if !p.may_act_in(ws.org_id) {
            // A credential or a team token is bound to its org.
            return Err(WorkspaceError::NotFound);
        }
        self.workspace_access(p.user, &ws)
            .await?
            .ok_or(WorkspaceError::NotFound)?;
        Ok(ws)
    }

    /// Updates a workspace; the caller must be an admin of the workspace's org.
    pub async fn update_workspace(
        &self,
        p: &Principal,
        id: WorkspaceId,
        update: WorkspaceUpdate,
        ctx: &AuditContext,
    ) -> Result<Workspace, WorkspaceError> {
        let ws = self.get_workspace_for(p, id).await?;
        let admin = self
            .store()
            .get_membership(p.user, ws.org_id)
            .await?
            .is_some_and(|m| m.is_admin());
        if !admin {
            return Err(WorkspaceError::NotAdmin(ws.org_id));
        }
        if let Some(Some(name)) = &update.display_name
            && name.chars().count() > 1024
        {
            return Err(CoreError::InvalidArgument("displayName is too long".into()).into());
        }
        let patch = WorkspacePatch {
            display_name: update.display_name,
            symbol: update.symbol,
            settings: update.settings,
        };
        let ws = self.store().update_workspace(ws.id, patch).await?;
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(p.user),
                AuditAction::WorkspaceUpdate,
                Some(self.rids().workspace(ws.id)),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(ws)
    }

    /// The default workspace: the one workspace of the session org the user fully belongs to,
    /// else the org's default if the user can access it.
    pub async fn default_workspace(&self, p: &Principal) -> CoreResult<Option<Workspace>> {
        let all = self.accessible_workspaces(p.user, &[p.org]).await?;
        let full: Vec<&Workspace> = all
            .iter()
            .filter(|(_, a)| *a == WorkspaceAccess::Full)
            .map(|(w, _)| w)
            .collect();
        if let [only] = full.as_slice() {
            return Ok(Some((*only).clone()));
        }
        let Some(org) = self.store().get_org(p.org).await? else {
            return Ok(None);
        };
        Ok(org
            .default_workspace
            .and_then(|d| all.iter().find(|(w, _)| w.id == d).map(|(w, _)| w.clone())))
    }

    /// The workspace a sandbox user works in ([`Engine::default_workspace`] for that user).
    pub async fn session_default_workspace(
        &self,
        user: UserId,
        org: OrgId,
    ) -> CoreResult<Option<Workspace>> {
        let p = Principal {
            user,
            org,
            guest: false,
            via: crate::tokens::Via::Session {
                session: SessionId(String::new()),
                org_scoped: false,
            },
            actor: None,
            amr: Vec::new(),
            expires_at: None,
            issued_at: None,
        };
        self.default_workspace(&p).await
    }
}
