//! Users: create, read, search, update, deactivate.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::{StoreResult, UserQuery, UserSort, UserSortField};

use super::memberships::membership_at;
use super::rows;
use crate::backend::{Backend, Stmt, q};
use crate::common::*;
use crate::write::Write;

/// How many columns `user_cols!` lists: where a joined row's next table starts.
pub(crate) const USER_NCOLS: usize = 11;

pub(crate) fn user_at<B: Backend>(r: &B::Row, b: usize) -> StoreResult<User> {
    Ok(User {
        id: UserId(B::col(r, b)?),
        email: B::col(r, b + 1)?,
        display_name: B::col(r, b + 2)?,
        avatar_url: B::col(r, b + 3)?,
        password_hash: B::col(r, b + 4)?,
        validated_at: B::opt_ts(r, b + 5)?,
        super_admin: B::col(r, b + 6)?,
        deactivated: B::col(r, b + 7)?,
        password_reset_required: B::col(r, b + 8)?,
        created_at: B::ts(r, b + 9)?,
        updated_at: B::ts(r, b + 10)?,
    })
}

pub(crate) fn user_row<B: Backend>(r: &B::Row) -> StoreResult<User> {
    user_at::<B>(r, 0)
}

/// Binds a new user's values to `$1`..`$10` of the users INSERT.
pub(crate) fn bind_new_user<B: Backend>(stmt: Stmt<B>, u: &NewUser, at: Timestamp) -> Stmt<B> {
    stmt.bind(UserId::new().0)
        .bind(u.email.trim().to_string())
        .bind(normalize_email(&u.email))
        .bind(u.display_name.clone())
        .bind(name_key(&u.display_name))
        .bind(u.avatar_url.clone())
        .bind(u.password_hash.clone())
        .bind_opt_ts(u.validated_at)
        .bind(u.super_admin)
        .bind_ts(at)
}

pub(crate) async fn insert<B: Backend>(
    conn: &mut B::Conn,
    u: &NewUser,
    at: Timestamp,
) -> StoreResult<User> {
    let stmt = q::<B>(concat!(
        "INSERT INTO users (id, email, email_norm, display_name, name_norm, avatar_url, \
         password_hash, validated_at, super_admin, deactivated, password_reset_required, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, FALSE, $10, $10) RETURNING ",
        user_cols!("")
    ));
    let row = bind_new_user(stmt, u, at).fetch_one(conn).await?;
    user_row::<B>(&row)
}

pub(crate) async fn get<B: Backend>(conn: &mut B::Conn, id: UserId) -> StoreResult<Option<User>> {
    q::<B>(concat!(
        "SELECT ",
        user_cols!(""),
        " FROM users WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(user_row::<B>)
    .transpose()
}

/// Fetches users by id in `IN` lists of bounded length, ordered by id.
pub(crate) async fn get_many<B: Backend>(
    conn: &mut B::Conn,
    ids: &[UserId],
) -> StoreResult<Vec<User>> {
    let ids: BTreeSet<UserId> = ids.iter().copied().collect();
    let ids: Vec<UserId> = ids.into_iter().collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let mut stmt = q::<B>(concat!(
            "SELECT ",
            user_cols!(""),
            " FROM users WHERE id IN ("
        ));
        stmt.push_list(chunk.iter().map(|id| id.0))
            .push(") ORDER BY id");
        out.extend(rows::<B, _>(stmt.fetch_all(conn).await?, user_row::<B>)?);
    }
    Ok(out)
}

pub(crate) async fn get_by_email<B: Backend>(
    conn: &mut B::Conn,
    email: &str,
) -> StoreResult<Option<User>> {
    q::<B>(concat!(
        "SELECT ",
        user_cols!(""),
        " FROM users WHERE email_norm = $1"
    ))
    .bind(normalize_email(email))
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(user_row::<B>)
    .transpose()
}

pub(crate) async fn update<B: Backend>(
    w: &mut Write<B>,
    id: UserId,
    u: UserUpdate,
) -> StoreResult<User> {
    let row = q::<B>(concat!(
        "UPDATE users SET \
         display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
         name_norm = CASE WHEN $2 THEN $4 ELSE name_norm END, \
         avatar_url = CASE WHEN $5 THEN $6 ELSE avatar_url END, \
         password_hash = CASE WHEN $7 THEN $8 ELSE password_hash END, \
         validated_at = CASE WHEN $9 THEN $10 ELSE validated_at END, \
         super_admin = CASE WHEN $11 THEN $12 ELSE super_admin END, \
         password_reset_required = CASE WHEN $13 THEN $14 ELSE password_reset_required END, \
         updated_at = $15 WHERE id = $1 RETURNING ",
        user_cols!("")
    ))
    .bind(id.0)
    .bind(u.display_name.is_some())
    .bind(u.display_name.clone().unwrap_or_default())
    .bind(name_key(u.display_name.as_deref().unwrap_or_default()))
    .bind(u.avatar_url.is_some())
    .bind(u.avatar_url.clone().flatten())
    .bind(u.password_hash.is_some())
    .bind(u.password_hash.clone().flatten())
    .bind(u.validated_at.is_some())
    .bind_opt_ts(u.validated_at.flatten())
    .bind(u.super_admin.is_some())
    .bind(u.super_admin.unwrap_or_default())
    .bind(u.password_reset_required.is_some())
    .bind(u.password_reset_required.unwrap_or_default())
    .bind_ts(now())
    .fetch_optional(w.conn())
    .await?
    .ok_or_else(|| not_found("unknown user"))?;
    let user = user_row::<B>(&row)?;
    // Every change but a password rehash is announced: other processes drop cached copies of
    // the user.
    let profile_changed = u.display_name.is_some()
        || u.avatar_url.is_some()
        || u.validated_at.is_some()
        || u.super_admin.is_some()
        || u.password_reset_required.is_some();
    if profile_changed {
        w.announce(RevocationEvent::User(id));
    }
    Ok(user)
}

/// All users ordered by email.
pub(crate) async fn list<B: Backend>(
    conn: &mut B::Conn,
    offset: u64,
    limit: u32,
) -> StoreResult<Vec<User>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        user_cols!(""),
        " FROM users ORDER BY email_norm, id LIMIT $1 OFFSET $2"
    ))
    .bind(i64::from(limit))
    .bind(to_i64(offset))
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, user_row::<B>)
}

pub(crate) async fn search_in_org<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    query: &UserQuery,
    sort: UserSort,
    offset: u64,
    limit: u32,
) -> StoreResult<Vec<(User, Membership)>> {
    let mut stmt = q::<B>(concat!(
        "SELECT ",
        user_cols!("u."),
        ", ",
        membership_cols!("m."),
        " FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.org_id = "
    ));
    stmt.push_bind(org.0);
    stmt.push(" AND m.removed_at IS NULL AND ");
    push_user_query(&mut stmt, query);
    stmt.push(match sort.field {
        UserSortField::Name => " ORDER BY u.name_norm",
        UserSortField::Email => " ORDER BY u.email_norm",
        UserSortField::CreatedAt => " ORDER BY u.created_at",
        UserSortField::UpdatedAt => " ORDER BY u.updated_at",
    });
    stmt.push(if sort.descending { " DESC" } else { " ASC" });
    stmt.push(", u.id ASC LIMIT ").push_bind(i64::from(limit));
    stmt.push(" OFFSET ").push_bind(to_i64(offset));
    let rs = stmt.fetch_all(conn).await?;
    rs.iter()
        .map(|r| Ok((user_at::<B>(r, 0)?, membership_at::<B>(r, USER_NCOLS)?)))
        .collect()
}

fn push_user_query<B: Backend>(stmt: &mut Stmt<B>, q: &UserQuery) {
    match q {
        UserQuery::And(items) | UserQuery::Or(items) if items.is_empty() => {
            stmt.push(if matches!(q, UserQuery::And(_)) {
                "1 = 1"
            } else {
                "1 = 0"
            });
        }
        UserQuery::And(items) | UserQuery::Or(items) => {
            let op = if matches!(q, UserQuery::And(_)) {
                " AND "
            } else {
                " OR "
            };
            stmt.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    stmt.push(op);
                }
                push_user_query(stmt, item);
            }
            stmt.push(")");
        }
        UserQuery::ExactEmail(e) => {
            stmt.push("u.email_norm = ").push_bind(normalize_email(e));
        }
        UserQuery::Text(t) => {
            let pattern = like_substring(t);
            stmt.push("(u.email_norm LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR u.name_norm LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\')");
        }
    }
}

async fn set_deactivated<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    deactivated: bool,
) -> StoreResult<()> {
    let n = q::<B>("UPDATE users SET deactivated = $2, updated_at = $3 WHERE id = $1")
        .bind(user.0)
        .bind(deactivated)
        .bind_ts(now())
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown user"));
    }
    Ok(())
}

/// Sets the user's deactivated flag; revoking what the user held is the core's decision.
pub(crate) async fn mark_deactivated<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
) -> StoreResult<()> {
    set_deactivated::<B>(conn, user, true).await
}

pub(crate) async fn reactivate<B: Backend>(w: &mut Write<B>, user: UserId) -> StoreResult<()> {
    set_deactivated::<B>(w.conn(), user, false).await?;
    w.announce(RevocationEvent::User(user));
    Ok(())
}
