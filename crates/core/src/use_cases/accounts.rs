//! Account lifecycle: deactivation and reactivation everywhere, ending a user's
//! sessions, revoking their credentials, clearing a login throttle.

use super::*;
use crate::store::Deactivation;

pub(super) fn counts(d: &Deactivation) -> Value {
    json!({"sessions": d.sessions_revoked, "credentials": d.credentials_revoked})
}

/// The writes of a deactivation everywhere, inside the caller's unit: the flag and the
/// revocation of every session and credential of the user, announcing the user.
pub async fn deactivate_user_in(
    tx: &mut dyn WriteTx,
    user: UserId,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    tx.mark_user_deactivated(user).await?;
    tx.revoke_user_access(user, None, None, at).await
}

/// Deactivates the user everywhere: every session and credential ends, in one unit with the
/// flag and the audit record.
pub async fn deactivate_user(
    uc: &UseCaseCtx<'_>,
    user: UserId,
    detail: Value,
) -> CoreResult<Deactivation> {
    let now = Utc::now();
    let d = uc
        .in_unit(
            AuditAction::UserDeactivate,
            Some(user.to_string()),
            detail,
            move |tx| Box::pin(deactivate_user_in(tx, user, now)),
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
