//! A user's remembered consents to OpenID clients: revoking one also ends what the client holds
//! for the user.

use super::*;
use crate::error::CoreError;
use crate::model::Session;

/// Revokes the user's consent to `client_id` and ends the client's grant sessions for the user
/// (with their refresh tokens), so the client must ask again and its tokens stop. Returns how
/// many sessions ended. `NotFound` when the user had no consent for it.
pub async fn revoke_consent(uc: &UseCaseCtx<'_>, user: UserId, client_id: &str) -> CoreResult<u64> {
    if uc.store.get_consent(user, client_id).await?.is_none() {
        return Err(CoreError::NotFound("consent"));
    }
    let now = Utc::now();
    let store = uc.store;
    let change = async move {
        let grants: Vec<Session> = store
            .list_user_sessions(user, false, now)
            .await?
            .into_iter()
            .filter(|s| s.grant.as_ref().is_some_and(|g| g.client_id == client_id))
            .collect();
        // The sessions first: a retry after a failure still finds the consent.
        let mut tx = store.begin_write().await?;
        let mut ended = Vec::new();
        for s in &grants {
            tx.revoke_refresh_family(&s.id, now).await?;
            if tx.revoke_session(&s.id, now).await? {
                ended.push(s);
            }
        }
        tx.commit().await?;
        store.delete_consent(user, client_id).await?;
        Ok(ended
            .into_iter()
            .map(|s| (s.id.clone(), s.expires_at))
            .collect::<Vec<_>>())
    };
    let ended = uc
        .audited(
            AuditAction::ConsentRevoke,
            Some(user.to_string()),
            json!({ "client_id": client_id }),
            change,
            |ended: &Vec<_>| json!({ "sessions_ended": ended.len() }),
        )
        .await?;
    if let Some(view) = uc.revocations {
        for (id, expires_at) in &ended {
            view.revoke_session(id.clone(), *expires_at);
        }
    }
    Ok(ended.len() as u64)
}
