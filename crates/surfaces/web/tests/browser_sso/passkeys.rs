//! Passkeys on the sign-in pages (docs/design/mfa.md, "Passkeys in the browser"), with a
//! software authenticator answering what the pages hand the script: the passwordless sign-in
//! (`/login/passkey`, `/login/passkey/finish`) and "Use a passkey" in the second step; the
//! script-only CSP of those pages; and the refusals (CSRF, `Origin`, spent or made-up
//! ceremonies, unknown credentials, answers that are not credentials).

use portcullis_testkit::passkey::SoftKey;

use super::second_factor::{Browser, amr_of, hidden, member};
use super::*;

/// A public URL a browser treats as a secure context, so the pages offer passkeys.
const LOCAL: &str = "http://localhost:8080";

async fn local_world() -> World {
    world_full(|_| {}, |c| c.public_url = LOCAL.into()).await
}

/// A user of acme with a registered software passkey.
async fn with_passkey(w: &World, email: &str) -> (User, SoftKey) {
    let u = member(w, email).await;
    let mut key = SoftKey::new(LOCAL);
    w.enrol_passkey(&u, &mut key).await;
    (u, key)
}

/// An attribute's value on a page, HTML-unescaped.
fn attr(r: &Reply, name: &str) -> Option<String> {
    let body = r.text();
    let at = body.find(&format!("{name}=\""))? + name.len() + 2;
    let raw = &body[at..at + body[at..].find('"')?];
    Some(
        raw.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The page's options for `navigator.credentials.get`.
fn page_options(r: &Reply) -> Value {
    serde_json::from_str(&attr(r, "data-options").expect("options in the page")).unwrap()
}

/// A page that runs the passkey script: only the same-origin file, under the strict CSP plus
/// `script-src 'self'` (and `connect-src 'self'` where the script fetches its options).
fn assert_script_page(r: &Reply, fetches: bool) {
    let connect = if fetches { "; connect-src 'self'" } else { "" };
    assert_eq!(
        r.header("content-security-policy"),
        format!("{CSP}; script-src 'self'{connect}")
    );
    let body = r.text();
    let scripts: Vec<&str> = body.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "{body}");
    assert!(
        scripts[0].starts_with(" src=\"/assets/webauthn.js?v="),
        "{}",
        scripts[0]
    );
}

/// The passwordless options, as the page's script fetches them.
async fn options(b: &mut Browser<'_>) -> Reply {
    b.submit_from(LOCAL, "/login/passkey", &[]).await
}

fn json_of(r: &Reply) -> Value {
    serde_json::from_str(&r.text()).unwrap_or_else(|_| panic!("not JSON: {}", r.text()))
}

/// The same answer with another credential id (one no user has).
fn unknown_credential(answer: &Value) -> Value {
    let mut a = answer.clone();
    let id = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    a["id"] = json!(id);
    a["rawId"] = json!(id);
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwordless_sign_in_with_a_passkey_is_two_factors() {
    let w = local_world().await;
    let (pia, mut key) = with_passkey(&w, "pia@example.com").await;
    let mut b = Browser::new(&w);
    let page = b.get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_script_page(&page, true);
    assert!(page.text().contains("data-passkey=\"get\""));
    assert!(page.text().contains(">Sign in with a passkey</button>"));
    // Without script the passkey part stays hidden; the password form is the page.
    assert!(
        page.text()
            .contains("id=\"passkey-sign-in\" data-passkey-reveal hidden")
    );

    let o = options(&mut b).await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.text());
    assert_eq!(o.header("cache-control"), "no-store");
    let o = json_of(&o);
    assert_eq!(o["publicKey"]["rpId"], "localhost");
    assert_eq!(o["publicKey"]["userVerification"], "required");
    let ceremony = o["ceremony"].as_str().unwrap().to_owned();
    let answer = w
        .discoverable_answer(&pia, &mut key, &o["publicKey"])
        .await
        .to_string();
    let fields = [
        ("ceremony", ceremony.as_str()),
        ("credential", answer.as_str()),
    ];
    let r = b.submit_from(LOCAL, "/login/passkey/finish", &fields).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let token = r.token().expect("the landing page's token");
    assert_eq!(amr_of(&w, &token).await, vec!["swk", "mfa"]);

    // The same answer again: its ceremony is spent.
    b.get("/login").await;
    let again = b.submit_from(LOCAL, "/login/passkey/finish", &fields).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());
    assert!(again.text().contains("The passkey request expired"));
    assert!(again.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwordless_refusals_are_shown_next_to_the_button() {
    let w = local_world().await;
    let (pia, mut key) = with_passkey(&w, "pia@example.com").await;
    let mut b = Browser::new(&w);
    b.get("/login").await;

    // The options: only for this site's page with its CSRF token.
    let no_csrf = w
        .app
        .post("/login/passkey")
        .form(&[("csrf", "")])
        .cookie(b.cookies().as_deref())
        .send()
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert!(
        json_of(&no_csrf)["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let elsewhere = b
        .submit_from("https://evil.example", "/login/passkey", &[])
        .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);

    let o = json_of(&options(&mut b).await);
    let ceremony = o["ceremony"].as_str().unwrap().to_owned();
    let answer = w.discoverable_answer(&pia, &mut key, &o["publicKey"]).await;
    let answer_text = answer.to_string();
    let good = [
        ("ceremony", ceremony.as_str()),
        ("credential", answer_text.as_str()),
    ];

    // The finish: a cross-site post or a missing token changes nothing (the ceremony stays).
    let r = b
        .submit_from("https://evil.example", "/login/passkey/finish", &good)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.token().is_none());
    let r = w
        .app
        .post("/login/passkey/finish")
        .form(&[("csrf", "made-up"), good[0], good[1]])
        .cookie(b.cookies().as_deref())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // Not a credential; a ceremony never issued.
    b.get("/login").await;
    let r = b
        .submit_from(
            LOCAL,
            "/login/passkey/finish",
            &[good[0], ("credential", "{not json")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text()
            .contains("id=\"passkey-error\" class=\"field-error\" role=\"alert\">")
    );
    assert!(r.text().contains("passkey answer was not valid"));
    b.get("/login").await;
    let made_up = "m".repeat(43);
    let r = b
        .submit_from(
            LOCAL,
            "/login/passkey/finish",
            &[("ceremony", &made_up), good[1]],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("The passkey request expired"));

    // A credential no user has: refused, one answer, next to the button.
    b.get("/login").await;
    let unknown = unknown_credential(&answer).to_string();
    let r = b
        .submit_from(
            LOCAL,
            "/login/passkey/finish",
            &[good[0], ("credential", &unknown)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert!(r.text().contains("That passkey was not accepted"));
    assert!(r.token().is_none());
    // That spent the ceremony: the right answer to it comes too late.
    b.get("/login").await;
    let r = b.submit_from(LOCAL, "/login/passkey/finish", &good).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_answers_the_second_step() {
    let w = local_world().await;
    let (_, mut key) = with_passkey(&w, "pia@example.com").await;
    let mut b = Browser::new(&w);
    let step = b.password("pia@example.com", None).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.text());
    assert_script_page(&step, false);
    assert!(step.text().contains(">Use a passkey</button>"));
    // No authenticator app: no code field; the recovery codes stay.
    assert!(!step.text().contains("name=\"code\""));
    assert!(step.text().contains("id=\"use-recovery-code\""));

    // A credential the user does not have: the step again, the reason by the button.
    let ceremony = hidden(&step, "ceremony").expect("ceremony");
    let answer = key.get(&page_options(&step));
    let unknown = unknown_credential(&answer).to_string();
    let fields = [
        ("ceremony", ceremony.as_str()),
        ("credential", unknown.as_str()),
    ];
    let wrong = b.submit_from(LOCAL, "/login/second-factor", &fields).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert!(wrong.text().contains("That passkey was not accepted"));
    assert_script_page(&wrong, false);

    // The spent ceremony again: expired, the sign-in still waits with a fresh one.
    let answer = answer.to_string();
    let spent = [
        ("ceremony", ceremony.as_str()),
        ("credential", answer.as_str()),
    ];
    let r = b.submit_from(LOCAL, "/login/second-factor", &spent).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("The passkey request expired"));

    // A cross-site post is refused before the answer is looked at.
    let ceremony = hidden(&r, "ceremony").expect("a fresh ceremony");
    assert!(r.text().contains(&ceremony));
    let answer = key.get(&page_options(&r)).to_string();
    let fields = [
        ("ceremony", ceremony.as_str()),
        ("credential", answer.as_str()),
    ];
    let r = b
        .submit_from("https://evil.example", "/login/second-factor", &fields)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // The right answer (a fresh page, so a fresh CSRF token): signed in, two factors.
    let step = b.password("pia@example.com", None).await;
    let ceremony = hidden(&step, "ceremony").expect("ceremony");
    let answer = key.get(&page_options(&step)).to_string();
    let fields = [
        ("ceremony", ceremony.as_str()),
        ("credential", answer.as_str()),
    ];
    let done = b.submit_from(LOCAL, "/login/second-factor", &fields).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let token = done.token().expect("signed in");
    assert_eq!(amr_of(&w, &token).await, vec!["pwd", "swk", "mfa"]);
    // The sign-in is finished (its form token and challenge cookie cleared): the answer again
    // signs nothing in.
    let again = b.submit_from(LOCAL, "/login/second-factor", &fields).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.text());
    assert!(again.token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_passkeys_offered_where_a_browser_cannot_use_them() {
    // http://portcullis.test is not a secure context: no script, no passkey button.
    let w = world().await;
    let page = w.get("/login", None).await;
    page.assert_page();
    assert!(!page.text().contains("passkey"));
    let r = w.post_form("/login/passkey", &[("csrf", "x")], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkeys_only_policy_enrols_a_passkey_inside_the_sign_in() {
    let w = local_world().await;
    let pia = member(&w, "pia@example.com").await;
    let org = w.store.get_org_by_name("acme").await.unwrap().expect("org");
    let policy = MfaPolicy {
        mode: MfaMode::Required,
        passkeys_only: true,
    };
    w.store
        .set_org_mfa_policy(org.id, policy, chrono::Utc::now())
        .await
        .expect("policy");
    let mut b = Browser::new(&w);
    let page = b.password("pia@example.com", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_script_page(&page, false);
    assert!(page.text().contains("data-passkey=\"create\""));
    assert!(
        !page.text().contains("otpauth://"),
        "no authenticator app offered"
    );

    // Not an answer: the page again with a fresh ceremony, the sign-in kept.
    let ceremony = hidden(&page, "ceremony").expect("ceremony");
    let r = b
        .submit_from(
            LOCAL,
            "/login/enrol",
            &[
                ("ceremony", &ceremony),
                ("credential", "null"),
                ("name", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("passkey answer was not valid"));
    let ceremony = hidden(&r, "ceremony").expect("a fresh ceremony");
    let mut key = SoftKey::new(LOCAL);
    let credential = key.create(&page_options(&r)).to_string();
    let done = b
        .submit_from(
            LOCAL,
            "/login/enrol",
            &[
                ("ceremony", &ceremony),
                ("credential", &credential),
                ("name", "Laptop"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(done.text().matches("<li><code>").count(), 10, "codes, once");
    let state = w.engine.mfa_state(pia.id).await.unwrap();
    assert_eq!(state.factors.len(), 1);
    assert_eq!(state.factors[0].name, "Laptop");
    // Continue: the landing page of a two-factor session.
    let token = hidden(&done, "session").expect("the session rides in the form");
    let landing = b.submit("/login/continue", &[("session", &token)]).await;
    assert_eq!(landing.token().as_deref(), Some(token.as_str()));
    assert_eq!(amr_of(&w, &token).await, vec!["pwd", "swk", "mfa"]);
}
