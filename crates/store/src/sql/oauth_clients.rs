//! OpenID provider clients and their secrets (docs/design/oidc-provider.md).

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ensure_org, oauth_grants, service_accounts, sessions};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

/// The settings no statement queries, kept as one JSON document (`oauth_clients.settings`).
#[derive(Serialize, Deserialize)]
struct Settings {
    name: String,
    kind: ClientKind,
    token_endpoint_auth: TokenEndpointAuth,
    jwks: Option<serde_json::Value>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: BTreeSet<GrantType>,
    scopes: BTreeSet<String>,
    first_party: bool,
    id_token_alg: IdTokenAlg,
    access_token_secs: i64,
    refresh_token_secs: i64,
    allow_offline: bool,
    introspect_any: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    token_exchange_audiences: Vec<String>,
}

fn settings_text(c: &OAuthClient) -> StoreResult<String> {
    json_text(&Settings {
        name: c.name.clone(),
        kind: c.kind,
        token_endpoint_auth: c.token_endpoint_auth,
        jwks: c.jwks.clone(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        grant_types: c.grant_types.clone(),
        scopes: c.scopes.clone(),
        first_party: c.first_party,
        id_token_alg: c.id_token_alg,
        access_token_secs: c.access_token_secs,
        refresh_token_secs: c.refresh_token_secs,
        allow_offline: c.allow_offline,
        introspect_any: c.introspect_any,
        token_exchange_audiences: c.token_exchange_audiences.clone(),
    })
}

/// Decodes a client's columns (its secrets are added by [`clients_from`]).
fn client_row<B: Backend>(r: &B::Row) -> StoreResult<OAuthClient> {
    let s: Settings = json_parse(&B::col::<String>(r, 2)?)?;
    Ok(OAuthClient {
        client_id: B::col(r, 0)?,
        name: s.name,
        kind: s.kind,
        token_endpoint_auth: s.token_endpoint_auth,
        secrets: Vec::new(),
        jwks: s.jwks,
        redirect_uris: s.redirect_uris,
        post_logout_redirect_uris: s.post_logout_redirect_uris,
        grant_types: s.grant_types,
        scopes: s.scopes,
        org_id: B::col::<Option<Uuid>>(r, 1)?.map(OrgId),
        first_party: s.first_party,
        id_token_alg: s.id_token_alg,
        access_token_secs: s.access_token_secs,
        refresh_token_secs: s.refresh_token_secs,
        allow_offline: s.allow_offline,
        introspect_any: s.introspect_any,
        token_exchange_audiences: s.token_exchange_audiences,
        backchannel_logout_uri: B::col(r, 3)?,
        declarative: B::col(r, 4)?,
        disabled_at: B::opt_ts(r, 5)?,
        created_at: B::ts(r, 6)?,
        updated_at: B::ts(r, 7)?,
    })
}

/// Clients with their secrets, one statement (so one consistent read): a row per secret, or
/// one without a secret, by client id, then secrets by creation.
macro_rules! select_clients {
    ($cond:literal) => {
        concat!(
            "SELECT ",
            oauth_client_cols!("c."),
            ", s.hash, s.created_at, s.expires_at FROM oauth_clients c \
             LEFT JOIN oauth_client_secrets s ON s.client_id = c.client_id WHERE ",
            $cond,
            " ORDER BY c.client_id, s.created_at, s.hash"
        )
    };
}

/// Decodes the rows of [`select_clients`].
fn clients_from<B: Backend>(rs: &[B::Row]) -> StoreResult<Vec<OAuthClient>> {
    let mut clients: Vec<OAuthClient> = Vec::new();
    for r in rs {
        let id: String = B::col(r, 0)?;
        if clients.last().is_none_or(|c| c.client_id != id) {
            clients.push(client_row::<B>(r)?);
        }
        if let (Some(hash), Some(client)) = (B::col::<Option<String>>(r, 8)?, clients.last_mut()) {
            client.secrets.push(ClientSecret {
                hash,
                created_at: B::ts(r, 9)?,
                expires_at: B::opt_ts(r, 10)?,
            });
        }
    }
    Ok(clients)
}

async fn exists<B: Backend>(conn: &mut B::Conn, client_id: &str) -> StoreResult<bool> {
    let row = q::<B>("SELECT 1 FROM oauth_clients WHERE client_id = $1")
        .bind(client_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// `NotFound("unknown oauth client")` unless the client exists.
pub(crate) async fn ensure<B: Backend>(conn: &mut B::Conn, client_id: &str) -> StoreResult<()> {
    if exists::<B>(conn, client_id).await? {
        Ok(())
    } else {
        Err(not_found("unknown oauth client"))
    }
}

async fn insert_secret<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
    secret: &ClientSecret,
) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO oauth_client_secrets (client_id, hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(client_id.to_string())
    .bind(secret.hash.clone())
    .bind_ts(secret.created_at)
    .bind_opt_ts(secret.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts the client and its secrets; run it in a transaction.
pub(crate) async fn create<B: Backend>(
    conn: &mut B::Conn,
    client: &OAuthClient,
) -> StoreResult<OAuthClient> {
    if let Some(org) = client.org_id {
        ensure_org::<B>(conn, org).await?;
    }
    q::<B>(concat!(
        "INSERT INTO oauth_clients (",
        oauth_client_cols!(""),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(client.client_id.clone())
    .bind(client.org_id.map(|o| o.0))
    .bind(settings_text(client)?)
    .bind(client.backchannel_logout_uri.clone())
    .bind(client.declarative)
    .bind_opt_ts(client.disabled_at)
    .bind_ts(client.created_at)
    .bind_ts(client.updated_at)
    .execute(conn)
    .await?;
    for secret in &client.secrets {
        insert_secret::<B>(conn, &client.client_id, secret).await?;
    }
    get_known::<B>(conn, &client.client_id).await
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
) -> StoreResult<Option<OAuthClient>> {
    let rs = q::<B>(select_clients!("c.client_id = $1"))
        .bind(client_id.to_string())
        .fetch_all(conn)
        .await?;
    Ok(clients_from::<B>(&rs)?.pop())
}

/// [`get`], `NotFound("unknown oauth client")` when there is none.
async fn get_known<B: Backend>(conn: &mut B::Conn, client_id: &str) -> StoreResult<OAuthClient> {
    get::<B>(conn, client_id)
        .await?
        .ok_or_else(|| not_found("unknown oauth client"))
}

/// Every client, or those of one org, by client id.
pub(crate) async fn list<B: Backend>(
    conn: &mut B::Conn,
    org: Option<OrgId>,
) -> StoreResult<Vec<OAuthClient>> {
    let rs = q::<B>(select_clients!("$1 IS NULL OR c.org_id = $1"))
        .bind(org.map(|o| o.0))
        .fetch_all(conn)
        .await?;
    clients_from::<B>(&rs)
}

/// Replaces every setting but the id, secrets, `created_at` and `disabled_at`; run it in a
/// transaction.
pub(crate) async fn update<B: Backend>(
    conn: &mut B::Conn,
    client: &OAuthClient,
) -> StoreResult<OAuthClient> {
    if let Some(org) = client.org_id {
        ensure_org::<B>(conn, org).await?;
    }
    let n = q::<B>(
        "UPDATE oauth_clients SET org_id = $2, settings = $3, backchannel_logout_uri = $4, \
         declarative = $5, updated_at = $6 WHERE client_id = $1",
    )
    .bind(client.client_id.clone())
    .bind(client.org_id.map(|o| o.0))
    .bind(settings_text(client)?)
    .bind(client.backchannel_logout_uri.clone())
    .bind(client.declarative)
    .bind_ts(client.updated_at)
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(not_found("unknown oauth client"));
    }
    get_known::<B>(conn, &client.client_id).await
}

/// Caps every other secret's expiry at `others_expire_at` (an earlier one stays), then adds
/// `secret`; run it in a transaction.
pub(crate) async fn rotate_secret<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
    secret: &ClientSecret,
    others_expire_at: Timestamp,
) -> StoreResult<()> {
    // Touching the client's row locks it (PostgreSQL) until commit, so concurrent rotations
    // run one after the other and each caps the secret the one before added.
    let n = q::<B>("UPDATE oauth_clients SET updated_at = updated_at WHERE client_id = $1")
        .bind(client_id.to_string())
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown oauth client"));
    }
    q::<B>(
        "UPDATE oauth_client_secrets SET expires_at = $2 WHERE client_id = $1 \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(client_id.to_string())
    .bind_ts(others_expire_at)
    .execute(conn)
    .await?;
    insert_secret::<B>(conn, client_id, secret).await
}

/// Sets or clears `disabled_at`; run it in a transaction.
pub(crate) async fn set_disabled<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
    disabled_at: Option<Timestamp>,
) -> StoreResult<OAuthClient> {
    let n = q::<B>("UPDATE oauth_clients SET disabled_at = $2 WHERE client_id = $1")
        .bind(client_id.to_string())
        .bind_opt_ts(disabled_at)
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown oauth client"));
    }
    get_known::<B>(conn, client_id).await
}

/// Ends the client's live grant sessions (announced, with their logout notices), then deletes
/// its codes, refresh tokens, consents, secrets and itself, retiring its service account;
/// `false` when unknown.
pub(crate) async fn delete<B: Backend>(
    w: &mut Write<B>,
    client_id: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    if !exists::<B>(w.conn(), client_id).await? {
        return Ok(false);
    }
    sessions::revoke_of_client(w, client_id, at).await?;
    // Retired, not deleted: a client made again under this id gets a new subject.
    service_accounts::announce(w, client_id, Some(at), Some(at)).await?;
    oauth_grants::delete_of_client::<B>(w.conn(), client_id).await?;
    super::device_codes::delete_of_client::<B>(w.conn(), client_id).await?;
    super::client_registrations::delete_of_client::<B>(w.conn(), client_id).await?;
    for sql in [
        "DELETE FROM oauth_client_secrets WHERE client_id = $1",
        "DELETE FROM oauth_clients WHERE client_id = $1",
    ] {
        q::<B>(sql)
            .bind(client_id.to_string())
            .execute(w.conn())
            .await?;
    }
    Ok(true)
}
