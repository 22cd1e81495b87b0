//! Account lifecycle: deactivation and reactivation (everywhere or in one org), ending a user's
//! sessions, revoking their credentials, clearing a login throttle.

use super::*;
use crate::error::CoreError;
use crate::model::OrgId;
use crate::store::Deactivation;

fn counts(d: &Deactivation) -> Value {
    json!({"sessions": d.sessions_revoked, "credentials": d.credentials_revoked})
}

/// Deactivates the user everywhere: every session and credential ends.
pub async fn deactivate_user(
    uc: &UseCaseCtx<'_>,
    user: UserId,
    detail: Value,
) -> CoreResult<Deactivation> {
    let now = Utc::now();
    let change = uc.store.deactivate_user(user, now);
    let d = uc
        .audited(
            AuditAction::UserDeactivate,
            Some(user.to_string()),
            detail,
            change,
            counts,
        )
        .await?;
    uc.refresh_user(user, now).await?;
    Ok(d)
}

pub async fn reactivate_user(uc: &UseCaseCtx<'_>, user: UserId, detail: Value) -> CoreResult<()> {
    let now = Utc::now();
    let change = uc.store.reactivate_user(user);
    uc.audited(
        AuditAction::UserReactivate,
        Some(user.to_string()),
        detail,
        change,
        |_| json!({}),
    )
    .await?;
    uc.refresh_user(user, now).await
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
        let change = uc.store.deactivate_membership(user, org, uc.actor, now);
        uc.audited(
            AuditAction::MembershipDeactivate,
            target,
            detail,
            change,
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

/// Ends every session of the user, or all but `keep`. Returns how many ended.
pub async fn end_user_sessions(
    uc: &UseCaseCtx<'_>,
    user: UserId,
    keep: Option<&crate::model::SessionId>,
) -> CoreResult<u64> {
    let now = Utc::now();
    let change = uc.store.revoke_user_sessions(user, keep, now);
    let n = uc
        .audited(
            AuditAction::SessionEndAll,
            Some(user.to_string()),
            json!({}),
            change,
            |n| json!({ "count": n }),
        )
        .await?;
    uc.refresh_user(user, now).await?;
    Ok(n)
}

/// Revokes every API key and persistent token of the user, in every org.
pub async fn revoke_user_credentials(uc: &UseCaseCtx<'_>, user: UserId) -> CoreResult<u64> {
    let now = Utc::now();
    let change = uc.store.revoke_user_credentials(user, uc.actor, now);
    let n = uc
        .audited(
            AuditAction::CredentialRevokeAll,
            Some(user.to_string()),
            json!({}),
            change,
            |n| json!({ "count": n }),
        )
        .await?;
    uc.refresh_user(user, now).await?;
    Ok(n)
}

/// Clears the brute-force throttle of a login key (a normalised email).
pub async fn unlock_login(uc: &UseCaseCtx<'_>, key: &str) -> CoreResult<()> {
    let change = uc.store.throttle_reset(key);
    uc.audited(
        AuditAction::AccountUnlock,
        Some(key.to_owned()),
        json!({}),
        change,
        |_| json!({}),
    )
    .await
}
