//! What the OpenID provider grants: authorization codes and refresh tokens (single use, atomic
//! across nodes) and remembered consents (docs/design/oidc-provider.md).

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{oauth_clients, rows, sessions};
use crate::backend::{Backend, q};
use crate::common::*;

fn code_row<B: Backend>(r: &B::Row) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: B::col(r, 0)?,
        client_id: B::col(r, 1)?,
        browser_session: SessionId(B::col(r, 2)?),
        user_id: UserId(B::col(r, 3)?),
        org_id: org_from_col(B::col(r, 4)?),
        redirect_uri: B::col(r, 5)?,
        scopes: json_parse(&B::col::<String>(r, 6)?)?,
        nonce: B::col(r, 7)?,
        code_challenge: B::col(r, 8)?,
        auth_time: B::ts(r, 9)?,
        amr: json_parse(&B::col::<String>(r, 10)?)?,
        acr: B::col(r, 11)?,
        created_at: B::ts(r, 12)?,
        expires_at: B::ts(r, 13)?,
        consumed_at: B::opt_ts(r, 14)?,
        grant_session: B::col::<Option<String>>(r, 15)?.map(SessionId),
    })
}

fn refresh_row<B: Backend>(r: &B::Row) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: B::col(r, 0)?,
        grant_session: SessionId(B::col(r, 1)?),
        client_id: B::col(r, 2)?,
        user_id: UserId(B::col(r, 3)?),
        org_id: org_from_col(B::col(r, 4)?),
        scopes: json_parse(&B::col::<String>(r, 5)?)?,
        auth_time: B::ts(r, 6)?,
        amr: json_parse(&B::col::<String>(r, 7)?)?,
        acr: B::col(r, 8)?,
        issued_at: B::ts(r, 9)?,
        expires_at: B::ts(r, 10)?,
        rotated_at: B::opt_ts(r, 11)?,
        revoked_at: B::opt_ts(r, 12)?,
    })
}

fn consent_row<B: Backend>(r: &B::Row) -> StoreResult<Consent> {
    Ok(Consent {
        user_id: UserId(B::col(r, 0)?),
        client_id: B::col(r, 1)?,
        scopes: json_parse(&B::col::<String>(r, 2)?)?,
        granted_at: B::ts(r, 3)?,
    })
}

// ---- authorization codes ------------------------------------------------------------------

/// Checks the client and the browser session, then inserts; run it in a transaction.
pub(crate) async fn insert_code<B: Backend>(
    conn: &mut B::Conn,
    c: &AuthorizationCode,
) -> StoreResult<()> {
    oauth_clients::ensure::<B>(conn, &c.client_id).await?;
    sessions::ensure::<B>(conn, &c.browser_session).await?;
    q::<B>(concat!(
        "INSERT INTO oauth_codes (",
        oauth_code_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(c.code_hash.clone())
    .bind(c.client_id.clone())
    .bind(c.browser_session.0.clone())
    .bind(c.user_id.0)
    .bind(org_col(c.org_id))
    .bind(c.redirect_uri.clone())
    .bind(json_text(&c.scopes)?)
    .bind(c.nonce.clone())
    .bind(c.code_challenge.clone())
    .bind_ts(c.auth_time)
    .bind(json_text(&c.amr)?)
    .bind(c.acr.clone())
    .bind_ts(c.created_at)
    .bind_ts(c.expires_at)
    .bind_opt_ts(c.consumed_at)
    .bind(c.grant_session.as_ref().map(|s| s.0.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Consumes the code if nobody has. The conditional UPDATE is the single-use guarantee: the
/// database re-checks `consumed_at IS NULL` on the newest row version (PostgreSQL) or runs one
/// writer at a time (SQLite), so of racing redemptions one wins and the others read it used.
pub(crate) async fn redeem_code<B: Backend>(
    conn: &mut B::Conn,
    code_hash: &str,
    now: Timestamp,
) -> StoreResult<CodeRedemption> {
    let won = q::<B>(concat!(
        "UPDATE oauth_codes SET consumed_at = $2 WHERE code_hash = $1 AND consumed_at IS NULL \
         RETURNING ",
        oauth_code_cols!()
    ))
    .bind(code_hash.to_string())
    .bind_ts(now)
    .fetch_optional(conn)
    .await?;
    if let Some(r) = won {
        return Ok(CodeRedemption::Redeemed(code_row::<B>(&r)?));
    }
    let found = q::<B>(concat!(
        "SELECT ",
        oauth_code_cols!(),
        " FROM oauth_codes WHERE code_hash = $1"
    ))
    .bind(code_hash.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(match found {
        Some(r) => CodeRedemption::AlreadyUsed(code_row::<B>(&r)?),
        None => CodeRedemption::Unknown,
    })
}

pub(crate) async fn set_code_grant_session<B: Backend>(
    conn: &mut B::Conn,
    code_hash: &str,
    session: &SessionId,
) -> StoreResult<()> {
    let n = q::<B>("UPDATE oauth_codes SET grant_session = $2 WHERE code_hash = $1")
        .bind(code_hash.to_string())
        .bind(session.0.clone())
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown authorization code"));
    }
    Ok(())
}

// ---- refresh tokens -----------------------------------------------------------------------

/// Checks the client and the grant session, then inserts; run it in a transaction.
pub(crate) async fn insert_refresh<B: Backend>(
    conn: &mut B::Conn,
    t: &RefreshToken,
) -> StoreResult<()> {
    oauth_clients::ensure::<B>(conn, &t.client_id).await?;
    sessions::ensure::<B>(conn, &t.grant_session).await?;
    q::<B>(concat!(
        "INSERT INTO oauth_refresh_tokens (",
        refresh_token_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(t.token_hash.clone())
    .bind(t.grant_session.0.clone())
    .bind(t.client_id.clone())
    .bind(t.user_id.0)
    .bind(org_col(t.org_id))
    .bind(json_text(&t.scopes)?)
    .bind_ts(t.auth_time)
    .bind(json_text(&t.amr)?)
    .bind(t.acr.clone())
    .bind_ts(t.issued_at)
    .bind_ts(t.expires_at)
    .bind_opt_ts(t.rotated_at)
    .bind_opt_ts(t.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get_refresh<B: Backend>(
    conn: &mut B::Conn,
    token_hash: &str,
) -> StoreResult<Option<RefreshToken>> {
    q::<B>(concat!(
        "SELECT ",
        refresh_token_cols!(),
        " FROM oauth_refresh_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(refresh_row::<B>)
    .transpose()
}

/// Rotates the token if it is current; atomic across nodes as [`redeem_code`] is.
pub(crate) async fn rotate_refresh<B: Backend>(
    conn: &mut B::Conn,
    token_hash: &str,
    now: Timestamp,
) -> StoreResult<RefreshRedemption> {
    let won = q::<B>(concat!(
        "UPDATE oauth_refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 \
         AND rotated_at IS NULL AND revoked_at IS NULL RETURNING ",
        refresh_token_cols!()
    ))
    .bind(token_hash.to_string())
    .bind_ts(now)
    .fetch_optional(conn)
    .await?;
    if let Some(r) = won {
        return Ok(RefreshRedemption::Current(refresh_row::<B>(&r)?));
    }
    Ok(match get_refresh::<B>(conn, token_hash).await? {
        Some(t) => RefreshRedemption::Reused(t),
        None => RefreshRedemption::Unknown,
    })
}

pub(crate) async fn revoke_family<B: Backend>(
    conn: &mut B::Conn,
    grant_session: &SessionId,
    at: Timestamp,
) -> StoreResult<u64> {
    q::<B>(
        "UPDATE oauth_refresh_tokens SET revoked_at = $2 WHERE grant_session = $1 \
         AND revoked_at IS NULL",
    )
    .bind(grant_session.0.clone())
    .bind_ts(at)
    .execute(conn)
    .await
}

// ---- consents -----------------------------------------------------------------------------

pub(crate) async fn upsert_consent<B: Backend>(conn: &mut B::Conn, c: &Consent) -> StoreResult<()> {
    oauth_clients::ensure::<B>(conn, &c.client_id).await?;
    q::<B>(
        "INSERT INTO oauth_consents (user_id, client_id, scopes, granted_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) DO UPDATE SET \
         scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(c.user_id.0)
    .bind(c.client_id.clone())
    .bind(json_text(&c.scopes)?)
    .bind_ts(c.granted_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get_consent<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    client_id: &str,
) -> StoreResult<Option<Consent>> {
    q::<B>(
        "SELECT user_id, client_id, scopes, granted_at FROM oauth_consents \
         WHERE user_id = $1 AND client_id = $2",
    )
    .bind(user.0)
    .bind(client_id.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(consent_row::<B>)
    .transpose()
}

/// The user's consents, by client id.
pub(crate) async fn consents_of_user<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
) -> StoreResult<Vec<Consent>> {
    let rs = q::<B>(
        "SELECT user_id, client_id, scopes, granted_at FROM oauth_consents \
         WHERE user_id = $1 ORDER BY client_id",
    )
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, consent_row::<B>)
}

pub(crate) async fn delete_consent<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    client_id: &str,
) -> StoreResult<bool> {
    let n = q::<B>("DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
        .bind(user.0)
        .bind(client_id.to_string())
        .execute(conn)
        .await?;
    Ok(n > 0)
}

// ---- clean-up -----------------------------------------------------------------------------

/// Deletes codes and refresh tokens expired by `now`; returns how many rows.
pub(crate) async fn purge<B: Backend>(conn: &mut B::Conn, now: Timestamp) -> StoreResult<u64> {
    let mut n = 0;
    for sql in [
        "DELETE FROM oauth_codes WHERE expires_at <= $1",
        "DELETE FROM oauth_refresh_tokens WHERE expires_at <= $1",
    ] {
        n += q::<B>(sql).bind_ts(now).execute(conn).await?;
    }
    Ok(n)
}

/// Deletes the client's codes, refresh tokens and consents; run it in a transaction.
pub(crate) async fn delete_of_client<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
) -> StoreResult<()> {
    for sql in [
        "DELETE FROM oauth_codes WHERE client_id = $1",
        "DELETE FROM oauth_refresh_tokens WHERE client_id = $1",
        "DELETE FROM oauth_consents WHERE client_id = $1",
    ] {
        q::<B>(sql)
            .bind(client_id.to_string())
            .execute(conn)
            .await?;
    }
    Ok(())
}
