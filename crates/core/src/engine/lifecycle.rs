//! Account lifecycle: global and per-org deactivation and reactivation, bulk credential
//! revocation.

use super::*;

impl Engine {
    /// Revokes every API key and persistent token of the user, in every org.
    pub async fn revoke_user_credentials(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        let now = Utc::now();
        let n = self.store.revoke_user_credentials(user, actor, now).await?;
        self.user_revoked(ctx, actor, user, AuditAction::CredentialRevokeAll, n, now)
            .await?;
        Ok(n)
    }

    /// After a bulk revocation for `user`: the view re-reads the user at once (the feed tells
    /// other processes) and the count is audited under `action`.
    pub(super) async fn user_revoked(
        &self,
        ctx: &AuditContext,
        actor: Option<UserId>,
        user: UserId,
        action: AuditAction,
        count: u64,
        now: Timestamp,
    ) -> CoreResult<()> {
        self.revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                actor,
                action,
                Some(user.to_string()),
                AuditOutcome::Success,
                json!({"count": count}),
            )
            .await;
        Ok(())
    }

    /// Global deactivation: every session and credential of the user ends.
    pub async fn deactivate_user(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        let d = self.store.deactivate_user(user, now).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                actor,
                AuditAction::UserDeactivate,
                Some(user.to_string()),
                AuditOutcome::Success,
                json!({"sessions": d.sessions_revoked, "credentials": d.credentials_revoked}),
            )
            .await;
        Ok(())
    }

    pub async fn reactivate_user(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        self.store.reactivate_user(user).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                actor,
                AuditAction::UserReactivate,
                Some(user.to_string()),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(())
    }

    /// Per-org deactivation by an org admin (Nominal deactivateUser): blocks new tokens there and
    /// revokes the user's sessions and credentials in that org.
    pub async fn deactivate_in_org(
        &self,
        admin: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_org_admin(admin).await?;
        if target == admin.user {
            return Err(CoreError::InvalidArgument(
                "an admin cannot deactivate themselves".into(),
            ));
        }
        self.store
            .get_membership(target, admin.org)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or(CoreError::NotFound("user"))?;
        let now = Utc::now();
        let d = self
            .store
            .deactivate_membership(target, admin.org, Some(admin.user), now)
            .await?;
        self.revocations
            .refresh_user(self.store.as_ref(), target, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                Some(admin.user),
                AuditAction::MembershipDeactivate,
                Some(target.to_string()),
                AuditOutcome::Success,
                json!({"org": admin.org, "sessions": d.sessions_revoked, "credentials": d.credentials_revoked}),
            )
            .await;
        Ok(())
    }

    pub async fn reactivate_in_org(
        &self,
        admin: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_org_admin(admin).await?;
        self.store
            .get_membership(target, admin.org)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or(CoreError::NotFound("user"))?;
        let now = Utc::now();
        self.store.reactivate_membership(target, admin.org).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), target, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                Some(admin.user),
                AuditAction::MembershipReactivate,
                Some(target.to_string()),
                AuditOutcome::Success,
                json!({"org": admin.org}),
            )
            .await;
        Ok(())
    }
}
