//! API keys: create, list, revoke (AuthorizationService) and exchange (InternalApiKeyService).

use axum::extract::State;
use portcullis_core::CoreError;
use portcullis_core::model::Credential;

use crate::auth::{ApiResult, Ctx, Session, check_rate, fault};
use crate::convert;
use crate::handlers::paging;
use crate::routes::NominalState;
use crate::wire::{
    ApiKeyRid, ConjureError, ConjureJson, CreateApiKeyRequest, CreateApiKeyResponse,
    GetAccessTokenFromApiKeyRequest, GetAccessTokenResponse, JsonOk, ListApiKeyRequest,
    ListApiKeyResponse, NoContent, RidPath,
};

/// A key for the caller in the session org; the secret is returned only here.
pub async fn create(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<CreateApiKeyRequest>,
) -> ApiResult<JsonOk<CreateApiKeyResponse>> {
    let days = req.expires_after_days.map(|d| d.get());
    match st
        .engine
        .create_api_key(&p, &req.api_key_name, days, &ctx.audit)
        .await
    {
        Ok((cred, secret)) => Ok(JsonOk(CreateApiKeyResponse {
            api_key_metadata: convert::api_key(&st.engine, &cred)?,
            api_key_value: secret,
        })),
        Err(CoreError::CredentialNotAllowed(_) | CoreError::PermissionDenied(_)) => {
            Err(ConjureError::authorization_not_authorized().into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn list(
    st: &NominalState,
    p: &portcullis_core::tokens::Principal,
    req: ListApiKeyRequest,
    all_if_admin: bool,
) -> ApiResult<JsonOk<ListApiKeyResponse>> {
    let limit = paging::clamped(req.page_size)?;
    let include_deleted = req.include_deleted.unwrap_or(false);
    let include_expired = req.include_expired.unwrap_or(false);
    let see_all = all_if_admin && st.engine.is_org_admin(p).await?;
    let scope = paging::scope(&[
        "api-keys",
        &p.org.to_string(),
        &p.user.to_string(),
        if see_all { "all" } else { "own" },
        if include_deleted { "d" } else { "-" },
        if include_expired { "e" } else { "-" },
    ]);
    let offset = paging::offset(&st.engine, &scope, req.next_page_token.as_ref())?;
    let mut rows: Vec<Credential> = st
        .engine
        .list_api_keys(
            p,
            see_all,
            include_deleted,
            include_expired,
            offset,
            limit + 1,
        )
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let api_keys = rows
        .iter()
        .map(|c| convert::api_key(&st.engine, c))
        .collect::<Result<_, _>>()?;
    Ok(JsonOk(ListApiKeyResponse {
        api_keys,
        next_page_token: paging::next(&st.engine, &scope, offset, rows.len(), has_more),
    }))
}

/// Admins see every key of the session org, others their own.
pub async fn list_in_org(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<ListApiKeyRequest>,
) -> ApiResult<JsonOk<ListApiKeyResponse>> {
    list(&st, &p, req, true).await
}

/// The caller's own keys in the session org.
pub async fn list_user(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<ListApiKeyRequest>,
) -> ApiResult<JsonOk<ListApiKeyResponse>> {
    list(&st, &p, req, false).await
}

/// Soft-deletes a key; idempotent.
pub async fn revoke(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    RidPath(rid): RidPath<ApiKeyRid>,
) -> ApiResult<NoContent> {
    let Some(id) = convert::api_key_id(st.engine.rids(), &rid.0) else {
        return Err(ConjureError::authorization_api_key_not_found().into());
    };
    match st.engine.revoke_api_key(&p, id, &ctx.audit).await {
        Ok(()) => Ok(NoContent),
        Err(CoreError::NotFound(_)) => Err(ConjureError::authorization_api_key_not_found().into()),
        Err(CoreError::PermissionDenied(_)) => Err(
            ConjureError::authorization_not_authorized_admin(st.engine.rids().org(p.org)).into(),
        ),
        Err(CoreError::CredentialNotAllowed(_)) => {
            Err(ConjureError::authorization_not_authorized().into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Exchanges a key for a token; every bad case is `NotAuthorized`.
pub async fn exchange(
    State(st): State<NominalState>,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<GetAccessTokenFromApiKeyRequest>,
) -> ApiResult<JsonOk<GetAccessTokenResponse>> {
    check_rate(&st, &ctx)?;
    match st
        .engine
        .exchange_credential(&req.api_key_value, &ctx.audit)
        .await
    {
        Ok(t) => Ok(JsonOk(convert::access_token_response(&t)?)),
        Err(e @ (CoreError::Store(_) | CoreError::Internal(_))) => Err(fault(e)),
        Err(_) => Err(ConjureError::authorization_not_authorized().into()),
    }
}
