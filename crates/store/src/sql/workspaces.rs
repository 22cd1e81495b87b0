//! Workspaces, per-user workspace grants, and the resources (RIDs) registered to workspaces.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_core::model::*;
use portcullis_core::store::{StoreError, StoreResult, WorkspacePatch};

use super::{ensure_org, ensure_user, ensure_workspace, rows};
use crate::backend::{Backend, q};
use crate::common::*;

fn workspace_row<B: Backend>(r: &B::Row) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: WorkspaceId(B::col(r, 0)?),
        org_id: OrgId(B::col(r, 1)?),
        slug: B::col(r, 2)?,
        display_name: B::col(r, 3)?,
        symbol: B::col::<Option<String>>(r, 4)?
            .map(|s| json_parse(&s))
            .transpose()?,
        settings: json_parse(&B::col::<String>(r, 5)?)?,
        created_at: B::ts(r, 6)?,
        updated_at: B::ts(r, 7)?,
    })
}

/// Checks the org, then inserts; run it in a transaction.
pub(crate) async fn create<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    slug: &str,
    display_name: Option<String>,
) -> StoreResult<Workspace> {
    let at = now();
    ensure_org::<B>(conn, org).await?;
    let row = q::<B>(concat!(
        "INSERT INTO workspaces (id, org_id, slug, display_name, symbol, settings, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, NULL, '{}', $5, $5) RETURNING ",
        workspace_cols!()
    ))
    .bind(WorkspaceId::new().0)
    .bind(org.0)
    .bind(slug.to_string())
    .bind(display_name)
    .bind_ts(at)
    .fetch_one(conn)
    .await?;
    workspace_row::<B>(&row)
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    id: WorkspaceId,
) -> StoreResult<Option<Workspace>> {
    q::<B>(concat!(
        "SELECT ",
        workspace_cols!(),
        " FROM workspaces WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(workspace_row::<B>)
    .transpose()
}

pub(crate) async fn list_of_org<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
) -> StoreResult<Vec<Workspace>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        workspace_cols!(),
        " FROM workspaces WHERE org_id = $1 ORDER BY slug"
    ))
    .bind(org.0)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, workspace_row::<B>)
}

pub(crate) async fn update<B: Backend>(
    conn: &mut B::Conn,
    id: WorkspaceId,
    patch: WorkspacePatch,
) -> StoreResult<Workspace> {
    let symbol = match &patch.symbol {
        Some(Some(v)) => Some(json_text(v)?),
        _ => None,
    };
    let settings = patch.settings.as_ref().map(json_text).transpose()?;
    let row = q::<B>(concat!(
        "UPDATE workspaces SET \
         display_name = CASE WHEN $2 THEN $3 ELSE display_name END, \
         symbol = CASE WHEN $4 THEN $5 ELSE symbol END, \
         settings = CASE WHEN $6 THEN $7 ELSE settings END, \
         updated_at = $8 WHERE id = $1 RETURNING ",
        workspace_cols!()
    ))
    .bind(id.0)
    .bind(patch.display_name.is_some())
    .bind(patch.display_name.clone().flatten())
    .bind(patch.symbol.is_some())
    .bind(symbol)
    .bind(settings.is_some())
    .bind(settings.unwrap_or_default())
    .bind_ts(now())
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| not_found("unknown workspace"))?;
    workspace_row::<B>(&row)
}

/// Checks the workspace and user, then grants; run it in a transaction.
pub(crate) async fn grant<B: Backend>(
    conn: &mut B::Conn,
    grant: &WorkspaceGrant,
) -> StoreResult<()> {
    ensure_workspace::<B>(conn, grant.workspace_id).await?;
    ensure_user::<B>(conn, grant.user_id).await?;
    q::<B>(
        "INSERT INTO workspace_grants (workspace_id, user_id, access) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET access = excluded.access",
    )
    .bind(grant.workspace_id.0)
    .bind(grant.user_id.0)
    .bind(access_to_text(grant.access))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn revoke_grant<B: Backend>(
    conn: &mut B::Conn,
    workspace: WorkspaceId,
    user: UserId,
) -> StoreResult<bool> {
    let n = q::<B>("DELETE FROM workspace_grants WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace.0)
        .bind(user.0)
        .execute(conn)
        .await?;
    Ok(n > 0)
}

pub(crate) async fn grants_of_user<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
) -> StoreResult<Vec<WorkspaceGrant>> {
    let rs = q::<B>(
        "SELECT workspace_id, user_id, access FROM workspace_grants WHERE user_id = $1 \
         ORDER BY workspace_id",
    )
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    rs.iter()
        .map(|r| {
            Ok(WorkspaceGrant {
                workspace_id: WorkspaceId(B::col(r, 0)?),
                user_id: UserId(B::col(r, 1)?),
                access: parse(&B::col::<String>(r, 2)?)?,
            })
        })
        .collect()
}

/// All or nothing: `ResourceConflict` (the lowest such RID) if any RID is in another
/// workspace, and the caller's transaction then undoes this call's inserts.
pub(crate) async fn register_resources<B: Backend>(
    conn: &mut B::Conn,
    workspace: WorkspaceId,
    rids: &[String],
) -> StoreResult<()> {
    // Sorted, so that concurrent registrations take row locks in one order.
    let rids: BTreeSet<&String> = rids.iter().collect();
    let at = now();
    ensure_workspace::<B>(conn, workspace).await?;
    for rid in &rids {
        q::<B>(
            "INSERT INTO resources (rid, workspace_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (rid) DO NOTHING",
        )
        .bind((*rid).clone())
        .bind(workspace.0)
        .bind_ts(at)
        .execute(conn)
        .await?;
    }
    // Every RID now has a committed or own row; any in another workspace is a conflict.
    let all: Vec<&String> = rids.into_iter().collect();
    for chunk in all.chunks(IN_CHUNK) {
        let mut stmt = q::<B>("SELECT rid, workspace_id FROM resources WHERE workspace_id <> ");
        stmt.push_bind(workspace.0).push(" AND rid IN (");
        stmt.push_list(chunk.iter().map(|rid| (*rid).clone()))
            .push(")");
        let rs = stmt.fetch_all(conn).await?;
        let mut conflicts = rs
            .iter()
            .map(|r| Ok((B::col::<String>(r, 0)?, WorkspaceId(B::col(r, 1)?))))
            .collect::<StoreResult<Vec<_>>>()?;
        conflicts.sort();
        if let Some((resource, existing)) = conflicts.into_iter().next() {
            return Err(StoreError::ResourceConflict { resource, existing });
        }
    }
    Ok(())
}

pub(crate) async fn resource_workspaces<B: Backend>(
    conn: &mut B::Conn,
    rids: &[String],
) -> StoreResult<BTreeMap<String, WorkspaceId>> {
    let mut out = BTreeMap::new();
    for chunk in rids.chunks(IN_CHUNK) {
        let mut stmt = q::<B>("SELECT rid, workspace_id FROM resources WHERE rid IN (");
        stmt.push_list(chunk.iter().cloned()).push(")");
        for r in &stmt.fetch_all(conn).await? {
            out.insert(B::col::<String>(r, 0)?, WorkspaceId(B::col(r, 1)?));
        }
    }
    Ok(out)
}
