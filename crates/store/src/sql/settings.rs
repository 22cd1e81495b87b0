//! Settings documents per org or user, and per-role job permissions.

use std::collections::BTreeMap;

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{ensure_org, ensure_user, fetch_doc, keyed_docs};
use crate::backend::{Backend, q};
use crate::common::*;

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    scope: SettingsScope,
    ns: SettingsNamespace,
) -> StoreResult<Option<serde_json::Value>> {
    let (kind, id) = settings_scope(scope);
    let stmt = q::<B>(
        "SELECT doc FROM settings WHERE scope_kind = $1 AND scope_id = $2 AND namespace = $3",
    )
    .bind(kind)
    .bind(id)
    .bind(ns.as_str());
    fetch_doc(stmt, conn).await
}

/// Checks the scope's org or user, then stores; run it in a transaction.
pub(crate) async fn put<B: Backend>(
    conn: &mut B::Conn,
    scope: SettingsScope,
    ns: SettingsNamespace,
    doc: &serde_json::Value,
) -> StoreResult<()> {
    let (kind, id) = settings_scope(scope);
    match scope {
        SettingsScope::Org(o) => ensure_org::<B>(conn, o).await?,
        SettingsScope::User(u) => ensure_user::<B>(conn, u).await?,
    }
    q::<B>(
        "INSERT INTO settings (scope_kind, scope_id, namespace, doc, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope_kind, scope_id, namespace) \
         DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
    )
    .bind(kind)
    .bind(id)
    .bind(ns.as_str())
    .bind(json_text(doc)?)
    .bind_ts(now())
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn job_permissions<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
) -> StoreResult<BTreeMap<Role, JobPermissions>> {
    let rs = q::<B>("SELECT role, perms FROM job_permissions WHERE org_id = $1")
        .bind(org.0)
        .fetch_all(conn)
        .await?;
    keyed_docs::<B, _, _>(&rs, |role| parse::<Role>(&role))
}

/// Sets (`Some`) or removes (`None`) the role's permissions; run it in a transaction.
pub(crate) async fn set_job_permissions<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    role: Role,
    perms: Option<&JobPermissions>,
) -> StoreResult<()> {
    ensure_org::<B>(conn, org).await?;
    match perms {
        Some(p) => q::<B>(
            "INSERT INTO job_permissions (org_id, role, perms) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id, role) DO UPDATE SET perms = excluded.perms",
        )
        .bind(org.0)
        .bind(role.as_str())
        .bind(json_text(p)?),
        None => q::<B>("DELETE FROM job_permissions WHERE org_id = $1 AND role = $2")
            .bind(org.0)
            .bind(role.as_str()),
    }
    .execute(conn)
    .await?;
    Ok(())
}
