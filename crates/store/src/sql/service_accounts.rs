//! Service accounts of client-credentials clients (docs/design/oidc-provider.md, "Client
//! credentials"), and what the revocation view reads of them.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{ensure_org, rows};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

macro_rules! cols {
    () => {
        "id, client_id, org_id, roles, tokens_not_before, retired_at, created_at, updated_at"
    };
}

fn account<B: Backend>(r: &B::Row) -> StoreResult<ServiceAccount> {
    Ok(ServiceAccount {
        id: UserId(B::col(r, 0)?),
        client_id: B::col(r, 1)?,
        org_id: OrgId(B::col(r, 2)?),
        roles: roles_from_text(&B::col::<String>(r, 3)?)?,
        tokens_not_before: B::opt_ts(r, 4)?,
        retired_at: B::opt_ts(r, 5)?,
        created_at: B::ts(r, 6)?,
        updated_at: B::ts(r, 7)?,
    })
}

/// The client's live account.
pub(crate) async fn live<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
) -> StoreResult<Option<ServiceAccount>> {
    let row = q::<B>(concat!(
        "SELECT ",
        cols!(),
        " FROM service_accounts WHERE client_id = $1 AND retired_at IS NULL"
    ))
    .bind(client_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(account::<B>).transpose()
}

/// An account by id, live or retired.
pub(crate) async fn by_id<B: Backend>(
    conn: &mut B::Conn,
    id: UserId,
) -> StoreResult<Option<ServiceAccount>> {
    let row = q::<B>(concat!(
        "SELECT ",
        cols!(),
        " FROM service_accounts WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(account::<B>).transpose()
}

/// The live accounts, of one org or all, by client id.
pub(crate) async fn list<B: Backend>(
    conn: &mut B::Conn,
    org: Option<OrgId>,
) -> StoreResult<Vec<ServiceAccount>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        cols!(),
        " FROM service_accounts WHERE retired_at IS NULL \
         AND ($1 IS NULL OR org_id = $1) ORDER BY client_id"
    ))
    .bind(org.map(|o| o.0))
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, account::<B>)
}

/// Inserts `a` unless its client has a live account already; the live one either way. Run it
/// in a transaction.
pub(crate) async fn ensure<B: Backend>(
    conn: &mut B::Conn,
    a: &ServiceAccount,
) -> StoreResult<ServiceAccount> {
    if let Some(live) = live::<B>(conn, &a.client_id).await? {
        return Ok(live);
    }
    ensure_org::<B>(conn, a.org_id).await?;
    q::<B>(concat!(
        "INSERT INTO service_accounts (",
        cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (client_id) WHERE retired_at IS NULL DO NOTHING"
    ))
    .bind(a.id.0)
    .bind(a.client_id.clone())
    .bind(a.org_id.0)
    .bind(roles_to_text(&a.roles))
    .bind_opt_ts(a.tokens_not_before)
    .bind_opt_ts(a.retired_at)
    .bind_ts(a.created_at)
    .bind_ts(a.updated_at)
    .execute(&mut *conn)
    .await?;
    live::<B>(conn, &a.client_id)
        .await?
        .ok_or_else(|| not_found("service account"))
}

/// Replaces the live account's roles; `NotFound` when the client has none. Run it in a
/// transaction.
pub(crate) async fn set_roles<B: Backend>(
    conn: &mut B::Conn,
    client_id: &str,
    roles: &BTreeSet<Role>,
    at: Timestamp,
) -> StoreResult<ServiceAccount> {
    let n = q::<B>(
        "UPDATE service_accounts SET roles = $2, updated_at = $3 \
         WHERE client_id = $1 AND retired_at IS NULL",
    )
    .bind(client_id.to_string())
    .bind(roles_to_text(roles))
    .bind_ts(at)
    .execute(&mut *conn)
    .await?;
    if n == 0 {
        return Err(not_found("service account"));
    }
    live::<B>(conn, client_id)
        .await?
        .ok_or_else(|| not_found("service account"))
}

/// Announces the client's live account on the revocation feed, first moving its cut-off to
/// `cut_off` (and retiring it at `retire`) when given. `None` when the client has none.
pub(crate) async fn announce<B: Backend>(
    w: &mut Write<B>,
    client_id: &str,
    cut_off: Option<Timestamp>,
    retire: Option<Timestamp>,
) -> StoreResult<Option<ServiceAccount>> {
    let Some(mut a) = live::<B>(w.conn(), client_id).await? else {
        return Ok(None);
    };
    if cut_off.is_some() || retire.is_some() {
        a.tokens_not_before = cut_off.or(a.tokens_not_before);
        a.retired_at = retire;
        q::<B>("UPDATE service_accounts SET tokens_not_before = $2, retired_at = $3 WHERE id = $1")
            .bind(a.id.0)
            .bind_opt_ts(a.tokens_not_before)
            .bind_opt_ts(a.retired_at)
            .execute(w.conn())
            .await?;
    }
    w.announce(RevocationEvent::User(a.id));
    Ok(Some(a))
}

/// Accounts whose tokens are all refused: retired, or whose client is gone or disabled.
pub(crate) const STOPPED: &str = "SELECT a.id FROM service_accounts a \
     LEFT JOIN oauth_clients c ON c.client_id = a.client_id \
     WHERE a.retired_at IS NOT NULL OR c.client_id IS NULL OR c.disabled_at IS NOT NULL \
     ORDER BY a.id";

/// The accounts' cut-offs, as (id, org, instant).
pub(crate) const CUTOFFS: &str = "SELECT id, org_id, tokens_not_before FROM service_accounts \
     WHERE tokens_not_before IS NOT NULL ORDER BY id";

/// What the revocation view needs of one subject that is a service account: whether it is
/// stopped, and its cut-off in its org. `None` when no account has that id.
pub(crate) async fn revocation_state<B: Backend>(
    conn: &mut B::Conn,
    id: UserId,
) -> StoreResult<Option<(bool, OrgId, Option<Timestamp>)>> {
    let row = q::<B>(
        "SELECT a.org_id, a.tokens_not_before, \
         (a.retired_at IS NOT NULL OR c.client_id IS NULL OR c.disabled_at IS NOT NULL) \
         FROM service_accounts a LEFT JOIN oauth_clients c ON c.client_id = a.client_id \
         WHERE a.id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok((
            B::col::<bool>(&r, 2)?,
            OrgId(B::col(&r, 0)?),
            B::opt_ts(&r, 1)?,
        ))
    })
    .transpose()
}
