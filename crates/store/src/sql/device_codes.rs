//! The device authorization grant (RFC 8628; docs/design/oidc-provider.md "Device flow"):
//! device codes with their polls, decision and single redemption, each a conditional write so
//! it holds across nodes, and the windowed counters of user-code attempts.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::oauth_clients;
use crate::backend::{Backend, q};
use crate::common::*;

macro_rules! device_code_cols {
    () => {
        "device_code_hash, user_code_hash, client_id, scopes, created_at, expires_at, \
         interval_secs, polls, last_polled_at, decision, decided_at, user_id, org_id, \
         browser_session, auth_time, amr, acr, consumed_at, grant_session"
    };
}

const APPROVED: &str = "approved";
const DENIED: &str = "denied";

fn device_row<B: Backend>(r: &B::Row) -> StoreResult<DeviceCode> {
    let decision = match B::col::<Option<String>>(r, 9)?.as_deref() {
        None => None,
        Some(DENIED) => Some(DeviceDecision::Denied),
        Some(APPROVED) => {
            let user: Option<uuid::Uuid> = B::col(r, 11)?;
            let session: Option<String> = B::col(r, 13)?;
            let amr: Option<String> = B::col(r, 15)?;
            let acr: Option<String> = B::col(r, 16)?;
            match (user, session, B::opt_ts(r, 14)?, amr, acr) {
                (Some(user), Some(session), Some(auth_time), Some(amr), Some(acr)) => {
                    Some(DeviceDecision::Approved(DeviceApproval {
                        user_id: UserId(user),
                        org_id: org_from_col(B::col(r, 12)?),
                        browser_session: SessionId(session),
                        auth_time,
                        amr: json_parse(&amr)?,
                        acr,
                    }))
                }
                _ => return Err(corrupt("an approved device code without its approval")),
            }
        }
        Some(other) => return Err(corrupt(format!("device code decision {other:?}"))),
    };
    Ok(DeviceCode {
        device_code_hash: B::col(r, 0)?,
        user_code_hash: B::col(r, 1)?,
        client_id: B::col(r, 2)?,
        scopes: json_parse(&B::col::<String>(r, 3)?)?,
        created_at: B::ts(r, 4)?,
        expires_at: B::ts(r, 5)?,
        interval_secs: B::col(r, 6)?,
        polls: B::col(r, 7)?,
        last_polled_at: B::opt_ts(r, 8)?,
        decision,
        decided_at: B::opt_ts(r, 10)?,
        consumed_at: B::opt_ts(r, 17)?,
        grant_session: B::col::<Option<String>>(r, 18)?.map(SessionId),
    })
}

/// Checks the client, then inserts an undecided code; run it in a transaction.
pub(crate) async fn insert<B: Backend>(conn: &mut B::Conn, c: &DeviceCode) -> StoreResult<()> {
    oauth_clients::ensure::<B>(conn, &c.client_id).await?;
    q::<B>(
        "INSERT INTO oauth_device_codes (device_code_hash, user_code_hash, client_id, scopes, \
         created_at, expires_at, interval_secs, polls, last_polled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(c.device_code_hash.clone())
    .bind(c.user_code_hash.clone())
    .bind(c.client_id.clone())
    .bind(json_text(&c.scopes)?)
    .bind_ts(c.created_at)
    .bind_ts(c.expires_at)
    .bind(c.interval_secs)
    .bind(c.polls)
    .bind_opt_ts(c.last_polled_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The code one of the two hash columns finds (`sql` names which).
async fn find<B: Backend>(
    conn: &mut B::Conn,
    sql: &'static str,
    hash: &str,
) -> StoreResult<Option<DeviceCode>> {
    q::<B>(sql)
        .bind(hash.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(device_row::<B>)
        .transpose()
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    device_code_hash: &str,
) -> StoreResult<Option<DeviceCode>> {
    let sql = concat!(
        "SELECT ",
        device_code_cols!(),
        " FROM oauth_device_codes WHERE device_code_hash = $1"
    );
    find::<B>(conn, sql, device_code_hash).await
}

pub(crate) async fn get_by_user_code<B: Backend>(
    conn: &mut B::Conn,
    user_code_hash: &str,
) -> StoreResult<Option<DeviceCode>> {
    let sql = concat!(
        "SELECT ",
        device_code_cols!(),
        " FROM oauth_device_codes WHERE user_code_hash = $1"
    );
    find::<B>(conn, sql, user_code_hash).await
}

/// Compare-and-set on `polls`: of two polls that read the same row, one records.
pub(crate) async fn record_poll<B: Backend>(
    conn: &mut B::Conn,
    device_code_hash: &str,
    seen_polls: i64,
    now: Timestamp,
    interval_secs: i64,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE oauth_device_codes SET polls = polls + 1, last_polled_at = $3, \
         interval_secs = $4 WHERE device_code_hash = $1 AND polls = $2",
    )
    .bind(device_code_hash.to_string())
    .bind(seen_polls)
    .bind_ts(now)
    .bind(interval_secs)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Decides an undecided, unexpired code; the condition makes the first decision the only one.
pub(crate) async fn decide<B: Backend>(
    conn: &mut B::Conn,
    user_code_hash: &str,
    decision: &DeviceDecision,
    now: Timestamp,
) -> StoreResult<bool> {
    let approval = match decision {
        DeviceDecision::Approved(a) => Some(a),
        DeviceDecision::Denied => None,
    };
    let kind = if approval.is_some() { APPROVED } else { DENIED };
    let n = q::<B>(
        "UPDATE oauth_device_codes SET decision = $3, decided_at = $2, user_id = $4, \
         org_id = $5, browser_session = $6, auth_time = $7, amr = $8, acr = $9 \
         WHERE user_code_hash = $1 AND decision IS NULL AND expires_at > $2",
    )
    .bind(user_code_hash.to_string())
    .bind_ts(now)
    .bind(kind.to_string())
    .bind(approval.map(|a| a.user_id.0))
    .bind(approval.and_then(|a| org_col(a.org_id)))
    .bind(approval.map(|a| a.browser_session.0.clone()))
    .bind_opt_ts(approval.map(|a| a.auth_time))
    .bind(approval.map(|a| json_text(&a.amr)).transpose()?)
    .bind(approval.map(|a| a.acr.clone()))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Consumes an approved code if nobody has; atomic as code redemption is.
pub(crate) async fn redeem<B: Backend>(
    conn: &mut B::Conn,
    device_code_hash: &str,
    now: Timestamp,
) -> StoreResult<DeviceRedemption> {
    let won = q::<B>(concat!(
        "UPDATE oauth_device_codes SET consumed_at = $2 WHERE device_code_hash = $1 \
         AND consumed_at IS NULL AND decision = 'approved' RETURNING ",
        device_code_cols!()
    ))
    .bind(device_code_hash.to_string())
    .bind_ts(now)
    .fetch_optional(conn)
    .await?;
    if let Some(r) = won {
        return Ok(DeviceRedemption::Redeemed(device_row::<B>(&r)?));
    }
    Ok(match get::<B>(conn, device_code_hash).await? {
        Some(c) if c.consumed_at.is_some() => DeviceRedemption::AlreadyUsed(c),
        _ => DeviceRedemption::NotApproved,
    })
}

pub(crate) async fn set_grant_session<B: Backend>(
    conn: &mut B::Conn,
    device_code_hash: &str,
    session: &SessionId,
) -> StoreResult<()> {
    let n = q::<B>("UPDATE oauth_device_codes SET grant_session = $2 WHERE device_code_hash = $1")
        .bind(device_code_hash.to_string())
        .bind(session.0.clone())
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown device code"));
    }
    Ok(())
}

/// One upsert: a new window, or one more attempt in the current one; returns the count.
pub(crate) async fn count_guess<B: Backend>(
    conn: &mut B::Conn,
    key: &str,
    now: Timestamp,
    window_ends: Timestamp,
) -> StoreResult<(i64, Timestamp)> {
    let row = q::<B>(
        "INSERT INTO oauth_device_guesses (key, attempts, window_ends) VALUES ($1, 1, $3) \
         ON CONFLICT (key) DO UPDATE SET \
         attempts = CASE WHEN oauth_device_guesses.window_ends <= $2 THEN 1 \
                         ELSE oauth_device_guesses.attempts + 1 END, \
         window_ends = CASE WHEN oauth_device_guesses.window_ends <= $2 THEN $3 \
                            ELSE oauth_device_guesses.window_ends END \
         RETURNING attempts, window_ends",
    )
    .bind(key.to_string())
    .bind_ts(now)
    .bind_ts(window_ends)
    .fetch_one(conn)
    .await?;
    Ok((B::col(&row, 0)?, B::ts(&row, 1)?))
}

pub(crate) async fn refund_guess<B: Backend>(conn: &mut B::Conn, key: &str) -> StoreResult<()> {
    q::<B>(
        "UPDATE oauth_device_guesses SET attempts = attempts - 1 \
         WHERE key = $1 AND attempts > 0",
    )
    .bind(key.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes codes and guess windows that ended by `now`; returns how many rows.
pub(crate) async fn purge<B: Backend>(conn: &mut B::Conn, now: Timestamp) -> StoreResult<u64> {
    let mut n = 0;
    for sql in [
        "DELETE FROM oauth_device_codes WHERE expires_at <= $1",
        "DELETE FROM oauth_device_guesses WHERE window_ends <= $1",
    ] {
        n += q::<B>(sql).bind_ts(now).execute(conn).await?;
    }
    Ok(n)
}

/// Deletes the client's device codes; run it in a transaction.
pub(crate) async fn delete_of_client<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
) -> StoreResult<()> {
    q::<B>("DELETE FROM oauth_device_codes WHERE client_id = $1")
        .bind(client_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
