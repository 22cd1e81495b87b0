//! Browser SSO flow state (docs/design/browser-sso.md): single-use start and callback records.

use portcullis_core::model::Timestamp;
use portcullis_core::store::StoreResult;
use portcullis_core::websso::{SsoFlowKind, SsoFlowRecord};

use crate::backend::{Backend, q};
use crate::common::corrupt;

/// A taken `key_hash` is a `Conflict`.
pub(crate) async fn insert<B: Backend>(conn: &mut B::Conn, flow: SsoFlowRecord) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO sso_flows (key_hash, kind, provider, login_hint, nonce, \
         pkce_verifier, binding_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(flow.key_hash)
    .bind(flow.kind.as_str())
    .bind(flow.provider)
    .bind(flow.login_hint)
    .bind(flow.nonce)
    .bind(flow.pkce_verifier)
    .bind(flow.binding_hash)
    .bind_ts(flow.created_at)
    .bind_ts(flow.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the record and returns it when it had not expired by `now`.
pub(crate) async fn take<B: Backend>(
    conn: &mut B::Conn,
    kind: SsoFlowKind,
    key_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<SsoFlowRecord>> {
    // DELETE … RETURNING is atomic: a replay, or a racing node, finds nothing.
    let row = q::<B>(
        "DELETE FROM sso_flows WHERE key_hash = $1 AND kind = $2 RETURNING \
         key_hash, kind, provider, login_hint, nonce, pkce_verifier, binding_hash, \
         created_at, expires_at",
    )
    .bind(key_hash.to_string())
    .bind(kind.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let stored: String = B::col(&r, 1)?;
    let rec = SsoFlowRecord {
        key_hash: B::col(&r, 0)?,
        kind: SsoFlowKind::parse(&stored)
            .ok_or_else(|| corrupt(format!("sso flow kind {stored:?}")))?,
        provider: B::col(&r, 2)?,
        login_hint: B::col(&r, 3)?,
        nonce: B::col(&r, 4)?,
        pkce_verifier: B::col(&r, 5)?,
        binding_hash: B::col(&r, 6)?,
        created_at: B::ts(&r, 7)?,
        expires_at: B::ts(&r, 8)?,
    };
    Ok((rec.expires_at > now).then_some(rec))
}

/// Deletes every record expired by `now`; returns how many.
pub(crate) async fn purge<B: Backend>(conn: &mut B::Conn, now: Timestamp) -> StoreResult<u64> {
    q::<B>("DELETE FROM sso_flows WHERE expires_at <= $1")
        .bind_ts(now)
        .execute(conn)
        .await
}
