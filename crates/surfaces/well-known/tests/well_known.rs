//! The well-known documents through the real HTTP stack, with a real engine on SQLite.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::model::*;
use portcullis_server::{HttpContext, ServerConfig, build_router};
use portcullis_testkit::TestEnv;
use portcullis_testkit::http::{Reply, TestApp};
use serde_json::Value;

struct World {
    env: TestEnv,
    app: TestApp,
    user: User,
}

async fn world() -> World {
    let cfg = CoreConfig {
        public_url: "https://auth.example.test/".into(),
        ..CoreConfig::default()
    };
    let env = TestEnv::builder().config(cfg).build().await;
    let org = env.org("acme").await;
    let user = env
        .user("ann@example.com")
        .name("Ann")
        .no_password()
        .member(&org, &[Role::Author])
        .create()
        .await;
    let ctx = HttpContext::new(ServerConfig::default(), env.store.clone());
    let router = build_router(
        vec![portcullis_well_known::router(env.engine.clone())],
        &ctx,
    );
    let app = TestApp::from_peer(router, SocketAddr::from(([192, 0, 2, 1], 4000)));
    World { env, app, user }
}

impl World {
    async fn get(&self, path: &str) -> Reply {
        self.app.get(path).send().await
    }

    async fn token(&self) -> String {
        self.env.session(&self.user, OrgChoice::Default).await
    }

    async fn jwks(&self) -> JwkSet {
        let r = self.get("/.well-known/jwks.json").await;
        assert_eq!(r.status, StatusCode::OK);
        serde_json::from_slice(&r.raw).expect("a JWK set")
    }
}

fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

/// Verifies the token with the published key named by its `kid`, as a resource server would.
fn verify(set: &JwkSet, token: &str, audience: &str) -> Value {
    let jwk = set.find(&kid(token)).expect("the token's kid is published");
    let key = DecodingKey::from_jwk(jwk).expect("a usable public key");
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&[audience]);
    v.set_issuer(&["https://auth.example.test/"]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .expect("the signature verifies with the published key")
        .claims
}

#[tokio::test]
async fn jwks_publishes_the_signing_key_and_keeps_the_old_one_after_rotation() {
    let w = world().await;
    let r = w.get("/.well-known/jwks.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/jwk-set+json");
    assert_eq!(r.header("cache-control"), "public, max-age=30");

    let old = w.token().await;
    let set = w.jwks().await;
    let claims = verify(&set, &old, "portcullis");
    assert_eq!(claims["sub"], w.user.id.to_string());
    let jwk: Value = serde_json::to_value(set.find(&kid(&old)).expect("kid")).expect("json");
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert!(jwk.get("d").is_none(), "never a private part");

    let new_kid = w
        .env
        .engine
        .rotate_signing_key(&AuditContext::default())
        .await
        .expect("rotate");
    assert_ne!(new_kid, kid(&old));
    let new = w.token().await;
    assert_eq!(kid(&new), new_kid, "the new key signs");
    let set = w.jwks().await;
    verify(&set, &new, "portcullis");
    // A token signed before the rotation still verifies with what is published.
    verify(&set, &old, "portcullis");
    assert_eq!(set.keys.len(), 2);
}

/// ID-token keys (RS256, ES256, and EdDSA on request) are in the same set: each ID token
/// verifies with the key its `kid` names, and a revoked key leaves the set at once.
#[tokio::test]
async fn jwks_publishes_every_algorithm_and_drops_a_revoked_key() {
    let w = world().await;
    let claims = serde_json::json!({
        "iss": "https://auth.example.test/", "aud": "client-1", "sub": w.user.id,
        "exp": unix_now() + 300,
    });
    let mut tokens = Vec::new();
    for alg in [IdTokenAlg::Rs256, IdTokenAlg::Es256, IdTokenAlg::EdDsa] {
        let token = w
            .env
            .engine
            .sign_jwt(alg, "JWT", &claims)
            .await
            .expect("sign");
        tokens.push((alg, token));
    }
    let set = w.jwks().await;
    for (alg, token) in &tokens {
        let jwk = set
            .find(&kid(token))
            .expect("the ID token's kid is published");
        let json: Value = serde_json::to_value(jwk).expect("json");
        let (kty, jwt_alg) = match alg {
            IdTokenAlg::Rs256 => ("RSA", Algorithm::RS256),
            IdTokenAlg::Es256 => ("EC", Algorithm::ES256),
            IdTokenAlg::EdDsa => ("OKP", Algorithm::EdDSA),
        };
        assert_eq!(json["kty"], kty);
        assert_eq!(json["alg"], alg.as_str());
        assert_eq!(json["use"], "sig");
        assert!(json.get("d").is_none(), "never a private part");
        let key = DecodingKey::from_jwk(jwk).expect("a usable public key");
        let mut v = Validation::new(jwt_alg);
        v.set_audience(&["client-1"]);
        let got = jsonwebtoken::decode::<Value>(token, &key, &v).expect("verifies");
        assert_eq!(got.claims, claims);
    }
    // EdDSA access and ID tokens share one key.
    assert_eq!(set.keys.len(), 3);

    let rs = kid(&tokens[0].1);
    let r = w
        .env
        .engine
        .revoke_signing_key_of(&rs, Some(IdTokenAlg::Rs256), &AuditContext::default())
        .await
        .expect("revoke");
    let set = w.jwks().await;
    assert!(set.find(&rs).is_none(), "a revoked key is not published");
    let successor = r.signing_kid.expect("a new RS256 key signs");
    assert!(set.find(&successor).is_some());
    assert_eq!(set.keys.len(), 3);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[tokio::test]
async fn metadata_names_issuer_audience_algorithm_and_jwks() {
    let w = world().await;
    let r = w.get("/.well-known/portcullis").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("cache-control").starts_with("public, max-age="));
    let doc: Value = serde_json::from_slice(&r.raw).expect("json");
    assert_eq!(doc["issuer"], "https://auth.example.test/");
    assert_eq!(
        doc["jwks_uri"],
        "https://auth.example.test/.well-known/jwks.json"
    );
    assert_eq!(doc["audience"], "portcullis");
    assert_eq!(
        doc["token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
    assert_eq!(doc["access_token_type"], "at+jwt");
    // Not an OAuth authorization server: no such document is served.
    let r = w.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// An offline verifier is told how long a revoked token can still pass its check, and where
/// to ask online instead (issue 15, item 5).
#[tokio::test]
async fn metadata_says_how_stale_an_offline_check_can_be() {
    let w = world().await;
    let doc: Value =
        serde_json::from_slice(&w.get("/.well-known/portcullis").await.raw).expect("json");
    let t = &w.env.engine.config().tokens;
    assert_eq!(
        doc["token_lifetimes_secs"],
        serde_json::json!({
            "session": t.session_secs,
            "access": t.access_secs,
            "api_key_access": t.access_secs,
            "impersonation": t.proxy_secs,
        })
    );
    // A 30-day session token revoked right after issue passes offline checks for 30 days
    // plus the leeway.
    assert_eq!(
        doc["offline_revocation_lag_max_secs"],
        30 * 24 * 3600 + t.leeway_secs as i64
    );
    assert_eq!(doc["idle_timeout_secs"], 0);
    assert_eq!(
        doc["session_check_endpoint"],
        "https://auth.example.test/account/v1/sessions/current"
    );
}
