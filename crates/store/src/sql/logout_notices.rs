//! The back-channel logout outbox (docs/design/oidc-provider.md): one row per grant session
//! ended whose client has a `backchannel_logout_uri`, queued by the revocation itself
//! ([`sessions::end`](super::sessions::end)) and delivered by whichever node claims it.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_core::model::*;
use portcullis_core::store::{NoticeOutcome, StoreResult};
use uuid::Uuid;

use super::rows;
use super::sessions::Ended;
use crate::backend::{Backend, q};
use crate::common::*;

/// Notices per INSERT: 900 binds, under every backend's limit.
const NOTICE_CHUNK: usize = 100;

/// The longest lease a claim takes; keeps `now + lease` within every backend's range.
const MAX_LEASE_SECS: i64 = 366 * 24 * 3600;

fn notice_row<B: Backend>(r: &B::Row) -> StoreResult<LogoutNotice> {
    Ok(LogoutNotice {
        id: B::col(r, 0)?,
        client_id: B::col(r, 1)?,
        uri: B::col(r, 2)?,
        user_id: UserId(B::col(r, 3)?),
        sid: SessionId(B::col(r, 4)?),
        created_at: B::ts(r, 5)?,
        attempts: B::col(r, 6)?,
        next_attempt_at: B::ts(r, 7)?,
        delivered_at: B::opt_ts(r, 8)?,
        last_error: B::col(r, 9)?,
    })
}

/// Queues one notice, due at `at`, for each ended grant session whose client has a
/// back-channel logout URI; its `sid` is the browser session (the parent, or itself).
pub(crate) async fn enqueue<B: Backend>(
    conn: &mut B::Conn,
    ended: &[Ended],
    at: Timestamp,
) -> StoreResult<()> {
    let clients: Vec<&str> = ended
        .iter()
        .filter_map(|e| e.grant.as_ref().map(|(client, _)| client.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut uris = BTreeMap::new();
    for chunk in clients.chunks(IN_CHUNK) {
        let mut stmt = q::<B>(
            "SELECT client_id, backchannel_logout_uri FROM oauth_clients \
             WHERE backchannel_logout_uri IS NOT NULL AND client_id IN (",
        );
        stmt.push_list(chunk.iter().map(|c| c.to_string()))
            .push(")");
        for r in stmt.fetch_all(conn).await? {
            uris.insert(B::col::<String>(&r, 0)?, B::col::<String>(&r, 1)?);
        }
    }
    let notices: Vec<LogoutNotice> = ended
        .iter()
        .filter_map(|e| {
            let (client, parent) = e.grant.as_ref()?;
            Some(LogoutNotice {
                id: Uuid::new_v4(),
                client_id: client.clone(),
                uri: uris.get(client)?.clone(),
                user_id: e.user_id,
                sid: parent.clone().unwrap_or_else(|| e.id.clone()),
                created_at: at,
                attempts: 0,
                next_attempt_at: at,
                delivered_at: None,
                last_error: None,
            })
        })
        .collect();
    for chunk in notices.chunks(NOTICE_CHUNK) {
        let mut stmt = q::<B>(concat!(
            "INSERT INTO logout_notices (",
            logout_notice_cols!(),
            ") VALUES "
        ));
        for (i, n) in chunk.iter().enumerate() {
            stmt.push(if i == 0 { "(" } else { ", (" });
            stmt.push_bind(n.id).push(", ");
            stmt.push_bind(n.client_id.clone()).push(", ");
            stmt.push_bind(n.uri.clone()).push(", ");
            stmt.push_bind(n.user_id.0).push(", ");
            stmt.push_bind(n.sid.0.clone()).push(", ");
            stmt.push_bind_ts(n.created_at).push(", ");
            stmt.push_bind(n.attempts).push(", ");
            stmt.push_bind_ts(n.next_attempt_at).push(", NULL, NULL)");
        }
        stmt.execute(conn).await?;
    }
    Ok(())
}

/// Takes up to `limit` due notices, oldest first, moving their next attempt `lease_secs` on.
/// The pick is a materialised CTE, run once (a subquery in `IN (…)` may be run again per row
/// and, not seeing the rows this statement already moved, pick more than `limit`).
/// PostgreSQL's claimers skip each other's locked rows instead of waiting, and the outer
/// conditions are checked again on the newest row version, so a notice is claimed once per
/// lease; SQLite runs one writer at a time.
pub(crate) async fn claim<B: Backend>(
    conn: &mut B::Conn,
    now: Timestamp,
    lease_secs: i64,
    limit: u32,
) -> StoreResult<Vec<LogoutNotice>> {
    let lease = chrono::TimeDelta::seconds(lease_secs.clamp(0, MAX_LEASE_SECS));
    // Past the calendar's end there is nothing to lease.
    let until = now.checked_add_signed(lease).unwrap_or(now);
    let mut stmt = q::<B>(
        "WITH picked AS MATERIALIZED (SELECT id FROM logout_notices \
         WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $1 \
         ORDER BY created_at, id LIMIT $3",
    )
    .bind_ts(now)
    .bind_ts(until)
    .bind(i64::from(limit));
    stmt.push(B::SKIP_LOCKED).push(concat!(
        ") UPDATE logout_notices SET next_attempt_at = $2 \
         WHERE id IN (SELECT id FROM picked) AND delivered_at IS NULL \
         AND given_up_at IS NULL AND next_attempt_at <= $1 RETURNING ",
        logout_notice_cols!()
    ));
    let mut claimed = rows::<B, _>(stmt.fetch_all(conn).await?, notice_row::<B>)?;
    claimed.sort_by_key(|n| (n.created_at, n.id));
    Ok(claimed)
}

/// Records how one delivery attempt ended. A notice already delivered keeps its first
/// delivery; an unknown id is `NotFound`.
pub(crate) async fn finish<B: Backend>(
    conn: &mut B::Conn,
    id: Uuid,
    outcome: NoticeOutcome,
    at: Timestamp,
) -> StoreResult<()> {
    let stmt = match outcome {
        NoticeOutcome::Delivered => q::<B>(
            "UPDATE logout_notices SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
        )
        .bind(id)
        .bind_ts(at),
        NoticeOutcome::Failed { error, retry_at } => q::<B>(
            "UPDATE logout_notices SET attempts = attempts + 1, last_error = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), \
             given_up_at = CASE WHEN $4 IS NULL THEN $2 ELSE NULL END \
             WHERE id = $1 AND delivered_at IS NULL",
        )
        .bind(id)
        .bind_ts(at)
        .bind(error)
        .bind_opt_ts(retry_at),
    };
    if stmt.execute(conn).await? > 0 {
        return Ok(());
    }
    let known = q::<B>("SELECT 1 FROM logout_notices WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    known
        .map(|_| ())
        .ok_or_else(|| not_found("unknown logout notice"))
}

/// A client's notices, newest first.
pub(crate) async fn list_of_client<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
    limit: u32,
) -> StoreResult<Vec<LogoutNotice>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        logout_notice_cols!(),
        " FROM logout_notices WHERE client_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(client_id.to_string())
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, notice_row::<B>)
}
