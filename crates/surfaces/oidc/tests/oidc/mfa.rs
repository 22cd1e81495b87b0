//! Multi-factor sign-in at the provider (docs/design/mfa.md, "Browser sign-in"): `acr` and
//! `amr` from the browser's sign-in, `acr_values` asking for a second factor, and `max_age`.

use portcullis_core::engine::SecondFactorProof;
use portcullis_core::factors::SignInStep;
use portcullis_core::oidc::{ACR_MFA, ACR_PAPE_MFA};
use portcullis_testkit::mfa::settled_now;
use portcullis_testkit::{PASSWORD, ctx};

use super::*;

impl World {
    /// The browser's session cookie after password and TOTP, as the sign-in pages start it.
    async fn mfa_cookie(&self, code: &str) -> String {
        let step = self
            .env
            .engine
            .sign_in_password(
                &self.user.email,
                PASSWORD,
                OrgChoice::DefaultOrNone,
                None,
                &ctx(),
            )
            .await
            .expect("password");
        let SignInStep::SecondFactor(ch) = step else {
            panic!("expected the second step, got {step:?}");
        };
        let grant = self
            .env
            .engine
            .complete_second_factor(&ch.handle, SecondFactorProof::Totp(code), &ctx())
            .await
            .expect("second factor");
        format!("portcullis-session={}", grant.token.token)
    }

    async fn id_token(&self, cookie: &str, extra: &[(&str, &str)]) -> (Value, Value) {
        let code = self.code(cookie, extra).await;
        let r = self.redeem(&code).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        (
            claims(r.body["id_token"].as_str().expect("id_token")),
            r.body,
        )
    }
}

#[tokio::test]
async fn discovery_lists_the_acr_values() {
    let w = world().await;
    let r = w.app.get("/.well-known/openid-configuration").send().await;
    assert_eq!(
        r.body["acr_values_supported"],
        serde_json::json!(["1", ACR_MFA, ACR_PAPE_MFA])
    );
}

#[tokio::test]
async fn acr_and_amr_come_from_the_browser_sign_in() {
    let w = world().await;
    // A password sign-in: one factor.
    let cookie = w.cookie_for(&w.user).await;
    let (id, _) = w.id_token(&cookie, &[]).await;
    assert_eq!(id["acr"], "1");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));

    let totp = w.env.enrol_totp(&w.user).await;
    let t = settled_now().await;
    let cookie = w.mfa_cookie(&totp.code(t, 0)).await;
    let (id, body) = w.id_token(&cookie, &[]).await;
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    // The requested value is named; a refresh keeps it.
    let (id, body2) = w
        .id_token(
            &cookie,
            &[("acr_values", &format!("urn:other {ACR_PAPE_MFA}"))],
        )
        .await;
    assert_eq!(id["acr"], ACR_PAPE_MFA);
    let r = w.refresh(body2["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], ACR_PAPE_MFA);
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    let r = w.refresh(body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(claims(r.body["id_token"].as_str().unwrap())["acr"], ACR_MFA);
}

#[tokio::test]
async fn acr_values_asking_for_mfa_prompt_the_second_factor() {
    let w = world().await;
    let totp = w.env.enrol_totp(&w.user).await;
    let t = settled_now().await;
    // Signed in with the password only (an older sign-in): sign in again, with the factor.
    let pwd_only = w.cookie_for(&w.user).await;
    for acr in [ACR_MFA, ACR_PAPE_MFA] {
        let r = w
            .authorize(
                &w.authorize_url("app", &[("acr_values", acr)]),
                Some(&pwd_only),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(r.header("location").starts_with("/login?r="), "{acr}");
    }
    let r = w
        .authorize(
            &w.authorize_url("app", &[("acr_values", ACR_MFA), ("prompt", "none")]),
            Some(&pwd_only),
        )
        .await;
    assert_eq!(query_of(r.header("location"))["error"], "login_required");
    // One factor is acceptable too: no prompt.
    let (id, _) = w
        .id_token(&pwd_only, &[("acr_values", &format!("{ACR_MFA} 1"))])
        .await;
    assert_eq!(id["acr"], "1");
    // With the factor: the code, and the acr asked for.
    let cookie = w.mfa_cookie(&totp.code(t, 0)).await;
    let (id, _) = w.id_token(&cookie, &[("acr_values", ACR_MFA)]).await;
    assert_eq!(id["acr"], ACR_MFA);
}

#[tokio::test]
async fn a_user_without_a_factor_gets_unmet_authentication_requirements() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .authorize(
            &w.authorize_url("app", &[("acr_values", ACR_MFA)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let q = query_of(r.header("location"));
    assert!(r.header("location").starts_with(REDIRECT));
    assert_eq!(q["error"], "unmet_authentication_requirements");
    assert_eq!(q["state"], "st-123");
    // Unless the policy makes them enrol: then the sign-in page (which enrols) comes first.
    w.env.set_mfa_mode("acme", MfaMode::Required).await;
    let r = w
        .authorize(
            &w.authorize_url("app", &[("acr_values", ACR_MFA)]),
            Some(&cookie),
        )
        .await;
    assert!(
        r.header("location").starts_with("/login?r="),
        "{}",
        r.header("location")
    );
}

#[tokio::test]
async fn max_age_asks_for_the_second_factor_again() {
    let w = world().await;
    let totp = w.env.enrol_totp(&w.user).await;
    let t = settled_now().await;
    let cookie = w.mfa_cookie(&totp.code(t, 0)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = w
        .authorize(&w.authorize_url("app", &[("max_age", "1")]), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.header("location").starts_with("/login?r="));
    // The sign-in that follows stops after the password for the factor again.
    let step = w
        .env
        .engine
        .sign_in_password(
            &w.user.email,
            PASSWORD,
            OrgChoice::DefaultOrNone,
            None,
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(step, SignInStep::SecondFactor(_)), "{step:?}");
}
