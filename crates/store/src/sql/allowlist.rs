//! The email allow-list: domains and addresses, per org or deployment-wide.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::ensure_org;
use crate::backend::{Backend, q};
use crate::common::*;

/// Idempotent; checks the org. Run it in a transaction.
pub(crate) async fn add<B: Backend>(conn: &mut B::Conn, entry: &AllowlistEntry) -> StoreResult<()> {
    if let Some(org) = entry.org_id {
        ensure_org::<B>(conn, org).await?;
    }
    q::<B>(
        "INSERT INTO allowlist (org_scope, kind, value, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_scope, kind, value) DO NOTHING",
    )
    .bind(allowlist_scope(entry.org_id))
    .bind(allowlist_kind_to_text(entry.kind))
    .bind(entry.value.trim().to_lowercase())
    .bind_ts(entry.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Returns whether an entry was removed.
pub(crate) async fn remove<B: Backend>(
    conn: &mut B::Conn,
    org: Option<OrgId>,
    kind: AllowlistKind,
    value: &str,
) -> StoreResult<bool> {
    let n = q::<B>("DELETE FROM allowlist WHERE org_scope = $1 AND kind = $2 AND value = $3")
        .bind(allowlist_scope(org))
        .bind(allowlist_kind_to_text(kind))
        .bind(value.trim().to_lowercase())
        .execute(conn)
        .await?;
    Ok(n > 0)
}

pub(crate) async fn list<B: Backend>(conn: &mut B::Conn) -> StoreResult<Vec<AllowlistEntry>> {
    let rs = q::<B>(
        "SELECT org_scope, kind, value, created_at FROM allowlist \
         ORDER BY org_scope, kind, value",
    )
    .fetch_all(conn)
    .await?;
    rs.iter()
        .map(|r| {
            Ok(AllowlistEntry {
                org_id: allowlist_org(B::col(r, 0)?),
                kind: parse(&B::col::<String>(r, 1)?)?,
                value: B::col(r, 2)?,
                created_at: B::ts(r, 3)?,
            })
        })
        .collect()
}
