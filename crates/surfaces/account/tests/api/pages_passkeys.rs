//! Passkeys on `/account/security` (docs/design/mfa.md, "Passkeys in the browser"), with a
//! software authenticator answering the options the pages carry: "Add a passkey" with a name,
//! the first factor's recovery codes, a second passkey after a passkey re-authentication, the
//! script-only CSP of those pages, and the refusals (CSRF, `Origin`, spent, made-up or malformed
//! answers, an unknown credential).

use portcullis_testkit::passkey::SoftKey;

use super::pages::{assert_page_headers, csrf_of, pages_world_at};
use super::pages_factors::{codes_of, factor_count, security_page};
use super::*;

const LOCAL: &str = "http://localhost:8080";

/// An attribute's value on a page, HTML-unescaped.
fn attr(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + name.len()
        + 2;
    html[at..at + html[at..].find('"').unwrap()]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The page's passkey options and ceremony.
fn ceremony_of(page: &Reply) -> (Value, String) {
    let html = page.text();
    let options = serde_json::from_str(&attr(&html, "data-options")).unwrap();
    let at = html.find("name=\"ceremony\" value=\"").expect("ceremony") + 23;
    let ceremony = html[at..at + html[at..].find('"').unwrap()].to_owned();
    (options, ceremony)
}

/// A page with a passkey form: the passkey script only, no other script, no fetch.
fn assert_passkey_page(r: &Reply) {
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    let csp = r.header("content-security-policy");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.ends_with("; script-src 'self'"), "{csp}");
    let html = r.text();
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(
        html.contains("<script src=\"/assets/webauthn.js?v="),
        "{html}"
    );
}

impl World {
    async fn submit_from(
        &self,
        origin: &str,
        path: &str,
        form: &[(&str, &str)],
        cookies: &str,
    ) -> Reply {
        self.app
            .post(path)
            .form(form)
            .cookie(Some(cookies))
            .header(http::header::ORIGIN, origin)
            .send()
            .await
    }
}

#[tokio::test]
async fn add_passkeys_with_names_and_reauthenticate_with_one() {
    let w = pages_world_at(LOCAL).await;
    let ann = w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let (page, cookies) = security_page(&w, &session).await;
    // The list itself runs no script; its option posts a name.
    assert_page_headers(&page);
    assert!(
        page.text().contains("id=\"add-passkey\""),
        "{}",
        page.text()
    );
    let csrf = csrf_of(&page);

    let setup = w
        .submit_from(
            LOCAL,
            "/account/security/passkey",
            &[("csrf", &csrf), ("name", "Laptop")],
            &cookies,
        )
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.text());
    assert_passkey_page(&setup);
    assert!(setup.text().contains("data-passkey=\"create\""));
    assert!(setup.text().contains("id=\"passkey-label\">Laptop<"));
    let (options, ceremony) = ceremony_of(&setup);
    assert_eq!(options["rp"]["id"], "localhost");
    let mut key = SoftKey::new(LOCAL);
    let credential = key.create(&options).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("ceremony", &ceremony),
        ("credential", &credential),
        ("name", "Laptop"),
    ];
    let done = w
        .submit_from(LOCAL, "/account/security/passkey/confirm", &form, &cookies)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(
        codes_of(&done.text()).len(),
        10,
        "the first factor's codes, once"
    );
    // The same answer again: its ceremony is spent and nothing is added; another try needs a
    // re-authentication now that Ann has a factor.
    let again = w
        .submit_from(LOCAL, "/account/security/passkey/confirm", &form, &cookies)
        .await;
    assert!(
        again.text().contains("name=\"then\" value=\"passkey\""),
        "{}",
        again.text()
    );
    assert_eq!(factor_count(&w, &ann).await, 1);
    let (page, _) = security_page(&w, &session).await;
    assert!(
        page.text().contains("<strong>Laptop</strong>"),
        "{}",
        page.text()
    );

    // A second passkey: the session's sign-in had no second factor, so first a passkey
    // re-authentication (the name rides along), then the setup.
    let reauth = w
        .submit(
            "/account/security/passkey",
            &[("csrf", &csrf), ("name", "Phone")],
            &cookies,
        )
        .await;
    assert_eq!(reauth.status, StatusCode::OK, "{}", reauth.text());
    assert_passkey_page(&reauth);
    assert!(reauth.text().contains("name=\"then\" value=\"passkey\""));
    assert!(reauth.text().contains("name=\"name\" value=\"Phone\""));
    let (options, ceremony) = ceremony_of(&reauth);
    // An answer naming a credential nobody has: refused next to the button.
    let mut unknown = key.get(&options);
    unknown["rawId"] = json!("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    unknown["id"] = unknown["rawId"].clone();
    let unknown = unknown.to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("then", "passkey"),
        ("name", "Phone"),
        ("ceremony", &ceremony),
        ("credential", &unknown),
    ];
    let wrong = w
        .submit("/account/security/reauthenticate", &form, &cookies)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert!(wrong.text().contains("Your passkey was not accepted"));
    let (options, ceremony) = ceremony_of(&wrong);
    let answer = key.get(&options).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("then", "passkey"),
        ("name", "Phone"),
        ("ceremony", &ceremony),
        ("credential", &answer),
    ];
    let setup = w
        .submit("/account/security/reauthenticate", &form, &cookies)
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.text());
    assert!(
        setup.text().contains("id=\"passkey-label\">Phone<"),
        "{}",
        setup.text()
    );
    let (options, ceremony) = ceremony_of(&setup);
    let credential = SoftKey::new(LOCAL).create(&options).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("ceremony", &ceremony),
        ("credential", &credential),
        ("name", "Phone"),
    ];
    let done = w
        .submit("/account/security/passkey/confirm", &form, &cookies)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.header("location"),
        "/account/security?done=passkey-added"
    );
    assert_eq!(factor_count(&w, &ann).await, 2);
}

#[tokio::test]
async fn passkey_forms_refuse_what_is_not_ours_or_not_an_answer() {
    let w = pages_world_at(LOCAL).await;
    let ann = w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let (page, cookies) = security_page(&w, &session).await;
    let csrf = csrf_of(&page);
    // No token, or another site's page: nothing starts.
    let r = w
        .submit("/account/security/passkey", &[("csrf", "nope")], &cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = w
        .submit_from(
            "https://evil.example",
            "/account/security/passkey",
            &[("csrf", &csrf)],
            &cookies,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    let setup = w
        .submit("/account/security/passkey", &[("csrf", &csrf)], &cookies)
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.text());
    let (options, ceremony) = ceremony_of(&setup);
    let credential = SoftKey::new(LOCAL).create(&options).to_string();
    let good = [
        ("csrf", csrf.as_str()),
        ("ceremony", &ceremony),
        ("credential", &credential),
    ];
    // The answer from another site or without the token: refused, the ceremony kept.
    let r = w
        .submit_from(
            "https://evil.example",
            "/account/security/passkey/confirm",
            &good,
            &cookies,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = w
        .submit(
            "/account/security/passkey/confirm",
            &[("csrf", "x"), good[1], good[2]],
            &cookies,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // Not a credential: the setup again with the reason by the button.
    let r = w
        .submit(
            "/account/security/passkey/confirm",
            &[good[0], good[1], ("credential", "[1, 2]")],
            &cookies,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text().contains("passkey answer was not valid"),
        "{}",
        r.text()
    );
    assert_passkey_page(&r);
    // A ceremony never issued.
    let made_up = "q".repeat(43);
    let r = w
        .submit(
            "/account/security/passkey/confirm",
            &[good[0], ("ceremony", &made_up), good[2]],
            &cookies,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("The passkey request expired"));
    assert_eq!(factor_count(&w, &ann).await, 0);
    // The original answer still registers: the refusals above spent nothing.
    let r = w
        .submit("/account/security/passkey/confirm", &good, &cookies)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(factor_count(&w, &ann).await, 1);
}

#[tokio::test]
async fn no_passkey_option_where_a_browser_cannot_use_one() {
    // The default public URL is an IP address: no option, no script.
    let w = super::pages::pages_world().await;
    w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let (page, _) = security_page(&w, &session).await;
    assert!(!page.text().contains("add-passkey"));
}
