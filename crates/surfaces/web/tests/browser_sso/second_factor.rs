//! The second step of a browser sign-in (docs/design/mfa.md, "Browser sign-in"): TOTP and
//! recovery codes after the password or the upstream SSO, enrolment inside the sign-in, the
//! challenge cookie, CSRF, the lockout, and the own sign-in a Parsable `startLogin` hands out.

use std::collections::BTreeMap;

use portcullis_testkit::mfa::{Totp, settled_now, totp_code};

use super::*;

/// A browser: a cookie jar over the world's router.
pub(super) struct Browser<'w> {
    w: &'w World,
    jar: BTreeMap<String, String>,
}

impl<'w> Browser<'w> {
    pub(super) fn new(w: &'w World) -> Self {
        Browser {
            w,
            jar: BTreeMap::new(),
        }
    }

    fn absorb(&mut self, r: &Reply) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (name, rest) = v.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            if v.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub(super) fn cookies(&self) -> Option<String> {
        let all: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (!all.is_empty()).then(|| all.join("; "))
    }

    pub(super) async fn get(&mut self, path: &str) -> Reply {
        let r = self.w.get(path, self.cookies().as_deref()).await;
        self.absorb(&r);
        r
    }

    /// Posts a form of the last page, its CSRF token taken from the jar as the page has it.
    pub(super) async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.jar.get("portcullis-csrf").cloned().unwrap_or_default();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let r = self
            .w
            .post_form(path, &form, self.cookies().as_deref())
            .await;
        self.absorb(&r);
        r
    }

    /// [`Browser::submit`] from a page of `origin` (the browser's `Origin` header).
    pub(super) async fn submit_from(
        &mut self,
        origin: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let csrf = self.jar.get("portcullis-csrf").cloned().unwrap_or_default();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let cookies = self.cookies();
        let r = self
            .w
            .app
            .post(path)
            .form(&form)
            .cookie(cookies.as_deref())
            .header(header::ORIGIN, origin)
            .send()
            .await;
        self.absorb(&r);
        r
    }

    /// The password page, then its form.
    pub(super) async fn password(&mut self, email: &str, pending: Option<&str>) -> Reply {
        let page = match pending {
            Some(p) => format!("/login?r={p}"),
            None => "/login".to_owned(),
        };
        self.get(&page).await;
        let mut fields = vec![("email", email), ("password", PW)];
        if let Some(p) = pending {
            fields.push(("r", p));
        }
        self.submit("/login", &fields).await
    }
}

/// A hidden field's value on a page.
pub(super) fn hidden(r: &Reply, name: &str) -> Option<String> {
    let body = r.text();
    let at = body.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(body[at..at + body[at..].find('"')?].to_owned())
}

fn assert_second_step(r: &Reply) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.assert_page();
    let body = r.text();
    assert!(body.contains("autocomplete=\"one-time-code\""), "{body}");
    assert!(body.contains("inputmode=\"numeric\"") && body.contains("name=\"code\""));
    assert!(r.token().is_none());
}

pub(super) async fn amr_of(w: &World, token: &str) -> Vec<String> {
    w.engine.authenticate(token).await.expect("session").amr
}

pub(super) async fn member(w: &World, email: &str) -> User {
    let org = w.store.get_org_by_name("acme").await.unwrap().expect("org");
    w.user(email).member(&org, &[Role::Author]).create().await
}

async fn with_totp(w: &World, email: &str) -> Totp {
    let u = member(w, email).await;
    w.enrol_totp(&u).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_after_the_password_then_the_landing_page() {
    let w = world().await;
    let totp = with_totp(&w, "tia@example.com").await;
    let t = settled_now().await;
    let mut b = Browser::new(&w);
    let r = b.password("tia@example.com", None).await;
    assert_second_step(&r);
    // The challenge handle: an HttpOnly SameSite cookie as long-lived as the challenge, never
    // in the page.
    let set = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis-mfa="))
        .expect("challenge cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=300")
    );
    let handle = b.jar["portcullis-mfa"].clone();
    assert!(!r.text().contains(&handle));
    assert!(r.text().contains("id=\"use-recovery-code\""));

    // A wrong code: the page again, the error next to the field, the challenge kept.
    let wrong = b
        .submit("/login/second-factor", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert!(
        wrong.text().contains("id=\"code-error\""),
        "{}",
        wrong.text()
    );
    assert!(wrong.token().is_none());
    assert_eq!(b.jar["portcullis-mfa"], handle);

    let code = totp.code(t, 0);
    let ok = b.submit("/login/second-factor", &[("code", &code)]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let token = ok.token().expect("landing page");
    assert_eq!(amr_of(&w, &token).await, ["pwd", "otp", "mfa"]);
    assert!(
        !b.jar.contains_key("portcullis-mfa"),
        "challenge cookie cleared"
    );

    // The same code again, in a new sign-in: refused (each step's code is used once).
    let mut b = Browser::new(&w);
    assert_second_step(&b.password("tia@example.com", None).await);
    let replay = b.submit("/login/second-factor", &[("code", &code)]).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(replay.token().is_none());
    // The finished challenge's cookie is worth nothing either.
    let old = w
        .post_form(
            "/login/second-factor",
            &[
                ("csrf", &b.jar["portcullis-csrf"]),
                ("code", &totp.code(t, 1)),
            ],
            Some(&format!(
                "portcullis-csrf={}; portcullis-mfa={handle}",
                b.jar["portcullis-csrf"]
            )),
        )
        .await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST, "{}", old.text());
    assert!(old.text().contains("expired or was already finished"));
    assert!(old.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_toward_the_lockout() {
    let w = world_full(|_| {}, |c| c.lockout.lock_after = 3).await;
    let totp = with_totp(&w, "lou@example.com").await;
    let t = settled_now().await;
    let mut b = Browser::new(&w);
    assert_second_step(&b.password("lou@example.com", None).await);
    for _ in 0..3 {
        let r = b
            .submit("/login/second-factor", &[("code", "123456")])
            .await;
        assert!(r.token().is_none());
        assert!(r.status.is_client_error(), "{}", r.status);
    }
    // Locked: the right code no longer signs in, nor does the password.
    let r = b
        .submit("/login/second-factor", &[("code", &totp.code(t, 0))])
        .await;
    assert!(r.token().is_none(), "{}", r.text());
    assert!(r.status.is_client_error());
    let mut again = Browser::new(&w);
    let r = again.password("lou@example.com", None).await;
    assert!(r.status.is_client_error(), "{}", r.text());
    assert!(!r.text().contains("one-time-code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once() {
    let w = world().await;
    let totp = with_totp(&w, "rey@example.com").await;
    let code = totp.recovery_codes[3].clone();
    let mut b = Browser::new(&w);
    assert_second_step(&b.password("rey@example.com", None).await);
    let ok = b
        .submit("/login/second-factor", &[("recovery_code", &code)])
        .await;
    let token = ok.token().expect("landing page");
    assert_eq!(amr_of(&w, &token).await, ["pwd", "mfa"]);

    let mut b = Browser::new(&w);
    assert_second_step(&b.password("rey@example.com", None).await);
    let spent = b
        .submit("/login/second-factor", &[("recovery_code", &code)])
        .await;
    assert_eq!(spent.status, StatusCode::UNAUTHORIZED);
    let body = spent.text();
    assert!(body.contains("id=\"recovery_code-error\""), "{body}");
    assert!(body.contains("<details id=\"use-recovery-code\" open>"));
    assert!(spent.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_policy_enrols_inside_the_sign_in_and_shows_the_codes_once() {
    let w = world().await;
    member(&w, "eve@example.com").await;
    w.set_mfa_mode("acme", MfaMode::Required).await;
    let mut b = Browser::new(&w);
    let page = b.password("eve@example.com", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.assert_page();
    let body = page.text();
    // The QR code inline (no image source for the CSP to allow), the key for manual entry.
    assert!(body.contains("<svg") && !body.contains("<?xml"), "{body}");
    assert!(
        !body.contains("style=") && !body.contains("<img"),
        "nothing the CSP would block"
    );
    assert!(body.contains("id=\"secret\""));
    let uri = hidden(&page, "otpauth_uri")
        .expect("setup URI")
        .replace("&amp;", "&");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(page.token().is_none());
    let factor = hidden(&page, "factor").expect("factor");

    let wrong = b
        .submit(
            "/login/enrol",
            &[
                ("factor", &factor),
                ("otpauth_uri", &uri),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert!(wrong.text().contains("id=\"code-error\"") && wrong.text().contains("<svg"));

    let t = settled_now().await;
    let codes = b
        .submit(
            "/login/enrol",
            &[
                ("factor", &factor),
                ("otpauth_uri", &uri),
                ("code", &totp_code(&uri, t)),
            ],
        )
        .await;
    assert_eq!(codes.status, StatusCode::OK, "{}", codes.text());
    codes.assert_page();
    let listed = codes.text().matches("<li><code>").count();
    assert_eq!(listed, 10, "{}", codes.text());
    assert!(
        codes.token().is_none(),
        "the codes page is not the landing page"
    );
    let session = hidden(&codes, "session").expect("the session rides in the form");
    assert_eq!(amr_of(&w, &session).await, ["pwd", "otp", "mfa"]);

    // Continue: the landing page; a forged continue is refused.
    let forged = w
        .post_form("/login/continue", &[("session", &session)], None)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let landing = b.submit("/login/continue", &[("session", &session)]).await;
    assert_eq!(landing.status, StatusCode::OK, "{}", landing.text());
    assert_eq!(landing.token().as_deref(), Some(session.as_str()));

    // The next sign-in asks for the enrolled factor; the codes are not shown again.
    let mut b = Browser::new(&w);
    let next = b.password("eve@example.com", None).await;
    assert_second_step(&next);
    assert!(!next.text().contains("<li><code>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_browser_an_expired_challenge_and_forged_forms_are_refused() {
    let w = world().await;
    let totp = with_totp(&w, "max@example.com").await;
    let t = settled_now().await;
    let code = totp.code(t, 0);
    let mut a = Browser::new(&w);
    assert_second_step(&a.password("max@example.com", None).await);

    // Another browser, with its own form but not the challenge cookie.
    let mut other = Browser::new(&w);
    other.get("/login").await;
    let r = other
        .submit("/login/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("expired or was already finished"));
    // With a made-up challenge cookie.
    other.jar.insert("portcullis-mfa".into(), "x".repeat(43));
    let r = other
        .submit("/login/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.token().is_none());

    // The right browser without the form's CSRF token, or cross-site: refused before the code
    // is looked at (the code still works afterwards).
    let jar = a.cookies().unwrap();
    let r = w
        .post_form("/login/second-factor", &[("code", &code)], Some(&jar))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let body = format!("csrf={}&code={code}", a.jar["portcullis-csrf"]);
    let cross = w
        .send(
            Request::post("/login/second-factor")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &jar)
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.token().is_none());

    // Expired: the challenge is gone once its five minutes have passed.
    let later = chrono::Utc::now() + chrono::Duration::seconds(301);
    w.store
        .purge_mfa_pending(later, later)
        .await
        .expect("purge");
    let r = a.submit("/login/second-factor", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text().contains("name=\"password\""),
        "back to the password"
    );
    assert!(!a.jar.contains_key("portcullis-mfa"));
    assert!(r.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_sign_in_asks_the_second_factor_then_continues() {
    let w = world().await;
    let totp = with_totp(&w, "oli@example.com").await;
    let t = settled_now().await;
    let pending = "c2VhbGVkLXJlcXVlc3Q";
    let mut b = Browser::new(&w);
    let step = b.password("oli@example.com", Some(pending)).await;
    assert_second_step(&step);
    assert_eq!(hidden(&step, "r").as_deref(), Some(pending));
    assert!(!b.jar.contains_key("portcullis-session"));
    let r = b
        .submit(
            "/login/second-factor",
            &[("r", pending), ("code", &totp.code(t, 0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        r.header("location"),
        format!("/oauth2/authorize/resume?r={pending}")
    );
    let session = b.jar["portcullis-session"].clone();
    assert_eq!(amr_of(&w, &session).await, ["pwd", "otp", "mfa"]);
}

/// Ada signs in upstream once (JIT), then enrols a TOTP factor.
async fn ada_with_totp(w: &World) -> Totp {
    let (location, binding) = w.begin().await;
    let (code, q) = w.idp.authorize(&location, "ada-1", "ada@example.com");
    let first = w.callback(&code, &q["state"], Some(&binding)).await;
    assert!(first.token().is_some(), "{}", first.text());
    let ada = w
        .store
        .get_user_by_email("ada@example.com")
        .await
        .unwrap()
        .expect("ada");
    w.enrol_totp(&ada).await
}

/// A provider trusted for MFA whose sign-in says `mfa`: no Portcullis step on top.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_upstream_mfa_needs_no_second_step() {
    let w = world_with(|p| p.trust_upstream_mfa = true).await;
    ada_with_totp(&w).await;
    *w.idp.amr.lock() = Some(vec!["pwd".into(), "mfa".into()]);
    let (location, binding) = w.begin().await;
    let (code, q) = w.idp.authorize(&location, "ada-1", "ada@example.com");
    let r = w.callback(&code, &q["state"], Some(&binding)).await;
    let token = r.token().expect("landing page at once");
    assert_eq!(amr_of(&w, &token).await, ["fed", "mfa"]);
    // Without `mfa` upstream, the factor is asked.
    *w.idp.amr.lock() = Some(vec!["pwd".into()]);
    let (location, binding) = w.begin().await;
    let (code, q) = w.idp.authorize(&location, "ada-1", "ada@example.com");
    assert_second_step(&w.callback(&code, &q["state"], Some(&binding)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_sign_in_gets_the_portcullis_second_factor() {
    let w = world().await;
    // Untrusted for MFA (the default), even an upstream `mfa` does not count.
    *w.idp.amr.lock() = Some(vec!["pwd".into(), "mfa".into()]);
    let totp = ada_with_totp(&w).await;
    let t = settled_now().await;

    let mut b = Browser::new(&w);
    let start = w.start_url().await;
    let r = b.get(&start).await;
    let (code, q) = w
        .idp
        .authorize(r.header("location"), "ada-1", "ada@example.com");
    let step = b
        .get(&format!(
            "/login/sso/callback?code={}&state={}",
            form_escape(&code),
            form_escape(&q["state"])
        ))
        .await;
    assert_second_step(&step);
    let ok = b
        .submit("/login/second-factor", &[("code", &totp.code(t, 0))])
        .await;
    let token = ok.token().expect("landing page");
    assert_eq!(amr_of(&w, &token).await, ["fed", "otp", "mfa"]);
    // Still capped by the upstream ID token (300 s) plus the provider's allowance.
    let p = w.engine.authenticate(&token).await.unwrap();
    let cap = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(p.expires_at.expect("expiry") < cap);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_sign_in_of_start_login_hands_back_the_token() {
    let w = world().await;
    let totp = with_totp(&w, "sam@example.com").await;
    let t = settled_now().await;
    let token = w
        .engine
        .own_sign_in_token(Some("sam@example.com"))
        .await
        .unwrap();
    let url = format!("/login?t={token}");
    // An upstream start URL refuses it (and uses it up), and the other way round.
    let mut b = Browser::new(&w);
    let page = b.get(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("value=\"sam@example.com\""));
    expired_page(&w.get(&url, None).await);
    let upstream = w.start_url().await;
    let t_up = upstream.strip_prefix("/login/sso/start?t=").unwrap();
    expired_page(&w.get(&format!("/login?t={t_up}"), None).await);
    let own = w.engine.own_sign_in_token(None).await.unwrap();
    expired_page(&w.get(&format!("/login/sso/start?t={own}"), None).await);

    let step = b
        .submit("/login", &[("email", "sam@example.com"), ("password", PW)])
        .await;
    assert_second_step(&step);
    let ok = b
        .submit("/login/second-factor", &[("code", &totp.code(t, 0))])
        .await;
    let session = ok.token().expect("landing page");
    assert_eq!(amr_of(&w, &session).await, ["pwd", "otp", "mfa"]);
}

/// Enrolment inside a sign-in that continues an OpenID authorization: the codes page sets the
/// session cookie and its "Continue" goes back to the authorization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_sign_in_enrols_then_continues() {
    let w = world().await;
    member(&w, "ida@example.com").await;
    w.set_mfa_mode("acme", MfaMode::Required).await;
    let pending = "c2VhbGVkLXJlcXVlc3Q";
    let mut b = Browser::new(&w);
    let page = b.password("ida@example.com", Some(pending)).await;
    assert_eq!(hidden(&page, "r").as_deref(), Some(pending));
    let uri = hidden(&page, "otpauth_uri").unwrap().replace("&amp;", "&");
    let factor = hidden(&page, "factor").unwrap();
    let t = settled_now().await;
    let codes = b
        .submit(
            "/login/enrol",
            &[
                ("r", pending),
                ("factor", &factor),
                ("otpauth_uri", &uri),
                ("code", &totp_code(&uri, t)),
            ],
        )
        .await;
    assert_eq!(codes.status, StatusCode::OK, "{}", codes.text());
    assert_eq!(codes.text().matches("<li><code>").count(), 10);
    assert!(codes.text().contains(&format!(
        "id=\"continue\" href=\"/oauth2/authorize/resume?r={pending}\""
    )));
    assert!(
        hidden(&codes, "session").is_none(),
        "the token stays in the HttpOnly cookie"
    );
    let session = b.jar["portcullis-session"].clone();
    assert_eq!(amr_of(&w, &session).await, ["pwd", "otp", "mfa"]);
}
