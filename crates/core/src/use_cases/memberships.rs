//! Leaving an org: removal of a membership and its deactivation (or reactivation). What each
//! ends is decided here, not in the store: the data write, the token cut-off, the revocation
//! of the member's sessions and credentials in the org and its event commit in one unit.

use super::accounts::counts;
use super::*;
use crate::error::CoreError;
use crate::model::OrgId;
use crate::store::Deactivation;

/// The writes of a removal, inside the caller's unit: marks the membership removed, refuses
/// the member's tokens for the org issued before `at`, revokes a pending invitation to it (so
/// the next sign-in does not bring the user back) and the user's sessions and credentials
/// there, announcing the user. `NotFound` for an unknown membership.
pub async fn remove_membership_in(
    tx: &mut dyn WriteTx,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    tx.mark_membership_removed(user, org, at).await?;
    tx.set_membership_tokens_not_before(user, org, at).await?;
    tx.revoke_pending_invitation(user, org, at).await?;
    tx.revoke_user_access(user, Some(org), None, at).await
}

/// The writes of a deactivation in one org, inside the caller's unit: the flag, a token
/// cut-off that outlives a reactivation, and the revocation of the user's sessions and
/// credentials there (`by` recorded as their revoker), announcing the user.
pub async fn deactivate_membership_in(
    tx: &mut dyn WriteTx,
    user: UserId,
    org: OrgId,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    tx.mark_membership_deactivated(user, org, by, at).await?;
    tx.set_membership_tokens_not_before(user, org, at).await?;
    tx.revoke_user_access(user, Some(org), by, at).await
}

/// Removes a membership and revokes what the member held in the org, in one unit with the
/// audit record (`membership.remove`, target `org/user`). `NotFound` for an unknown
/// membership, with nothing written.
pub async fn remove_membership(
    uc: &UseCaseCtx<'_>,
    user: UserId,
    org: OrgId,
    detail: Value,
) -> CoreResult<Deactivation> {
    let now = Utc::now();
    let d = uc
        .in_unit(
            AuditAction::MembershipRemove,
            Some(format!("{org}/{user}")),
            detail,
            move |tx| Box::pin(remove_membership_in(tx, user, org, now)),
            |_| json!({}),
        )
        .await?;
    uc.refresh_user(user, now).await?;
    Ok(d)
}

/// Deactivates (or reactivates) a member in one org only; deactivation revokes the user's
/// sessions and credentials there. `NotFound("user")` unless the user is a member.
pub async fn set_membership_deactivated(
    uc: &UseCaseCtx<'_>,
    user: UserId,
    org: OrgId,
    deactivated: bool,
    detail: Value,
) -> CoreResult<()> {
    uc.store
        .get_membership(user, org)
        .await?
        .filter(|m| m.removed_at.is_none())
        .ok_or(CoreError::NotFound("user"))?;
    let now = Utc::now();
    let target = Some(user.to_string());
    let detail = merged(json!({ "org": org }), detail);
    if deactivated {
        let by = uc.actor;
        uc.in_unit(
            AuditAction::MembershipDeactivate,
            target,
            detail,
            move |tx| Box::pin(deactivate_membership_in(tx, user, org, by, now)),
            counts,
        )
        .await?;
    } else {
        let change = uc.store.reactivate_membership(user, org);
        uc.audited(
            AuditAction::MembershipReactivate,
            target,
            detail,
            change,
            |_| json!({}),
        )
        .await?;
    }
    uc.refresh_user(user, now).await
}
