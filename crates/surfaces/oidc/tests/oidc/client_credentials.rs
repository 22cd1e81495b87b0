//! The client credentials grant: a confidential client of an org gets access tokens as its
//! service account; every refusal; and that disabling the client or its org, revoking a token
//! or deleting the client stops the account's tokens on every node.

use portcullis_core::admin::{Admin, ClientView};
use portcullis_core::engine::Engine;
use portcullis_core::oidc::ClientSpec;
use portcullis_core::use_cases::ClientScope;
use serde_json::json;

use super::*;

/// A resource server's client, allowed to introspect every token.
const RS: &str = "resource";

fn operator(w: &World) -> Admin {
    Admin::new(w.env.store.clone(), w.env.engine.config(), "test")
}

fn service_spec(id: &str, org: Option<OrgId>) -> ClientSpec {
    serde_json::from_value(json!({
        "clientId": id,
        "name": "Nightly job",
        "kind": "confidential",
        "grantTypes": ["client_credentials"],
        "scopes": ["openid", "profile", "orgs"],
        "orgId": org,
    }))
    .expect("spec")
}

/// A world with the service client `svc` of acme (EXECUTOR), its secret, and the resource
/// server client.
async fn service_world() -> (World, String) {
    let w = world().await;
    let admin = operator(&w);
    let issued = admin
        .create_client(ClientScope::Operator, service_spec("svc", Some(w.org.id)))
        .await
        .expect("service client");
    let secret = issued.client_secret.expect("a secret").to_string();
    admin
        .set_client_roles(ClientScope::Operator, "svc", &["EXECUTOR".into()])
        .await
        .expect("roles");
    let mut rs = client(RS, None);
    rs.introspect_any = true;
    w.env.store.create_oauth_client(rs).await.expect("rs");
    (w, secret)
}

async fn account_of(w: &World, client_id: &str) -> ClientView {
    operator(w)
        .show_client(ClientScope::Operator, client_id)
        .await
        .expect("show")
        .client
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

impl World {
    async fn client_credentials(&self, secret: &str, form: &[(&str, &str)]) -> Reply {
        let mut form = form.to_vec();
        form.push(("grant_type", "client_credentials"));
        self.token("svc", secret, &form).await
    }

    async fn introspect_as(&self, app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
        let r = app
            .post("/oauth2/introspect")
            .header("authorization", &basic(id, secret))
            .form(&[("token", token)])
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.body
    }

    /// Whether the resource server sees the token active on `app`.
    async fn active_on(&self, app: &TestApp, token: &str) -> bool {
        self.introspect_as(app, RS, SECRET, token).await["active"] == true
    }
}

/// A second node: another engine on the same store, with its own router.
async fn second_node(w: &World) -> (Arc<Engine>, TestApp) {
    let engine = w.env.second_engine(w.env.engine.config().clone()).await;
    let provider = Provider::new(engine.clone());
    let ctx = HttpContext::new(ServerConfig::default(), w.env.second_store().await);
    let router = build_router(vec![portcullis_oidc::router(provider)], &ctx);
    let app = TestApp::from_peer(router, SocketAddr::from(([192, 0, 2, 2], 4000)));
    (engine, app)
}

#[tokio::test]
async fn discovery_lists_client_credentials() {
    let w = world().await;
    let r = w.app.get("/.well-known/openid-configuration").send().await;
    let grants = r.body["grant_types_supported"].as_array().unwrap().clone();
    assert!(grants.contains(&json!("client_credentials")), "{grants:?}");
}

#[tokio::test]
async fn a_service_client_gets_an_access_token_as_its_service_account() {
    let (w, secret) = service_world().await;
    let account = account_of(&w, "svc")
        .await
        .service_account
        .expect("account");
    assert_eq!(account.roles, ["EXECUTOR"]);
    let r = w.client_credentials(&secret, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("cache-control"), "no-store");
    let t = &r.body;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "orgs profile", "openid is not granted");
    assert!(t.get("refresh_token").is_none(), "no refresh token: {t}");
    assert!(t.get("id_token").is_none(), "no ID token: {t}");
    let access = t["access_token"].as_str().unwrap();
    let c = claims_of(access);
    assert_eq!(c["sub"], account.id.to_string());
    assert_eq!(c["client_id"], "svc");
    assert_eq!(c["aud"], "svc");
    assert_eq!(c["org"], w.org.id.to_string());
    assert_eq!(c["scope"], "orgs profile");
    assert_eq!(c["iss"], ISSUER);

    // The client itself, and a resource server, introspect it.
    for (id, s) in [("svc", secret.as_str()), (RS, SECRET)] {
        let v = w.introspect_as(&w.app, id, s, access).await;
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["sub"], account.id.to_string());
        assert_eq!(v["client_id"], "svc");
        assert_eq!(v["org"], w.org.id.to_string());
        assert_eq!(v["scope"], "orgs profile");
        assert_eq!(v["service_account"], true);
        assert_eq!(v["roles"], json!(["EXECUTOR"]));
        assert!(v.get("sid").is_none(), "{v}");
    }
    // Another client (not a resource server) does not see it.
    assert_eq!(
        w.introspect_as(&w.app, "app", SECRET, access).await,
        json!({"active": false})
    );
    // A role change shows at once.
    operator(&w)
        .set_client_roles(
            ClientScope::Operator,
            "svc",
            &["AUTHOR".into(), "ADMIN".into()],
        )
        .await
        .unwrap();
    let v = w.introspect_as(&w.app, RS, SECRET, access).await;
    assert_eq!(v["roles"], json!(["ADMIN", "AUTHOR"]));
    // It is no user's token: the seed APIs refuse it, userinfo too (it has no `openid`).
    assert!(w.env.engine.authenticate(access).await.is_err());
    let r = w.userinfo(access).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.header("www-authenticate").contains("insufficient_scope"));
    let events = w.env.audit_events("oidc.token").await;
    let ok = events
        .iter()
        .find(|e| e.detail["grant"] == "client_credentials")
        .expect("audited");
    assert_eq!(ok.outcome, AuditOutcome::Success);
    assert_eq!(ok.detail["service_account"], account.id.to_string());
}

#[tokio::test]
async fn scopes_may_narrow_never_widen() {
    let (w, secret) = service_world().await;
    let r = w
        .client_credentials(&secret, &[("scope", "openid orgs")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["scope"], "orgs");
    assert!(r.body.get("id_token").is_none());
    for wider in ["orgs email", "admin", "offline_access"] {
        let r = w.client_credentials(&secret, &[("scope", wider)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{wider}");
        assert_eq!(r.body["error"], "invalid_scope", "{wider}");
    }
}

#[tokio::test]
async fn only_confidential_org_clients_with_the_grant_get_tokens() {
    let (w, secret) = service_world().await;
    // The code-flow client has no client_credentials grant.
    let r = w
        .token("app", SECRET, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "unauthorized_client");
    // A public client (even one stored with the grant) is refused.
    let mut public = client("pub", Some(w.org.id));
    public.kind = ClientKind::Public;
    public.token_endpoint_auth = TokenEndpointAuth::None;
    public.secrets.clear();
    public.grant_types.insert(GrantType::ClientCredentials);
    w.env.store.create_oauth_client(public).await.unwrap();
    let r = w
        .app
        .post("/oauth2/token")
        .form(&[("grant_type", "client_credentials"), ("client_id", "pub")])
        .send()
        .await;
    assert_eq!(r.body["error"], "unauthorized_client", "{}", r.text());
    // A wrong secret is invalid_client.
    let r = w.client_credentials("not-the-secret", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "invalid_client");
    // The service client cannot use the other grants: no refresh token ever.
    let r = w
        .token(
            "svc",
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(r.body["error"], "unauthorized_client");
    // The registry refuses public and org-less client-credentials clients.
    let admin = operator(&w);
    let mut spec = service_spec("pub2", Some(w.org.id));
    spec.kind = ClientKind::Public;
    spec.token_endpoint_auth = Some(TokenEndpointAuth::None);
    let e = admin
        .create_client(ClientScope::Operator, spec)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("confidential"), "{e}");
    let e = admin
        .create_client(ClientScope::Operator, service_spec("global", None))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("orgId"), "{e}");
    // Its org never changes while it has a service account.
    let beta = w.env.org("beta").await;
    let patch =
        portcullis_core::oidc::ClientPatch(json!({"orgId": beta.id}).as_object().unwrap().clone());
    let e = admin
        .update_client(ClientScope::Operator, "svc", &patch)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("service account"), "{e}");
}

#[tokio::test]
async fn disabling_the_client_stops_its_tokens_on_every_node() {
    let (w, secret) = service_world().await;
    let (_node2, app2) = second_node(&w).await;
    let old = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        w.active_on(&app2, &old).await,
        "node 2 accepts node 1's token"
    );
    // The operator disables it from the CLI (no server's view is told directly).
    operator(&w)
        .set_client_disabled(ClientScope::Operator, "svc", true)
        .await
        .unwrap();
    for app in [&w.app, &app2] {
        portcullis_testkit::within_a_second("the token stops", || async {
            !w.active_on(app, &old).await
        })
        .await;
    }
    let r = w.client_credentials(&secret, &[]).await;
    assert_eq!(
        r.body["error"], "invalid_client",
        "a disabled client is unknown"
    );
    // Enabled again: new tokens work, the old one stays dead.
    operator(&w)
        .set_client_disabled(ClientScope::Operator, "svc", false)
        .await
        .unwrap();
    portcullis_testkit::within_a_second("a new token works on node 2", || async {
        let r = w.client_credentials(&secret, &[]).await;
        let new = r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        w.active_on(&app2, &new).await
    })
    .await;
    assert!(!w.active_on(&w.app, &old).await);
    assert!(!w.active_on(&app2, &old).await);
}

/// A client-credentials request to `app` (either node).
async fn grant_on(app: &TestApp, secret: &str) -> Reply {
    app.post("/oauth2/token")
        .header("authorization", &basic("svc", secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
}

#[tokio::test]
async fn every_node_drops_its_cached_copy_of_a_changed_client() {
    let (w, secret) = service_world().await;
    let (_node2, app2) = second_node(&w).await;
    // Both nodes read the client once and keep it.
    for app in [&w.app, &app2] {
        assert_eq!(grant_on(app, &secret).await.status, StatusCode::OK);
    }
    // Disabled from the CLI: the nodes hear of it only through the store's feed.
    operator(&w)
        .set_client_disabled(ClientScope::Operator, "svc", true)
        .await
        .unwrap();
    for app in [&w.app, &app2] {
        portcullis_testkit::within_a_second("the cached client is dropped", || async {
            grant_on(app, &secret).await.body["error"] == "invalid_client"
        })
        .await;
    }
    operator(&w)
        .set_client_disabled(ClientScope::Operator, "svc", false)
        .await
        .unwrap();
    portcullis_testkit::within_a_second("enabled again", || async {
        grant_on(&w.app, &secret).await.status == StatusCode::OK
    })
    .await;
    // Through the server itself (as the HTTP admin surface does): refused at once there.
    operator(&w)
        .with_view(w.env.engine.revocations().clone())
        .set_client_disabled(ClientScope::Operator, "svc", true)
        .await
        .unwrap();
    assert_eq!(
        grant_on(&w.app, &secret).await.body["error"],
        "invalid_client"
    );
}

#[tokio::test]
async fn disabling_the_org_stops_its_tokens_on_every_node() {
    let (w, secret) = service_world().await;
    let (_node2, app2) = second_node(&w).await;
    let token = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(w.active_on(&app2, &token).await);
    operator(&w)
        .set_org_disabled(&w.org.name, true)
        .await
        .unwrap();
    for app in [&w.app, &app2] {
        portcullis_testkit::within_a_second("the token stops", || async {
            !w.active_on(app, &token).await
        })
        .await;
    }
    let r = w.client_credentials(&secret, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "unauthorized_client");
    let denied = w.env.audit_events("oidc.token").await;
    assert!(denied.iter().any(|e| e.outcome == AuditOutcome::Denied));
}

#[tokio::test]
async fn revoking_a_token_ends_the_accounts_tokens_on_every_node() {
    let (w, secret) = service_world().await;
    let (_node2, app2) = second_node(&w).await;
    let token = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another client's revocation changes nothing.
    let r = w
        .app
        .post("/oauth2/revoke")
        .header("authorization", &basic("app", SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(w.active_on(&w.app, &token).await);
    let r = w
        .app
        .post("/oauth2/revoke")
        .header("authorization", &basic("svc", &secret))
        .form(&[("token", token.as_str())])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!w.active_on(&w.app, &token).await, "at once on this node");
    portcullis_testkit::within_a_second("and on node 2", || async {
        !w.active_on(&app2, &token).await
    })
    .await;
    assert_eq!(w.env.audit_events("oidc.revoke").await.len(), 1);
    // The client asks again and gets a working token (issued after the cut-off).
    let fresh = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(w.active_on(&w.app, &fresh).await);
}

#[tokio::test]
async fn a_deleted_client_made_again_does_not_revive_old_tokens() {
    let (w, secret) = service_world().await;
    let before = account_of(&w, "svc").await.service_account.unwrap();
    let token = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = operator(&w);
    admin
        .delete_client(ClientScope::Operator, "svc")
        .await
        .unwrap();
    let issued = admin
        .create_client(ClientScope::Operator, service_spec("svc", Some(w.org.id)))
        .await
        .unwrap();
    let after = issued
        .client
        .service_account
        .clone()
        .expect("a new account");
    assert_ne!(after.id, before.id, "a new subject");
    assert_eq!(after.roles, Vec::<String>::new(), "roles are not inherited");
    portcullis_testkit::within_a_second("the old token stays dead", || async {
        !w.active_on(&w.app, &token).await
    })
    .await;
    // A node started now (from the store's snapshot) refuses it too.
    let (_node2, app2) = second_node(&w).await;
    assert!(!w.active_on(&app2, &token).await);
    let secret = issued.client_secret.unwrap().to_string();
    let fresh = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(w.active_on(&app2, &fresh).await);
}

#[tokio::test]
async fn removing_the_grant_stops_the_accounts_tokens() {
    let (w, secret) = service_world().await;
    let token = w.client_credentials(&secret, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = portcullis_core::oidc::ClientPatch(
        json!({"grantTypes": ["authorization_code"], "redirectUris": [REDIRECT]})
            .as_object()
            .unwrap()
            .clone(),
    );
    operator(&w)
        .update_client(ClientScope::Operator, "svc", &patch)
        .await
        .unwrap();
    portcullis_testkit::within_a_second("the token stops", || async {
        !w.active_on(&w.app, &token).await
    })
    .await;
    let r = w.client_credentials(&secret, &[]).await;
    assert_eq!(r.body["error"], "unauthorized_client");
}
