//! Workspaces and the grants of users to them.

use super::*;

impl Admin {
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
            AuditAction::WorkspaceCreate,
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
            AuditAction::WorkspaceGrant,
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
            AuditAction::WorkspaceRevoke,
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
}
