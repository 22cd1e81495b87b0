//! Account lifecycle for API callers: global and per-org deactivation and reactivation, bulk
//! credential revocation. The work is in [`crate::use_cases`], shared with the operator service.

use super::*;
use crate::use_cases;

impl Engine {
    /// The use-case context of this engine: its store, revocation view and audit queue.
    pub(crate) fn use_case<'a>(
        &'a self,
        actor: Option<UserId>,
        ctx: &'a AuditContext,
    ) -> use_cases::UseCaseCtx<'a> {
        use_cases::UseCaseCtx {
            store: self.store.as_ref(),
            revocations: Some(&self.revocations),
            audit: AuditWriter::Queued(&self.audit),
            request: ctx,
            actor,
            via: None,
        }
    }

    /// Revokes every API key and persistent token of the user, in every org.
    pub async fn revoke_user_credentials(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        use_cases::revoke_user_credentials(&self.use_case(actor, ctx), user).await
    }

    /// Global deactivation: every session and credential of the user ends.
    pub async fn deactivate_user(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        use_cases::deactivate_user(&self.use_case(actor, ctx), user, json!({})).await?;
        Ok(())
    }

    pub async fn reactivate_user(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        use_cases::reactivate_user(&self.use_case(actor, ctx), user, json!({})).await
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
        let uc = self.use_case(Some(admin.user), ctx);
        use_cases::set_membership_deactivated(&uc, target, admin.org, true, json!({})).await
    }

    pub async fn reactivate_in_org(
        &self,
        admin: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_org_admin(admin).await?;
        let uc = self.use_case(Some(admin.user), ctx);
        use_cases::set_membership_deactivated(&uc, target, admin.org, false, json!({})).await
    }
}
