//! The code flow: discovery, sign-in redirect, consent, org choice, tokens and their claims.

use super::*;

#[tokio::test]
async fn discovery_describes_what_is_served() {
    let w = world().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = w.app.get(path).send().await;
        assert_eq!(r.status, StatusCode::OK);
        let d = &r.body;
        assert_eq!(d["issuer"], ISSUER);
        assert_eq!(
            d["authorization_endpoint"],
            format!("{ISSUER}/oauth2/authorize")
        );
        assert_eq!(d["token_endpoint"], format!("{ISSUER}/oauth2/token"));
        assert_eq!(d["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
        assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            d["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        let algs = d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap();
        assert_eq!(algs[0], "RS256", "RS256 is the default and listed first");
    }
}

#[tokio::test]
async fn a_browser_without_a_sign_in_goes_to_the_sign_in_page_and_comes_back() {
    let w = world().await;
    let r = w
        .authorize(
            &w.authorize_url("app", &[("login_hint", "ann@example.com")]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let location = r.header("location").to_string();
    assert!(location.starts_with("/login?r="), "{location}");
    let q = query_of(&location);
    assert_eq!(q["email"], "ann@example.com");
    // Back from the sign-in page with a session: the code is issued for the original request.
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .app
        .get(&format!("/oauth2/authorize/resume?r={}", q["r"]))
        .cookie(cookie.as_str())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let back = query_of(r.header("location"));
    assert!(r.header("location").starts_with(REDIRECT));
    assert_eq!(back["state"], "st-123");
    assert_eq!(back["iss"], ISSUER);
    assert!(back.contains_key("code"));
    // A forged pending request is a page, never a redirect.
    let r = w
        .app
        .get("/oauth2/authorize/resume?r=AAAA")
        .cookie(cookie.as_str())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header("location").is_empty());
}

#[tokio::test]
async fn code_flow_yields_tokens_with_the_claims_of_their_scopes() {
    let w = world().await;
    let t = w.tokens(&[("scope", "openid profile email orgs")]).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile email orgs");
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], "app");
    assert_eq!(id["azp"], "app");
    assert_eq!(id["sub"], w.user.id.0.to_string());
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["email"], "ann@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Ann");
    assert_eq!(id["org"], w.org.id.0.to_string());
    assert_eq!(id["orgs"][0]["name"], "acme");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert!(id["auth_time"].as_i64().is_some() && id["sid"].as_str().is_some());
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(
        id["at_hash"],
        portcullis_core::oidc::at_hash(IdTokenAlg::Rs256, access)
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(t["id_token"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let at = claims(access);
    assert_eq!(at["aud"], "app");
    assert_eq!(at["client_id"], "app");
    // userinfo answers the same claims for the token's scopes.
    let u = w.userinfo(access).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text());
    assert_eq!(u.body["sub"], id["sub"]);
    assert_eq!(u.body["email"], "ann@example.com");
    // The grant is a session of the user like any other.
    let sessions = w
        .env
        .store
        .list_user_sessions(w.user.id, false, Utc::now())
        .await
        .unwrap();
    assert!(
        sessions
            .iter()
            .any(|s| s.grant.as_ref().is_some_and(|g| g.client_id == "app"))
    );
    assert_eq!(w.env.audit_events("oidc.token").await.len(), 1);
    assert_eq!(w.env.audit_events("oidc.authorize").await.len(), 1);
}

#[tokio::test]
async fn a_provider_token_is_not_a_seed_api_token() {
    let w = world().await;
    let t = w.tokens(&[]).await;
    let access = t["access_token"].as_str().unwrap();
    assert!(w.env.engine.authenticate(access).await.is_err());
    // And a seed-API session token is no bearer for userinfo.
    let session = w.env.session(&w.user, OrgChoice::Default).await;
    assert_eq!(w.userinfo(&session).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn third_party_clients_ask_for_consent_once() {
    let w = world().await;
    let mut third = client("other", None);
    third.first_party = false;
    w.env.store.create_oauth_client(third).await.unwrap();
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .authorize(&w.authorize_url("other", &[]), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "the consent page");
    let page = r.text();
    assert!(page.contains("App other") && page.contains("id=\"scope-email\""));
    assert_eq!(
        form_action(&r),
        "form-action 'self' https://app.example.test"
    );
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    let pending = hidden(&page, "r");
    let r = w
        .app
        .post("/oauth2/authorize/decide")
        .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
        .form(&[("csrf", &csrf), ("r", &pending), ("decision", "allow")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(query_of(r.header("location")).contains_key("code"));
    // Remembered: the next request goes straight through, unless prompt=consent.
    let r = w
        .authorize(&w.authorize_url("other", &[]), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = w
        .authorize(
            &w.authorize_url("other", &[("prompt", "consent")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(w.env.audit_events("oidc.consent").await.len(), 1);
}

#[tokio::test]
async fn denied_consent_returns_access_denied_to_the_client() {
    let w = world().await;
    let mut third = client("other", None);
    third.first_party = false;
    w.env.store.create_oauth_client(third).await.unwrap();
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .authorize(&w.authorize_url("other", &[]), Some(&cookie))
        .await;
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    let pending = hidden(&r.text(), "r");
    // Without the CSRF cookie the form is refused.
    let r = w
        .app
        .post("/oauth2/authorize/decide")
        .cookie(cookie.as_str())
        .form(&[("csrf", &csrf), ("r", &pending), ("decision", "deny")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w
        .app
        .post("/oauth2/authorize/decide")
        .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
        .form(&[("csrf", &csrf), ("r", &pending), ("decision", "deny")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let q = query_of(r.header("location"));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    // prompt=none with no consent is consent_required, never a page.
    let r = w
        .authorize(
            &w.authorize_url("other", &[("prompt", "none")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(query_of(r.header("location"))["error"], "consent_required");
}

#[tokio::test]
async fn a_member_of_several_orgs_chooses_one_and_it_becomes_the_org_claim() {
    let w = world().await;
    let beta = w.env.org("beta").await;
    w.env
        .join(&w.user, &beta, &[Role::Admin], MembershipKind::Member)
        .await;
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .authorize(&w.authorize_url("app", &[]), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "the org page");
    let page = r.text();
    assert_eq!(
        form_action(&r),
        "form-action 'self' https://app.example.test"
    );
    assert!(page.contains("id=\"org-acme\"") && page.contains("id=\"org-beta\""));
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    let pending = hidden(&page, "r");
    let beta_id = beta.id.0.to_string();
    let r = w
        .app
        .post("/oauth2/authorize/decide")
        .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
        .form(&[("csrf", &csrf), ("r", &pending), ("org", &beta_id)])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let code = query_of(r.header("location"))["code"].clone();
    let t = w.redeem(&code).await;
    assert_eq!(claims(t.body["id_token"].as_str().unwrap())["org"], beta_id);
    // An org-bound client never asks: it is the client's org.
    let mut bound = client("bound", Some(w.org.id));
    bound.client_id = "bound".into();
    w.env.store.create_oauth_client(bound).await.unwrap();
    let r = w
        .authorize(&w.authorize_url("bound", &[]), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    for extra in [("prompt", "login"), ("max_age", "0")] {
        // A sign-in of this very second is "fresh" for max_age=0 only after a second passes.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let r = w
            .authorize(&w.authorize_url("app", &[extra]), Some(&cookie))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(r.header("location").starts_with("/login?r="), "{extra:?}");
    }
    let r = w
        .authorize(&w.authorize_url("app", &[("prompt", "none")]), None)
        .await;
    assert_eq!(query_of(r.header("location"))["error"], "login_required");
}

/// The value of a hidden form field.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn an_org_clients_pages_carry_the_orgs_brand() {
    let w = world().await;
    for (id, org) in [("global", None), ("acme-app", Some(w.org.id))] {
        let mut c = client(id, org);
        c.first_party = false;
        w.env.store.create_oauth_client(c).await.unwrap();
    }
    let cookie = w.cookie_for(&w.user).await;
    let branded = w
        .authorize(&w.authorize_url("acme-app", &[]), Some(&cookie))
        .await;
    assert_eq!(branded.status, StatusCode::OK, "the consent page");
    let page = branded.text();
    assert!(
        page.contains("<title>Allow access? · Acme Corp</title>"),
        "{page}"
    );
    assert!(page.contains("<img src=\"https://cdn.acme.test/logo.svg\" alt=\"\">"));
    assert!(page.contains("href=\"/assets/brand/acme.css?v="));
    let csp = branded.header("content-security-policy");
    assert!(
        csp.contains("img-src 'self' https://cdn.acme.test"),
        "{csp}"
    );
    // Only the logo's origin: the form may still end only at the application.
    assert_eq!(
        form_action(&branded),
        "form-action 'self' https://app.example.test"
    );

    let plain = w
        .authorize(&w.authorize_url("global", &[]), Some(&cookie))
        .await;
    let page = plain.text();
    assert!(
        page.contains("<title>Allow access? · Portcullis</title>"),
        "{page}"
    );
    assert!(page.contains("href=\"/assets/brand.css?v="));
    assert!(!page.contains("<img"));
    assert!(
        plain
            .header("content-security-policy")
            .ends_with("img-src 'self'")
    );
}
