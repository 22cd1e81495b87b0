//! `/account/security` (docs/design/mfa.md, "Account pages"): the factor list, TOTP enrolment
//! with the code's error next to its field, recovery codes shown once, removal behind a confirm
//! form and the recent-authentication step, CSRF, and the passkeys-only policy.

use super::factors::{code, settled_now};
use super::pages::{SESSION, assert_page_headers, csrf_of, pages_world, with_csrf};
use super::*;

const SECURITY: &str = "/account/security";

/// The text of the element with this id (up to the next tag), HTML entities undone.
pub(super) fn element_text(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .map(|i| i + id.len() + 6)
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let end = html[start..].find('<').map_or(html.len(), |e| start + e);
    html[start..end]
        .replace("&amp;", "&")
        .replace("&#x3D;", "=")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
}

/// The recovery codes listed in `#recovery-codes`.
pub(super) fn codes_of(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"recovery-codes\"") else {
        return Vec::new();
    };
    let end = html[start..]
        .find("</ol>")
        .map_or(html.len(), |e| start + e);
    html[start..end]
        .split("<code>")
        .skip(1)
        .filter_map(|c| c.split_once("</code>").map(|(c, _)| c.to_owned()))
        .collect()
}

/// The security page with its CSRF token, and the cookies to post with.
pub(super) async fn security_page(w: &World, session: &str) -> (Reply, String) {
    let page = w.page(SECURITY, session).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf = csrf_of(&page);
    let cookies = with_csrf(session, &csrf);
    (page, cookies)
}

/// How many factors (pending ones included) the user has.
pub(super) async fn factor_count(w: &World, user: &User) -> usize {
    let state = w.engine.mfa_state(user.id).await.expect("state");
    state.factors.len()
}

/// The re-authentication for new recovery codes, with a recovery code.
async fn reauth_for_codes(w: &World, csrf: &str, recovery: &str, cookies: &str) -> Reply {
    let form = [
        ("csrf", csrf),
        ("then", "codes"),
        ("recovery_code", recovery),
    ];
    w.submit("/account/security/reauthenticate", &form, cookies)
        .await
}

#[tokio::test]
async fn without_a_sign_in_the_security_pages_send_to_login() {
    let w = pages_world().await;
    let r = w.app.get(SECURITY).send().await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/login?r=/account/security");
    for path in [
        "/account/security/totp",
        "/account/security/totp/confirm",
        "/account/security/recovery-codes",
        "/account/security/remove",
        "/account/security/reauthenticate",
        "/account/security/passkey",
        "/account/security/passkey/confirm",
    ] {
        let r = w.submit(path, &[("csrf", "x")], "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.header("location"), "/login?r=/account/security", "{path}");
    }
}

#[tokio::test]
async fn enrol_totp_then_recovery_codes_are_shown_once_and_replaced() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let (page, cookies) = security_page(&w, &session).await;
    assert_page_headers(&page);
    let text = page.text();
    assert!(text.contains("id=\"no-factors\""), "{text}");
    assert!(text.contains("id=\"policy\">Optional<"), "{text}");
    assert!(text.contains("id=\"enrolment-options\""));
    assert!(text.contains("id=\"add-totp\""));
    let csrf = csrf_of(&page);

    // A fresh password sign-in of a user without factors is recent enough to enrol.
    let enrol = w
        .submit("/account/security/totp", &[("csrf", &csrf)], &cookies)
        .await;
    assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.text());
    assert_page_headers(&enrol);
    let html = enrol.text();
    assert!(html.contains("<figure id=\"qr\"") && html.contains("<svg"));
    assert!(!html.contains("<?xml"));
    let uri = element_text(&html, "otpauth-uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let secret = element_text(&html, "secret");
    assert!(uri.contains(&format!("secret={secret}")), "{uri} {secret}");
    let factor = w.engine.mfa_state(ann.id).await.expect("state").factors[0].id;
    let factor = factor.0.to_string();

    // A wrong code: the same setup again, the error next to the field.
    let wrong = w
        .submit(
            "/account/security/totp/confirm",
            &[
                ("csrf", &csrf),
                ("factor", &factor),
                ("otpauth_uri", &uri),
                ("code", "000000"),
            ],
            &cookies,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let html = wrong.text();
    assert!(html.contains("id=\"code-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(html.contains("aria-describedby=\"code-error\""));
    assert!(html.contains("<svg"), "the QR code is shown again");

    let t = settled_now().await;
    let ok = w
        .submit(
            "/account/security/totp/confirm",
            &[
                ("csrf", &csrf),
                ("factor", &factor),
                ("otpauth_uri", &uri),
                ("code", &code(&uri, t - 30)),
            ],
            &cookies,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let first = codes_of(&ok.text());
    assert_eq!(first.len(), 10, "{}", ok.text());
    assert!(!ok.text().contains("id=\"old-codes-dead\""));

    // The list shows the factor; the codes are never shown again.
    let (page, _) = security_page(&w, &cookies).await;
    let text = page.text();
    assert!(text.contains(&format!("id=\"factor-{factor}\"")), "{text}");
    assert!(text.contains("Authenticator app") && text.contains("last used"));
    assert!(text.contains("id=\"codes-left\">10<"), "{text}");
    assert!(first.iter().all(|c| !text.contains(c.as_str())));

    // New codes: the sign-in had no second factor, so the code is asked first; a recovery code
    // will do, and the new codes follow at once.
    let reauth = w
        .submit(
            "/account/security/recovery-codes",
            &[("csrf", &csrf)],
            &cookies,
        )
        .await;
    assert_eq!(reauth.status, StatusCode::OK);
    let html = reauth.text();
    assert!(
        html.contains("action=\"/account/security/reauthenticate\""),
        "{html}"
    );
    assert!(html.contains("name=\"then\" value=\"codes\""));
    assert!(html.contains("name=\"recovery_code\""));
    assert!(
        !html.contains("name=\"password\""),
        "a password is not enough"
    );
    let fresh = reauth_for_codes(&w, &csrf, &first[0], &cookies).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text());
    assert!(fresh.text().contains("id=\"old-codes-dead\""));
    let second = codes_of(&fresh.text());
    assert_eq!(second.len(), 10);
    assert!(second.iter().all(|c| !first.contains(c)));

    // The old codes are dead: one is refused next to its field.
    let dead = reauth_for_codes(&w, &csrf, &first[1], &cookies).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED, "{}", dead.text());
    assert!(dead.text().contains("id=\"recovery_code-error\""));
    assert!(
        dead.text()
            .contains("<details id=\"use-recovery-code\" open>")
    );
    assert_eq!(codes_of(&dead.text()).len(), 0);
}

#[tokio::test]
async fn removal_asks_to_confirm_and_reauthenticate_then_removes() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let (uri, _) = w.enrol("ann@example.com").await;
    let factor = w.engine.mfa_state(ann.id).await.expect("state").factors[0].id;
    let factor = factor.0.to_string();
    // A browser session without the factor.
    let token = w.session(&ann, OrgChoice::Default).await;
    let session = format!("{SESSION}={token}");
    let (page, cookies) = security_page(&w, &session).await;
    let csrf = csrf_of(&page);

    let confirm = w
        .submit(
            "/account/security/remove",
            &[("csrf", &csrf), ("factor", &factor)],
            &cookies,
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text().contains("id=\"confirm-remove\""));
    assert!(confirm.text().contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(factor_count(&w, &ann).await, 1);

    let yes = [
        ("csrf", csrf.as_str()),
        ("factor", &factor),
        ("confirm", "yes"),
    ];
    let reauth = w.submit("/account/security/remove", &yes, &cookies).await;
    assert_eq!(reauth.status, StatusCode::OK);
    let html = reauth.text();
    assert!(html.contains("name=\"then\" value=\"remove\""), "{html}");
    assert!(html.contains(&format!("name=\"factor\" value=\"{factor}\"")));
    assert_eq!(factor_count(&w, &ann).await, 1);

    let then = [
        ("csrf", csrf.as_str()),
        ("then", "remove"),
        ("factor", &factor),
    ];
    let mut wrong = then.to_vec();
    wrong.push(("code", "000000"));
    let r = w
        .submit("/account/security/reauthenticate", &wrong, &cookies)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("id=\"code-error\""));
    assert_eq!(factor_count(&w, &ann).await, 1);

    let t = settled_now().await;
    let good = code(&uri, t);
    let mut right = then.to_vec();
    right.push(("code", &good));
    let r = w
        .submit("/account/security/reauthenticate", &right, &cookies)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        r.header("location"),
        "/account/security?done=factor-removed"
    );
    assert_eq!(factor_count(&w, &ann).await, 0);
    let page = w
        .page("/account/security?done=factor-removed", &cookies)
        .await;
    assert!(page.text().contains("id=\"done\""));
    assert!(page.text().contains("id=\"no-factors\""));
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_elsewhere_change_nothing() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let (page, cookies) = security_page(&w, &session).await;
    let csrf = csrf_of(&page);
    for token in ["", "not-the-token"] {
        let r = w
            .submit("/account/security/totp", &[("csrf", token)], &cookies)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("id=\"error\""));
    }
    let r = w
        .app
        .post("/account/security/totp")
        .form(&[("csrf", &csrf)])
        .cookie(Some(cookies.as_str()))
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w
        .submit("/account/security/recovery-codes", &[], &cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(factor_count(&w, &ann).await, 0);
}

#[tokio::test]
async fn passkeys_only_hides_and_refuses_totp() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let session = w.browser_sign_in("ann@example.com").await;
    let policy = MfaPolicy {
        mode: MfaMode::Required,
        passkeys_only: true,
    };
    w.store
        .set_org_mfa_policy(w.org.id, policy, chrono::Utc::now())
        .await
        .expect("policy");
    // No form on the page (nothing to add here), but the browser has its token.
    let page = w.page(SECURITY, &session).await;
    let csrf = page.cookie("portcullis-account-csrf").expect("csrf cookie");
    let cookies = with_csrf(&session, &csrf);
    let text = page.text();
    assert!(
        text.contains("id=\"policy\">Required: passkeys only<"),
        "{text}"
    );
    assert!(!text.contains("id=\"add-totp\""));
    assert!(text.contains("id=\"totp-hidden\""));
    let r = w
        .submit("/account/security/totp", &[("csrf", &csrf)], &cookies)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("allows only passkeys"));
    assert_eq!(factor_count(&w, &ann).await, 0);
}

#[tokio::test]
async fn a_second_app_after_reauthentication_goes_on_to_its_setup() {
    let w = pages_world().await;
    let ann = w.user("ann@example.com").await;
    let (uri, _) = w.enrol("ann@example.com").await;
    let token = w.session(&ann, OrgChoice::Default).await;
    let session = format!("{SESSION}={token}");
    let (page, cookies) = security_page(&w, &session).await;
    let csrf = csrf_of(&page);
    let reauth = w
        .submit("/account/security/totp", &[("csrf", &csrf)], &cookies)
        .await;
    assert!(reauth.text().contains("name=\"then\" value=\"totp\""));
    assert_eq!(factor_count(&w, &ann).await, 1, "no setup before the step");
    let t = settled_now().await;
    let now = code(&uri, t);
    let form = [("csrf", csrf.as_str()), ("then", "totp"), ("code", &now)];
    let setup = w
        .submit("/account/security/reauthenticate", &form, &cookies)
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.text());
    let second = element_text(&setup.text(), "otpauth-uri");
    assert_ne!(second, uri, "a new key");
    let factor = w
        .engine
        .mfa_state(ann.id)
        .await
        .expect("state")
        .factors
        .iter()
        .find(|f| f.confirmed_at.is_none())
        .map(|f| f.id.0.to_string())
        .expect("pending factor");
    let new_code = code(&second, t);
    let confirm = [
        ("csrf", csrf.as_str()),
        ("factor", &factor),
        ("otpauth_uri", &second),
        ("code", &new_code),
    ];
    let r = w
        .submit("/account/security/totp/confirm", &confirm, &cookies)
        .await;
    // Not the first factor: no new recovery codes, back to the list.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), "/account/security?done=factor-added");
    let page = w
        .page("/account/security?done=factor-added", &cookies)
        .await;
    assert!(page.text().contains("The authenticator app was added."));
    assert_eq!(page.text().matches("id=\"factor-").count(), 2);
}
