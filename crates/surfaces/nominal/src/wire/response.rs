//! Success responses (NOMINAL.md §1): 200 with a JSON body for every return
//! type (collections included, even when empty: `[]`/`{}`), 204 with an
//! empty body for void endpoints and for an absent `optional<T>` return.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire::error::ConjureError;

/// 200 with `Content-Type: application/json`. Use it for every endpoint with
/// a return type, including `set<…>`/`map<…>` returns (never 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonOk<T>(pub T);

impl<T: Serialize> IntoResponse for JsonOk<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut resp = (StatusCode::OK, body).into_response();
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp
            }
            Err(e) => ConjureError::internal()
                .with_detail(format!("failed to serialize response: {e}"))
                .into_response(),
        }
    }
}

/// 204 with an empty body, for endpoints without a return type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// An `optional<T>` return (`getDefaultWorkspace`): 200 JSON when present,
/// 204 with an empty body when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: Serialize> IntoResponse for OptionalJson<T> {
    fn into_response(self) -> Response {
        match self.0 {
            Some(v) => JsonOk(v).into_response(),
            None => NoContent.into_response(),
        }
    }
}
