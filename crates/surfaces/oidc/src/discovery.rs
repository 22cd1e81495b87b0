//! Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2): exactly what is implemented, so a
//! relying party never tries a flow, method or algorithm this server refuses.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use portcullis_core::model::{IdTokenAlg, TokenEndpointAuth};
use portcullis_core::oidc::{
    ACR_VALUES_SUPPORTED, DEVICE_CODE_GRANT, GRANT_TOKEN_EXCHANGE, SUPPORTED_SCOPES,
};
use portcullis_core::oidc_clients::RegistrationMode;
use serde_json::{Value, json};

use super::*;

pub(crate) const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub(crate) const AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
/// Where the token-signing keys of every algorithm are (the well-known surface serves it).
const JWKS_PATH: &str = "/.well-known/jwks.json";

pub(crate) fn document(o: &Oidc) -> Value {
    let algs: Vec<&str> = IdTokenAlg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods: Vec<&str> = TokenEndpointAuth::ALL.iter().map(|m| m.as_str()).collect();
    let assertion_algs = ["RS256", "PS256", "ES256", "EdDSA"];
    let mut doc = json!({
        "issuer": o.issuer,
        "authorization_endpoint": o.url(AUTHORIZE_PATH),
        "token_endpoint": o.url(TOKEN_PATH),
        "userinfo_endpoint": o.url(USERINFO_PATH),
        "jwks_uri": o.url(JWKS_PATH),
        "introspection_endpoint": o.url(INTROSPECT_PATH),
        "revocation_endpoint": o.url(REVOKE_PATH),
        "end_session_endpoint": o.url(LOGOUT_PATH),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            DEVICE_CODE_GRANT,
            GRANT_TOKEN_EXCHANGE,
        ],
        "device_authorization_endpoint": o.url(DEVICE_AUTHORIZATION_PATH),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
            "at_hash", "azp", "name", "preferred_username", "picture", "updated_at", "email",
            "email_verified", "org", "orgs"
        ],
        "acr_values_supported": ACR_VALUES_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": true,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    if o.provider.registration_mode() != RegistrationMode::Off {
        doc["registration_endpoint"] = json!(o.url(REGISTRATION_PATH));
    }
    if o.provider.metadata_documents_supported() {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    doc
}

pub(crate) async fn metadata(State(o): Ctx) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        document(&o).to_string(),
    )
        .into_response()
}
