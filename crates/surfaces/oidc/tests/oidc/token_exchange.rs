//! Token exchange (RFC 8693) through the token endpoint: delegation with nested `act`, scopes
//! and audience rules, impersonation policies, revocation, and every refusal.

use portcullis_core::oidc::OidcConfig;
use portcullis_core::oidc_clients::{ImpersonationPolicy, TokenExchangeConfig};
use portcullis_core::tokens::Claims;

use super::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const API: &str = "https://api.example.test";

struct Ex {
    w: World,
    beta: Org,
    bob: User,
    root: User,
}

/// "app" and "svc" may exchange for `API`, "billing" and themselves; a policy lets "app"
/// impersonate in acme only. Ann is in acme, Bob in beta, Root is a super-admin in acme.
async fn exchange_world() -> Ex {
    let mut config = CoreConfig {
        public_url: ISSUER.into(),
        oidc: OidcConfig {
            token_exchange: TokenExchangeConfig {
                impersonation: vec![ImpersonationPolicy {
                    client_id: "app".into(),
                    org: "acme".into(),
                }],
            },
            ..OidcConfig::default()
        },
        ..CoreConfig::default()
    };
    config.oidc.access_token_secs = 300;
    let env = TestEnv::builder().config(config).build().await;
    let org = env.org("acme").await;
    let beta = env.org("beta").await;
    let user = env
        .user("ann@example.com")
        .validated()
        .member(&org, &[Role::Author])
        .create()
        .await;
    let bob = env
        .user("bob@example.com")
        .validated()
        .member(&beta, &[Role::Author])
        .create()
        .await;
    let root = env
        .user("root@example.com")
        .validated()
        .super_admin()
        .member(&org, &[Role::Admin])
        .create()
        .await;
    for id in ["app", "svc"] {
        let mut c = client(id, None);
        c.grant_types.insert(GrantType::TokenExchange);
        c.token_exchange_audiences = vec![API.into(), "billing".into(), id.into()];
        env.store.create_oauth_client(c).await.expect("client");
    }
    // A resource server registered as a client: the audience "billing".
    env.store
        .create_oauth_client(client("billing", None))
        .await
        .expect("billing");
    let provider = Provider::new(env.engine.clone());
    let ctx = HttpContext::new(ServerConfig::default(), env.store.clone());
    let router = build_router(vec![portcullis_oidc::router(provider.clone())], &ctx);
    let app = TestApp::from_peer(router, SocketAddr::from(([192, 0, 2, 1], 4000)));
    Ex {
        w: World {
            env,
            app,
            provider,
            org,
            user,
        },
        beta,
        bob,
        root,
    }
}

impl Ex {
    /// A grant of `client_id` for `user`: its token response.
    async fn grant(&self, client_id: &str, user: &User, scope: &str) -> Value {
        let cookie = self.w.cookie_for(user).await;
        self.grant_in(client_id, &cookie, scope).await
    }

    /// A grant of `client_id` in the browser sign-in of `cookie`.
    async fn grant_in(&self, client_id: &str, cookie: &str, scope: &str) -> Value {
        let url = self.w.authorize_url(client_id, &[("scope", scope)]);
        let r = self.w.authorize(&url, Some(cookie)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let code = query_of(r.header("location"))["code"].clone();
        let r = self
            .w
            .token(
                client_id,
                SECRET,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.body
    }

    async fn access(&self, client_id: &str, user: &User) -> String {
        self.grant(client_id, user, "openid profile email").await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn exchange(&self, client_id: &str, form: &[(&str, &str)]) -> Reply {
        let mut pairs = vec![("grant_type", GRANT)];
        pairs.extend_from_slice(form);
        self.w.token(client_id, SECRET, &pairs).await
    }

    /// A delegation of `subject` to `actor` (both issued to "app") for `audience`.
    async fn delegate(&self, subject: &str, actor: &str, audience: &str) -> Reply {
        self.exchange(
            "app",
            &[
                ("subject_token", subject),
                ("subject_token_type", ACCESS),
                ("actor_token", actor),
                ("actor_token_type", ACCESS),
                ("audience", audience),
            ],
        )
        .await
    }

    fn resign(&self, edit: impl FnOnce(&mut Claims), token: &str) -> String {
        let tokens = self.w.env.engine.access_tokens();
        let mut c: Claims = serde_json::from_value(claims(token)).unwrap();
        edit(&mut c);
        tokens.sign(&c).unwrap()
    }
}

fn refused(r: &Reply, code: &str, why: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.body["error"], code, "{}", r.text());
    let d = r.body["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(why), "{d:?} should say {why:?}");
}

#[tokio::test]
async fn delegation_puts_the_actor_in_act_and_the_target_in_aud() {
    let x = exchange_world().await;
    let subject = x.access("app", &x.w.user).await;
    let actor = x.access("app", &x.root).await;
    let r = x.delegate(&subject, &actor, API).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["issued_token_type"], ACCESS);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body.get("refresh_token").is_none());
    assert!(r.body.get("id_token").is_none());
    assert_eq!(r.body["scope"], "openid profile email");
    let token = r.body["access_token"].as_str().unwrap();
    let c = claims(token);
    let s = claims(&subject);
    assert_eq!(c["aud"], API);
    assert_eq!(c["sub"], x.w.user.id.0.to_string());
    assert_eq!(c["client_id"], "app");
    assert_eq!(c["org"], x.w.org.id.0.to_string());
    assert_eq!(
        c["act"],
        serde_json::json!({ "sub": x.root.id.0, "client_id": "app" })
    );
    assert!(c["exp"].as_i64() <= s["exp"].as_i64());
    assert_ne!(c["sid"], s["sid"], "a session of its own");
    // Usable where access tokens are: userinfo and introspection show the actor.
    let u = x.w.userinfo(token).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text());
    assert_eq!(u.body["sub"], x.w.user.id.0.to_string());
    assert_eq!(u.body["act"]["sub"], x.root.id.0.to_string());
    for who in ["app", "billing"] {
        let r =
            x.w.app
                .post("/oauth2/introspect")
                .header("authorization", &basic(who, SECRET))
                .form(&[("token", token)])
                .send()
                .await;
        let expect_active = who == "app";
        assert_eq!(r.body["active"], expect_active, "{who}: {}", r.text());
    }
    // The audience, when it is a client, may introspect the token made for it.
    let billing = x.delegate(&subject, &actor, "billing").await;
    let bt = billing.body["access_token"].as_str().unwrap();
    let r =
        x.w.app
            .post("/oauth2/introspect")
            .header("authorization", &basic("billing", SECRET))
            .form(&[("token", bt)])
            .send()
            .await;
    assert_eq!(r.body["active"], true, "{}", r.text());
    assert_eq!(r.body["aud"], "billing");
    assert_eq!(r.body["act"]["client_id"], "app");
    let audits = x.w.env.audit_events("oidc.token_exchange").await;
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0].actor, Some(x.root.id));
    assert_eq!(audits[0].target.as_deref(), Some(&*x.w.user.id.to_string()));
}

#[tokio::test]
async fn chained_delegation_nests_act_and_stops_at_two_actors() {
    let x = exchange_world().await;
    let subject = x.access("app", &x.w.user).await;
    let actor = x.access("app", &x.root).await;
    // Exchanged back to "app" itself so it can be exchanged again.
    let one = x.delegate(&subject, &actor, "app").await;
    let one = one.body["access_token"].as_str().unwrap().to_string();
    let two = x.delegate(&one, &actor, "app").await;
    assert_eq!(two.status, StatusCode::OK, "{}", two.text());
    let two = two.body["access_token"].as_str().unwrap().to_string();
    let act = &claims(&two)["act"];
    assert_eq!(act["sub"], x.root.id.0.to_string());
    assert_eq!(act["act"]["sub"], x.root.id.0.to_string());
    assert_eq!(act["act"]["client_id"], "app");
    assert!(act["act"].get("act").is_none());
    refused(
        &x.delegate(&two, &actor, API).await,
        "invalid_request",
        "limited to 2 actors",
    );
}

#[tokio::test]
async fn subject_tokens_are_checked_like_every_access_token() {
    let x = exchange_world().await;
    let subject = x.access("app", &x.w.user).await;
    let actor = x.access("app", &x.root).await;
    // Bad signature.
    let mut forged = subject.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    refused(
        &x.delegate(&forged, &actor, API).await,
        "invalid_request",
        "subject_token is",
    );
    // Expired (beyond the leeway), though genuinely signed.
    let now = Utc::now().timestamp();
    let expired = x.resign(
        |c| {
            c.iat = now - 900;
            c.nbf = now - 900;
            c.exp = now - 600;
        },
        &subject,
    );
    refused(
        &x.delegate(&expired, &actor, API).await,
        "invalid_request",
        "subject_token is expired",
    );
    // Another issuer.
    let foreign = x.resign(|c| c.iss = "https://evil.example.test".into(), &subject);
    refused(
        &x.delegate(&foreign, &actor, API).await,
        "invalid_request",
        "not a valid token",
    );
    // Issued for another client.
    let svc_token = x.access("svc", &x.w.user).await;
    refused(
        &x.delegate(&svc_token, &actor, API).await,
        "invalid_request",
        "not issued for this client",
    );
    // A seed-API (Parsable/Nominal) token is not for any client.
    let session = x.w.env.session(&x.w.user, OrgChoice::DefaultOrNone).await;
    refused(
        &x.delegate(&session, &actor, API).await,
        "invalid_request",
        "not a valid token",
    );
    // Revoked: the grant behind it ended.
    let r =
        x.w.app
            .post("/oauth2/revoke")
            .header("authorization", &basic("app", SECRET))
            .form(&[("token", &subject)])
            .send()
            .await;
    assert_eq!(r.status, StatusCode::OK);
    refused(
        &x.delegate(&subject, &actor, API).await,
        "invalid_request",
        "subject_token is revoked",
    );
}

#[tokio::test]
async fn unsupported_token_types_are_refused() {
    let x = exchange_world().await;
    let grant = x.grant("app", &x.w.user, "openid").await;
    let subject = grant["access_token"].as_str().unwrap();
    for t in [
        "urn:ietf:params:oauth:token-type:refresh_token",
        "urn:ietf:params:oauth:token-type:saml2",
        "urn:ietf:params:oauth:token-type:saml1",
        "urn:ietf:params:oauth:token-type:jwt",
        "bearer",
    ] {
        let r = x
            .exchange(
                "app",
                &[
                    ("subject_token", subject),
                    ("subject_token_type", t),
                    ("audience", API),
                ],
            )
            .await;
        refused(&r, "invalid_request", "is not supported");
    }
    let actor = x.access("app", &x.root).await;
    let r = x
        .exchange(
            "app",
            &[
                ("subject_token", subject),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"),
                ("audience", API),
            ],
        )
        .await;
    refused(&r, "invalid_request", "actor_token_type must be");
    let r = x
        .exchange(
            "app",
            &[
                ("subject_token", subject),
                ("subject_token_type", ACCESS),
                ("audience", API),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
            ],
        )
        .await;
    refused(&r, "invalid_request", "requested_token_type");
    // An actor token of another client is not this client's identity.
    let other = x.access("svc", &x.root).await;
    refused(
        &x.delegate(subject, &other, API).await,
        "invalid_request",
        "actor_token was not issued for this client",
    );
    // An ID token with no trusted upstream provider.
    let id_token = grant["id_token"].as_str().unwrap();
    let r = x
        .exchange(
            "app",
            &[
                ("subject_token", id_token),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
                ("audience", API),
            ],
        )
        .await;
    refused(&r, "invalid_request", "no upstream provider is trusted");
}

#[tokio::test]
async fn the_audience_must_be_allowed_and_scopes_may_only_narrow() {
    let x = exchange_world().await;
    let grant = x.grant("app", &x.w.user, "openid email").await;
    let subject = grant["access_token"].as_str().unwrap();
    let actor = x.access("app", &x.root).await;
    let base = [
        ("subject_token", subject),
        ("subject_token_type", ACCESS),
        ("actor_token", actor.as_str()),
        ("actor_token_type", ACCESS),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = base.to_vec();
        f.extend_from_slice(extra);
        f
    };
    refused(
        &x.exchange(
            "app",
            &with(&[("audience", "https://payroll.example.test")]),
        )
        .await,
        "invalid_target",
        "may not exchange tokens for",
    );
    refused(
        &x.exchange(
            "app",
            &with(&[("resource", "https://payroll.example.test/")]),
        )
        .await,
        "invalid_target",
        "may not exchange tokens for",
    );
    refused(
        &x.exchange("app", &with(&[("audience", "billing"), ("resource", API)]))
            .await,
        "invalid_target",
        "differ",
    );
    refused(
        &x.exchange("app", &with(&[])).await,
        "invalid_request",
        "audience or resource is required",
    );
    refused(
        &x.exchange(
            "app",
            &with(&[("audience", API), ("scope", "openid profile")]),
        )
        .await,
        "invalid_scope",
        "\"profile\"",
    );
    let narrowed = x
        .exchange("app", &with(&[("resource", API), ("scope", "openid")]))
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.text());
    assert_eq!(narrowed.body["scope"], "openid");
    assert_eq!(
        claims(narrowed.body["access_token"].as_str().unwrap())["aud"],
        API
    );
}

#[tokio::test]
async fn only_confidential_clients_with_the_grant_may_exchange() {
    let x = exchange_world().await;
    let meta =
        x.w.app
            .get("/.well-known/openid-configuration")
            .send()
            .await;
    let grants = meta.body["grant_types_supported"].as_array().unwrap();
    assert!(grants.iter().any(|g| g == GRANT), "{grants:?}");
    let subject = x.access("app", &x.w.user).await;
    let form = [
        ("grant_type", GRANT),
        ("subject_token", subject.as_str()),
        ("subject_token_type", ACCESS),
        ("audience", API),
    ];
    // A client without the grant.
    x.w.env
        .store
        .create_oauth_client(client("plain", None))
        .await
        .unwrap();
    let r = x.w.token("plain", SECRET, &form).await;
    refused(&r, "unauthorized_client", "token exchange");
    // A public client (stored directly: registration refuses it the grant).
    let mut public = client("native", None);
    public.kind = ClientKind::Public;
    public.token_endpoint_auth = TokenEndpointAuth::None;
    public.secrets.clear();
    public.grant_types.insert(GrantType::TokenExchange);
    public.token_exchange_audiences = vec![API.into()];
    x.w.env.store.create_oauth_client(public).await.unwrap();
    let mut pairs = form.to_vec();
    pairs.push(("client_id", "native"));
    let r = x.w.app.post("/oauth2/token").form(&pairs).send().await;
    refused(&r, "unauthorized_client", "token exchange");
    // Unauthenticated.
    let r = x.w.app.post("/oauth2/token").form(&form).send().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
}

#[tokio::test]
async fn impersonation_needs_a_policy_for_the_client_and_the_org() {
    let x = exchange_world().await;
    let impersonate = |client: &'static str, subject: String| {
        let x = &x;
        async move {
            x.exchange(
                client,
                &[
                    ("subject_token", &subject),
                    ("subject_token_type", ACCESS),
                    ("audience", API),
                ],
            )
            .await
        }
    };
    // The policy names app and acme: Ann, of acme, may be impersonated by app.
    let ann = x.access("app", &x.w.user).await;
    let r = impersonate("app", ann).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let c = claims(r.body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], x.w.user.id.0.to_string());
    assert!(c.get("act").is_none(), "impersonation names no actor");
    assert_eq!(c["client_id"], "app");
    // No policy names svc.
    let ann_svc = x.access("svc", &x.w.user).await;
    refused(
        &impersonate("svc", ann_svc).await,
        "invalid_request",
        "no impersonation policy",
    );
    // Bob is in beta, not the policy's org.
    let bob = x.access("app", &x.bob).await;
    assert_eq!(claims(&bob)["org"], x.beta.id.0.to_string());
    refused(
        &impersonate("app", bob).await,
        "invalid_request",
        "no impersonation policy",
    );
    // Never a super-admin, even in the policy's org.
    let root = x.access("app", &x.root).await;
    refused(
        &impersonate("app", root).await,
        "invalid_request",
        "super-admin",
    );
    let mut audits = x.w.env.audit_events("oidc.impersonation").await;
    audits.sort_by_key(|a| a.at);
    let outcomes: Vec<_> = audits.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AuditOutcome::Success,
            AuditOutcome::Denied,
            AuditOutcome::Denied,
            AuditOutcome::Denied
        ]
    );
    assert_eq!(audits[0].detail["client_id"], "app");
    assert_eq!(audits[3].target.as_deref(), Some(&*x.root.id.to_string()));
}

#[tokio::test]
async fn ending_the_subjects_grant_ends_the_exchanged_tokens() {
    let x = exchange_world().await;
    let cookie = x.w.cookie_for(&x.w.user).await;
    let subject = x.grant_in("app", &cookie, "openid").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let actor = x.access("app", &x.root).await;
    let first = x.delegate(&subject, &actor, "app").await;
    let first = first.body["access_token"].as_str().unwrap().to_string();
    let second = x.delegate(&first, &actor, API).await;
    let second = second.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(x.w.userinfo(&second).await.status, StatusCode::OK);
    // Revoking an exchanged token (RFC 7009) ends it and what was made from it, not its subject.
    let r =
        x.w.app
            .post("/oauth2/revoke")
            .header("authorization", &basic("app", SECRET))
            .form(&[("token", &first)])
            .send()
            .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(x.w.userinfo(&first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(x.w.userinfo(&second).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(x.w.userinfo(&subject).await.status, StatusCode::OK);
    // Signing out of the browser ends its grants and, through them, every exchange.
    let again = x.delegate(&subject, &actor, API).await;
    let again = again.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(x.w.userinfo(&again).await.status, StatusCode::OK);
    x.w.env
        .engine
        .logout(
            cookie.trim_start_matches("portcullis-session="),
            &portcullis_testkit::ctx(),
        )
        .await
        .expect("logout");
    assert_eq!(
        x.w.userinfo(&subject).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(x.w.userinfo(&again).await.status, StatusCode::UNAUTHORIZED);
}
