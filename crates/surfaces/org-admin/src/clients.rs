//! `/admin/v1/orgs/{orgId}/clients`: the org's OpenID clients. The core scopes every call to
//! the path's org (`ClientScope::Org`): another org's client is not found, a new one belongs to
//! this org, and the operator-only powers are refused.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use portcullis_core::admin::{ClientDetail, ClientView, IssuedClientView};
use portcullis_core::engine::Engine;
use portcullis_core::oidc::{ClientPatch, ClientSpec};
use portcullis_core::use_cases::ClientScope;
use portcullis_edge::openapi::{ApiRoutes, Op, schema_of};
use portcullis_edge::{Caller, JsonBody};

use crate::{OrgAdmin, Reply, admin_problem, answer, authorize_id};

/// The routes, added to `api`; answers may carry a client secret, so no cache may keep them.
pub(crate) fn routes(api: ApiRoutes<Arc<Engine>>) -> ApiRoutes<Arc<Engine>> {
    const ALL: &str = "/admin/v1/orgs/{orgId}/clients";
    const ONE: &str = "/admin/v1/orgs/{orgId}/clients/{clientId}";
    let op = |o: Op| crate::op(o).no_store();
    let action = |suffix: &str, id: &str, summary: &str| {
        op(Op::post(&format!("{ONE}/{suffix}"), id)).summary(summary)
    };
    api.mount(
        op(Op::get(ALL, "listOrgClients"))
            .summary("The org's OpenID clients")
            .json(200, schema_of::<ClientList>()),
        list,
    )
    .mount(
        op(Op::post(ALL, "createOrgClient"))
            .summary("Registers a client; a secret method's secret is shown this once")
            .json_body(schema_of::<ClientSpec>())
            .json(201, schema_of::<IssuedClientView>())
            .problems(crate::BODY),
        create,
    )
    .mount(
        op(Op::get(ONE, "showOrgClient"))
            .summary("One client, with its latest back-channel logout deliveries")
            .json(200, schema_of::<ClientDetail>()),
        show,
    )
    .mount(
        op(Op::patch(ONE, "updateOrgClient"))
            .summary("A JSON merge patch of the client's settings")
            .json_body(schema_of::<ClientPatch>())
            .json(200, schema_of::<IssuedClientView>())
            .problems(crate::BODY),
        update,
    )
    .mount(
        op(Op::delete(ONE, "deleteOrgClient"))
            .summary("Deletes the client; its grants end")
            .empty(204),
        delete,
    )
    .mount(
        action(
            "rotate-secret",
            "rotateOrgClientSecret",
            "A new secret; the old one lives on for the grace period",
        )
        .json(200, schema_of::<IssuedClientView>())
        .problems(&[409]),
        rotate_secret,
    )
    .mount(
        action(
            "disable",
            "disableOrgClient",
            "Disables the client; its grants end",
        )
        .json(200, schema_of::<ClientView>()),
        disable,
    )
    .mount(
        action("enable", "enableOrgClient", "Enables the client again")
            .json(200, schema_of::<ClientView>()),
        enable,
    )
    .mount(
        op(Op::put(&format!("{ONE}/roles"), "setOrgClientRoles"))
            .summary("Sets the roles of a client-credentials client's service account in this org")
            .json_body(schema_of::<RolesBody>())
            .json(200, schema_of::<ClientView>())
            .problems(crate::BODY),
        set_roles,
    )
}

/// The roles a service account gets (replacing its roles).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolesBody {
    /// ADMIN, AUTHOR, JOBCREATOR, EXECUTOR or PARSABLE_ADMIN.
    roles: Vec<String>,
}

/// The answer of the list.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ClientList {
    clients: Vec<ClientView>,
}

pub(crate) async fn list(OrgAdmin { admin, id, .. }: OrgAdmin) -> Reply {
    let clients = admin.list_clients(ClientScope::Org(id)).await;
    answer(clients.map(|clients| ClientList { clients }))
}

/// 201 with the client and, for a secret method, `clientSecret`: the one time it is shown.
pub(crate) async fn create(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path(org): Path<String>,
    JsonBody(spec): JsonBody<ClientSpec>,
) -> Reply {
    let (admin, id) = authorize_id(&e, &caller, &org).await?;
    let issued = admin
        .create_client(ClientScope::Org(id), spec)
        .await
        .map_err(admin_problem)?;
    Ok((StatusCode::CREATED, axum::Json(issued)).into_response())
}

pub(crate) async fn show(
    OrgAdmin { admin, id, .. }: OrgAdmin,
    Path((_, client)): Path<(String, String)>,
) -> Reply {
    answer(admin.show_client(ClientScope::Org(id), &client).await)
}

/// A JSON merge patch of the client's settings.
pub(crate) async fn update(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path((org, client)): Path<(String, String)>,
    JsonBody(patch): JsonBody<ClientPatch>,
) -> Reply {
    let (admin, id) = authorize_id(&e, &caller, &org).await?;
    answer(
        admin
            .update_client(ClientScope::Org(id), &client, &patch)
            .await,
    )
}

pub(crate) async fn delete(
    OrgAdmin { admin, id, .. }: OrgAdmin,
    Path((_, client)): Path<(String, String)>,
) -> Reply {
    admin
        .delete_client(ClientScope::Org(id), &client)
        .await
        .map_err(admin_problem)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn rotate_secret(
    OrgAdmin { admin, id, .. }: OrgAdmin,
    Path((_, client)): Path<(String, String)>,
) -> Reply {
    answer(
        admin
            .rotate_client_secret(ClientScope::Org(id), &client)
            .await,
    )
}

pub(crate) async fn disable(
    OrgAdmin { admin, id, .. }: OrgAdmin,
    Path((_, client)): Path<(String, String)>,
) -> Reply {
    answer(
        admin
            .set_client_disabled(ClientScope::Org(id), &client, true)
            .await,
    )
}

pub(crate) async fn enable(
    OrgAdmin { admin, id, .. }: OrgAdmin,
    Path((_, client)): Path<(String, String)>,
) -> Reply {
    answer(
        admin
            .set_client_disabled(ClientScope::Org(id), &client, false)
            .await,
    )
}

/// Another org's client is not found, like a missing one; a client without the
/// `client_credentials` grant is a 400.
pub(crate) async fn set_roles(
    State(e): State<Arc<Engine>>,
    caller: Caller,
    Path((org, client)): Path<(String, String)>,
    JsonBody(body): JsonBody<RolesBody>,
) -> Reply {
    let (admin, id) = authorize_id(&e, &caller, &org).await?;
    answer(
        admin
            .set_client_roles(ClientScope::Org(id), &client, &body.roles)
            .await,
    )
}
