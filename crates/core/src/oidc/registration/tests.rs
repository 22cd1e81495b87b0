use serde_json::json;

use super::metadata::{Source, accept};
use crate::model::*;
use crate::oidc::OAuthError;
use crate::oidc_clients::OidcConfig;

fn scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn register(body: serde_json::Value) -> Result<OAuthClient, OAuthError> {
    let Some(m) = body.as_object() else {
        panic!("test bodies are objects")
    };
    accept(m, &scopes(), Source::Registration)?.client(&OidcConfig::default(), chrono::Utc::now())
}

fn code_of(body: serde_json::Value) -> &'static str {
    match register(body) {
        Ok(_) => "ok",
        Err(e) => e.code,
    }
}

#[test]
fn defaults_are_a_confidential_web_client_with_a_secret_method() {
    let c = register(json!({ "redirect_uris": ["https://app.example.com/cb"] })).unwrap();
    assert_eq!(c.kind, ClientKind::Confidential);
    assert_eq!(c.token_endpoint_auth, TokenEndpointAuth::ClientSecretBasic);
    assert_eq!(c.grant_types, [GrantType::AuthorizationCode].into());
    assert_eq!(c.name, "app.example.com", "unnamed: the redirect host");
    assert!(!c.first_party && !c.introspect_any && !c.allow_offline && c.org_id.is_none());
    assert!(c.scopes.contains("openid"));
}

#[test]
fn native_clients_may_use_loopback_http_web_clients_may_not() {
    let loopback = json!([
        "http://127.0.0.1:49152/cb",
        "http://[::1]/cb",
        "http://localhost:8080/cb"
    ]);
    assert_eq!(
        code_of(json!({ "redirect_uris": loopback, "token_endpoint_auth_method": "none" })),
        "ok"
    );
    assert_eq!(
        code_of(json!({ "redirect_uris": loopback, "application_type": "native" })),
        "ok"
    );
    assert_eq!(
        code_of(json!({ "redirect_uris": ["http://127.0.0.1/cb"] })),
        "invalid_redirect_uri",
        "a confidential web client needs https"
    );
}

#[test]
fn redirect_uris_are_refused_with_invalid_redirect_uri() {
    for uris in [
        json!([]),
        json!(["http://app.example.com/cb"]),
        json!(["https://app.example.com/cb#frag"]),
        json!(["com.example.app:/cb"]),
        json!(["https://*.example.com/cb"]),
        json!(["https://user@app.example.com/cb"]),
        json!(["https://app.example.com/cb", "https://app.example.com/cb"]),
        json!(["not a url"]),
    ] {
        assert_eq!(
            code_of(json!({ "redirect_uris": uris, "token_endpoint_auth_method": "none" })),
            "invalid_redirect_uri",
            "{uris}"
        );
    }
}

#[test]
fn metadata_rules_are_refused_with_invalid_client_metadata() {
    let cb = json!(["https://app.example.com/cb"]);
    for (why, extra) in [
        (
            "client_credentials",
            json!({ "grant_types": ["authorization_code", "client_credentials"] }),
        ),
        (
            "unknown grant",
            json!({ "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"] }),
        ),
        ("refresh alone", json!({ "grant_types": ["refresh_token"] })),
        ("implicit", json!({ "response_types": ["code", "token"] })),
        (
            "unknown method",
            json!({ "token_endpoint_auth_method": "tls_client_auth" }),
        ),
        (
            "jwt without keys",
            json!({ "token_endpoint_auth_method": "private_key_jwt" }),
        ),
        (
            "jwks_uri",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://x.example/jwks" }),
        ),
        (
            "backchannel",
            json!({ "backchannel_logout_uri": "https://app.example.com/bc" }),
        ),
        ("scope beyond", json!({ "scope": "openid orgs" })),
        ("offline", json!({ "scope": "openid offline_access" })),
        (
            "http logo",
            json!({ "logo_uri": "http://app.example.com/logo.png" }),
        ),
        (
            "javascript uri",
            json!({ "client_uri": "javascript:alert(1)" }),
        ),
        ("long name", json!({ "client_name": "x".repeat(201) })),
        ("control char", json!({ "client_name": "a\u{7}b" })),
        ("bad type", json!({ "client_name": 5 })),
        ("bad alg", json!({ "id_token_signed_response_alg": "none" })),
        ("app type", json!({ "application_type": "desktop" })),
        (
            "too many contacts",
            json!({ "contacts": vec!["a@example.com"; 11] }),
        ),
    ] {
        let mut body = json!({ "redirect_uris": cb });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_eq!(code_of(body), "invalid_client_metadata", "{why}");
    }
    assert_eq!(
        code_of(json!({ "redirect_uris": cb, "software_statement": "eyJ..." })),
        "invalid_software_statement"
    );
}

#[test]
fn unknown_members_are_ignored_and_not_echoed() {
    let m = json!({ "redirect_uris": ["https://app.example.com/cb"], "first_party": true,
                    "introspect_any": true, "org_id": "x", "something_new": 1 });
    let accepted = accept(m.as_object().unwrap(), &scopes(), Source::Registration).unwrap();
    for k in ["first_party", "introspect_any", "org_id", "something_new"] {
        assert!(!accepted.metadata.contains_key(k), "{k}");
    }
    let c = accepted
        .client(&OidcConfig::default(), chrono::Utc::now())
        .unwrap();
    assert!(!c.first_party && !c.introspect_any && c.org_id.is_none());
}

#[test]
fn scopes_default_to_the_offered_ones_and_openid_is_always_there() {
    let c =
        register(json!({ "redirect_uris": ["https://a.example/cb"], "scope": "email" })).unwrap();
    assert_eq!(c.scopes, ["email", "openid"].map(String::from).into());
    let c = register(json!({ "redirect_uris": ["https://a.example/cb"] })).unwrap();
    assert_eq!(
        c.scopes,
        ["email", "openid", "profile"].map(String::from).into()
    );
}
