//! The token endpoint's RFC 8693 grant: the form's parameters to the core's
//! [`Provider::exchange_token`], its answer to RFC 8693 §2.2 JSON.

use axum::response::Response;
use http::StatusCode;
use portcullis_core::model::OAuthClient;
use portcullis_core::oidc::TokenExchangeRequest;
use portcullis_edge::Origin;
use serde_json::json;

use super::Oidc;
use super::form::Params;
use super::token::{json_response, oauth_error};

pub(crate) async fn exchange(
    o: &Oidc,
    client: &OAuthClient,
    p: &Params,
    origin: &Origin,
) -> Response {
    let req = TokenExchangeRequest {
        subject_token: p.get("subject_token"),
        subject_token_type: p.get("subject_token_type"),
        actor_token: p.get("actor_token"),
        actor_token_type: p.get("actor_token_type"),
        audience: p.get("audience"),
        resource: p.get("resource"),
        scope: p.get("scope"),
        requested_token_type: p.get("requested_token_type"),
    };
    match o.provider.exchange_token(client, &req, &origin.audit).await {
        Ok(t) => json_response(
            StatusCode::OK,
            &json!({
                "access_token": t.access_token,
                "issued_token_type": t.issued_token_type,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "scope": t.scope,
            }),
        ),
        Err(e) => oauth_error(&e, false),
    }
}
