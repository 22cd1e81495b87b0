//! The request rules that need no engine: target, scopes, `act` depth, `may_act`.

use serde_json::json;

use super::*;

fn client(audiences: &[&str]) -> OAuthClient {
    let now = Utc::now();
    OAuthClient {
        client_id: "svc".into(),
        name: "Service".into(),
        kind: ClientKind::Confidential,
        token_endpoint_auth: TokenEndpointAuth::ClientSecretBasic,
        secrets: Vec::new(),
        jwks: None,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: [GrantType::TokenExchange].into(),
        scopes: ["openid", "profile", "email"].map(String::from).into(),
        org_id: None,
        first_party: false,
        id_token_alg: IdTokenAlg::Rs256,
        access_token_secs: 300,
        refresh_token_secs: 3600,
        allow_offline: false,
        introspect_any: false,
        backchannel_logout_uri: None,
        token_exchange_audiences: audiences.iter().map(|a| a.to_string()).collect(),
        declarative: false,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn req<'a>(audience: Option<&'a str>, resource: Option<&'a str>) -> TokenExchangeRequest<'a> {
    TokenExchangeRequest {
        audience,
        resource,
        ..TokenExchangeRequest::default()
    }
}

fn subject(act: Option<Actor>) -> Subject {
    Subject {
        user: UserId::new(),
        org: OrgId::new(),
        guest: false,
        session: None,
        scopes: vec!["openid".into(), "email".into(), "offline_access".into()],
        amr: vec!["pwd".into()],
        expires_at: Utc::now(),
        act,
        may_act: None,
        upstream: None,
    }
}

#[test]
fn the_target_must_be_one_allowed_audience() {
    let c = client(&["https://api.example.test", "billing"]);
    assert_eq!(target(&req(Some("billing"), None), &c).unwrap(), "billing");
    let both = req(
        Some("https://api.example.test"),
        Some("https://api.example.test"),
    );
    assert_eq!(target(&both, &c).unwrap(), "https://api.example.test");
    assert_eq!(
        target(&req(Some("billing"), Some("https://api.example.test")), &c)
            .unwrap_err()
            .code,
        "invalid_target"
    );
    assert_eq!(
        target(&req(Some("payroll"), None), &c).unwrap_err().code,
        "invalid_target"
    );
    assert_eq!(
        target(&req(None, Some("billing")), &c).unwrap_err().code,
        "invalid_target",
        "a resource is an absolute URI"
    );
    assert_eq!(
        target(&req(None, None), &c).unwrap_err().code,
        "invalid_request"
    );
    // An empty allowlist allows nothing.
    assert_eq!(
        target(&req(Some("billing"), None), &client(&[]))
            .unwrap_err()
            .code,
        "invalid_target"
    );
}

#[test]
fn scopes_only_narrow_and_never_include_offline_access() {
    let c = client(&["x"]);
    let s = subject(None).scopes;
    assert_eq!(narrowed_scopes(None, &s, &c).unwrap(), ["openid", "email"]);
    assert_eq!(narrowed_scopes(Some("email"), &s, &c).unwrap(), ["email"]);
    for wider in ["openid profile", "offline_access", "openid orgs"] {
        assert_eq!(
            narrowed_scopes(Some(wider), &s, &c).unwrap_err().code,
            "invalid_scope",
            "{wider}"
        );
    }
}

#[test]
fn act_nests_the_subjects_actor_up_to_two_deep() {
    let actor = ActorToken {
        sub: uuid::Uuid::new_v4(),
        expires_at: Utc::now(),
    };
    let first = delegated_act(&subject(None), &actor, "svc").unwrap();
    assert_eq!(first.depth(), 1);
    assert_eq!(first.client_id.as_deref(), Some("svc"));
    let second = delegated_act(&subject(Some(first.clone())), &actor, "svc").unwrap();
    assert_eq!(second.depth(), 2);
    assert_eq!(second.act.as_deref(), Some(&first));
    let third = delegated_act(&subject(Some(second)), &actor, "svc").unwrap_err();
    assert_eq!(third.code, "invalid_request");
    assert!(third.description.contains("limited to 2"), "{third}");
    // On the wire: `act.act`, with `client_id` only where there is one.
    let v = serde_json::to_value(
        delegated_act(&subject(Some(Actor::user(actor.sub))), &actor, "svc").unwrap(),
    )
    .unwrap();
    assert_eq!(v["act"], json!({ "sub": actor.sub }));
    assert_eq!(v["client_id"], "svc");
}

#[test]
fn may_act_must_name_the_party() {
    let sub = "2f1c0e58-6a43-4bb6-9a57-3f6f3f0f2d11";
    assert!(may_act_allows(&json!({ "sub": sub }), Some(sub), "svc"));
    assert!(may_act_allows(
        &json!({ "sub": sub, "client_id": "svc" }),
        Some(sub),
        "svc"
    ));
    assert!(may_act_allows(&json!({ "client_id": "svc" }), None, "svc"));
    assert!(!may_act_allows(
        &json!({ "sub": sub }),
        Some("someone-else"),
        "svc"
    ));
    assert!(
        !may_act_allows(&json!({ "sub": sub }), None, "svc"),
        "impersonation"
    );
    assert!(!may_act_allows(
        &json!({ "client_id": "other" }),
        Some(sub),
        "svc"
    ));
    assert!(!may_act_allows(
        &json!({ "iss": "x", "sub": sub }),
        Some(sub),
        "svc"
    ));
    assert!(!may_act_allows(&json!({}), Some(sub), "svc"));
    assert!(!may_act_allows(&json!("svc"), Some(sub), "svc"));
}
