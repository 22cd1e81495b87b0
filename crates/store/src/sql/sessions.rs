//! Sessions: create, read, revoke, touch.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;
use uuid::Uuid;

use super::{ensure_org, ensure_user, rows};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

fn session_row<B: Backend>(r: &B::Row) -> StoreResult<Session> {
    Ok(Session {
        id: SessionId(B::col(r, 0)?),
        user_id: UserId(B::col(r, 1)?),
        org_id: B::col::<Option<Uuid>>(r, 2)?.map_or(OrgId::NONE, OrgId),
        kind: session_kind_from(&B::col::<String>(r, 3)?)?,
        amr: json_parse(&B::col::<String>(r, 4)?)?,
        actor_id: B::col::<Option<Uuid>>(r, 5)?.map(UserId),
        created_at: B::ts(r, 6)?,
        expires_at: B::ts(r, 7)?,
        idle_timeout_secs: B::col(r, 8)?,
        last_seen_at: B::ts(r, 9)?,
        revoked_at: B::opt_ts(r, 10)?,
        ip: B::col(r, 11)?,
        user_agent: B::col(r, 12)?,
    })
}

/// Checks the user, org and actor, then inserts; run it in a transaction.
pub(crate) async fn create<B: Backend>(conn: &mut B::Conn, s: &Session) -> StoreResult<()> {
    ensure_user::<B>(conn, s.user_id).await?;
    // A team-less session has no org (stored as NULL).
    if !s.org_id.is_none() {
        ensure_org::<B>(conn, s.org_id).await?;
    }
    if let Some(actor) = s.actor_id {
        ensure_user::<B>(conn, actor).await?;
    }
    q::<B>(concat!(
        "INSERT INTO sessions (",
        session_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(s.id.0.clone())
    .bind(s.user_id.0)
    .bind((!s.org_id.is_none()).then_some(s.org_id.0))
    .bind(s.kind.as_str())
    .bind(json_text(&s.amr)?)
    .bind(s.actor_id.map(|a| a.0))
    .bind_ts(s.created_at)
    .bind_ts(s.expires_at)
    .bind(s.idle_timeout_secs)
    .bind_ts(s.last_seen_at)
    .bind_opt_ts(s.revoked_at)
    .bind(s.ip.clone())
    .bind(s.user_agent.clone())
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    id: &SessionId,
) -> StoreResult<Option<Session>> {
    q::<B>(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE id = $1"
    ))
    .bind(id.0.clone())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(session_row::<B>)
    .transpose()
}

pub(crate) async fn list_of_user<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    include_ended: bool,
    now: Timestamp,
) -> StoreResult<Vec<Session>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE user_id = $1 \
         AND ($2 OR (revoked_at IS NULL AND expires_at > $3)) \
         ORDER BY created_at DESC, id"
    ))
    .bind(user.0)
    .bind(include_ended)
    .bind_ts(now)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, session_row::<B>)
}

/// Returns whether the session was live and is now revoked (and then announces it).
pub(crate) async fn revoke<B: Backend>(
    w: &mut Write<B>,
    id: &SessionId,
    at: Timestamp,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
         AND expires_at > $2",
    )
    .bind(id.0.clone())
    .bind_ts(at)
    .execute(w.conn())
    .await?;
    if n > 0 {
        w.announce(RevocationEvent::Session(id.clone()));
    }
    Ok(n > 0)
}

/// Revokes every live session of the user except `keep`, announcing the user when any ended.
pub(crate) async fn revoke_of_user<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    keep: Option<&SessionId>,
    at: Timestamp,
) -> StoreResult<u64> {
    let n = q::<B>(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 AND ($3 IS NULL OR id <> $3)",
    )
    .bind(user.0)
    .bind_ts(at)
    .bind(keep.map(|k| k.0.clone()))
    .execute(w.conn())
    .await?;
    if n > 0 {
        w.announce(RevocationEvent::User(user));
    }
    Ok(n)
}

/// Revokes the user's live sessions, in `org` or (with `None`) in every org, announcing nothing.
pub(crate) async fn revoke_live<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: Option<OrgId>,
    at: Timestamp,
) -> StoreResult<u64> {
    q::<B>(
        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 \
         AND ($2 IS NULL OR org_id = $2) AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(user.0)
    .bind(org.map(|o| o.0))
    .bind_ts(at)
    .execute(conn)
    .await
}

pub(crate) async fn touch<B: Backend>(
    conn: &mut B::Conn,
    id: &SessionId,
    at: Timestamp,
) -> StoreResult<()> {
    q::<B>("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
        .bind(id.0.clone())
        .bind_ts(at)
        .execute(conn)
        .await?;
    Ok(())
}
