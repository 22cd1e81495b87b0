//! Signing and sealing keys.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::rows;
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

fn key_row<B: Backend>(r: &B::Row) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        kid: B::col(r, 0)?,
        purpose: parse(&B::col::<String>(r, 1)?)?,
        algorithm: B::col(r, 2)?,
        sealed_private: B::col(r, 3)?,
        public: B::col(r, 4)?,
        created_at: B::ts(r, 5)?,
        retired_at: B::opt_ts(r, 6)?,
        revoked_at: B::opt_ts(r, 7)?,
    })
}

pub(crate) async fn insert<B: Backend>(conn: &mut B::Conn, k: KeyRecord) -> StoreResult<()> {
    q::<B>(concat!(
        "INSERT INTO keys (",
        key_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(k.kid)
    .bind(k.purpose.as_str())
    .bind(k.algorithm)
    .bind(k.sealed_private)
    .bind(k.public)
    .bind_ts(k.created_at)
    .bind_opt_ts(k.retired_at)
    .bind_opt_ts(k.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Oldest first.
pub(crate) async fn list<B: Backend>(
    conn: &mut B::Conn,
    purpose: KeyPurpose,
) -> StoreResult<Vec<KeyRecord>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        key_cols!(),
        " FROM keys WHERE purpose = $1 ORDER BY created_at, kid"
    ))
    .bind(purpose.as_str())
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, key_row::<B>)
}

pub(crate) async fn retire<B: Backend>(
    conn: &mut B::Conn,
    kid: &str,
    at: Timestamp,
) -> StoreResult<()> {
    let n = q::<B>("UPDATE keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1")
        .bind(kid.to_string())
        .bind_ts(at)
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown key"));
    }
    Ok(())
}

/// Marks the key revoked (and retired) and announces it; `false` when it already was.
pub(crate) async fn revoke<B: Backend>(
    w: &mut Write<B>,
    kid: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let known = q::<B>("SELECT revoked_at FROM keys WHERE kid = $1")
        .bind(kid.to_string())
        .fetch_optional(w.conn())
        .await?
        .ok_or_else(|| not_found("unknown key"))?;
    if B::opt_ts(&known, 0)?.is_some() {
        return Ok(false);
    }
    let n = q::<B>(
        "UPDATE keys SET revoked_at = $2, retired_at = COALESCE(retired_at, $2) \
         WHERE kid = $1 AND revoked_at IS NULL",
    )
    .bind(kid.to_string())
    .bind_ts(at)
    .execute(w.conn())
    .await?;
    if n > 0 {
        w.announce(RevocationEvent::Key(kid.to_string()));
    }
    Ok(n > 0)
}
