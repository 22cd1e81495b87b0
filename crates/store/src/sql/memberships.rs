//! Memberships: who is in which org with which roles; removal, deactivation, last login.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{ensure_org, ensure_user, rows};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

pub(crate) fn membership_at<B: Backend>(r: &B::Row, b: usize) -> StoreResult<Membership> {
    Ok(Membership {
        user_id: UserId(B::col(r, b)?),
        org_id: OrgId(B::col(r, b + 1)?),
        roles: roles_from_text(&B::col::<String>(r, b + 2)?)?,
        kind: parse(&B::col::<String>(r, b + 3)?)?,
        deactivated: B::col(r, b + 4)?,
        last_login_at: B::opt_ts(r, b + 5)?,
        created_at: B::ts(r, b + 6)?,
        updated_at: B::ts(r, b + 7)?,
        removed_at: B::opt_ts(r, b + 8)?,
    })
}

pub(crate) fn membership_row<B: Backend>(r: &B::Row) -> StoreResult<Membership> {
    membership_at::<B>(r, 0)
}

/// Inserts or revives a membership; the user and org must exist.
pub(crate) async fn put<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    roles: &BTreeSet<Role>,
    kind: MembershipKind,
    at: Timestamp,
) -> StoreResult<Membership> {
    let row = q::<B>(concat!(
        "INSERT INTO memberships (user_id, org_id, roles, kind, deactivated, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, FALSE, $5, $5) \
         ON CONFLICT (user_id, org_id) DO UPDATE SET roles = excluded.roles, \
         kind = excluded.kind, removed_at = NULL, updated_at = excluded.updated_at \
         RETURNING ",
        membership_cols!("")
    ))
    .bind(user.0)
    .bind(org.0)
    .bind(roles_to_text(roles))
    .bind(kind.as_str())
    .bind_ts(at)
    .fetch_one(conn)
    .await?;
    membership_row::<B>(&row)
}

/// Adds or updates a membership (clearing `removed_at`), naming an unknown user or org.
pub(crate) async fn upsert<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    org: OrgId,
    roles: &BTreeSet<Role>,
    kind: MembershipKind,
) -> StoreResult<Membership> {
    ensure_user::<B>(w.conn(), user).await?;
    ensure_org::<B>(w.conn(), org).await?;
    let m = put::<B>(w.conn(), user, org, roles, kind, now()).await?;
    w.announce(RevocationEvent::User(user));
    Ok(m)
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
) -> StoreResult<Option<Membership>> {
    q::<B>(concat!(
        "SELECT ",
        membership_cols!(""),
        " FROM memberships WHERE user_id = $1 AND org_id = $2"
    ))
    .bind(user.0)
    .bind(org.0)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(membership_row::<B>)
    .transpose()
}

pub(crate) async fn list_of_user<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    include_removed: bool,
) -> StoreResult<Vec<Membership>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        membership_cols!(""),
        " FROM memberships WHERE user_id = $1 \
         AND ($2 OR removed_at IS NULL) ORDER BY created_at, org_id"
    ))
    .bind(user.0)
    .bind(include_removed)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, membership_row::<B>)
}

pub(crate) async fn list_of_org<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    include_removed: bool,
) -> StoreResult<Vec<Membership>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        membership_cols!(""),
        " FROM memberships WHERE org_id = $1 \
         AND ($2 OR removed_at IS NULL) ORDER BY created_at, user_id"
    ))
    .bind(org.0)
    .bind(include_removed)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, membership_row::<B>)
}

/// Runs `sql`, an UPDATE of one membership with `$1` user, `$2` org and `$3` the instant;
/// `NotFound` when there is no such membership.
async fn update_one<B: Backend>(
    conn: &mut B::Conn,
    sql: &'static str,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<()> {
    let n = q::<B>(sql)
        .bind(user.0)
        .bind(org.0)
        .bind_ts(at)
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown membership"));
    }
    Ok(())
}

/// Marks the membership removed (keeping the first removal's instant). Revoking what the
/// member held is the core's decision (`use_cases::remove_membership`).
pub(crate) async fn mark_removed<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<()> {
    let sql = "UPDATE memberships SET removed_at = COALESCE(removed_at, $3), updated_at = $3 \
               WHERE user_id = $1 AND org_id = $2";
    update_one::<B>(conn, sql, user, org, at).await
}

/// Sets the instant before which the member's tokens for the org are refused.
pub(crate) async fn set_tokens_not_before<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<()> {
    let sql = "UPDATE memberships SET tokens_not_before = $3 WHERE user_id = $1 AND org_id = $2";
    update_one::<B>(conn, sql, user, org, at).await
}

pub(crate) async fn touch_last_login<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<()> {
    let sql = "UPDATE memberships SET last_login_at = $3 WHERE user_id = $1 AND org_id = $2";
    update_one::<B>(conn, sql, user, org, at).await
}

/// Moves `last_login_at` forward to `at` (an older `at`, or no such membership, changes nothing).
pub(crate) async fn advance_last_login<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<()> {
    q::<B>(
        "UPDATE memberships SET last_login_at = $3 WHERE user_id = $1 AND org_id = $2 \
         AND (last_login_at IS NULL OR last_login_at < $3)",
    )
    .bind(user.0)
    .bind(org.0)
    .bind_ts(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Members of the orgs by `last_login_at` (never-logged-in last when descending, first when
/// ascending), ties by user id.
pub(crate) async fn login_activity<B: Backend>(
    conn: &mut B::Conn,
    orgs: &[OrgId],
    descending: bool,
    offset: u64,
    limit: u32,
) -> StoreResult<Vec<Membership>> {
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = q::<B>(concat!(
        "SELECT ",
        membership_cols!(""),
        " FROM memberships WHERE removed_at IS NULL AND org_id IN ("
    ));
    stmt.push_list(orgs.iter().take(IN_CHUNK).map(|o| o.0));
    stmt.push(if descending {
        ") ORDER BY last_login_at DESC NULLS LAST"
    } else {
        ") ORDER BY last_login_at ASC NULLS FIRST"
    });
    stmt.push(", user_id ASC, org_id ASC LIMIT ")
        .push_bind(i64::from(limit));
    stmt.push(" OFFSET ").push_bind(to_i64(offset));
    rows::<B, _>(stmt.fetch_all(conn).await?, membership_row::<B>)
}

async fn set_deactivated<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    deactivated: bool,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<()> {
    let n = q::<B>(
        "UPDATE memberships SET deactivated = $3, deactivated_by = $4, \
         deactivated_at = $5, updated_at = $6 WHERE user_id = $1 AND org_id = $2",
    )
    .bind(user.0)
    .bind(org.0)
    .bind(deactivated)
    .bind(by.map(|b| b.0))
    .bind_opt_ts(deactivated.then_some(at))
    .bind_ts(at)
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(not_found("unknown membership"));
    }
    Ok(())
}

/// Sets the membership's deactivated flag, recording who and when.
pub(crate) async fn mark_deactivated<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<()> {
    set_deactivated::<B>(conn, user, org, true, by, at).await
}

pub(crate) async fn reactivate<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    org: OrgId,
) -> StoreResult<()> {
    set_deactivated::<B>(w.conn(), user, org, false, None, now()).await?;
    w.announce(RevocationEvent::User(user));
    Ok(())
}
