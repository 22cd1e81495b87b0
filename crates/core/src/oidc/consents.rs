//! Remembered consent: the scopes a user allowed a third-party client, kept until revoked in
//! the account API, so the consent page shows only for something new.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditAction, AuditContext};
use crate::engine::Engine;
use crate::error::CoreResult;
use crate::model::{AuditOutcome, Consent};

/// Records the user's approval (merged with what they allowed before) and audits it.
pub(super) async fn remember(
    engine: &Engine,
    consent: Consent,
    ctx: &AuditContext,
) -> CoreResult<()> {
    let store = engine.store();
    let mut merged = consent;
    if let Some(before) = store.get_consent(merged.user_id, &merged.client_id).await? {
        merged.scopes.extend(before.scopes);
    }
    let mut tx = store.begin_write().await?;
    tx.upsert_consent(merged.clone()).await?;
    tx.append_audit(&[crate::audit::event(
        ctx,
        Utc::now(),
        Some(merged.user_id),
        AuditAction::OidcConsent,
        Some(merged.client_id.clone()),
        AuditOutcome::Success,
        json!({ "scopes": merged.scopes }),
    )])
    .await?;
    tx.commit().await?;
    Ok(())
}
