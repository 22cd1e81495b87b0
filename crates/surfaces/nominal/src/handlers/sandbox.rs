//! InternalSandboxTokenService.issueSandboxToken.

use axum::extract::State;
use portcullis_core::CoreError;
use portcullis_core::sandbox::SandboxUser;

use crate::auth::{ApiResult, Ctx, check_rate, fault};
use crate::convert::{self, wire_rid};
use crate::routes::NominalState;
use crate::wire::{
    ConjureError, ConjureJson, ConjureUuid, IssueSandboxTokenRequest, IssueSandboxTokenResponse,
    JsonOk, SandboxSharedSecret, SandboxWorkspace, WorkspaceRid,
};

/// A token for the configured sandbox user; every refusal is `SandboxTokenUnavailable`.
pub async fn issue(
    State(st): State<NominalState>,
    ctx: Ctx,
    secret: SandboxSharedSecret,
    ConjureJson(req): ConjureJson<IssueSandboxTokenRequest>,
) -> ApiResult<JsonOk<IssueSandboxTokenResponse>> {
    check_rate(&st, &ctx)?;
    let which = match req.sandbox_workspace {
        Some(SandboxWorkspace::Secondary) => SandboxUser::Secondary,
        Some(SandboxWorkspace::Primary) | None => SandboxUser::Primary,
    };
    let ttl = req.requested_ttl_seconds.map(|t| t.get());
    match st
        .engine
        .issue_sandbox_token(secret.0.as_deref(), which, ttl, &ctx.audit)
        .await
    {
        Ok(g) => Ok(JsonOk(IssueSandboxTokenResponse {
            access_token: g.token.token.clone(),
            expires_at_seconds: convert::safelong(g.token.expires_at.timestamp())?,
            user_uuid: ConjureUuid(g.token.user.0),
            org_uuid: ConjureUuid(g.token.org.0),
            workspace_rid: WorkspaceRid(wire_rid(st.engine.rids().workspace(g.workspace.id))?),
        })),
        Err(e @ (CoreError::Store(_) | CoreError::Internal(_))) => Err(fault(e)),
        Err(_) => Err(ConjureError::authorization_sandbox_token_unavailable().into()),
    }
}
