//! The org-admin API under `/admin/v1/orgs/{orgId}` (docs/design/team-settings.md): a team's
//! Parsable settings, job priority list and job-permission overrides, and its OpenID clients
//! (`clients.rs`, docs/design/oidc-clients.md), for an ADMIN of that org or a super-admin.
//!
//! Callers authenticate with `Authorization: Bearer <access token>` (or Parsable's `Token <t>`).
//! Bodies are JSON; errors are RFC 9457 `application/problem+json`, as on the account surface.
//! Validation, atomicity and the access rule live in the core (`portcullis_core::team_settings`);
//! this crate only maps the wire to those calls.
#![forbid(unsafe_code)]

mod clients;

use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use portcullis_core::OrgId;
use portcullis_core::admin::{Admin, AdminError};
use portcullis_core::engine::Engine;
use portcullis_core::model::{JobPermissions, PriorityLevel, SettingValue};
use portcullis_core::org_settings::parse_job_permissions;
use portcullis_core::org_settings::{JobPermissionsView, MAX_KEY_LEN, OrgSettingsView};
use portcullis_edge::openapi::{
    ApiDoc, ApiRoutes, Op, PROBLEM_SCHEMA, problem_schema, ref_json, schema, schema_of,
};
use portcullis_edge::{Caller, JsonBody, Problem, finish};
use serde_json::{Value, json};

/// The surface, state applied. No fallback: other paths stay with the server's 404.
pub fn router(engine: Arc<Engine>) -> Router {
    let (routes, _) = table().into_parts();
    routes.layer(middleware::from_fn(finish)).with_state(engine)
}

/// The surface's OpenAPI description (the same table mounts the routes).
pub fn api() -> ApiDoc {
    table().into_parts().1
}

/// Every bearer route: a bad path, a missing or bad token, not an admin of the org, no such
/// org, a throttled client, a store that cannot serve.
pub(crate) const AUTHED: &[u16] = &[400, 401, 403, 404, 429, 500, 503];
/// Routes with a JSON body, on top: a conflict (a limit), a body too large, not JSON.
pub(crate) const BODY: &[u16] = &[409, 413, 415];
pub(crate) const ORG: &str = "/admin/v1/orgs/{orgId}";

/// An org-admin operation: the tag, the bearer, the org's id in the path and the problems.
pub(crate) fn op(op: Op) -> Op {
    op.tag("org-admin")
        .bearer()
        .param(
            "path",
            "orgId",
            true,
            json!({"type": "string", "format": "uuid"}),
        )
        .problems(AUTHED)
}

/// Every route, with what it takes and answers.
fn table() -> ApiRoutes<Arc<Engine>> {
    let settings = schema_of::<OrgSettingsView>;
    let overrides = schema_of::<JobPermissionsView>;
    let ops = ApiRoutes::new()
        .mount(
            op(Op::get(&format!("{ORG}/settings"), "listOrgSettings"))
                .summary("The team's settings and priorities")
                .json(200, settings()),
            list_settings,
        )
        .mount(
            op(Op::patch(&format!("{ORG}/settings"), "patchOrgSettings"))
                .summary("Sets (a setting) or clears (null) several settings, all or none")
                .json_body(schema(json!({
                    "type": "object",
                    "additionalProperties": { "anyOf": [ref_json("SettingValue"), { "type": "null" }] },
                })))
                .json(200, settings())
                .problems(BODY),
            patch_settings,
        )
        .mount(
            key_param(op(Op::get(&format!("{ORG}/settings/{{key}}"), "getOrgSetting")))
                .summary("One setting of the team")
                .json(200, schema_of::<SettingValue>()),
            get_setting,
        )
        .mount(
            key_param(op(Op::put(&format!("{ORG}/settings/{{key}}"), "putOrgSetting")))
                .summary("Sets one setting")
                .json_body(schema_of::<SettingValue>())
                .json(200, settings())
                .problems(BODY),
            put_setting,
        )
        .mount(
            key_param(op(Op::delete(&format!("{ORG}/settings/{{key}}"), "deleteOrgSetting")))
                .summary("Clears one setting")
                .json(200, settings()),
            delete_setting,
        )
        .mount(
            op(Op::get(&format!("{ORG}/priorities"), "getOrgPriorities"))
                .summary("The team's settings and priorities")
                .json(200, settings()),
            list_settings,
        )
        .mount(
            op(Op::put(&format!("{ORG}/priorities"), "putOrgPriorities"))
                .summary("Replaces the team's priority list")
                .json_body(schema_of::<Vec<PriorityLevel>>())
                .json(200, settings())
                .problems(BODY),
            put_priorities,
        )
        .mount(
            op(Op::delete(&format!("{ORG}/priorities"), "deleteOrgPriorities"))
                .summary("Leaves the team's priorities unconfigured")
                .json(200, settings()),
            delete_priorities,
        )
        .mount(
            op(Op::get(&format!("{ORG}/job-permissions"), "listOrgJobPermissions"))
                .summary("The team's job-permission overrides")
                .json(200, overrides()),
            list_job_permissions,
        )
        .mount(
            role_param(op(Op::get(&format!("{ORG}/job-permissions/{{role}}"), "getOrgJobPermissions")))
                .summary("A role's effective job permissions in the team")
                .json(200, schema(job_permissions_of_role())),
            get_job_permissions,
        )
        .mount(
            role_param(op(Op::put(&format!("{ORG}/job-permissions/{{role}}"), "putOrgJobPermissions")))
                .summary("Overrides a role's job permissions (flags left out are false)")
                .json_body(schema_of::<JobPermissions>())
                .json(200, overrides())
                .problems(BODY),
            put_job_permissions,
        )
        .mount(
            role_param(op(Op::delete(&format!("{ORG}/job-permissions/{{role}}"), "deleteOrgJobPermissions")))
                .summary("Removes a role's override")
                .json(200, overrides()),
            delete_job_permissions,
        );
    clients::routes(ops).named_schema(PROBLEM_SCHEMA, problem_schema())
}

/// The answer of `GET …/job-permissions/{role}` (built as JSON by its handler).
/// A role of the path: one of the roles a membership has.
fn role_param(op: Op) -> Op {
    let roles: Vec<&str> = portcullis_core::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    op.param("path", "role", true, json!({ "enum": roles }))
}

/// A setting key of the path (`portcullis_core::org_settings::validate_key`).
fn key_param(op: Op) -> Op {
    let pattern = format!("^[A-Za-z0-9_.-]{{1,{MAX_KEY_LEN}}}$");
    op.param(
        "path",
        "key",
        true,
        json!({ "type": "string", "pattern": pattern }),
    )
}

fn job_permissions_of_role() -> Value {
    json!({
        "type": "object",
        "required": ["role", "source", "permissions"],
        "properties": {
            "role": { "type": "string" },
            "source": { "enum": ["org", "config"] },
            "permissions": ref_json("JobPermissions"),
        },
        "additionalProperties": false,
    })
}

pub(crate) type Reply = Result<Response, Problem>;

pub(crate) fn ok<T: serde::Serialize>(v: &T) -> Reply {
    Ok(axum::Json(v).into_response())
}

/// A core answer as JSON, or its error as a problem.
pub(crate) fn answer<T: serde::Serialize>(r: Result<T, AdminError>) -> Reply {
    ok(&r.map_err(admin_problem)?)
}

pub(crate) fn admin_problem(e: AdminError) -> Problem {
    match e {
        AdminError::Invalid(m) => Problem::new(StatusCode::BAD_REQUEST, "invalid_argument", m),
        AdminError::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, "not_found", m),
        AdminError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflict", m),
        AdminError::Core(e) => Problem::from(e),
        AdminError::Store(e) => Problem::from(portcullis_core::CoreError::Store(e)),
        other @ (AdminError::Password(_) | AdminError::Hash(_) | AdminError::Internal(_)) => {
            // The cause is for the logs only.
            tracing::error!(error = %other, "admin request failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

/// The admin handle for the path's org, after the core's access check.
async fn authorize(
    engine: &Engine,
    caller: &Caller,
    org: &str,
) -> Result<(Admin, String), Problem> {
    let (admin, id) = authorize_id(engine, caller, org).await?;
    Ok((admin, id.to_string()))
}

/// [`authorize`], with the org's id.
pub(crate) async fn authorize_id(
    engine: &Engine,
    caller: &Caller,
    org: &str,
) -> Result<(Admin, OrgId), Problem> {
    let id = OrgId::from_str(org.trim()).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "orgId must be a UUID",
        )
    })?;
    let admin = engine
        .org_admin(&caller.0, id)
        .await
        .map_err(Problem::from)?;
    Ok((admin, id))
}

/// The caller's admin handle for the path's `{org}`: the caller authenticated, then the core's
/// access check. Handlers that take a body call [`authorize`] after reading it instead, so a bad
/// body is refused first.
pub(crate) struct OrgAdmin {
    admin: Admin,
    org: String,
    id: OrgId,
}

impl FromRequestParts<Arc<Engine>> for OrgAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &Arc<Engine>,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, engine)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, engine)
            .await
            .map_err(IntoResponse::into_response)?;
        let org = params
            .iter()
            .find(|(name, _)| name == "orgId")
            .map_or("", |(_, v)| v.as_str());
        let (admin, id) = authorize_id(engine, &caller, org)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(OrgAdmin {
            admin,
            org: id.to_string(),
            id,
        })
    }
}

async fn list_settings(OrgAdmin { admin, org, .. }: OrgAdmin) -> Reply {
    answer(admin.org_settings(&org).await)
}

/// `{"key": {"type", "value"} | null, …}`: every change or none.
async fn patch_settings(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let (admin, org) = authorize(&e, &caller, &org).await?;
    let Value::Object(map) = body else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "expected an object of key: setting or null",
        ));
    };
    let changes: Vec<(String, Option<Value>)> = map
        .into_iter()
        .map(|(k, v)| (k, (!v.is_null()).then_some(v)))
        .collect();
    answer(admin.update_org_settings(&org, &changes).await)
}

async fn get_setting(
    OrgAdmin { admin, org, .. }: OrgAdmin,
    Path((_, key)): Path<(String, String)>,
) -> Reply {
    answer(admin.org_setting(&org, &key).await)
}

async fn put_setting(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path((org, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let (admin, org) = authorize(&e, &caller, &org).await?;
    answer(admin.update_org_settings(&org, &[(key, Some(body))]).await)
}

async fn delete_setting(
    OrgAdmin { admin, org, .. }: OrgAdmin,
    Path((_, key)): Path<(String, String)>,
) -> Reply {
    answer(admin.update_org_settings(&org, &[(key, None)]).await)
}

async fn put_priorities(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let (admin, org) = authorize(&e, &caller, &org).await?;
    answer(admin.set_org_priorities(&org, Some(&body)).await)
}

async fn delete_priorities(OrgAdmin { admin, org, .. }: OrgAdmin) -> Reply {
    answer(admin.set_org_priorities(&org, None).await)
}

async fn list_job_permissions(OrgAdmin { admin, org, .. }: OrgAdmin) -> Reply {
    answer(admin.org_job_permissions(&org).await)
}

/// The role's effective permissions in the team: its override, else the configured table.
async fn get_job_permissions(
    State(e): State<Arc<Engine>>,
    OrgAdmin { admin, org, .. }: OrgAdmin,
    Path((_, role)): Path<(String, String)>,
) -> Reply {
    let role = portcullis_core::Role::from_str(&role)
        .map_err(|m| Problem::new(StatusCode::BAD_REQUEST, "invalid_argument", m))?;
    let view = admin
        .org_job_permissions(&org)
        .await
        .map_err(admin_problem)?;
    let (source, perms) = match view.overrides.get(role.as_str()) {
        Some(p) => ("org", *p),
        None => ("config", e.config().job_permissions_for(role)),
    };
    ok(&serde_json::json!({"role": role.as_str(), "source": source, "permissions": perms}))
}

/// An object of flag: bool; flags left out are false.
async fn put_job_permissions(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path((org, role)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Reply {
    let (admin, org) = authorize(&e, &caller, &org).await?;
    let perms = parse_job_permissions(&body).map_err(admin_problem)?;
    answer(
        admin
            .set_org_job_permissions(&org, &role, Some(perms))
            .await,
    )
}

async fn delete_job_permissions(
    OrgAdmin { admin, org, .. }: OrgAdmin,
    Path((_, role)): Path<(String, String)>,
) -> Reply {
    answer(admin.set_org_job_permissions(&org, &role, None).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_errors_map_to_problems() {
        let p = admin_problem(AdminError::Invalid("x".into()));
        assert_eq!(
            (p.status(), p.code()),
            (StatusCode::BAD_REQUEST, "invalid_argument")
        );
        let p = admin_problem(AdminError::NotFound("x".into()));
        assert_eq!(p.status(), StatusCode::NOT_FOUND);
        let p = admin_problem(AdminError::Conflict("x".into()));
        assert_eq!(p.status(), StatusCode::CONFLICT);
        let denied = portcullis_core::CoreError::PermissionDenied("x");
        let p = admin_problem(AdminError::Core(denied));
        assert_eq!(p.status(), StatusCode::FORBIDDEN);
        let p = admin_problem(AdminError::Internal("secret detail".into()));
        assert_eq!(p.status(), StatusCode::INTERNAL_SERVER_ERROR);
        use portcullis_core::store::StoreError;
        let p = admin_problem(AdminError::Store(StoreError::Unavailable("down".into())));
        assert_eq!(
            (p.status(), p.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        );
        let p = admin_problem(AdminError::Store(StoreError::Corrupt("row".into())));
        assert_eq!(p.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
