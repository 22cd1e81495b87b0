//! The shared SQL, one module per aggregate: ordinary functions generic over the [`Backend`].
//! Reads and single-statement writes take a connection (pooled or in a transaction); writes
//! that revoke take a [`Write`](crate::write::Write), which appends their revocation events at
//! commit. So the same functions serve the `Store` methods and the unit of work (`WriteTx`).

#[macro_use]
mod columns;
pub(crate) mod allowlist;
pub(crate) mod audit;
pub(crate) mod bootstrap;
pub(crate) mod client_registrations;
pub(crate) mod credentials;
pub(crate) mod device_codes;
pub(crate) mod factors;
pub(crate) mod identities;
pub(crate) mod invitations;
pub(crate) mod keys;
pub(crate) mod logout_notices;
pub(crate) mod memberships;
pub(crate) mod oauth_clients;
pub(crate) mod oauth_grants;
pub(crate) mod orgs;
pub(crate) mod password_resets;
pub(crate) mod revocation_feed;
pub(crate) mod service_accounts;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod sso_flows;
pub(crate) mod team_settings;
pub(crate) mod throttle;
pub(crate) mod users;
pub(crate) mod workspaces;

use std::collections::BTreeMap;

use portcullis_core::model::{OrgId, UserId, WorkspaceId};
use portcullis_core::store::StoreResult;
use uuid::Uuid;

use crate::backend::{Backend, Stmt, q};
use crate::common::{json_parse, not_found};

/// Decodes every row with `f`.
pub(crate) fn rows<B: Backend, T>(
    rs: Vec<B::Row>,
    f: fn(&B::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    rs.iter().map(f).collect()
}

/// Runs a one-column `SELECT` of a stored JSON document and decodes the row's, if any.
pub(crate) async fn fetch_doc<B: Backend, T: serde::de::DeserializeOwned>(
    stmt: Stmt<B>,
    conn: &mut B::Conn,
) -> StoreResult<Option<T>> {
    let row = stmt.fetch_optional(conn).await?;
    row.map(|r| json_parse(&B::col::<String>(&r, 0)?))
        .transpose()
}

/// Decodes `(key, JSON document)` rows into a map, each key read by `key`.
pub(crate) fn keyed_docs<B: Backend, K: Ord, V: serde::de::DeserializeOwned>(
    rs: &[B::Row],
    key: impl Fn(String) -> StoreResult<K>,
) -> StoreResult<BTreeMap<K, V>> {
    rs.iter()
        .map(|r| {
            Ok((
                key(B::col::<String>(r, 0)?)?,
                json_parse(&B::col::<String>(r, 1)?)?,
            ))
        })
        .collect()
}

async fn exists<B: Backend>(conn: &mut B::Conn, sql: &'static str, id: Uuid) -> StoreResult<bool> {
    let row = q::<B>(sql).bind(id).fetch_optional(conn).await?;
    Ok(row.is_some())
}

pub(crate) async fn ensure_user<B: Backend>(conn: &mut B::Conn, id: UserId) -> StoreResult<()> {
    if exists::<B>(conn, "SELECT 1 FROM users WHERE id = $1", id.0).await? {
        Ok(())
    } else {
        Err(not_found("unknown user"))
    }
}

pub(crate) async fn ensure_org<B: Backend>(conn: &mut B::Conn, id: OrgId) -> StoreResult<()> {
    if exists::<B>(conn, "SELECT 1 FROM orgs WHERE id = $1", id.0).await? {
        Ok(())
    } else {
        Err(not_found("unknown org"))
    }
}

pub(crate) async fn ensure_workspace<B: Backend>(
    conn: &mut B::Conn,
    id: WorkspaceId,
) -> StoreResult<()> {
    if exists::<B>(conn, "SELECT 1 FROM workspaces WHERE id = $1", id.0).await? {
        Ok(())
    } else {
        Err(not_found("unknown workspace"))
    }
}

pub(crate) async fn ensure_region<B: Backend>(conn: &mut B::Conn, id: &str) -> StoreResult<()> {
    let row = q::<B>("SELECT 1 FROM regions WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|_| ()).ok_or_else(|| not_found("unknown region"))
}
