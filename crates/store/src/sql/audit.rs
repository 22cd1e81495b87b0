//! The audit log.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;
use uuid::Uuid;

use super::rows;
use crate::backend::{Backend, q};
use crate::common::*;

/// Events per INSERT: 900 binds, under every backend's limit.
const AUDIT_CHUNK: usize = 100;

fn audit_row<B: Backend>(r: &B::Row) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: B::col(r, 0)?,
        at: B::ts(r, 1)?,
        actor: B::col::<Option<Uuid>>(r, 2)?.map(UserId),
        action: B::col(r, 3)?,
        target: B::col(r, 4)?,
        outcome: parse(&B::col::<String>(r, 5)?)?,
        ip: B::col(r, 6)?,
        request_id: B::col(r, 7)?,
        detail: json_parse(&B::col::<String>(r, 8)?)?,
    })
}

/// Inserts the events; run it in a transaction so that a batch is all or nothing.
pub(crate) async fn append<B: Backend>(
    conn: &mut B::Conn,
    events: &[AuditEvent],
) -> StoreResult<()> {
    let details = events
        .iter()
        .map(|e| json_text(&e.detail))
        .collect::<StoreResult<Vec<_>>>()?;
    // Multi-row INSERTs instead of one round-trip to the driver per event.
    for (chunk, details) in events.chunks(AUDIT_CHUNK).zip(details.chunks(AUDIT_CHUNK)) {
        let mut stmt = q::<B>(concat!(
            "INSERT INTO audit_events (",
            audit_cols!(),
            ") VALUES "
        ));
        for (i, (e, detail)) in chunk.iter().zip(details).enumerate() {
            stmt.push(if i == 0 { "(" } else { ", (" });
            stmt.push_bind(e.id).push(", ");
            stmt.push_bind_ts(e.at).push(", ");
            stmt.push_bind(e.actor.map(|a| a.0)).push(", ");
            stmt.push_bind(e.action.clone()).push(", ");
            stmt.push_bind(e.target.clone()).push(", ");
            stmt.push_bind(e.outcome.as_str()).push(", ");
            stmt.push_bind(e.ip.clone()).push(", ");
            stmt.push_bind(e.request_id.clone()).push(", ");
            stmt.push_bind(detail.clone()).push(")");
        }
        stmt.execute(conn).await?;
    }
    Ok(())
}

/// Newest first.
pub(crate) async fn list<B: Backend>(
    conn: &mut B::Conn,
    f: &AuditFilter,
) -> StoreResult<Vec<AuditEvent>> {
    let mut stmt = q::<B>(concat!(
        "SELECT ",
        audit_cols!(),
        " FROM audit_events WHERE 1 = 1"
    ));
    if let Some(a) = f.actor {
        stmt.push(" AND actor = ").push_bind(a.0);
    }
    if let Some(a) = &f.action {
        stmt.push(" AND action = ").push_bind(a.clone());
    }
    if let Some(t) = &f.target {
        stmt.push(" AND target = ").push_bind(t.clone());
    }
    if let Some(o) = f.outcome {
        stmt.push(" AND outcome = ").push_bind(o.as_str());
    }
    if let Some(s) = f.since {
        stmt.push(" AND at >= ").push_bind_ts(s);
    }
    if let Some(u) = f.until {
        stmt.push(" AND at < ").push_bind_ts(u);
    }
    let limit = if f.limit == 0 {
        DEFAULT_AUDIT_LIMIT
    } else {
        f.limit
    };
    stmt.push(" ORDER BY at DESC, seq DESC LIMIT ")
        .push_bind(i64::from(limit));
    rows::<B, _>(stmt.fetch_all(conn).await?, audit_row::<B>)
}
