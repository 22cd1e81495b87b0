//! Credentials: API keys and persistent tokens.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_core::model::*;
use portcullis_core::store::{CredentialFilter, CredentialWithPeople, StoreResult};
use uuid::Uuid;

use super::memberships::membership_at;
use super::{ensure_org, ensure_user, rows, users};
use crate::backend::{Backend, Bind, Lock, q};
use crate::common::*;
use crate::write::Write;

fn credential_row<B: Backend>(r: &B::Row) -> StoreResult<Credential> {
    let hash: Vec<u8> = B::col(r, 6)?;
    Ok(Credential {
        id: CredentialId(B::col(r, 0)?),
        kind: parse(&B::col::<String>(r, 1)?)?,
        user_id: UserId(B::col(r, 2)?),
        org_id: OrgId(B::col(r, 3)?),
        creator_id: UserId(B::col(r, 4)?),
        name: B::col(r, 5)?,
        secret_hash: hash
            .try_into()
            .map_err(|_| corrupt("credential secret hash is not 32 bytes"))?,
        created_at: B::ts(r, 7)?,
        expires_at: B::opt_ts(r, 8)?,
        revoked_at: B::opt_ts(r, 9)?,
        revoked_by: B::col::<Option<Uuid>>(r, 10)?.map(UserId),
    })
}

async fn ensure_people<B: Backend>(conn: &mut B::Conn, c: &Credential) -> StoreResult<()> {
    ensure_user::<B>(conn, c.user_id).await?;
    ensure_user::<B>(conn, c.creator_id).await?;
    ensure_org::<B>(conn, c.org_id).await
}

/// Inserts a credential; with `replace_persistent`, first revokes the user's active persistent
/// credentials (recording that revoker) and announces each.
pub(crate) async fn create<B: Backend>(
    w: &mut Write<B>,
    c: &Credential,
    replace_persistent: Option<UserId>,
) -> StoreResult<()> {
    ensure_people::<B>(w.conn(), c).await?;
    if let Some(revoker) = replace_persistent {
        B::lock(w.conn(), Lock::User(c.user_id)).await?;
        let rs = q::<B>(
            "UPDATE credentials SET revoked_at = $2, revoked_by = $3 WHERE user_id = $1 \
             AND kind = 'persistent' AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) RETURNING id",
        )
        .bind(c.user_id.0)
        .bind_ts(c.created_at)
        .bind(revoker.0)
        .fetch_all(w.conn())
        .await?;
        for r in &rs {
            w.announce(RevocationEvent::Credential(CredentialId(B::col(r, 0)?)));
        }
    }
    q::<B>(concat!(
        "INSERT INTO credentials (",
        credential_cols!(""),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(c.id.0)
    .bind(c.kind.as_str())
    .bind(c.user_id.0)
    .bind(c.org_id.0)
    .bind(c.creator_id.0)
    .bind(c.name.clone())
    .bind(c.secret_hash.to_vec())
    .bind_ts(c.created_at)
    .bind_opt_ts(c.expires_at)
    .bind_opt_ts(c.revoked_at)
    .bind(c.revoked_by.map(|b| b.0))
    .execute(w.conn())
    .await?;
    Ok(())
}

/// Inserts an API key unless the user holds `max_live` live ones, counted under the user's
/// lock; `false` (nothing written) when full. Run it in a write transaction.
pub(crate) async fn create_api_key_capped<B: Backend>(
    conn: &mut B::Conn,
    c: &Credential,
    max_live: u32,
) -> StoreResult<bool> {
    ensure_people::<B>(conn, c).await?;
    B::lock(conn, Lock::User(c.user_id)).await?;
    let row = q::<B>(
        "SELECT COUNT(*) FROM credentials WHERE user_id = $1 AND kind = 'api_key' \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(c.user_id.0)
    .bind_ts(c.created_at)
    .fetch_one(conn)
    .await?;
    let live: i64 = B::col(&row, 0)?;
    if live >= i64::from(max_live) {
        return Ok(false);
    }
    q::<B>(concat!(
        "INSERT INTO credentials (",
        credential_cols!(""),
        ") VALUES ($1, 'api_key', $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"
    ))
    .bind(c.id.0)
    .bind(c.user_id.0)
    .bind(c.org_id.0)
    .bind(c.creator_id.0)
    .bind(c.name.clone())
    .bind(c.secret_hash.to_vec())
    .bind_ts(c.created_at)
    .bind_opt_ts(c.expires_at)
    .execute(conn)
    .await?;
    Ok(true)
}

pub(crate) async fn find_by_hash<B: Backend>(
    conn: &mut B::Conn,
    hash: &[u8; 32],
) -> StoreResult<Option<Credential>> {
    credential_where::<B, _>(conn, "secret_hash", hash.to_vec()).await
}

/// The credential with that hash and its user's membership (any state) in its org.
pub(crate) async fn find_with_membership<B: Backend>(
    conn: &mut B::Conn,
    hash: &[u8; 32],
) -> StoreResult<Option<(Credential, Option<Membership>)>> {
    const M: usize = 11; // the first membership column
    q::<B>(concat!(
        "SELECT ",
        credential_cols!("c."),
        ", ",
        membership_cols!("m."),
        " FROM credentials c LEFT JOIN memberships m \
         ON m.user_id = c.user_id AND m.org_id = c.org_id \
         WHERE c.secret_hash = $1"
    ))
    .bind(hash.to_vec())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(|r| {
        let m = match B::col::<Option<Uuid>>(r, M)? {
            Some(_) => Some(membership_at::<B>(r, M)?),
            None => None,
        };
        Ok((credential_row::<B>(r)?, m))
    })
    .transpose()
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    id: CredentialId,
) -> StoreResult<Option<Credential>> {
    credential_where::<B, _>(conn, "id", id.0).await
}

/// The credential whose `column` (a unique one) holds `value`.
async fn credential_where<B: Backend, T: Bind>(
    conn: &mut B::Conn,
    column: &'static str,
    value: T,
) -> StoreResult<Option<Credential>> {
    let mut stmt = q::<B>(concat!(
        "SELECT ",
        credential_cols!(""),
        " FROM credentials WHERE "
    ));
    stmt.push(column).push(" = ").push_bind(value);
    stmt.fetch_optional(conn)
        .await?
        .as_ref()
        .map(credential_row::<B>)
        .transpose()
}

/// Ordered by `created_at` descending, then id.
pub(crate) async fn list<B: Backend>(
    conn: &mut B::Conn,
    f: &CredentialFilter,
    offset: u64,
    limit: u32,
) -> StoreResult<Vec<Credential>> {
    let mut stmt = q::<B>(concat!(
        "SELECT ",
        credential_cols!(""),
        " FROM credentials WHERE 1 = 1"
    ));
    if let Some(u) = f.user_id {
        stmt.push(" AND user_id = ").push_bind(u.0);
    }
    if let Some(o) = f.org_id {
        stmt.push(" AND org_id = ").push_bind(o.0);
    }
    if let Some(k) = f.kind {
        stmt.push(" AND kind = ").push_bind(k.as_str());
    }
    if !f.include_revoked {
        stmt.push(" AND revoked_at IS NULL");
    }
    if let Some(t) = f.exclude_expired_at {
        stmt.push(" AND (expires_at IS NULL OR expires_at > ")
            .push_bind_ts(t)
            .push(")");
    }
    stmt.push(" ORDER BY created_at DESC, id ASC LIMIT ")
        .push_bind(i64::from(limit));
    stmt.push(" OFFSET ").push_bind(to_i64(offset));
    rows::<B, _>(stmt.fetch_all(conn).await?, credential_row::<B>)
}

/// Returns whether the credential was active and is now revoked (and then announces it).
pub(crate) async fn revoke<B: Backend>(
    w: &mut Write<B>,
    id: CredentialId,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE credentials SET revoked_at = $2, revoked_by = $3 \
         WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id.0)
    .bind_ts(at)
    .bind(by.map(|b| b.0))
    .execute(w.conn())
    .await?;
    if n > 0 {
        w.announce(RevocationEvent::Credential(id));
    }
    Ok(n > 0)
}

/// Persistent credentials issued in `org` to `users` who are or were its members, newest first,
/// with the people involved. Run it in a snapshot.
pub(crate) async fn persistent_for<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    users: &[UserId],
) -> StoreResult<Vec<CredentialWithPeople>> {
    let users: BTreeSet<UserId> = users.iter().copied().collect();
    let users: Vec<UserId> = users.into_iter().collect();
    let mut creds = Vec::new();
    for chunk in users.chunks(IN_CHUNK) {
        let mut stmt = q::<B>(concat!(
            "SELECT ",
            credential_cols!("c."),
            " FROM credentials c WHERE c.kind = 'persistent' AND c.org_id = "
        ));
        // Only the org's own credentials; of users who are or were its members.
        stmt.push_bind(org.0).push(
            " AND EXISTS (SELECT 1 FROM memberships m \
             WHERE m.user_id = c.user_id AND m.org_id = c.org_id) AND c.user_id IN (",
        );
        stmt.push_list(chunk.iter().map(|u| u.0)).push(")");
        creds.extend(rows::<B, _>(
            stmt.fetch_all(conn).await?,
            credential_row::<B>,
        )?);
    }
    creds.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let mut people: Vec<UserId> = Vec::new();
    for c in &creds {
        people.push(c.user_id);
        people.push(c.creator_id);
        people.extend(c.revoked_by);
    }
    let people: BTreeMap<UserId, User> = users::get_many::<B>(conn, &people)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(creds
        .into_iter()
        .map(|credential| CredentialWithPeople {
            user: people.get(&credential.user_id).cloned(),
            creator: people.get(&credential.creator_id).cloned(),
            revoker: credential.revoked_by.and_then(|r| people.get(&r).cloned()),
            credential,
        })
        .collect())
}

/// Revokes every active credential of the user in every org, announcing the user when any.
pub(crate) async fn revoke_of_user<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<u64> {
    let n = revoke_active::<B>(w.conn(), user, None, by, at).await?;
    if n > 0 {
        w.announce(RevocationEvent::User(user));
    }
    Ok(n)
}

/// Revokes every live API key and persistent token of the user, in `org` or in all orgs,
/// announcing nothing.
pub(crate) async fn revoke_active<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: Option<OrgId>,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<u64> {
    q::<B>(
        "UPDATE credentials SET revoked_at = $3, revoked_by = $4 WHERE user_id = $1 \
         AND ($2 IS NULL OR org_id = $2) AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $3)",
    )
    .bind(user.0)
    .bind(org.map(|o| o.0))
    .bind_ts(at)
    .bind(by.map(|b| b.0))
    .execute(conn)
    .await
}
