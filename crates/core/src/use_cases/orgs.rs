//! Disabling and enabling an org.

use super::*;
use crate::model::{Org, OrgId, RevocationEvent};

/// The writes of disabling (or enabling) an org, inside the caller's unit: disabling an enabled
/// org refuses the org's tokens issued before `at`, a cut-off that outlives a later enabling;
/// either way the org's revocation event tells every process to re-read it.
pub async fn set_org_disabled_in(
    tx: &mut dyn WriteTx,
    org: OrgId,
    disabled: bool,
    at: Timestamp,
) -> StoreResult<Org> {
    let before = tx.lock_org(org).await?;
    if disabled && !before.disabled {
        tx.set_org_tokens_not_before(org, at).await?;
    }
    let after = tx.set_org_disabled(org, disabled, at).await?;
    tx.append_revocation_events(&[RevocationEvent::Org(org)])
        .await?;
    Ok(after)
}

/// Disables (or enables) the org ([`set_org_disabled_in`]) in one unit with its audit record.
pub async fn set_org_disabled(
    uc: &UseCaseCtx<'_>,
    org: OrgId,
    disabled: bool,
    detail: Value,
) -> CoreResult<Org> {
    let now = Utc::now();
    let action = if disabled {
        AuditAction::OrgDisable
    } else {
        AuditAction::OrgEnable
    };
    let updated = uc
        .in_unit(
            action,
            Some(org.to_string()),
            detail,
            move |tx| Box::pin(set_org_disabled_in(tx, org, disabled, now)),
            |_| json!({}),
        )
        .await?;
    if let Some(view) = uc.revocations {
        view.refresh_org(uc.store, org).await?;
    }
    Ok(updated)
}
