use super::*;
use crate::oidc_clients::OidcConfig;

fn cfg() -> MetadataDocumentConfig {
    MetadataDocumentConfig {
        enabled: true,
        ..Default::default()
    }
}

#[test]
fn client_id_urls_must_be_plain_https_with_a_path() {
    let c = cfg();
    assert!(check_client_id_url("https://app.example.com/oauth/client.json", &c).is_ok());
    for bad in [
        "http://app.example.com/client.json",       // not https
        "https://app.example.com",                  // no path
        "https://app.example.com/",                 // no path
        "https://app.example.com/a/../client.json", // dot segment
        "https://app.example.com/./client.json",    // dot segment
        "https://APP.example.com/client.json",      // not normalised
        "https://user:pw@app.example.com/client.json",
        "https://app.example.com/client.json?x=1",
        "https://app.example.com/client.json#frag",
        "https://127.0.0.1/client.json",
        "https://[::1]/client.json",
        "https://10.1.2.3/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/client.json",
        "ftp://app.example.com/client.json",
    ] {
        assert!(
            check_client_id_url(bad, &c).is_err(),
            "{bad} must be refused"
        );
    }
    let long = format!("https://app.example.com/{}", "a".repeat(MAX_CLIENT_ID_URL));
    assert!(check_client_id_url(&long, &c).is_err());
}

#[test]
fn test_allowances_open_http_and_private_addresses_only_when_set() {
    let c = MetadataDocumentConfig {
        allow_http: true,
        allow_private_addresses: true,
        ..cfg()
    };
    assert!(check_client_id_url("http://127.0.0.1:8080/client.json", &c).is_ok());
    let only_http = MetadataDocumentConfig {
        allow_http: true,
        ..cfg()
    };
    assert!(check_client_id_url("http://127.0.0.1:8080/client.json", &only_http).is_err());
    assert!(check_client_id_url("http://app.example.com/client.json", &only_http).is_ok());
}

#[test]
fn allowed_hosts_limit_where_documents_come_from() {
    let c = MetadataDocumentConfig {
        allowed_hosts: vec!["apps.example.com".into()],
        ..cfg()
    };
    assert!(check_client_id_url("https://apps.example.com/a.json", &c).is_ok());
    assert!(check_client_id_url("https://evil.example.com/a.json", &c).is_err());
}

#[test]
fn cache_lifetime_follows_max_age_within_bounds() {
    let c = cfg(); // min 60, default 300, max 86400
    assert_eq!(cache_secs(None, &c), 300);
    assert_eq!(cache_secs(Some("public, max-age=600"), &c), 600);
    assert_eq!(cache_secs(Some("max-age=5"), &c), 60);
    assert_eq!(cache_secs(Some("max-age=99999999"), &c), 86400);
    assert_eq!(cache_secs(Some("no-store"), &c), 60);
    assert_eq!(cache_secs(Some("max-age=600, no-cache"), &c), 60);
    assert_eq!(cache_secs(Some("max-age=nonsense"), &c), 300);
}

const URL: &str = "https://app.example.com/client.json";

fn doc(extra: serde_json::Value) -> Vec<u8> {
    let mut d = json!({
        "client_id": URL,
        "client_name": "Example App",
        "redirect_uris": ["https://app.example.com/cb"],
    });
    if let (Some(d), Some(e)) = (d.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    serde_json::to_vec(&d).unwrap()
}

fn from_doc(body: &[u8]) -> Result<OAuthClient, String> {
    let url = Url::parse(URL).unwrap();
    client_from_document(&url, body, &OidcConfig::default(), Utc::now()).map(|(c, _)| c)
}

#[test]
fn a_document_makes_a_public_third_party_client() {
    let c = from_doc(&doc(json!({}))).unwrap();
    assert_eq!(c.client_id, URL);
    assert_eq!(c.kind, ClientKind::Public);
    assert_eq!(c.token_endpoint_auth, TokenEndpointAuth::None);
    assert!(!c.first_party && !c.introspect_any && !c.allow_offline);
    assert_eq!(c.org_id, None);
    assert_eq!(c.name, "Example App");
    let loopback = doc(json!({ "redirect_uris": ["http://127.0.0.1:3000/cb"] }));
    assert!(
        from_doc(&loopback).is_ok(),
        "a public client may use loopback http"
    );
}

#[test]
fn a_document_is_refused_when_it_breaks_a_rule() {
    for (why, body) in [
        ("not JSON", b"not json".to_vec()),
        ("an array", b"[]".to_vec()),
        (
            "another client_id",
            doc(json!({ "client_id": "https://app.example.com/other.json" })),
        ),
        ("no client_id", {
            let mut v: Value = serde_json::from_slice(&doc(json!({}))).unwrap();
            v.as_object_mut().unwrap().remove("client_id");
            serde_json::to_vec(&v).unwrap()
        }),
        (
            "a secret method",
            doc(json!({ "token_endpoint_auth_method": "client_secret_basic" })),
        ),
        ("a client secret", doc(json!({ "client_secret": "x" }))),
        ("no redirect", doc(json!({ "redirect_uris": [] }))),
        (
            "plain http",
            doc(json!({ "redirect_uris": ["http://app.example.com/cb"] })),
        ),
        (
            "a fragment",
            doc(json!({ "redirect_uris": ["https://app.example.com/cb#x"] })),
        ),
        (
            "a private-use scheme",
            doc(json!({ "redirect_uris": ["com.example.app:/cb"] })),
        ),
        (
            "client credentials",
            doc(json!({ "grant_types": ["client_credentials"] })),
        ),
        ("implicit", doc(json!({ "response_types": ["token"] }))),
        (
            "jwks_uri",
            doc(json!({ "jwks_uri": "https://app.example.com/jwks" })),
        ),
        (
            "offline scope",
            doc(json!({ "scope": "openid offline_access" })),
        ),
        (
            "http logo",
            doc(json!({ "logo_uri": "http://app.example.com/logo.png" })),
        ),
    ] {
        assert!(from_doc(&body).is_err(), "{why} must be refused");
    }
}
