//! Org memberships: adding, updating, removing, per-org deactivation, listings.

use super::*;
use crate::use_cases;

impl Admin {
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
        self.upsert_member(AuditAction::MembershipAdd, &user, &org, roles, kind)
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
        self.upsert_member(AuditAction::MembershipUpdate, &user, &org, roles, kind)
            .await
    }

    async fn upsert_member(
        &self,
        action: AuditAction,
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
        let detail = json!({ "email": user.email, "org": org.name });
        let d = use_cases::remove_membership(&self.use_case(), user.id, org.id, detail).await?;
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
        let detail = json!({ "email": user.email, "org_name": org.name });
        use_cases::set_membership_deactivated(
            &self.use_case(),
            user.id,
            org.id,
            deactivated,
            detail,
        )
        .await
        .map_err(|e| match e {
            CoreError::NotFound(_) => {
                AdminError::NotFound(format!("{} is not a member of {}", user.email, org.name))
            }
            e => e.into(),
        })
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
}
