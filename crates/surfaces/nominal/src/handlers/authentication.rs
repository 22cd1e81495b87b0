//! AuthenticationServiceV2: profile, settings, user directory, MediaMTX, admin endpoints.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use portcullis_core::CoreError;
use portcullis_core::directory::OrgsAdminCheck;
use portcullis_core::mediamtx::MediaMtxPermission as CorePermission;
use portcullis_core::model::{OrgId, SettingsScope, UserId};
use portcullis_core::store::{UserQuery, UserSort, UserSortField};
use portcullis_core::tokens::Principal;

use crate::auth::{ApiResult, Ctx, Session};
use crate::convert::{self, wire_rid};
use crate::handlers::paging;
use crate::routes::NominalState;
use crate::wire::{
    BatchPreregisterUsersRequest, BatchPreregisterUsersResponse, ConjureError, ConjureJson,
    GenerateMediaMtxTokenRequest, GenerateMediaMtxTokenResponse, JsonOk, Jwk, Jwks,
    ListOrgLoginActivityRequest, ListOrgLoginActivityResponse, NoContent, OrgRid, OrgSettings,
    OrgUserLoginActivity, RidPath, SearchUsersQuery, SearchUsersRequest, SearchUsersResponseV2,
    SortByField, UpdateMyProfileRequest, UserRid, UserSettings, UserV2,
};

fn not_admin(st: &NominalState, org: OrgId) -> ConjureError {
    ConjureError::authentication_not_authorized_admin(st.engine.rids().org(org))
}

/// Maps errors of admin endpoints: a missing admin role is `Authentication:NotAuthorizedAdmin`.
fn admin_error(st: &NominalState, p: &Principal, e: CoreError) -> crate::auth::ApiError {
    match e {
        CoreError::PermissionDenied(_) => not_admin(st, p.org).into(),
        CoreError::NotFound("user") => ConjureError::authentication_user_not_found().into(),
        other => other.into(),
    }
}

pub async fn get_my_profile(
    State(st): State<NominalState>,
    Session(p): Session,
) -> ApiResult<JsonOk<UserV2>> {
    let user = st.engine.my_user(&p).await?;
    Ok(JsonOk(convert::user_v2(&st.engine, &user, p.org)?))
}

pub async fn update_my_profile(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<UpdateMyProfileRequest>,
) -> ApiResult<JsonOk<UserV2>> {
    let user = st
        .engine
        .update_my_display_name(&p, &req.display_name, &ctx.audit)
        .await?;
    Ok(JsonOk(convert::user_v2(&st.engine, &user, p.org)?))
}

pub async fn get_my_settings(
    State(st): State<NominalState>,
    Session(p): Session,
) -> ApiResult<JsonOk<UserSettings>> {
    let doc = st
        .engine
        .nominal_settings(SettingsScope::User(p.user))
        .await?;
    Ok(JsonOk(convert::stored_doc(doc)))
}

pub async fn update_my_settings(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<UserSettings>,
) -> ApiResult<JsonOk<UserSettings>> {
    st.engine
        .put_my_settings(&p, convert::to_doc(&req)?)
        .await?;
    Ok(JsonOk(req))
}

pub async fn get_my_org_settings(
    State(st): State<NominalState>,
    Session(p): Session,
) -> ApiResult<JsonOk<OrgSettings>> {
    let doc = st
        .engine
        .nominal_settings(SettingsScope::Org(p.org))
        .await?;
    Ok(JsonOk(convert::stored_doc(doc)))
}

pub async fn update_my_org_settings(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<OrgSettings>,
) -> ApiResult<JsonOk<OrgSettings>> {
    st.engine
        .put_org_settings(&p, convert::to_doc(&req)?, &ctx.audit)
        .await
        .map_err(|e| admin_error(&st, &p, e))?;
    Ok(JsonOk(req))
}

fn user_query(q: SearchUsersQuery) -> UserQuery {
    match q {
        SearchUsersQuery::And(v) => UserQuery::And(v.into_iter().map(user_query).collect()),
        SearchUsersQuery::Or(v) => UserQuery::Or(v.into_iter().map(user_query).collect()),
        SearchUsersQuery::ExactMatch(s) => UserQuery::ExactEmail(s),
        SearchUsersQuery::SearchText(s) => UserQuery::Text(s),
    }
}

/// Members and guests of the session org matching the query.
pub async fn search_users(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<SearchUsersRequest>,
) -> ApiResult<JsonOk<SearchUsersResponseV2>> {
    let limit = paging::limited(req.page_size, |n| {
        ConjureError::authentication_search_users_limit_exceeded(n, paging::MAX_PAGE_SIZE as i32)
    })?;
    let sort = match &req.sort_by {
        None => UserSort {
            field: UserSortField::UpdatedAt,
            descending: true,
        },
        Some(s) => UserSort {
            field: match s.field {
                SortByField::Name => UserSortField::Name,
                SortByField::Email => UserSortField::Email,
                SortByField::CreatedAt => UserSortField::CreatedAt,
                SortByField::UpdatedAt => UserSortField::UpdatedAt,
            },
            descending: s.is_descending,
        },
    };
    let query = user_query(req.query);
    let scope = paging::scope(&[
        "users",
        &p.org.to_string(),
        &format!("{query:?}"),
        &format!("{sort:?}"),
    ]);
    let offset = paging::offset(&st.engine, &scope, req.next_page_token.as_ref())?;
    let page = st
        .engine
        .search_org_users(&p, &query, sort, offset, limit)
        .await?;
    let results = page
        .items
        .iter()
        .map(|u| convert::user_v2(&st.engine, u, p.org))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JsonOk(SearchUsersResponseV2 {
        next_page_token: paging::next(&st.engine, &scope, offset, results.len(), page.has_more),
        results,
    }))
}

/// The requested users who are members or guests of the session org.
pub async fn get_users(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<BTreeSet<UserRid>>,
) -> ApiResult<JsonOk<BTreeSet<UserV2>>> {
    let ids: Vec<UserId> = req
        .iter()
        .filter_map(|r| convert::user_id(st.engine.rids(), &r.0))
        .collect();
    let users = st.engine.org_users(&p, &ids).await?;
    Ok(JsonOk(
        users
            .iter()
            .map(|u| convert::user_v2(&st.engine, u, p.org))
            .collect::<Result<_, _>>()?,
    ))
}

pub async fn get_user(
    State(st): State<NominalState>,
    Session(p): Session,
    RidPath(rid): RidPath<UserRid>,
) -> ApiResult<JsonOk<UserV2>> {
    let Some(id) = convert::user_id(st.engine.rids(), &rid.0) else {
        return Err(ConjureError::authentication_user_not_found().into());
    };
    match st.engine.org_user(&p, id).await {
        Ok(u) => Ok(JsonOk(convert::user_v2(&st.engine, &u, p.org)?)),
        Err(CoreError::NotFound(_)) => Err(ConjureError::authentication_user_not_found().into()),
        Err(e) => Err(e.into()),
    }
}

/// The MediaMTX public keys; 404 when MediaMTX is not configured.
pub async fn get_jwks(State(st): State<NominalState>) -> ApiResult<JsonOk<Jwks>> {
    let Some(signer) = &st.mediamtx else {
        return Err(ConjureError::not_found().into());
    };
    Ok(JsonOk(Jwks {
        keys: signer
            .jwks()
            .into_iter()
            .map(|k| Jwk {
                kty: "RSA".into(),
                kid: k.kid,
                use_: "sig".into(),
                alg: "RS256".into(),
                n: k.n,
                e: k.e,
            })
            .collect(),
    }))
}

pub async fn generate_media_mtx_token(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<GenerateMediaMtxTokenRequest>,
) -> ApiResult<JsonOk<GenerateMediaMtxTokenResponse>> {
    let Some(signer) = &st.mediamtx else {
        return Err(ConjureError::not_found().into());
    };
    let perms: Vec<CorePermission> = req
        .permissions
        .into_iter()
        .map(|m| CorePermission {
            action: m.action,
            path: m.path,
        })
        .collect();
    let (token, _) = st.engine.mediamtx_token(signer, &p, &perms).await?;
    Ok(JsonOk(GenerateMediaMtxTokenResponse { token }))
}

/// Creates the accounts not yet taken as members of the session org and invites existing ones
/// (the core answers for them without revealing that they existed); admins only.
pub async fn batch_preregister_users(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    ConjureJson(req): ConjureJson<BatchPreregisterUsersRequest>,
) -> ApiResult<JsonOk<BatchPreregisterUsersResponse>> {
    let created = st
        .engine
        .preregister_users(&p, &req.emails, &ctx.audit)
        .await
        .map_err(|e| admin_error(&st, &p, e))?;
    let mut users = BTreeMap::new();
    for u in &created {
        users.insert(u.email.clone(), convert::user_v2(&st.engine, u, p.org)?);
    }
    Ok(JsonOk(BatchPreregisterUsersResponse { users }))
}

/// Login activity of the requested orgs (default: the session org); admin of each.
pub async fn list_org_login_activity(
    State(st): State<NominalState>,
    Session(p): Session,
    ConjureJson(req): ConjureJson<ListOrgLoginActivityRequest>,
) -> ApiResult<JsonOk<ListOrgLoginActivityResponse>> {
    let limit = paging::limited(req.page_size, |n| {
        ConjureError::authentication_org_login_activity_limit_exceeded(
            n,
            paging::MAX_PAGE_SIZE as i32,
        )
    })?;
    let orgs: Vec<OrgId> = match &req.orgs {
        None => vec![p.org],
        Some(set) => {
            let mut out = BTreeSet::new();
            for r in set {
                match convert::org_id(st.engine.rids(), &r.0) {
                    Some(o) => {
                        out.insert(o);
                    }
                    None => return Err(ConjureError::authentication_org_not_found().into()),
                }
            }
            out.into_iter().collect()
        }
    };
    if orgs.is_empty() {
        return Ok(JsonOk(ListOrgLoginActivityResponse::default()));
    }
    match st.engine.check_admin_of_orgs(&p, &orgs).await? {
        OrgsAdminCheck::Ok => {}
        OrgsAdminCheck::UnknownOrg => {
            return Err(ConjureError::authentication_org_not_found().into());
        }
        OrgsAdminCheck::NotAdmin(o) => return Err(not_admin(&st, o).into()),
    }
    let descending = req.is_descending.unwrap_or(true);
    let org_list: Vec<String> = orgs.iter().map(|o| o.to_string()).collect();
    let scope = paging::scope(&[
        "login-activity",
        &p.user.to_string(),
        &org_list.join(","),
        if descending { "desc" } else { "asc" },
    ]);
    let offset = paging::offset(&st.engine, &scope, req.next_page_token.as_ref())?;
    let page = st
        .engine
        .login_activity(&orgs, descending, offset, limit)
        .await?;
    let rids = st.engine.rids();
    let results = page
        .items
        .iter()
        .map(|m| {
            Ok(OrgUserLoginActivity {
                user_rid: UserRid(wire_rid(rids.user(m.user_id))?),
                org_rid: OrgRid(wire_rid(rids.org(m.org_id))?),
                last_login_at: m.last_login_at.map(convert::datetime),
            })
        })
        .collect::<Result<Vec<_>, ConjureError>>()?;
    Ok(JsonOk(ListOrgLoginActivityResponse {
        next_page_token: paging::next(&st.engine, &scope, offset, results.len(), page.has_more),
        results,
    }))
}

async fn set_active(
    st: NominalState,
    p: Principal,
    ctx: Ctx,
    rid: UserRid,
    active: bool,
) -> ApiResult<NoContent> {
    if !st.engine.is_org_admin(&p).await? {
        return Err(not_admin(&st, p.org).into());
    }
    let Some(target) = convert::user_id(st.engine.rids(), &rid.0) else {
        return Err(ConjureError::authentication_user_not_found().into());
    };
    let r = if active {
        st.engine.reactivate_in_org(&p, target, &ctx.audit).await
    } else {
        st.engine.deactivate_in_org(&p, target, &ctx.audit).await
    };
    r.map_err(|e| admin_error(&st, &p, e))?;
    Ok(NoContent)
}

pub async fn deactivate_user(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    RidPath(rid): RidPath<UserRid>,
) -> ApiResult<NoContent> {
    set_active(st, p, ctx, rid, false).await
}

pub async fn reactivate_user(
    State(st): State<NominalState>,
    Session(p): Session,
    ctx: Ctx,
    RidPath(rid): RidPath<UserRid>,
) -> ApiResult<NoContent> {
    set_active(st, p, ctx, rid, true).await
}
