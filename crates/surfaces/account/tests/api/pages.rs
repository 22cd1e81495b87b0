//! The account pages (`/account`, `/account/apps`, `/account/password`): the browser sign-in
//! cookie, the sign-in round trip, CSRF on every change, errors next to their fields.

use portcullis_core::admin::Admin;
use portcullis_core::oidc::ClientSpec;
use portcullis_core::use_cases::ClientScope;
use portcullis_testkit::http::form_escape;

use super::*;

pub(super) const SESSION: &str = "portcullis-session";
const CSRF: &str = "portcullis-account-csrf";

/// A world with the sign-in page mounted too, so the round trip through `/login` is real.
/// acme is branded: its members' account pages show it.
pub(super) async fn pages_world() -> World {
    pages_world_at(&config().public_url).await
}

/// [`pages_world`] with this public URL.
pub(super) async fn pages_world_at(public_url: &str) -> World {
    let mut cfg = config();
    cfg.public_url = public_url.into();
    cfg.branding.orgs.insert(
        "acme".into(),
        portcullis_core::branding::OrgBrandConfig {
            display_name: Some("Acme Corp".into()),
            ..Default::default()
        },
    );
    world_mounting(cfg, |env| portcullis_web::router(env.engine.clone(), None)).await
}

impl World {
    pub(super) async fn page(&self, path: &str, cookies: &str) -> Reply {
        self.app.get(path).cookie(Some(cookies)).send().await
    }

    pub(super) async fn submit(&self, path: &str, form: &[(&str, &str)], cookies: &str) -> Reply {
        self.app
            .post(path)
            .form(form)
            .cookie(Some(cookies))
            .send()
            .await
    }

    /// Signs in through `/login?r=/account` as a browser would: the form, its CSRF cookie, the
    /// post; returns the session cookie it set.
    pub(super) async fn browser_sign_in(&self, email: &str) -> String {
        let form = self.app.get("/login?r=/account").send().await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text().contains("name=\"r\" value=\"/account\""));
        let csrf = form.cookie("portcullis-csrf").expect("csrf cookie");
        let r = self
            .app
            .post("/login")
            .form(&[
                ("email", email),
                ("password", PW),
                ("csrf", &csrf),
                ("r", "/account"),
            ])
            .cookie(format!("portcullis-csrf={csrf}").as_str())
            .send()
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(r.header("location"), "/account");
        let session = r.cookie(SESSION).expect("session cookie");
        format!("{SESSION}={session}")
    }
}

/// The CSRF token a page's forms carry (the same as its cookie).
pub(super) fn csrf_of(page: &Reply) -> String {
    let token = page.cookie(CSRF).expect("csrf cookie");
    assert!(
        page.text()
            .contains(&format!("name=\"csrf\" value=\"{token}\"")),
        "the forms carry the cookie's token"
    );
    token
}

pub(super) fn with_csrf(session: &str, csrf: &str) -> String {
    format!("{session}; {CSRF}={csrf}")
}

pub(super) fn assert_page_headers(r: &Reply) {
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("x-frame-options"), "DENY");
    let csp = r.header("content-security-policy");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("style-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!r.text().contains("<script"));
}

#[tokio::test]
async fn without_a_sign_in_the_pages_send_to_login_and_back() {
    let w = pages_world().await;
    w.user("ann@example.com").await;
    for path in ["/account", "/account/apps", "/account/password"] {
        let r = w.app.get(path).send().await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.header("location"), format!("/login?r={path}"));
    }
    // A bearer token or a bad cookie is not a browser sign-in.
    let token = w.login("ann@example.com", PW).await.unwrap();
    let r = w.app.get("/account").bearer(token.as_str()).send().await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = w.page("/account", &format!("{SESSION}=not-a-token")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A post without a sign-in changes nothing and goes to the sign-in page too.
    let r = w
        .submit("/account/sessions/end-others", &[("csrf", "x")], "")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let session = w.browser_sign_in("ann@example.com").await;
    let page = w.page("/account", &session).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_page_headers(&page);
    assert!(page.text().contains("id=\"user\">ann@example.com<"));
    assert!(page.text().contains("This browser"));
    assert!(page.text().contains("aria-current=\"page\""));
    // In the brand of the session's org.
    assert!(
        page.text()
            .contains("<title>Your sessions · Acme Corp</title>")
    );
    assert!(page.text().contains("href=\"/assets/brand/acme.css?v="));
}

#[tokio::test]
async fn the_sign_in_page_returns_only_to_paths_of_this_server() {
    let w = pages_world().await;
    w.user("ann@example.com").await;
    for evil in [
        "//evil.example/account",
        "/\\evil.example",
        "https://evil.example/",
        "/account\r\nSet-Cookie:%20x=1",
        "/@evil.example",
    ] {
        let form = w
            .app
            .get(&format!("/login?r={}", form_escape(evil)))
            .send()
            .await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(!form.text().contains("name=\"r\""), "{evil} is dropped");
        // Posted directly, it is not followed either: the plain sign-in's landing page.
        let csrf = form.cookie("portcullis-csrf").expect("csrf");
        let r = w
            .app
            .post("/login")
            .form(&[
                ("email", "ann@example.com"),
                ("password", PW),
                ("csrf", &csrf),
                ("r", evil),
            ])
            .cookie(format!("portcullis-csrf={csrf}").as_str())
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{evil}");
        assert!(r.header("location").is_empty(), "{evil}");
        assert!(r.text().contains("id=\"session-token\""), "{evil}");
    }
}

#[tokio::test]
async fn ending_a_session_needs_the_form_token() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let other = w.env.session(&ann, OrgChoice::Default).await;
    let other_id = w.principal(&other).await.session().unwrap().clone();
    let session = w.browser_sign_in("ann@example.com").await;
    let page = w.page("/account", &session).await;
    assert!(page.text().contains(&format!("value=\"{}\"", other_id.0)));
    let csrf = csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("session", other_id.0.as_str())];

    // Without the cookie, with another token, or from another site: refused, nothing ends.
    let r = w.submit("/account/sessions/end", &form, &session).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("Nothing was changed"));
    let r = w
        .submit(
            "/account/sessions/end",
            &[("csrf", "forged"), ("session", &other_id.0)],
            &with_csrf(&session, &csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w
        .app
        .post("/account/sessions/end")
        .form(&form)
        .cookie(with_csrf(&session, &csrf).as_str())
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    w.principal(&other).await;

    let r = w
        .submit("/account/sessions/end", &form, &with_csrf(&session, &csrf))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), "/account?done=session-ended");
    assert!(w.engine.authenticate(&other).await.is_err(), "ended");
    let page = w.page("/account?done=session-ended", &session).await;
    assert!(page.text().contains("The session was ended."));
    assert!(!page.text().contains(&other_id.0));

    // Someone else's session id is not found, and stays alive.
    let bob = w.user("bob@example.com").await;
    let bobs = w.env.session(&bob, OrgChoice::Default).await;
    let bob_id = w.principal(&bobs).await.session().unwrap().clone();
    let r = w
        .submit(
            "/account/sessions/end",
            &[("csrf", &csrf), ("session", &bob_id.0)],
            &with_csrf(&session, &csrf),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    w.principal(&bobs).await;

    // Signing out the others keeps this browser.
    let third = w.env.session(&ann, OrgChoice::Default).await;
    let r = w
        .submit(
            "/account/sessions/end-others",
            &[("csrf", &csrf)],
            &with_csrf(&session, &csrf),
        )
        .await;
    assert_eq!(r.header("location"), "/account?done=others-ended");
    assert!(w.engine.authenticate(&third).await.is_err());
    let page = w.page("/account", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("This browser is your only session."));
}

#[tokio::test]
async fn password_errors_are_shown_next_to_their_field() {
    let w = pages_world().await;
    w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let page = w.page("/account/password", &session).await;
    assert_page_headers(&page);
    let csrf = csrf_of(&page);
    let cookies = with_csrf(&session, &csrf);
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let (w, cookies, csrf) = (&w, cookies.clone(), csrf.clone());
        async move {
            w.submit(
                "/account/password",
                &[
                    ("csrf", &csrf),
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", confirm),
                    ("end_others", "yes"),
                ],
                &cookies,
            )
            .await
        }
    };
    let field_error = |r: &Reply, field: &str, text: &str| {
        let html = r.text();
        assert!(
            html.contains(&format!(
                "id=\"{field}\" name=\"{field}\" type=\"password\" autocomplete"
            )),
            "{html}"
        );
        let input = &html[html.find(&format!("<input id=\"{field}\"")).unwrap()..];
        let input = &input[..input.find('>').unwrap()];
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(
            input.contains(&format!("aria-describedby=\"{field}-error")),
            "{input}"
        );
        assert!(
            html.contains(&format!("id=\"{field}-error\">{text}")),
            "{field}: {html}"
        );
    };

    let r = change(PW, NEW_PW, "something else").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    field_error(
        &r,
        "confirm_password",
        "The two new passwords are not the same.",
    );
    let r = change("", NEW_PW, NEW_PW).await;
    field_error(&r, "current_password", "Enter your current password.");
    let r = change(PW, "short", "short").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    field_error(&r, "new_password", "The password must have at least");
    let r = change("not my password at all", NEW_PW, NEW_PW).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    field_error(
        &r,
        "current_password",
        "The current password is not correct.",
    );

    let r = change(PW, NEW_PW, NEW_PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        r.header("location"),
        "/account/password?done=password-changed"
    );
    assert!(w.login("ann@example.com", NEW_PW).await.is_ok());
    // This browser stays signed in.
    let page = w
        .page("/account/password?done=password-changed", &session)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Your password was changed."));
}

#[tokio::test]
async fn connected_apps_are_listed_and_revoked() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let spec: ClientSpec = serde_json::from_value(json!({
        "clientId": "wiki",
        "name": "The <Wiki>",
        "kind": "public",
        "redirectUris": ["http://127.0.0.1/cb"],
    }))
    .expect("spec");
    Admin::new(w.store.clone(), &config(), "test")
        .create_client(ClientScope::Operator, spec)
        .await
        .expect("client");
    w.env.consent(&ann, "wiki", &["openid", "email"]).await;
    let grant = w.env.grant_session(&ann, &w.org, "wiki").await.id;

    let session = w.browser_sign_in("ann@example.com").await;
    let page = w.page("/account/apps", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("The &lt;Wiki&gt;"), "escaped");
    assert!(page.text().contains("your email address"));
    let csrf = csrf_of(&page);
    let r = w
        .submit(
            "/account/apps/revoke",
            &[("csrf", &csrf), ("client", "wiki")],
            &session,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF cookie");
    let cookies = with_csrf(&session, &csrf);
    let form = [("csrf", csrf.as_str()), ("client", "wiki")];
    let revoke = || w.submit("/account/apps/revoke", &form, &cookies);
    let r = revoke().await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/account/apps?done=app-revoked");
    let ended = w
        .store
        .get_session(&grant)
        .await
        .expect("read")
        .expect("row");
    assert!(ended.revoked_at.is_some(), "the app's session ended");
    let page = w.page("/account/apps?done=app-revoked", &session).await;
    assert!(
        page.text()
            .contains("No application has access to your account.")
    );
    // Revoking again: not found, said on the page.
    let r = revoke().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("no longer exists"));
}
