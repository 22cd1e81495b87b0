//! Client ID Metadata Documents through the router and the real HTTP fetcher, against a local
//! document server (plain http on loopback, allowed by the test-only settings): the flow of a
//! URL client, caching, and each refusal: size, time, redirects, a mismatched `client_id`,
//! private addresses, and the feature off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use portcullis_core::oidc::client_metadata_document::{
    FetchError, FetchLimits, MetadataDocumentFetcher,
};
use portcullis_core::oidc_clients::MetadataDocumentConfig;
use portcullis_oidc::HttpMetadataFetcher;
use serde_json::json;

use super::flow::hidden;
use super::*;

/// The document server: its base URL and how often each document was fetched.
struct Documents {
    base: String,
    fetches: Arc<AtomicUsize>,
}

async fn serve_documents() -> Documents {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fetches = Arc::new(AtomicUsize::new(0));
    let state = (base.clone(), fetches.clone());
    let app = Router::new()
        .route("/client.json", get(|State((base, n)): State<(String, Arc<AtomicUsize>)>| async move {
            n.fetch_add(1, Ordering::SeqCst);
            (
                [("cache-control", "max-age=600")],
                json!({
                    "client_id": format!("{base}/client.json"),
                    "client_name": "Document App",
                    "redirect_uris": [REDIRECT],
                    "logo_uri": "https://app.example.test/logo.png",
                })
                .to_string(),
            )
        }))
        .route("/big.json", get(|State((base, _)): State<(String, Arc<AtomicUsize>)>| async move {
            json!({ "client_id": format!("{base}/big.json"), "redirect_uris": [REDIRECT],
                    "client_name": "x".repeat(6000) })
            .to_string()
        }))
        .route("/slow.json", get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "{}"
        }))
        .route("/moved.json", get(|| async {
            (StatusCode::FOUND, [("location", "/client.json")]).into_response()
        }))
        .route("/other.json", get(|State((base, _)): State<(String, Arc<AtomicUsize>)>| async move {
            json!({ "client_id": format!("{base}/client.json"), "redirect_uris": [REDIRECT] })
                .to_string()
        }))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Documents { base, fetches }
}

fn test_settings(allow_private: bool) -> MetadataDocumentConfig {
    MetadataDocumentConfig {
        enabled: true,
        allow_http: true,
        allow_private_addresses: allow_private,
        timeout_ms: 500,
        ..MetadataDocumentConfig::default()
    }
}

async fn world_fetching(allow_private: bool) -> World {
    let settings = test_settings(allow_private);
    let w = world_with(|c| c.oidc.registration.metadata_documents = settings.clone()).await;
    let fetcher = HttpMetadataFetcher::new(&settings).unwrap();
    w.provider.set_metadata_document_fetcher(Arc::new(fetcher));
    w
}

#[tokio::test]
async fn a_url_client_signs_in_as_a_public_third_party_client_and_is_cached() {
    let docs = serve_documents().await;
    let w = world_fetching(true).await;
    let d = w.app.get("/.well-known/openid-configuration").send().await;
    assert_eq!(d.body["client_id_metadata_document_supported"], true);

    let id = format!("{}/client.json", docs.base);
    let cookie = w.cookie_for(&w.user).await;
    let r = w.authorize(&w.authorize_url(&id, &[]), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "the consent page: {}", r.text());
    let page = r.text();
    assert!(page.contains("Document App"));
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    let r = w
        .app
        .post("/oauth2/authorize/decide")
        .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
        .form(&[
            ("csrf", &csrf),
            ("r", &hidden(&page, "r")),
            ("decision", "allow"),
        ])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let code = query_of(r.header("location"))["code"].clone();
    // A public client: no secret, the client id in the form, PKCE.
    let t = w
        .app
        .post("/oauth2/token")
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text());
    assert_eq!(
        claims(t.body["access_token"].as_str().unwrap())["aud"],
        id.as_str()
    );

    let c = w.env.store.get_oauth_client(&id).await.unwrap().unwrap();
    assert_eq!(c.kind, ClientKind::Public);
    assert!(!c.first_party && !c.introspect_any && c.org_id.is_none());
    // max-age=600: the second request uses the stored copy.
    let again = w.authorize(&w.authorize_url(&id, &[]), Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "consent remembered");
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 1);
    let reg = w
        .env
        .store
        .get_client_registration(&id)
        .await
        .unwrap()
        .unwrap();
    let ttl = reg.refresh_after.unwrap() - Utc::now();
    assert!((590..=600).contains(&ttl.num_seconds()), "{ttl}");
    assert_eq!(
        w.env.audit_events("client.metadata_document").await.len(),
        1
    );
    // Not managed over RFC 7592: it has no registration access token.
    let path = format!("/oauth2/register/{}", form_escape(&id));
    assert_eq!(
        w.app.get(&path).bearer("x").send().await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn documents_that_break_a_limit_or_a_rule_are_refused_with_a_page() {
    let docs = serve_documents().await;
    let w = world_fetching(true).await;
    for doc in [
        "big.json",
        "slow.json",
        "moved.json",
        "other.json",
        "missing.json",
    ] {
        let id = format!("{}/{doc}", docs.base);
        let started = Instant::now();
        let r = w.authorize(&w.authorize_url(&id, &[]), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{doc}: {}", r.text());
        assert!(r.header("location").is_empty(), "{doc}: never a redirect");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{doc}: within the time limit"
        );
        assert!(
            w.env.store.get_oauth_client(&id).await.unwrap().is_none(),
            "{doc}"
        );
    }
    assert_eq!(
        docs.fetches.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
    let refused = w.env.audit_events("client.metadata_document").await;
    assert_eq!(refused.len(), 5);
    assert!(refused.iter().all(|e| e.outcome == AuditOutcome::Failure));
}

#[tokio::test]
async fn private_addresses_are_refused_before_any_connection() {
    let docs = serve_documents().await;
    let w = world_fetching(false).await;
    let port = docs.base.rsplit(':').next().unwrap();
    // An IP literal is refused by the URL rule; a name resolving to loopback by the resolver.
    for id in [
        format!("{}/client.json", docs.base),
        format!("http://localhost:{port}/client.json"),
    ] {
        let r = w.authorize(&w.authorize_url(&id, &[]), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id}: {}", r.text());
    }
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn url_client_ids_are_unknown_when_the_feature_is_off() {
    let docs = serve_documents().await;
    let w = world().await;
    let id = format!("{}/client.json", docs.base);
    let r = w.authorize(&w.authorize_url(&id, &[]), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 0);
    let d = w.app.get("/.well-known/openid-configuration").send().await;
    assert!(
        d.body
            .get("client_id_metadata_document_supported")
            .is_none()
    );
}

#[tokio::test]
async fn the_fetcher_enforces_size_time_redirect_and_address_limits() {
    let docs = serve_documents().await;
    let limits = FetchLimits {
        max_bytes: 5 * 1024,
        timeout: Duration::from_millis(300),
    };
    let open = HttpMetadataFetcher::new(&test_settings(true)).unwrap();
    let url = |p: &str| url::Url::parse(&format!("{}/{p}", docs.base)).unwrap();
    let ok = open.fetch(&url("client.json"), limits).await.unwrap();
    assert_eq!(ok.cache_control.as_deref(), Some("max-age=600"));
    assert_eq!(
        open.fetch(&url("big.json"), limits).await,
        Err(FetchError::TooLarge(5 * 1024))
    );
    let started = Instant::now();
    assert_eq!(
        open.fetch(&url("slow.json"), limits).await,
        Err(FetchError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        open.fetch(&url("moved.json"), limits).await,
        Err(FetchError::Status(302))
    );
    let strict = HttpMetadataFetcher::new(&test_settings(false)).unwrap();
    assert!(matches!(
        strict.fetch(&url("client.json"), limits).await,
        Err(FetchError::Refused(_))
    ));
    let port = docs.base.rsplit(':').next().unwrap();
    let named = url::Url::parse(&format!("http://localhost:{port}/client.json")).unwrap();
    assert!(matches!(
        strict.fetch(&named, limits).await,
        Err(FetchError::Refused(_))
    ));
    assert_eq!(docs.fetches.load(Ordering::SeqCst), 1);
}
