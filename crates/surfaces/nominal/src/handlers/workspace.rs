//! WorkspaceService.

use std::collections::BTreeSet;

use axum::extract::State;
use portcullis_core::workspaces::{WorkspaceError, WorkspaceUpdate};

use crate::auth::{ApiResult, Ctx, Session};
use crate::convert;
use crate::routes::NominalState;
use crate::wire::{
    ConjureError, ConjureJson, GetWorkspacesQuery, JsonOk, OptionalJson, Rid,
    UpdateOrRemoveWorkspaceDisplayName, UpdateOrRemoveWorkspaceSymbol, UpdateWorkspaceRequest,
    Workspace, WorkspaceRid,
};

pub async fn get_workspaces(
    State(st): State<NominalState>,
    Session(p): Session,
    GetWorkspacesQuery(q): GetWorkspacesQuery,
) -> ApiResult<JsonOk<BTreeSet<Workspace>>> {
    let ws = st
        .engine
        .list_workspaces(
            &p,
            q.filter_by_session_org.unwrap_or(true),
            q.include_guest_workspaces.unwrap_or(false),
        )
        .await?;
    Ok(JsonOk(
        ws.iter()
            .map(|w| convert::workspace(&st.engine, w))
            .collect::<Result<_, _>>()?,
    ))
}

fn map_err(rid: &Rid, e: WorkspaceError) -> crate::auth::ApiError {
    match e {
        WorkspaceError::NotFound | WorkspaceError::NoAccess => {
            ConjureError::security_workspace_not_found(rid).into()
        }
        WorkspaceError::NotAdmin(_) => ConjureError::authorization_not_authorized().into(),
        WorkspaceError::Conflict { .. } => ConjureError::invalid_argument().into(),
        WorkspaceError::Core(e) => e.into(),
    }
}

pub async fn get_workspace(
    State(st): State<NominalState>,
    Session(p): Session,
    crate::wire::RidPath(rid): crate::wire::RidPath<WorkspaceRid>,
) -> ApiResult<JsonOk<Workspace>> {
    let Some(id) = convert::workspace_id(st.engine.rids(), &rid.0) else {
        return Err(ConjureError::security_workspace_not_found(&rid.0).into());
    };
    let ws = st
        .engine
        .get_workspace_for(&p, id)
        .await
        .map_err(|e| map_err(&rid.0, e))?;
    Ok(JsonOk(convert::workspace(&st.engine, &ws)?))
}

pub async fn update_workspace(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    crate::wire::RidPath(rid): crate::wire::RidPath<WorkspaceRid>,
    ConjureJson(req): ConjureJson<UpdateWorkspaceRequest>,
) -> ApiResult<JsonOk<Workspace>> {
    let Some(id) = convert::workspace_id(st.engine.rids(), &rid.0) else {
        return Err(ConjureError::security_workspace_not_found(&rid.0).into());
    };
    let update = WorkspaceUpdate {
        display_name: req.display_name.map(|d| match d {
            UpdateOrRemoveWorkspaceDisplayName::DisplayName(n) => Some(n),
            UpdateOrRemoveWorkspaceDisplayName::RemoveType(_) => None,
        }),
        symbol: match req.symbol {
            None => None,
            Some(UpdateOrRemoveWorkspaceSymbol::Symbol(s)) => Some(Some(convert::to_doc(&s)?)),
            Some(UpdateOrRemoveWorkspaceSymbol::RemoveType(_)) => Some(None),
        },
        settings: req.settings.as_ref().map(convert::to_doc).transpose()?,
    };
    match st.engine.update_workspace(&p, id, update, &ctx.audit).await {
        Ok(ws) => Ok(JsonOk(convert::workspace(&st.engine, &ws)?)),
        Err(WorkspaceError::NotAdmin(org)) => {
            Err(ConjureError::authorization_not_authorized_admin(st.engine.rids().org(org)).into())
        }
        Err(e) => Err(map_err(&rid.0, e)),
    }
}

pub async fn get_default_workspace(
    State(st): State<NominalState>,
    Session(p): Session,
) -> ApiResult<OptionalJson<Workspace>> {
    let ws = st.engine.default_workspace(&p).await?;
    Ok(OptionalJson(
        ws.as_ref()
            .map(|w| convert::workspace(&st.engine, w))
            .transpose()?,
    ))
}
