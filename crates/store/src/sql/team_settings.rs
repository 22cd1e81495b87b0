//! Parsable team settings (key → JSON value per org) and team priority lists.

use std::collections::BTreeMap;

use portcullis_core::model::*;
use portcullis_core::store::{StoreError, StoreResult};

use super::{ensure_org, fetch_doc, keyed_docs};
use crate::backend::{Backend, Lock, q};
use crate::common::*;

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
) -> StoreResult<BTreeMap<String, serde_json::Value>> {
    let rs = q::<B>("SELECT key, value FROM team_settings WHERE org_id = $1")
        .bind(org.0)
        .fetch_all(conn)
        .await?;
    keyed_docs::<B, _, _>(&rs, Ok)
}

/// Sets or removes each key; `Conflict` when the org would end up with more than `max_keys`
/// (the caller's transaction then rolls every change back).
pub(crate) async fn update<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    changes: &[(String, Option<serde_json::Value>)],
    max_keys: usize,
) -> StoreResult<()> {
    ensure_org::<B>(conn, org).await?;
    // Concurrent batches of one org queue up, so the key limit holds at commit.
    B::lock(conn, Lock::Org(org)).await?;
    let at = now();
    for (key, value) in changes {
        match value {
            Some(v) => q::<B>(
                "INSERT INTO team_settings (org_id, key, value, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, key) \
                 DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(org.0)
            .bind(key.clone())
            .bind(json_text(v)?)
            .bind_ts(at),
            None => q::<B>("DELETE FROM team_settings WHERE org_id = $1 AND key = $2")
                .bind(org.0)
                .bind(key.clone()),
        }
        .execute(conn)
        .await?;
    }
    let row = q::<B>("SELECT COUNT(*) FROM team_settings WHERE org_id = $1")
        .bind(org.0)
        .fetch_one(conn)
        .await?;
    let count: i64 = B::col(&row, 0)?;
    if usize::try_from(count).unwrap_or(usize::MAX) > max_keys {
        return Err(StoreError::Conflict(format!(
            "a team may hold at most {max_keys} settings"
        )));
    }
    Ok(())
}

/// `None`: no priority list configured.
pub(crate) async fn priorities<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
) -> StoreResult<Option<Vec<PriorityLevel>>> {
    let stmt = q::<B>("SELECT doc FROM team_priorities WHERE org_id = $1").bind(org.0);
    fetch_doc(stmt, conn).await
}

/// Replaces the list (`None` removes it); run it in a transaction.
pub(crate) async fn set_priorities<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    priorities: Option<&[PriorityLevel]>,
) -> StoreResult<()> {
    ensure_org::<B>(conn, org).await?;
    match priorities {
        Some(p) => q::<B>(
            "INSERT INTO team_priorities (org_id, doc, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id) DO UPDATE SET doc = excluded.doc, \
             updated_at = excluded.updated_at",
        )
        .bind(org.0)
        .bind(json_text(&p)?)
        .bind_ts(now()),
        None => q::<B>("DELETE FROM team_priorities WHERE org_id = $1").bind(org.0),
    }
    .execute(conn)
    .await?;
    Ok(())
}
