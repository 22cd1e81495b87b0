//! Every refusal of the authorization and token endpoints, and that it is the right kind: a
//! page where the redirect URI cannot be trusted, a redirect with an error code where it can.

use super::*;

#[tokio::test]
async fn an_untrusted_client_or_redirect_uri_is_a_page_never_a_redirect() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    for url in [
        w.authorize_url("nobody", &[]),
        w.authorize_url("app", &[("redirect_uri", "https://evil.example/cb")]),
        w.authorize_url(
            "app",
            &[("redirect_uri", "https://app.example.test/callback/x")],
        ),
        w.authorize_url("app", &[("redirect_uri", "")]),
        w.authorize_url("", &[]),
    ] {
        let r = w.authorize(&url, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(r.header("location").is_empty(), "{url}");
        assert!(
            r.header("content-security-policy")
                .contains("frame-ancestors 'none'")
        );
    }
    // A disabled client is unknown to the endpoint.
    let mut off = client("off", None);
    off.disabled_at = Some(Utc::now());
    w.env.store.create_oauth_client(off).await.unwrap();
    let r = w
        .authorize(&w.authorize_url("off", &[]), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_requests_go_back_to_the_client_with_the_error() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge", "short")], "invalid_request"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (
            &[("response_type", "code id_token")],
            "unsupported_response_type",
        ),
        (&[("scope", "profile")], "invalid_scope"),
        (&[("scope", "openid admin")], "invalid_scope"),
        (&[("prompt", "none login")], "invalid_request"),
        (&[("max_age", "soon")], "invalid_request"),
        (&[("request", "eyJ.x.y")], "request_not_supported"),
        (&[("response_mode", "fragment")], "invalid_request"),
    ];
    for (extra, code) in cases {
        let r = w
            .authorize(&w.authorize_url("app", extra), Some(&cookie))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{extra:?}");
        let location = r.header("location");
        assert!(location.starts_with(REDIRECT), "{extra:?}: {location}");
        let q = query_of(location);
        assert_eq!(q["error"], *code, "{extra:?}");
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], ISSUER);
    }
}

#[tokio::test]
async fn pkce_and_redirect_uri_are_checked_at_the_token_endpoint() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let code = w.code(&cookie, &[]).await;
    let r = w
        .token(
            "app",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "a-different-verifier-that-is-long-enough-0123456789-xyz",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "invalid_grant");
    // The failed attempt used the code up.
    assert_eq!(w.redeem(&code).await.body["error"], "invalid_grant");
    let code = w.code(&cookie, &[]).await;
    let r = w
        .token(
            "app",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example.test/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(r.body["error"], "invalid_grant");
    let r = w
        .token(
            "app",
            SECRET,
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
    assert_eq!(r.body["error"], "invalid_request");
    let r = w.token("app", SECRET, &[("grant_type", "password")]).await;
    assert_eq!(r.body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn a_replayed_code_revokes_what_it_granted() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let code = w.code(&cookie, &[]).await;
    let first = w.redeem(&code).await;
    assert_eq!(first.status, StatusCode::OK);
    let access = first.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(w.userinfo(&access).await.status, StatusCode::OK);
    let again = w.redeem(&code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["error"], "invalid_grant");
    assert_eq!(w.userinfo(&access).await.status, StatusCode::UNAUTHORIZED);
    let rt = first.body["refresh_token"].as_str().unwrap();
    assert_eq!(w.refresh(rt).await.body["error"], "invalid_grant");
    assert_eq!(w.env.audit_events("oidc.code_replay").await.len(), 1);
}

#[tokio::test]
async fn a_code_is_only_for_the_client_it_was_issued_to() {
    let w = world().await;
    w.env
        .store
        .create_oauth_client(client("other", None))
        .await
        .unwrap();
    let cookie = w.cookie_for(&w.user).await;
    let code = w.code(&cookie, &[]).await;
    let r = w
        .token(
            "other",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(r.body["error"], "invalid_grant");
}

#[tokio::test]
async fn client_authentication_failures_are_refused_and_throttled() {
    let w = world().await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let r = w.token("app", "wrong", &form).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "invalid_client");
    assert!(r.header("www-authenticate").starts_with("Basic"));
    assert_eq!(r.header("cache-control"), "no-store");
    // A confidential client may not skip authentication, nor use another method than its own.
    let r = w
        .app
        .post("/oauth2/token")
        .form(&[
            ("client_id", "app"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ])
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_client");
    let r = w
        .app
        .post("/oauth2/token")
        .form(&[
            ("client_id", "app"),
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ])
        .send()
        .await;
    assert_eq!(
        r.body["error"], "invalid_client",
        "registered for Basic, not post"
    );
    // Two methods at once are a bad request.
    let r = w
        .app
        .post("/oauth2/token")
        .header("authorization", &basic("app", SECRET))
        .form(&[
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ])
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_request");
    for _ in 0..10 {
        w.token("app", "wrong", &form).await;
    }
    // Locked for a while, even with the right secret.
    let r = w.token("app", SECRET, &form).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(!w.env.audit_events("oidc.client_auth").await.is_empty());
}

#[tokio::test]
async fn a_public_client_authenticates_with_pkce_alone() {
    let w = world().await;
    let mut public = client("spa", None);
    public.kind = ClientKind::Public;
    public.token_endpoint_auth = TokenEndpointAuth::None;
    public.secrets.clear();
    w.env.store.create_oauth_client(public).await.unwrap();
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .authorize(&w.authorize_url("spa", &[]), Some(&cookie))
        .await;
    let code = query_of(r.header("location"))["code"].clone();
    let r = w
        .app
        .post("/oauth2/token")
        .form(&[
            ("client_id", "spa"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    let w = world().await;
    let r = w
        .app
        .post("/oauth2/token")
        .header("authorization", &basic("app", SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&grant_type=authorization_code")
        .send()
        .await;
    assert_eq!(r.body["error"], "invalid_request");
}
