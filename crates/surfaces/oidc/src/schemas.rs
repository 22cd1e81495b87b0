//! The schemas of the JSON endpoints' bodies and answers, which the handlers build as JSON
//! values (protocol documents: RFC 6749, RFC 7662, OIDC Core and Discovery). They sit beside
//! the route table (`lib.rs`); the contract test (tests/compat/test_openapi_contract.py) checks
//! every answer of the running server against them.

use portcullis_core::oidc::{DEVICE_CODE_GRANT, GRANT_TOKEN_EXCHANGE};
use portcullis_edge::openapi::{Op, schema_ref};
use serde_json::{Value, json};

pub(crate) const JSON: &str = "application/json";
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
/// The named schema of an RFC 6749 §5.2 error.
pub(crate) const OAUTH_ERROR: &str = "OAuthError";

/// RFC 6749 §5.2 errors on an operation.
pub(crate) trait OAuthErrors {
    fn oauth_errors(self, statuses: &[u16]) -> Op;
}

impl OAuthErrors for Op {
    fn oauth_errors(mut self, statuses: &[u16]) -> Op {
        for &status in statuses {
            self = self.answer(status, JSON, schema_ref(OAUTH_ERROR));
        }
        self
    }
}

pub(crate) fn oauth_error() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": { "type": "string" },
            "error_description": { "type": "string" },
        },
    })
}

fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

pub(crate) fn provider_metadata() -> Value {
    let urls = [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ];
    let mut props = serde_json::Map::new();
    for u in urls {
        props.insert(u.into(), json!({ "type": "string", "format": "uri" }));
    }
    props.insert(
        "device_authorization_endpoint".into(),
        json!({ "type": "string", "format": "uri" }),
    );
    for list in [
        "scopes_supported",
        "response_types_supported",
        "response_modes_supported",
        "grant_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "token_endpoint_auth_methods_supported",
        "code_challenge_methods_supported",
        "claims_supported",
    ] {
        props.insert(list.into(), strings());
    }
    json!({
        "type": "object",
        "required": urls.iter().chain(&["scopes_supported", "response_types_supported",
            "subject_types_supported", "id_token_signing_alg_values_supported"]).collect::<Vec<_>>(),
        "properties": props,
    })
}

/// The client-authentication members every token-endpoint form may carry.
fn client_auth_members() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for name in ["client_id", "client_secret", "client_assertion"] {
        m.insert(name.into(), json!({ "type": "string" }));
    }
    m.insert(
        "client_assertion_type".into(),
        json!({ "const": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" }),
    );
    m
}

pub(crate) fn token_request() -> Value {
    let mut props = client_auth_members();
    props.insert(
        "grant_type".into(),
        json!({ "enum": ["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT, GRANT_TOKEN_EXCHANGE] }),
    );
    for name in [
        "code",
        "device_code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        // RFC 8693 §2.1 and RFC 8707.
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
        "audience",
        "resource",
        "requested_token_type",
    ] {
        props.insert(name.into(), json!({ "type": "string" }));
    }
    json!({ "type": "object", "required": ["grant_type"], "properties": props })
}

/// RFC 8628 §3.1: the client (authenticated as at the token endpoint) and the scopes.
pub(crate) fn device_authorization_request() -> Value {
    let mut props = client_auth_members();
    props.insert("scope".into(), json!({ "type": "string" }));
    json!({ "type": "object", "properties": props })
}

/// RFC 8628 §3.2.
pub(crate) fn device_authorization_response() -> Value {
    json!({
        "type": "object",
        "required": ["device_code", "user_code", "verification_uri", "verification_uri_complete",
                     "expires_in", "interval"],
        "properties": {
            "device_code": { "type": "string" },
            "user_code": { "type": "string", "pattern": "^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$" },
            "verification_uri": { "type": "string", "format": "uri" },
            "verification_uri_complete": { "type": "string", "format": "uri" },
            "expires_in": { "type": "integer", "minimum": 1 },
            "interval": { "type": "integer", "minimum": 1 },
        },
    })
}

pub(crate) fn token_form() -> Value {
    let mut props = client_auth_members();
    props.insert("token".into(), json!({ "type": "string" }));
    props.insert(
        "token_type_hint".into(),
        json!({ "enum": ["access_token", "refresh_token"] }),
    );
    json!({ "type": "object", "required": ["token"], "properties": props })
}

pub(crate) fn access_token_form() -> Value {
    json!({ "type": "object", "properties": { "access_token": { "type": "string" } } })
}

pub(crate) fn token_response() -> Value {
    json!({
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": { "type": "string" },
            "token_type": { "const": "Bearer" },
            "expires_in": { "type": "integer", "minimum": 0 },
            "scope": { "type": "string" },
            "refresh_token": { "type": "string" },
            "id_token": { "type": "string" },
            "issued_token_type": { "type": "string" },
        },
    })
}

pub(crate) fn introspection() -> Value {
    json!({
        "type": "object",
        "required": ["active"],
        "properties": {
            "active": { "type": "boolean" },
            "token_type": { "type": "string" },
            "scope": { "type": "string" },
            "client_id": { "type": "string" },
            "sub": { "type": "string" },
            "aud": { "anyOf": [{ "type": "string" }, strings()] },
            "iss": { "type": "string" },
            "exp": { "type": "integer" },
            "iat": { "type": "integer" },
            "nbf": { "type": "integer" },
            "jti": { "type": "string" },
            "org": { "type": "string" },
            "sid": { "type": "string" },
        },
    })
}

pub(crate) fn userinfo() -> Value {
    json!({
        "type": "object",
        "required": ["sub"],
        "properties": {
            "sub": { "type": "string" },
            "org": { "type": "string" },
            "name": { "type": "string" },
            "preferred_username": { "type": "string" },
            "picture": { "type": "string" },
            "updated_at": { "type": "integer" },
            "email": { "type": "string" },
            "email_verified": { "type": "boolean" },
            "orgs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "roles"],
                    "properties": {
                        "id": { "type": "string" }, "name": { "type": "string" }, "roles": strings(),
                    },
                },
            },
        },
    })
}
