//! Sessions: create, read, revoke, touch. Every revocation goes through [`end`], which also
//! ends the grant sessions of a browser session and queues their back-channel logout notices.

use portcullis_core::model::*;
use portcullis_core::store::{StoreError, StoreResult};
use uuid::Uuid;

use super::{ensure_org, ensure_user, logout_notices, oauth_clients, rows};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

fn session_row<B: Backend>(r: &B::Row) -> StoreResult<Session> {
    let grant = match B::col::<Option<String>>(r, 13)? {
        Some(client_id) => Some(SessionGrant {
            client_id,
            parent: B::col::<Option<String>>(r, 14)?.map(SessionId),
            offline: B::col(r, 15)?,
        }),
        None => None,
    };
    Ok(Session {
        id: SessionId(B::col(r, 0)?),
        user_id: UserId(B::col(r, 1)?),
        org_id: org_from_col(B::col(r, 2)?),
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
        grant,
    })
}

/// `NotFound("unknown session")` unless the session exists (live or not). Nothing references
/// `sessions` by foreign key (see the migration 0007), so the store checks here.
pub(crate) async fn ensure<B: Backend>(conn: &mut B::Conn, id: &SessionId) -> StoreResult<()> {
    let row = q::<B>("SELECT 1 FROM sessions WHERE id = $1")
        .bind(id.0.clone())
        .fetch_optional(conn)
        .await?;
    row.map(|_| ()).ok_or_else(|| not_found("unknown session"))
}

/// Locks the parent of a new grant session (PostgreSQL) until commit, so that it is either
/// revoked before (then `Conflict("parent session revoked")`) or after this session exists
/// (then [`end`]'s cascade sees it): never a live grant session of a revoked browser session.
async fn lock_unrevoked_parent<B: Backend>(
    conn: &mut B::Conn,
    parent: &SessionId,
) -> StoreResult<()> {
    let n = q::<B>("UPDATE sessions SET revoked_at = NULL WHERE id = $1 AND revoked_at IS NULL")
        .bind(parent.0.clone())
        .execute(conn)
        .await?;
    if n > 0 {
        return Ok(());
    }
    ensure::<B>(conn, parent).await?;
    Err(StoreError::Conflict("parent session revoked".into()))
}

/// Checks the user, org, actor and grant (client, and a parent not revoked), then inserts; run
/// it in a transaction.
pub(crate) async fn create<B: Backend>(conn: &mut B::Conn, s: &Session) -> StoreResult<()> {
    ensure_user::<B>(conn, s.user_id).await?;
    // A team-less session has no org (stored as NULL).
    if !s.org_id.is_none() {
        ensure_org::<B>(conn, s.org_id).await?;
    }
    if let Some(actor) = s.actor_id {
        ensure_user::<B>(conn, actor).await?;
    }
    if let Some(grant) = &s.grant {
        oauth_clients::ensure::<B>(conn, &grant.client_id).await?;
        if let Some(parent) = &grant.parent {
            lock_unrevoked_parent::<B>(conn, parent).await?;
        }
    }
    let grant = s.grant.as_ref();
    q::<B>(concat!(
        "INSERT INTO sessions (",
        session_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(s.id.0.clone())
    .bind(s.user_id.0)
    .bind(org_col(s.org_id))
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
    .bind(grant.map(|g| g.client_id.clone()))
    .bind(grant.and_then(|g| g.parent.as_ref()).map(|p| p.0.clone()))
    .bind(grant.is_some_and(|g| g.offline))
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

/// Which live sessions a revocation ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending<'a> {
    One(&'a SessionId),
    /// The user's sessions, in one org or (with `None`) all of them, but `keep`.
    OfUser {
        user: UserId,
        org: Option<OrgId>,
        keep: Option<&'a SessionId>,
    },
    /// Every grant session of the client.
    OfClient(&'a str),
}

/// A session a revocation ended.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub(crate) id: SessionId,
    pub(crate) user_id: UserId,
    /// For a grant session: its client and its parent (browser) session.
    pub(crate) grant: Option<(String, Option<SessionId>)>,
}

/// `UPDATE` ending the live sessions that also match the condition, returning what [`Ended`]
/// holds; `$1` is the revocation time. Without a condition it ends with `AND ` for a list.
macro_rules! end_live {
    () => {
        "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND expires_at > $1 AND "
    };
    ($cond:literal) => {
        concat!(end_live!(), $cond, ended_returning!())
    };
}

macro_rules! ended_returning {
    () => {
        " RETURNING id, user_id, grant_client_id, grant_parent_id"
    };
}

fn ended_rows<B: Backend>(rs: Vec<B::Row>) -> StoreResult<Vec<Ended>> {
    let mut ended = rs
        .iter()
        .map(|r| {
            let parent = B::col::<Option<String>>(r, 3)?.map(SessionId);
            Ok(Ended {
                id: SessionId(B::col(r, 0)?),
                user_id: UserId(B::col(r, 1)?),
                grant: B::col::<Option<String>>(r, 2)?.map(|client| (client, parent)),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    // RETURNING has no order; events and notices follow this one.
    ended.sort_by(|a, b| a.id.0.cmp(&b.id.0));
    Ok(ended)
}

/// The one way sessions are revoked: ends the live sessions `which` names, then the live
/// sessions, not `offline`, whose parent ended (grants of a browser sign-in, token-exchange
/// sessions of a grant), level by level, and queues a back-channel
/// logout notice for each grant session ended whose client wants one, all in the caller's
/// transaction. Announces nothing (the callers do); returns what ended, the named first.
pub(crate) async fn end<B: Backend>(
    conn: &mut B::Conn,
    which: Ending<'_>,
    at: Timestamp,
) -> StoreResult<Vec<Ended>> {
    let stmt = match which {
        Ending::One(id) => q::<B>(end_live!("id = $2")).bind_ts(at).bind(id.0.clone()),
        Ending::OfUser { user, org, keep } => q::<B>(end_live!(
            "user_id = $2 AND ($3 IS NULL OR org_id = $3) AND ($4 IS NULL OR id <> $4)"
        ))
        .bind_ts(at)
        .bind(user.0)
        .bind(org.map(|o| o.0))
        .bind(keep.map(|k| k.0.clone())),
        Ending::OfClient(client) => q::<B>(end_live!("grant_client_id = $2"))
            .bind_ts(at)
            .bind(client.to_string()),
    };
    let mut ended = ended_rows::<B>(stmt.fetch_all(conn).await?)?;
    // Children of what ended, level by level: grants of a browser sign-in, and the sessions
    // token exchanges started from a grant (or from an exchange). Each session ends once, so
    // this stops.
    let mut parents: Vec<String> = ended.iter().map(|e| e.id.0.clone()).collect();
    while !parents.is_empty() {
        let mut children = Vec::new();
        for chunk in parents.chunks(IN_CHUNK) {
            let mut stmt = q::<B>(concat!(
                end_live!(),
                "grant_offline = FALSE AND grant_parent_id IN ("
            ))
            .bind_ts(at);
            stmt.push_list(chunk.iter().cloned())
                .push(concat!(")", ended_returning!()));
            children.extend(ended_rows::<B>(stmt.fetch_all(conn).await?)?);
        }
        parents = children.iter().map(|e| e.id.0.clone()).collect();
        ended.extend(children);
    }
    logout_notices::enqueue::<B>(conn, &ended, at).await?;
    Ok(ended)
}

fn announce_each<B: Backend>(w: &mut Write<B>, ended: &[Ended]) {
    for e in ended {
        w.announce(RevocationEvent::Session(e.id.clone()));
    }
}

/// Returns whether the session was live and is now revoked; announces it and each grant
/// session that ended with it.
pub(crate) async fn revoke<B: Backend>(
    w: &mut Write<B>,
    id: &SessionId,
    at: Timestamp,
) -> StoreResult<bool> {
    let ended = end::<B>(w.conn(), Ending::One(id), at).await?;
    announce_each(w, &ended);
    Ok(!ended.is_empty())
}

/// Revokes every live session of the user except `keep`, announcing the user when any ended.
pub(crate) async fn revoke_of_user<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    keep: Option<&SessionId>,
    at: Timestamp,
) -> StoreResult<u64> {
    let which = Ending::OfUser {
        user,
        org: None,
        keep,
    };
    let n = end::<B>(w.conn(), which, at).await?.len();
    if n > 0 {
        w.announce(RevocationEvent::User(user));
    }
    Ok(n as u64)
}

/// Revokes the user's live sessions, in `org` or (with `None`) in every org, announcing nothing.
pub(crate) async fn revoke_live<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: Option<OrgId>,
    at: Timestamp,
) -> StoreResult<u64> {
    let which = Ending::OfUser {
        user,
        org,
        keep: None,
    };
    Ok(end::<B>(conn, which, at).await?.len() as u64)
}

/// Revokes every live grant session of the client, announcing each.
pub(crate) async fn revoke_of_client<B: Backend>(
    w: &mut Write<B>,
    client_id: &str,
    at: Timestamp,
) -> StoreResult<u64> {
    let ended = end::<B>(w.conn(), Ending::OfClient(client_id), at).await?;
    announce_each(w, &ended);
    Ok(ended.len() as u64)
}

/// Live grant sessions whose parent is the browser session.
pub(crate) async fn grants_of<B: Backend>(
    conn: &mut B::Conn,
    browser_session: &SessionId,
    now: Timestamp,
) -> StoreResult<Vec<Session>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        session_cols!(),
        " FROM sessions WHERE grant_parent_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 ORDER BY created_at, id"
    ))
    .bind(browser_session.0.clone())
    .bind_ts(now)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, session_row::<B>)
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
