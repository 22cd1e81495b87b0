//! The brute-force throttle: one row per login key. Every statement here is atomic on its own;
//! none needs a transaction.

use portcullis_core::model::*;
use portcullis_core::store::{StoreResult, ThrottleClaim};

use crate::backend::{Backend, q};

/// (failures, next_attempt_at, locked_until, locked_indefinitely)
type Row = (i32, Timestamp, Option<Timestamp>, bool);

async fn row<B: Backend>(conn: &mut B::Conn, key: &str) -> StoreResult<Option<Row>> {
    let row = q::<B>(
        "SELECT failures, next_attempt_at, locked_until, locked_indefinitely \
         FROM throttle WHERE key = $1",
    )
    .bind(key.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok((
            B::col(&r, 0)?,
            B::ts(&r, 1)?,
            B::opt_ts(&r, 2)?,
            B::col(&r, 3)?,
        ))
    })
    .transpose()
}

/// Claims the right to verify one password for `key` until `hold_until`.
pub(crate) async fn claim<B: Backend>(
    conn: &mut B::Conn,
    key: &str,
    now: Timestamp,
    hold_until: Timestamp,
) -> StoreResult<ThrottleClaim> {
    // The UPDATE's condition is re-checked against the latest row version, so of concurrent
    // claims exactly one matches.
    for _ in 0..3 {
        q::<B>(
            "INSERT INTO throttle (key, failures, next_attempt_at, locked_until, \
             locked_indefinitely) VALUES ($1, 0, $2, NULL, FALSE) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.to_string())
        .bind_ts(now)
        .execute(conn)
        .await?;
        let granted = q::<B>(
            "UPDATE throttle SET next_attempt_at = $3 WHERE key = $1 \
             AND locked_indefinitely = FALSE \
             AND (locked_until IS NULL OR locked_until <= $2) \
             AND next_attempt_at <= $2 RETURNING failures",
        )
        .bind(key.to_string())
        .bind_ts(now)
        .bind_ts(hold_until)
        .fetch_optional(conn)
        .await?;
        if let Some(r) = granted {
            return Ok(ThrottleClaim::Granted {
                failures: B::col(&r, 0)?,
            });
        }
        let Some((_failures, next, until, indefinite)) = row::<B>(conn, key).await? else {
            continue; // reset in between: try again
        };
        if indefinite {
            return Ok(ThrottleClaim::Locked { until: None });
        }
        if let Some(until) = until.filter(|u| *u > now) {
            return Ok(ThrottleClaim::Locked { until: Some(until) });
        }
        return Ok(ThrottleClaim::Wait { until: next });
    }
    Ok(ThrottleClaim::Wait { until: hold_until })
}

/// Records a failed attempt and sets the next window; returns the new failure count.
pub(crate) async fn fail<B: Backend>(
    conn: &mut B::Conn,
    key: &str,
    next_attempt_at: Timestamp,
    locked_until: Option<Option<Timestamp>>,
) -> StoreResult<i32> {
    let row = q::<B>(
        "INSERT INTO throttle (key, failures, next_attempt_at, locked_until, \
         locked_indefinitely) VALUES ($1, 1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET failures = throttle.failures + 1, \
         next_attempt_at = excluded.next_attempt_at, \
         locked_until = CASE WHEN $5 THEN excluded.locked_until ELSE throttle.locked_until END, \
         locked_indefinitely = CASE WHEN $5 THEN excluded.locked_indefinitely \
         ELSE throttle.locked_indefinitely END \
         RETURNING failures",
    )
    .bind(key.to_string())
    .bind_ts(next_attempt_at)
    .bind_opt_ts(locked_until.flatten())
    .bind(matches!(locked_until, Some(None)))
    .bind(locked_until.is_some())
    .fetch_one(conn)
    .await?;
    B::col(&row, 0)
}

pub(crate) async fn reset<B: Backend>(conn: &mut B::Conn, key: &str) -> StoreResult<()> {
    q::<B>("DELETE FROM throttle WHERE key = $1")
        .bind(key.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a claim's hold (the next attempt may come at `now`), keeping the failure count.
pub(crate) async fn release<B: Backend>(
    conn: &mut B::Conn,
    key: &str,
    now: Timestamp,
) -> StoreResult<()> {
    q::<B>("UPDATE throttle SET next_attempt_at = $2 WHERE key = $1 AND next_attempt_at > $2")
        .bind(key.to_string())
        .bind_ts(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// An indefinite lock reads as [`INDEFINITE_LOCK`](crate::INDEFINITE_LOCK).
pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    key: &str,
) -> StoreResult<Option<ThrottleState>> {
    Ok(row::<B>(conn, key)
        .await?
        .map(
            |(failures, next_attempt_at, until, indefinite)| ThrottleState {
                failures,
                next_attempt_at,
                locked_until: if indefinite {
                    Some(crate::INDEFINITE_LOCK)
                } else {
                    until
                },
            },
        ))
}
