//! The surface's OpenAPI description: the operations and schemas generated from the Conjure IR
//! at build time (`portcullis_conjure_codegen::openapi`, written by `build.rs`), plus the
//! MediaMTX auth callback, a Portcullis extension the IR does not have. The router is mounted
//! from the same list (`routes.rs`), so every IR endpoint is routed exactly at its documented
//! method and path.

use axum::routing::MethodFilter;
use http::Method;
use portcullis_edge::openapi::{ApiDoc, ApiRoutes, Op, schema_of, schema_ref};
use serde_json::Value;

use crate::handlers::mediamtx::MediaMtxAuthRequest;
use crate::routes::{NO_STORE, NominalState, handler};

/// The generated description (see `portcullis_conjure_codegen::openapi`).
const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/conjure_openapi.json"));
/// The operation id of the MediaMTX auth callback.
pub(crate) const MEDIAMTX_AUTH: &str = "authorizeMediaMtx";
const MEDIAMTX_AUTH_PATH: &str = "/api/mediamtx-internal/v1/auth";

/// The surface's OpenAPI description (the same table mounts the routes).
pub fn api() -> ApiDoc {
    table().into_parts().1
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::GET => MethodFilter::GET,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::POST,
    }
}

/// The generated operations with their handlers, and the extension.
pub(crate) fn table() -> ApiRoutes<NominalState> {
    // The build wrote this file from the checked IR; a malformed one is a build defect.
    let generated: Value = serde_json::from_str(GENERATED).expect("generated OpenAPI is JSON");
    let mut api = ApiRoutes::new();
    for op in generated["operations"].as_array().into_iter().flatten() {
        let name = op["name"].as_str().unwrap_or_default();
        let method = Method::from_bytes(op["method"].as_str().unwrap_or_default().as_bytes())
            .expect("an IR method");
        let path = op["path"].as_str().unwrap_or_default();
        let mut doc = Op::documented(method.clone(), path, op["operation"].clone());
        if NO_STORE.contains(&name) {
            doc = doc.no_store();
        }
        let h = handler(name, filter(&method))
            .unwrap_or_else(|| panic!("no handler for the IR endpoint {name}"));
        api = api.mount_method(doc, h);
    }
    for (name, schema) in generated["schemas"].as_object().into_iter().flatten() {
        api = api.named_schema(name, schema.clone());
    }
    let mediamtx = Op::post(MEDIAMTX_AUTH_PATH, MEDIAMTX_AUTH)
        .tag("MediaMtx")
        .summary("MediaMTX's auth callback (authMethod: http): 200 when the token allows the request now")
        .json_body(schema_of::<MediaMtxAuthRequest>())
        .empty(200);
    // The extension answers the same Conjure errors as the IR's endpoints.
    let error = generated["errorSchema"].as_str().unwrap_or_default();
    let mediamtx = generated["errorStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .fold(mediamtx, |op, status| {
            op.answer(status as u16, "application/json", schema_ref(error))
        });
    let h = handler(MEDIAMTX_AUTH, MethodFilter::POST).expect("the MediaMTX handler");
    api.mount_method(mediamtx, h)
}
