//! The revocation feed: events every process polls, the snapshot it starts from, and the
//! per-user and per-org state it reloads; plus revoking a user's sessions and credentials.

use portcullis_core::model::*;
use portcullis_core::store::{
    Deactivation, OrgRevocationState, RevocationSnapshot, StoreResult, UserRevocationState,
};

use super::{credentials, service_accounts, sessions};
use crate::backend::{Backend, Lock, q};
use crate::common::*;
use crate::write::Write;

/// Appends revocation events. Call last in the transaction (it takes the feed lock).
pub(crate) async fn append<B: Backend>(
    conn: &mut B::Conn,
    events: &[RevocationEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    B::lock(conn, Lock::RevocationFeed).await?;
    let at = now();
    for ev in events {
        let (kind, subject) = event_columns(ev);
        q::<B>("INSERT INTO revocation_events (kind, subject, created_at) VALUES ($1, $2, $3)")
            .bind(kind)
            .bind(subject)
            .bind_ts(at)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Revokes the user's live sessions and active credentials (in one org, or all), announcing
/// nothing: the caller announces the user once.
pub(crate) async fn revoke_all<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: Option<OrgId>,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    let sessions = sessions::revoke_live::<B>(conn, user, org, at).await?;
    let credentials = credentials::revoke_active::<B>(conn, user, org, by, at).await?;
    Ok(Deactivation {
        sessions_revoked: sessions,
        credentials_revoked: credentials,
    })
}

/// [`revoke_all`], announcing the user.
pub(crate) async fn revoke_access<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    org: Option<OrgId>,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    let d = revoke_all::<B>(w.conn(), user, org, by, at).await?;
    w.announce(RevocationEvent::User(user));
    Ok(d)
}

/// The whole revocation state with the newest event's number. Run it in a snapshot.
pub(crate) async fn snapshot<B: Backend>(
    conn: &mut B::Conn,
    now: Timestamp,
) -> StoreResult<RevocationSnapshot> {
    let seq_row = q::<B>("SELECT COALESCE(MAX(seq), 0) FROM revocation_events")
        .fetch_one(conn)
        .await?;
    let users = q::<B>("SELECT id FROM users WHERE deactivated = TRUE ORDER BY id")
        .fetch_all(conn)
        .await?;
    let memberships = q::<B>(
        "SELECT user_id, org_id FROM memberships WHERE deactivated = TRUE \
         OR removed_at IS NOT NULL ORDER BY user_id, org_id",
    )
    .fetch_all(conn)
    .await?;
    let m_cutoffs = q::<B>(
        "SELECT user_id, org_id, tokens_not_before FROM memberships \
         WHERE tokens_not_before IS NOT NULL ORDER BY user_id, org_id",
    )
    .fetch_all(conn)
    .await?;
    let orgs = q::<B>(
        "SELECT id, disabled, tokens_not_before FROM orgs \
         WHERE disabled = TRUE OR tokens_not_before IS NOT NULL ORDER BY id",
    )
    .fetch_all(conn)
    .await?;
    let sessions = q::<B>(
        "SELECT id, expires_at FROM sessions WHERE revoked_at IS NOT NULL \
         AND expires_at > $1 ORDER BY id",
    )
    .bind_ts(now)
    .fetch_all(conn)
    .await?;
    let creds = q::<B>(
        "SELECT id FROM credentials WHERE revoked_at IS NOT NULL \
         AND (expires_at IS NULL OR expires_at > $1) ORDER BY id",
    )
    .bind_ts(now)
    .fetch_all(conn)
    .await?;
    let keys = q::<B>("SELECT kid FROM keys WHERE revoked_at IS NOT NULL ORDER BY kid")
        .fetch_all(conn)
        .await?;
    // Service accounts are subjects like users: a stopped one reads as deactivated, and its
    // cut-off as a cut-off in its org.
    let stopped_accounts = q::<B>(service_accounts::STOPPED).fetch_all(conn).await?;
    let account_cutoffs = q::<B>(service_accounts::CUTOFFS).fetch_all(conn).await?;
    let (mut disabled_orgs, mut org_cutoffs) = (Vec::new(), Vec::new());
    for r in &orgs {
        let id = OrgId(B::col(r, 0)?);
        if B::col::<bool>(r, 1)? {
            disabled_orgs.push(id);
        }
        if let Some(at) = B::opt_ts(r, 2)? {
            org_cutoffs.push((id, at));
        }
    }
    Ok(RevocationSnapshot {
        seq: B::col(&seq_row, 0)?,
        deactivated_users: users
            .iter()
            .chain(&stopped_accounts)
            .map(|r| Ok(UserId(B::col(r, 0)?)))
            .collect::<StoreResult<_>>()?,
        deactivated_memberships: memberships
            .iter()
            .map(|r| Ok((UserId(B::col(r, 0)?), OrgId(B::col(r, 1)?))))
            .collect::<StoreResult<_>>()?,
        membership_cutoffs: m_cutoffs
            .iter()
            .chain(&account_cutoffs)
            .map(|r| Ok((UserId(B::col(r, 0)?), OrgId(B::col(r, 1)?), B::ts(r, 2)?)))
            .collect::<StoreResult<_>>()?,
        disabled_orgs,
        org_cutoffs,
        revoked_sessions: revoked_sessions::<B, _>(&sessions)?,
        revoked_credentials: revoked_credentials::<B, _>(&creds)?,
        revoked_keys: keys
            .iter()
            .map(|r| B::col::<String>(r, 0))
            .collect::<StoreResult<_>>()?,
    })
}

/// Events with a sequence number greater than `after`, oldest first, at most `limit`.
pub(crate) async fn events_since<B: Backend>(
    conn: &mut B::Conn,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<(i64, RevocationEvent)>> {
    let rs = q::<B>(
        "SELECT seq, kind, subject FROM revocation_events WHERE seq > $1 \
         ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rs.iter()
        .map(|r| {
            Ok((
                B::col::<i64>(r, 0)?,
                event_from_columns(&B::col::<String>(r, 1)?, B::col(r, 2)?)?,
            ))
        })
        .collect()
}

/// Everything a revocation view needs about one user. Run it in a snapshot.
pub(crate) async fn user_state<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    now: Timestamp,
) -> StoreResult<UserRevocationState> {
    let Some(urow) = q::<B>("SELECT deactivated FROM users WHERE id = $1")
        .bind(user.0)
        .fetch_optional(conn)
        .await?
    else {
        return account_state::<B>(conn, user).await;
    };
    let orgs = q::<B>(
        "SELECT org_id FROM memberships WHERE user_id = $1 \
         AND (deactivated = TRUE OR removed_at IS NOT NULL)",
    )
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    let cutoffs = q::<B>(
        "SELECT org_id, tokens_not_before FROM memberships WHERE user_id = $1 \
         AND tokens_not_before IS NOT NULL",
    )
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    let sessions = q::<B>(
        "SELECT id, expires_at FROM sessions WHERE user_id = $1 \
         AND revoked_at IS NOT NULL AND expires_at > $2 ORDER BY id",
    )
    .bind(user.0)
    .bind_ts(now)
    .fetch_all(conn)
    .await?;
    let creds = q::<B>(
        "SELECT id FROM credentials WHERE user_id = $1 AND revoked_at IS NOT NULL \
         AND (expires_at IS NULL OR expires_at > $2) ORDER BY id",
    )
    .bind(user.0)
    .bind_ts(now)
    .fetch_all(conn)
    .await?;
    Ok(UserRevocationState {
        exists: true,
        deactivated: B::col(&urow, 0)?,
        deactivated_orgs: orgs
            .iter()
            .map(|r| Ok(OrgId(B::col(r, 0)?)))
            .collect::<StoreResult<_>>()?,
        org_cutoffs: cutoffs
            .iter()
            .map(|r| Ok((OrgId(B::col(r, 0)?), B::ts(r, 1)?)))
            .collect::<StoreResult<_>>()?,
        revoked_sessions: revoked_sessions::<B, _>(&sessions)?,
        revoked_credentials: revoked_credentials::<B, _>(&creds)?,
    })
}

/// A subject that is no user: a service account's state, or (neither) the default, which the
/// view reads as gone.
async fn account_state<B: Backend>(
    conn: &mut B::Conn,
    id: UserId,
) -> StoreResult<UserRevocationState> {
    let Some((stopped, org, cut_off)) = service_accounts::revocation_state::<B>(conn, id).await?
    else {
        return Ok(UserRevocationState::default());
    };
    Ok(UserRevocationState {
        exists: true,
        deactivated: stopped,
        org_cutoffs: cut_off.map(|at| (org, at)).into_iter().collect(),
        ..UserRevocationState::default()
    })
}

/// An unknown org reads as disabled.
pub(crate) async fn org_state<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
) -> StoreResult<OrgRevocationState> {
    let row = q::<B>("SELECT disabled, tokens_not_before FROM orgs WHERE id = $1")
        .bind(org.0)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => Ok(OrgRevocationState {
            disabled: B::col(&r, 0)?,
            tokens_not_before: B::opt_ts(&r, 1)?,
        }),
        None => Ok(OrgRevocationState {
            disabled: true,
            tokens_not_before: None,
        }),
    }
}

/// Rows of (session id, revoked at), as both revocation reads select them.
fn revoked_sessions<B: Backend, C: FromIterator<(SessionId, Timestamp)>>(
    rows: &[B::Row],
) -> StoreResult<C> {
    rows.iter()
        .map(|r| Ok((SessionId(B::col(r, 0)?), B::ts(r, 1)?)))
        .collect()
}

/// Rows of a revoked credential's id, as both revocation reads select them.
fn revoked_credentials<B: Backend, C: FromIterator<CredentialId>>(
    rows: &[B::Row],
) -> StoreResult<C> {
    rows.iter()
        .map(|r| Ok(CredentialId(B::col(r, 0)?)))
        .collect()
}
