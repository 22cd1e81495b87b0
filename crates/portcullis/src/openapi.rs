//! `GET /openapi.json`: the OpenAPI 3.1 document of every JSON surface (docs/design/openapi.md),
//! assembled from the surfaces' own descriptions (the tables that also mount their routes):
//! Nominal's generated from its Conjure IR, the account, org-admin, OpenID provider and
//! well-known surfaces' from their route tables. Built once, served as it is, no auth.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use portcullis_edge::openapi::{ApiDoc, ApiRoutes, Op, document, schema};
use serde_json::{Value, json};

pub const PATH: &str = "/openapi.json";
/// The document changes only with the binary.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// Every surface's description, and this route's own.
fn parts() -> Vec<ApiDoc> {
    vec![
        portcullis_nominal::api(),
        portcullis_account::api(),
        portcullis_org_admin::api(),
        portcullis_oidc::api(),
        portcullis_well_known::api(),
        table(|| async { serve() }).into_parts().1,
    ]
}

fn table<H, T>(handler: H) -> ApiRoutes<()>
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    ApiRoutes::new().mount(
        Op::get(PATH, "openapi")
            .tag("meta")
            .summary("This document")
            .json(
                200,
                schema(json!({ "type": "object", "required": ["openapi", "paths"] })),
            ),
        handler,
    )
}

/// The whole document. Two surfaces that documented one route or one operation id twice, or
/// one schema name differently, are a defect of this build: the tests assemble it first.
pub fn build() -> Value {
    document("Portcullis", env!("CARGO_PKG_VERSION"), &parts())
        .unwrap_or_else(|e| panic!("the OpenAPI document cannot be assembled: {e}"))
}

fn serialized() -> &'static Arc<str> {
    static DOC: OnceLock<Arc<str>> = OnceLock::new();
    DOC.get_or_init(|| build().to_string().into())
}

fn serve() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
        ],
        serialized().to_string(),
    )
        .into_response()
}

/// The route, with the document built now (so a defect stops the start, not a request).
pub fn router() -> Router {
    serialized();
    table(|| async { serve() }).into_parts().0
}

#[cfg(test)]
mod tests;
