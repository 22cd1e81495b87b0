//! Pending invitations (docs/design/nominal-surface.md, "Preregistration"): an account that
//! already exists joins an org it was preregistered into only when its owner next signs in, so
//! an org admin can neither pull in another tenant's user nor read its profile.

use chrono::Utc;
use serde_json::json;

use crate::audit::AuditAction;
use crate::audit::AuditContext;
use crate::engine::Engine;
use crate::error::CoreResult;
use crate::model::*;

/// How long an invitation waits for its sign-in.
pub const INVITATION_DAYS: i64 = 30;

impl Engine {
    /// Turns the user's pending invitations into memberships. Called where a sign-in has proven
    /// who the user is and before its org is chosen (so that login can already pick the new
    /// org): a password check ([`Engine::authenticate_password`]) and the federation's mapping
    /// of an upstream identity to the account. An impersonated user accepts nothing (only the
    /// signed-in admin's own invitations are accepted), nor does a deactivated account.
    pub async fn accept_invitations(&self, user: &User, ctx: &AuditContext) -> CoreResult<()> {
        if user.deactivated {
            return Ok(());
        }
        let now = Utc::now();
        let accepted = self.store().accept_invitations(user.id, now).await?;
        if accepted.is_empty() {
            return Ok(());
        }
        self.revocations()
            .refresh_user(self.store().as_ref(), user.id, now)
            .await?;
        for inv in &accepted {
            self.audit()
                .log(
                    ctx,
                    now,
                    Some(user.id),
                    AuditAction::OrgInvitationAccept,
                    Some(inv.org_id.to_string()),
                    AuditOutcome::Success,
                    json!({"invitedBy": inv.invited_by, "kind": inv.kind.as_str()}),
                )
                .await;
        }
        Ok(())
    }
}
