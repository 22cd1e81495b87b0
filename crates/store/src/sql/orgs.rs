//! Regions and orgs.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;
use uuid::Uuid;

use super::{ensure_org, ensure_region, rows};
use crate::backend::{Backend, Lock, q};
use crate::common::*;
use crate::write::Write;

fn region_row<B: Backend>(r: &B::Row) -> StoreResult<Region> {
    Ok(Region {
        id: B::col(r, 0)?,
        api_host: B::col(r, 1)?,
        sig_host: B::col(r, 2)?,
        static_host: B::col(r, 3)?,
    })
}

pub(crate) fn org_row<B: Backend>(r: &B::Row) -> StoreResult<Org> {
    Ok(Org {
        id: OrgId(B::col(r, 0)?),
        name: B::col(r, 1)?,
        display_name: B::col(r, 2)?,
        region_id: B::col(r, 3)?,
        disabled: B::col(r, 4)?,
        default_workspace: B::col::<Option<Uuid>>(r, 5)?.map(WorkspaceId),
        created_at: B::ts(r, 6)?,
        updated_at: B::ts(r, 7)?,
    })
}

pub(crate) async fn upsert_region<B: Backend>(
    conn: &mut B::Conn,
    region: Region,
) -> StoreResult<Region> {
    let row = q::<B>(concat!(
        "INSERT INTO regions (id, api_host, sig_host, static_host) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET api_host = excluded.api_host, \
         sig_host = excluded.sig_host, static_host = excluded.static_host RETURNING ",
        region_cols!()
    ))
    .bind(region.id)
    .bind(region.api_host)
    .bind(region.sig_host)
    .bind(region.static_host)
    .fetch_one(conn)
    .await?;
    region_row::<B>(&row)
}

/// Creates the region unless one with its id exists.
pub(crate) async fn insert_region_if_missing<B: Backend>(
    conn: &mut B::Conn,
    region: Region,
) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO regions (id, api_host, sig_host, static_host) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(region.id)
    .bind(region.api_host)
    .bind(region.sig_host)
    .bind(region.static_host)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get_region<B: Backend>(
    conn: &mut B::Conn,
    id: &str,
) -> StoreResult<Option<Region>> {
    q::<B>(concat!(
        "SELECT ",
        region_cols!(),
        " FROM regions WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(region_row::<B>)
    .transpose()
}

pub(crate) async fn list_regions<B: Backend>(conn: &mut B::Conn) -> StoreResult<Vec<Region>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        region_cols!(),
        " FROM regions ORDER BY id"
    ))
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, region_row::<B>)
}

/// Fails with `Conflict` on a taken name, `NotFound` on an unknown region.
pub(crate) async fn insert<B: Backend>(
    conn: &mut B::Conn,
    org: &NewOrg,
    at: Timestamp,
) -> StoreResult<Org> {
    ensure_region::<B>(conn, &org.region_id).await?;
    let row = q::<B>(concat!(
        "INSERT INTO orgs (id, name, display_name, region_id, disabled, default_workspace, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, FALSE, NULL, $5, $5) RETURNING ",
        org_cols!()
    ))
    .bind(OrgId::new().0)
    .bind(org.name.clone())
    .bind(org.display_name.clone())
    .bind(org.region_id.clone())
    .bind_ts(at)
    .fetch_one(conn)
    .await?;
    org_row::<B>(&row)
}

pub(crate) async fn get<B: Backend>(conn: &mut B::Conn, id: OrgId) -> StoreResult<Option<Org>> {
    q::<B>(concat!("SELECT ", org_cols!(), " FROM orgs WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(org_row::<B>)
        .transpose()
}

/// The org and `user`'s membership in it (`None` when there is no row), in one statement.
pub(crate) async fn get_with_membership<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
) -> StoreResult<Option<(Org, Option<Membership>)>> {
    let row = q::<B>(concat!(
        "SELECT o.id, o.name, o.display_name, o.region_id, o.disabled, o.default_workspace, \
         o.created_at, o.updated_at, ",
        membership_cols!("m."),
        " FROM orgs o LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = $1 \
         WHERE o.id = $2"
    ))
    .bind(user.0)
    .bind(org.0)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let member = match B::col::<Option<Uuid>>(&r, 8)? {
        Some(_) => Some(super::memberships::membership_at::<B>(&r, 8)?),
        None => None,
    };
    Ok(Some((org_row::<B>(&r)?, member)))
}

pub(crate) async fn get_by_name<B: Backend>(
    conn: &mut B::Conn,
    name: &str,
) -> StoreResult<Option<Org>> {
    q::<B>(concat!(
        "SELECT ",
        org_cols!(),
        " FROM orgs WHERE name = $1"
    ))
    .bind(name.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(org_row::<B>)
    .transpose()
}

pub(crate) async fn list<B: Backend>(conn: &mut B::Conn) -> StoreResult<Vec<Org>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        org_cols!(),
        " FROM orgs ORDER BY name, id"
    ))
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, org_row::<B>)
}

/// Changes the org's profile (name, region, default workspace). Disabling is
/// [`set_disabled`], which the core composes with the token cut-off and the org's event.
pub(crate) async fn update<B: Backend>(
    w: &mut Write<B>,
    id: OrgId,
    u: OrgUpdate,
) -> StoreResult<Org> {
    ensure_org::<B>(w.conn(), id).await?;
    if let Some(region) = &u.region_id {
        ensure_region::<B>(w.conn(), region).await?;
    }
    if let Some(Some(ws)) = u.default_workspace {
        let found = q::<B>("SELECT 1 FROM workspaces WHERE id = $1 AND org_id = $2")
            .bind(ws.0)
            .bind(id.0)
            .fetch_optional(w.conn())
            .await?;
        if found.is_none() {
            return Err(not_found("unknown workspace"));
        }
    }
    let row = q::<B>(concat!(
        "UPDATE orgs SET \
         display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
         region_id = CASE WHEN $4 THEN $5 ELSE region_id END, \
         default_workspace = CASE WHEN $6 THEN $7 ELSE default_workspace END, \
         updated_at = $8 WHERE id = $1 RETURNING ",
        org_cols!()
    ))
    .bind(id.0)
    .bind(u.display_name.is_some())
    .bind(u.display_name.clone().flatten())
    .bind(u.region_id.is_some())
    .bind(u.region_id.clone().unwrap_or_default())
    .bind(u.default_workspace.is_some())
    .bind(u.default_workspace.flatten().map(|w| w.0))
    .bind_ts(now())
    .fetch_one(w.conn())
    .await?;
    org_row::<B>(&row)
}

/// The org, locked until the transaction ends (PostgreSQL; SQLite's write lock covers it), so
/// that a decision made on what it reads still holds at commit.
pub(crate) async fn get_locked<B: Backend>(conn: &mut B::Conn, id: OrgId) -> StoreResult<Org> {
    B::lock(conn, Lock::Org(id)).await?;
    get::<B>(conn, id)
        .await?
        .ok_or_else(|| not_found("unknown org"))
}

/// Sets the org's disabled flag; returns the org.
pub(crate) async fn set_disabled<B: Backend>(
    conn: &mut B::Conn,
    id: OrgId,
    disabled: bool,
    at: Timestamp,
) -> StoreResult<Org> {
    let row = q::<B>(concat!(
        "UPDATE orgs SET disabled = $2, updated_at = $3 WHERE id = $1 RETURNING ",
        org_cols!()
    ))
    .bind(id.0)
    .bind(disabled)
    .bind_ts(at)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| not_found("unknown org"))?;
    org_row::<B>(&row)
}

/// Refuses the org's tokens issued before `at`.
pub(crate) async fn set_tokens_not_before<B: Backend>(
    conn: &mut B::Conn,
    id: OrgId,
    at: Timestamp,
) -> StoreResult<()> {
    let n = q::<B>("UPDATE orgs SET tokens_not_before = $2 WHERE id = $1")
        .bind(id.0)
        .bind_ts(at)
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(not_found("unknown org"));
    }
    Ok(())
}
