//! Self-registered OpenID clients (RFC 7591/7592 and Client ID Metadata Documents) and the
//! initial access tokens that may be required to register (docs/design/oidc-provider.md,
//! "Registration"). The client itself is an `oauth_clients` row like any other.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;
use uuid::Uuid;

use super::{oauth_clients, rows, sessions};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

macro_rules! registration_cols {
    () => {
        "client_id, source, metadata, access_token_hash, refresh_after, created_at, updated_at"
    };
}

fn registration_row<B: Backend>(r: &B::Row) -> StoreResult<ClientRegistration> {
    let source: String = B::col(r, 1)?;
    Ok(ClientRegistration {
        client_id: B::col(r, 0)?,
        source: source
            .parse()
            .map_err(portcullis_core::store::StoreError::Corrupt)?,
        metadata: json_parse(&B::col::<String>(r, 2)?)?,
        access_token_hash: B::col(r, 3)?,
        refresh_after: B::opt_ts(r, 4)?,
        created_at: B::ts(r, 5)?,
        updated_at: B::ts(r, 6)?,
    })
}

/// Spends one use of a usable initial access token; `NotFound` when there is none. One
/// statement, so two registrations racing for the last use cannot both win.
async fn spend_initial_token<B: Backend>(
    conn: &mut B::Conn,
    token_hash: &str,
    now: Timestamp,
) -> StoreResult<()> {
    let n = q::<B>(
        "UPDATE oauth_initial_access_tokens SET uses = uses + 1 WHERE token_hash = $1 \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
         AND (max_uses IS NULL OR uses < max_uses)",
    )
    .bind(token_hash.to_string())
    .bind_ts(now)
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(not_found("initial access token"));
    }
    Ok(())
}

/// Spends the initial token (when given), inserts the client and its registration.
pub(crate) async fn create<B: Backend>(
    conn: &mut B::Conn,
    client: &OAuthClient,
    reg: &ClientRegistration,
    initial_token: Option<(&str, Timestamp)>,
) -> StoreResult<OAuthClient> {
    if let Some((hash, now)) = initial_token {
        spend_initial_token::<B>(conn, hash, now).await?;
    }
    let created = oauth_clients::create::<B>(conn, client).await?;
    q::<B>(
        "INSERT INTO oauth_client_registrations (client_id, source, metadata, \
         access_token_hash, refresh_after, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(client.client_id.clone())
    .bind(reg.source.as_str().to_string())
    .bind(json_text(&reg.metadata)?)
    .bind(reg.access_token_hash.clone())
    .bind_opt_ts(reg.refresh_after)
    .bind_ts(reg.created_at)
    .bind_ts(reg.updated_at)
    .execute(conn)
    .await?;
    Ok(created)
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
) -> StoreResult<Option<ClientRegistration>> {
    let row = q::<B>(concat!(
        "SELECT ",
        registration_cols!(),
        " FROM oauth_client_registrations WHERE client_id = $1"
    ))
    .bind(client_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| registration_row::<B>(&r)).transpose()
}

/// Replaces the registration (it must exist), the client's settings and, with `new_secret`,
/// its secrets.
pub(crate) async fn update<B: Backend>(
    conn: &mut B::Conn,
    client: &OAuthClient,
    reg: &ClientRegistration,
    new_secret: Option<&ClientSecret>,
) -> StoreResult<OAuthClient> {
    let n = q::<B>(
        "UPDATE oauth_client_registrations SET metadata = $2, access_token_hash = $3, \
         refresh_after = $4, updated_at = $5 WHERE client_id = $1",
    )
    .bind(client.client_id.clone())
    .bind(json_text(&reg.metadata)?)
    .bind(reg.access_token_hash.clone())
    .bind_opt_ts(reg.refresh_after)
    .bind_ts(reg.updated_at)
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(not_found("unknown client registration"));
    }
    if let Some(secret) = new_secret {
        oauth_clients::rotate_secret::<B>(conn, &client.client_id, secret, secret.created_at)
            .await?;
    }
    oauth_clients::update::<B>(conn, client).await
}

/// Disables the client, forgets its registration token, ends its grant sessions.
pub(crate) async fn retire<B: Backend>(
    w: &mut Write<B>,
    client_id: &str,
    at: Timestamp,
) -> StoreResult<u64> {
    let n = q::<B>(
        "UPDATE oauth_client_registrations SET access_token_hash = NULL, updated_at = $2 \
         WHERE client_id = $1",
    )
    .bind(client_id.to_string())
    .bind_ts(at)
    .execute(w.conn())
    .await?;
    if n == 0 {
        return Err(not_found("unknown client registration"));
    }
    q::<B>("UPDATE oauth_clients SET disabled_at = COALESCE(disabled_at, $2) WHERE client_id = $1")
        .bind(client_id.to_string())
        .bind_ts(at)
        .execute(w.conn())
        .await?;
    sessions::revoke_of_client(w, client_id, at).await
}

/// Removes the registration of a client being deleted (before its `oauth_clients` row).
pub(crate) async fn delete_of_client<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
) -> StoreResult<()> {
    q::<B>("DELETE FROM oauth_client_registrations WHERE client_id = $1")
        .bind(client_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

// ---- initial access tokens -------------------------------------------------------------

macro_rules! token_cols {
    () => {
        "id, token_hash, label, created_at, expires_at, max_uses, uses, revoked_at"
    };
}

fn token_row<B: Backend>(r: &B::Row) -> StoreResult<InitialAccessToken> {
    Ok(InitialAccessToken {
        id: B::col(r, 0)?,
        token_hash: B::col(r, 1)?,
        label: B::col(r, 2)?,
        created_at: B::ts(r, 3)?,
        expires_at: B::opt_ts(r, 4)?,
        max_uses: B::col(r, 5)?,
        uses: B::col(r, 6)?,
        revoked_at: B::opt_ts(r, 7)?,
    })
}

pub(crate) async fn create_token<B: Backend>(
    conn: &mut B::Conn,
    t: &InitialAccessToken,
) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO oauth_initial_access_tokens (id, token_hash, label, created_at, \
         expires_at, max_uses, uses, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.id)
    .bind(t.token_hash.clone())
    .bind(t.label.clone())
    .bind_ts(t.created_at)
    .bind_opt_ts(t.expires_at)
    .bind(t.max_uses)
    .bind(t.uses)
    .bind_opt_ts(t.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get_token<B: Backend>(
    conn: &mut B::Conn,
    token_hash: &str,
) -> StoreResult<Option<InitialAccessToken>> {
    let row = q::<B>(concat!(
        "SELECT ",
        token_cols!(),
        " FROM oauth_initial_access_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| token_row::<B>(&r)).transpose()
}

pub(crate) async fn list_tokens<B: Backend>(
    conn: &mut B::Conn,
) -> StoreResult<Vec<InitialAccessToken>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        token_cols!(),
        " FROM oauth_initial_access_tokens ORDER BY created_at DESC, id"
    ))
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, token_row::<B>)
}

pub(crate) async fn revoke_token<B: Backend>(
    conn: &mut B::Conn,
    id: Uuid,
    at: Timestamp,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE oauth_initial_access_tokens SET revoked_at = COALESCE(revoked_at, $2) \
         WHERE id = $1",
    )
    .bind(id)
    .bind_ts(at)
    .execute(conn)
    .await?;
    Ok(n > 0)
}
