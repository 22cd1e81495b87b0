//! `/admin/v1/orgs/{orgId}/clients`: the org's OpenID clients. The core scopes every call to
//! the path's org (`ClientScope::Org`): another org's client is not found, a new one belongs to
//! this org, and the operator-only powers are refused.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::StatusCode;
use portcullis_core::engine::Engine;
use portcullis_core::oidc::{ClientPatch, ClientSpec};
use portcullis_core::use_cases::ClientScope;
use portcullis_edge::{Caller, JsonBody};
use serde_json::json;

use crate::{OrgAdmin, Reply, admin_problem, answer, authorize_id};

/// The routes; answers may carry a client secret, so no cache may keep them.
pub(crate) fn routes() -> Router<Arc<Engine>> {
    const ONE: &str = "/admin/v1/orgs/{org}/clients/{client}";
    Router::new()
        .route("/admin/v1/orgs/{org}/clients", get(list).post(create))
        .route(ONE, get(show).patch(update).delete(delete))
        .route(&format!("{ONE}/rotate-secret"), post(rotate_secret))
        .route(&format!("{ONE}/disable"), post(disable))
        .route(&format!("{ONE}/enable"), post(enable))
        .layer(middleware::from_fn(portcullis_edge::no_store))
}

pub(crate) async fn list(OrgAdmin { admin, id, .. }: OrgAdmin) -> Reply {
    let clients = admin.list_clients(ClientScope::Org(id)).await;
    answer(clients.map(|clients| json!({ "clients": clients })))
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
