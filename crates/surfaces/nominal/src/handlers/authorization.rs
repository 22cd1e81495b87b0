//! AuthorizationService: resources, admin check, email rule, org switch.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use portcullis_core::CoreError;
use portcullis_core::workspaces::WorkspaceError;

use crate::auth::{ApiResult, Ctx, Session, check_rate, fault};
use crate::convert::{self, wire_rid};
use crate::routes::NominalState;
use crate::wire::{
    AuthorizationRequest, ConjureError, ConjureJson, GetAccessTokenResponse, IsEmailAllowedRequest,
    IsEmailAllowedResponse, JsonOk, LenientJson, NoContent, OktaRegistrationError,
    OktaRegistrationErrorCause, OktaRegistrationRequest, OktaRegistrationResponse,
    OktaRegistrationStatus, OktaUpdateActionCommand, OktaUpdateActionValue,
    RegisterInWorkspaceRequest, Rid, SetUserOrgRequest, WorkspaceRid,
};

/// The subset of `rids` the session can read.
pub async fn authorize(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<AuthorizationRequest>,
) -> ApiResult<JsonOk<BTreeSet<Rid>>> {
    let rids: Vec<String> = req.rids.iter().map(|r| r.as_str().to_owned()).collect();
    let readable = st.engine.readable_resources(&p, &rids).await?;
    Ok(JsonOk(
        req.rids
            .into_iter()
            .filter(|r| readable.contains_key(r.as_str()))
            .collect(),
    ))
}

/// Each readable registered RID's workspace.
pub async fn batch_get_workspace_for_resource(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<BTreeSet<Rid>>,
) -> ApiResult<JsonOk<BTreeMap<Rid, WorkspaceRid>>> {
    let rids: Vec<String> = req.iter().map(|r| r.as_str().to_owned()).collect();
    let readable = st.engine.readable_resources(&p, &rids).await?;
    let mut out = BTreeMap::new();
    for r in req {
        if let Some(ws) = readable.get(r.as_str()) {
            out.insert(r, WorkspaceRid(wire_rid(st.engine.rids().workspace(*ws))?));
        }
    }
    Ok(JsonOk(out))
}

/// Registers resources in a workspace, all or nothing.
pub async fn register_in_workspace(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<RegisterInWorkspaceRequest>,
) -> ApiResult<NoContent> {
    let requested = req.workspace_rid.0.clone();
    let not_found = || ConjureError::authorization_workspace_not_found(&requested);
    let Some(ws) = convert::workspace_id(st.engine.rids(), &req.workspace_rid.0) else {
        return Err(not_found().into());
    };
    let rids: Vec<String> = req
        .resource_rids
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    match st
        .engine
        .register_in_workspace(&p, ws, &rids, &ctx.audit)
        .await
    {
        Ok(()) => Ok(NoContent),
        Err(WorkspaceError::NotFound) => Err(not_found().into()),
        Err(WorkspaceError::NoAccess | WorkspaceError::NotAdmin(_)) => {
            Err(ConjureError::authorization_not_authorized().into())
        }
        Err(WorkspaceError::Conflict { resource }) => {
            Err(ConjureError::authorization_register_resource_conflict(resource, &requested).into())
        }
        Err(WorkspaceError::Core(e)) => Err(e.into()),
    }
}

/// 204 if the caller is an admin of the session org.
pub async fn check_admin(
    State(st): State<NominalState>,
    Session(p): Session,
) -> ApiResult<NoContent> {
    if st.engine.is_org_admin(&p).await? {
        Ok(NoContent)
    } else {
        Err(ConjureError::authorization_not_authorized_admin(st.engine.rids().org(p.org)).into())
    }
}

/// Legacy unauthenticated email check.
pub async fn is_email_allowed(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<IsEmailAllowedRequest>,
) -> ApiResult<JsonOk<IsEmailAllowedResponse>> {
    check_rate(&st, &ctx)?;
    let allowed = st.engine.is_email_allowed(&req.email, None).await?;
    Ok(JsonOk(IsEmailAllowedResponse { allowed }))
}

fn okta_response(allow: bool) -> OktaRegistrationResponse {
    let status = if allow {
        OktaRegistrationStatus::Allow
    } else {
        OktaRegistrationStatus::Deny
    };
    OktaRegistrationResponse {
        commands: vec![OktaUpdateActionCommand {
            type_: "com.okta.action.update".to_owned(),
            value: OktaUpdateActionValue {
                registration: status,
            },
        }],
        error: (!allow).then(|| OktaRegistrationError {
            error_summary: "Registration is not open for this address.".to_owned(),
            error_causes: Some(vec![OktaRegistrationErrorCause {
                error_summary: "Sign-up is limited to approved email domains.".to_owned(),
                reason: Some("EMAIL_NOT_ALLOWED".to_owned()),
                location_type: Some("body".to_owned()),
                location: Some("data.userProfile.email".to_owned()),
                domain: Some("end-user".to_owned()),
            }]),
        }),
    }
}

/// Okta registration hook: ALLOW or DENY by the email rule.
pub async fn is_email_allowed_okta(
    State(st): State<NominalState>,
    Session(_p): Session,
    LenientJson(req): LenientJson<OktaRegistrationRequest>,
) -> ApiResult<JsonOk<OktaRegistrationResponse>> {
    let allowed = st
        .engine
        .is_email_allowed(&req.data.user_profile.email, None)
        .await?;
    Ok(JsonOk(okta_response(allowed)))
}

/// The freemium hook: always ALLOW.
pub async fn is_email_allowed_freemium_okta(
    LenientJson(_req): LenientJson<OktaRegistrationRequest>,
) -> ApiResult<JsonOk<OktaRegistrationResponse>> {
    Ok(JsonOk(okta_response(true)))
}

/// A token for the same user in another org.
pub async fn set_user_org(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<SetUserOrgRequest>,
) -> ApiResult<JsonOk<GetAccessTokenResponse>> {
    if p.is_credential_based() {
        return Err(ConjureError::authorization_not_authorized().into());
    }
    let Some(org) = convert::org_id(st.engine.rids(), &req.org_rid.0) else {
        return Err(ConjureError::authorization_not_authorized().into());
    };
    match st.engine.switch_org(&p, org, &ctx.audit).await {
        Ok(t) => Ok(JsonOk(convert::access_token_response(&t)?)),
        Err(e @ (CoreError::Store(_) | CoreError::Internal(_))) => Err(fault(e)),
        Err(e) => Err(ConjureError::authorization_not_authorized()
            .with_detail(e.to_string())
            .into()),
    }
}
