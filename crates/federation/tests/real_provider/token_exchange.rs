//! The federation as the judge of upstream ID tokens in an RFC 8693 token exchange: the same
//! checks as every upstream ID token, then the core maps the identity to its linked user only.

use chrono::Utc;
use portcullis_core::model::*;
use portcullis_core::oidc::{
    ClientSpec, OidcConfig, Provider, TOKEN_TYPE_ID, TokenExchangeRequest, UpstreamIdTokens,
    UpstreamRefusal,
};
use portcullis_core::oidc_clients::{ImpersonationPolicy, TokenExchangeConfig};

use super::*;

const API: &str = "https://api.example.test";

/// A confidential client that may exchange tokens for `API`, through the registry's rules.
fn exchanging_client() -> OAuthClient {
    let spec: ClientSpec = serde_json::from_value(json!({
        "clientId": "svc", "name": "Service", "kind": "confidential",
        "grantTypes": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "tokenExchangeAudiences": [API],
    }))
    .unwrap();
    spec.validate(&OidcConfig::default(), Utc::now()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_id_tokens_are_verified_like_any_other() {
    let idp = Idp::start(&[]).await;
    let other = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    let f = fed(&env, vec![provider("corp", &idp)]);
    let (id_token, _) = idp
        .tokens(json!({"sub": "grace", "email": "grace@example.com"}))
        .await;
    let t = UpstreamIdTokens::verify_for_exchange(&f, &id_token)
        .await
        .unwrap();
    assert_eq!(
        (t.issuer.as_str(), t.subject.as_str()),
        (idp.issuer.as_str(), "grace")
    );
    assert!(t.expires_at > Utc::now() && t.may_act.is_none() && !t.has_act);
    let with = idp
        .sign(json!({"claims": {"sub": "grace", "may_act": {"client_id": "svc"}, "act": {"sub": "x"}}}))
        .await;
    let t = UpstreamIdTokens::verify_for_exchange(&f, &with)
        .await
        .unwrap();
    assert_eq!(t.may_act, Some(json!({"client_id": "svc"})));
    assert!(t.has_act);
    // Another provider's token, an expired one, one for another client, one signed elsewhere.
    let (foreign, _) = other.tokens(json!({"sub": "grace"})).await;
    assert_eq!(
        UpstreamIdTokens::verify_for_exchange(&f, &foreign)
            .await
            .unwrap_err(),
        UpstreamRefusal::Untrusted
    );
    let expired = idp
        .sign(json!({"claims": {"sub": "grace"}, "ttl": -600}))
        .await;
    assert_eq!(
        UpstreamIdTokens::verify_for_exchange(&f, &expired)
            .await
            .unwrap_err(),
        UpstreamRefusal::Expired
    );
    let elsewhere = idp
        .sign(json!({"claims": {"sub": "grace", "aud": "another-client"}}))
        .await;
    assert!(matches!(
        UpstreamIdTokens::verify_for_exchange(&f, &elsewhere).await,
        Err(UpstreamRefusal::Invalid(_))
    ));
    let forged = idp
        .sign(json!({"claims": {"sub": "grace"}, "key": "foreign"}))
        .await;
    assert!(matches!(
        UpstreamIdTokens::verify_for_exchange(&f, &forged).await,
        Err(UpstreamRefusal::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_maps_only_to_a_linked_user() {
    let idp = Idp::start(&[]).await;
    let mut config = allow_domain_config("example.com");
    config.oidc.token_exchange = TokenExchangeConfig {
        impersonation: vec![ImpersonationPolicy {
            client_id: "svc".into(),
            org: "acme".into(),
        }],
    };
    let env = TestEnv::builder().config(config).build().await;
    env.org("acme").await;
    let f = Arc::new(fed(&env, vec![jit(provider("corp", &idp), "acme")]));
    let client = exchanging_client();
    env.store.create_oauth_client(client.clone()).await.unwrap();
    let p = Provider::new(env.engine.clone());
    let exchange = |token: String| {
        let p = p.clone();
        let client = client.clone();
        async move {
            let req = TokenExchangeRequest {
                subject_token: Some(&token),
                subject_token_type: Some(TOKEN_TYPE_ID),
                audience: Some(API),
                ..TokenExchangeRequest::default()
            };
            p.exchange_token(&client, &req, &ctx()).await
        }
    };
    let (id_token, _) = idp
        .tokens(json!({"sub": "grace", "email": "grace@example.com"}))
        .await;
    // Before the federation is trusted, no ID token is.
    let e = exchange(id_token.clone()).await.unwrap_err();
    assert!(e.description.contains("no upstream provider"), "{e}");
    p.trust_upstream_id_tokens(f.clone());
    // Not linked yet: refused, and nothing is provisioned by the exchange.
    let e = exchange(id_token.clone()).await.unwrap_err();
    assert!(e.description.contains("linked"), "{e}");
    assert!(
        env.store
            .get_user_by_email("grace@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // Linked by a sign-in: the exchange names that user, in the policy's org.
    let id = f.verify_id_token(&id_token, None).await.unwrap();
    let user = f.resolve_user(&id, &ctx()).await.unwrap();
    let t = exchange(id_token).await.expect("exchanged");
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(t.access_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], user.id.0.to_string());
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["amr"], json!(["fed"]));
    assert!(claims["exp"].as_i64().unwrap() <= id.expires_at.unwrap().timestamp());
    assert_eq!(t.scope, "openid profile email");
}
