//! Second factors over HTTP (docs/design/mfa.md): enrolment, the JSON sign-in with its second
//! step, replay and reuse refusals, recent authentication, credentials.

use super::*;

/// Unix seconds now, out of the last seconds of a 30 s step (so a code stays valid for the
/// request that follows).
async fn settled_now() -> u64 {
    loop {
        let t = chrono::Utc::now().timestamp();
        if t % 30 < 26 {
            return u64::try_from(t).unwrap_or_default();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn code(uri: &str, unix: u64) -> String {
    totp_rs::Totp::from_url(uri)
        .expect("otpauth uri")
        .generate(unix)
        .to_string()
}

impl World {
    async fn sign_in(&self, email: &str) -> Reply {
        let body = json!({"email": email, "password": PW});
        self.post("/account/v1/sign-in", None, body).await
    }

    /// Signs in with the password and the second factor `proof`.
    async fn second_step(&self, challenge: &str, proof: Value) -> Reply {
        let mut body = proof;
        body["challenge"] = json!(challenge);
        self.post("/account/v1/sign-in/second-factor", None, body)
            .await
    }

    /// Enrols TOTP on a fresh session; returns the URI and the recovery codes.
    async fn enrol(&self, email: &str) -> (String, Vec<String>) {
        let token = self.login(email, PW).await.expect("login");
        let r = self
            .post(
                "/account/v1/factors/totp",
                Some(&token),
                json!({"name": "phone"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let uri = r.body["otpauthUri"].as_str().unwrap_or_default().to_owned();
        assert!(uri.starts_with("otpauth://totp/Portcullis:"), "{uri}");
        let svg = r.body["qrSvg"].as_str().unwrap_or_default();
        assert!(svg.contains("<svg") && !svg.contains("<script"), "{svg}");
        let id = r.body["factorId"].as_str().unwrap_or_default().to_owned();
        let path = format!("/account/v1/factors/totp/{id}/confirm");
        let wrong = self
            .post(&path, Some(&token), json!({"code": "000000"}))
            .await;
        wrong.account_problem(StatusCode::UNAUTHORIZED, "invalid_code");
        let t = settled_now().await;
        let r = self
            .post(&path, Some(&token), json!({"code": code(&uri, t - 30)}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["factor"]["kind"], "totp");
        let codes: Vec<String> = r.body["recoveryCodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (uri, codes)
    }
}

#[tokio::test]
async fn enrol_and_sign_in_with_a_second_factor() {
    let w = world().await;
    w.user("ann@example.com").await;
    // Without a factor the JSON sign-in signs in at once.
    let r = w.sign_in("ann@example.com").await;
    assert_eq!(r.body["status"], "signed_in", "{}", r.body);
    let token = r.body["token"].as_str().unwrap_or_default().to_owned();
    let list = w.get("/account/v1/factors", &token).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["signIn"], "password");
    assert_eq!(list.body["policy"]["mfa"], "optional");

    let (uri, codes) = w.enrol("ann@example.com").await;
    assert_eq!(codes.len(), 10);
    let list = w.get("/account/v1/factors", &token).await;
    assert_eq!(list.body["signIn"], "second_factor");
    assert_eq!(list.body["recoveryCodesLeft"], 10);
    assert_eq!(list.body["factors"][0]["name"], "phone");

    // A wrong password answers as ever; the right one gets a challenge, not a token.
    let r = w
        .post(
            "/account/v1/sign-in",
            None,
            json!({"email": "ann@example.com", "password": "nope nope nope"}),
        )
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = w.sign_in("ann@example.com").await;
    assert_eq!(r.body["status"], "second_factor", "{}", r.body);
    assert!(r.body.get("token").is_none());
    assert_eq!(r.body["methods"], json!(["totp"]));
    let challenge = r.body["challenge"].as_str().unwrap_or_default().to_owned();
    let t = settled_now().await;
    let now_code = code(&uri, t);
    let r = w
        .second_step(&challenge, json!({"totpCode": now_code}))
        .await;
    assert_eq!(r.body["status"], "signed_in", "{}", r.body);
    assert_eq!(r.body["authMethods"], json!(["pwd", "otp", "mfa"]));
    let mfa_token = r.body["token"].as_str().unwrap_or_default().to_owned();
    // The challenge is spent; the code too, on a new challenge.
    let r = w
        .second_step(&challenge, json!({"totpCode": now_code}))
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    let r = w.sign_in("ann@example.com").await;
    let challenge = r.body["challenge"].as_str().unwrap_or_default().to_owned();
    let r = w
        .second_step(&challenge, json!({"totpCode": now_code}))
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_code");
    // A recovery code, once.
    let r = w
        .second_step(&challenge, json!({"recoveryCode": codes[0]}))
        .await;
    assert_eq!(r.body["authMethods"], json!(["pwd", "mfa"]), "{}", r.body);
    let r = w.sign_in("ann@example.com").await;
    let challenge = r.body["challenge"].as_str().unwrap_or_default().to_owned();
    let r = w
        .second_step(&challenge, json!({"recoveryCode": codes[0]}))
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_code");
    // Bodies: exactly one proof.
    let r = w
        .second_step(&challenge, json!({"totpCode": "1", "recoveryCode": "2"}))
        .await;
    r.account_problem(StatusCode::BAD_REQUEST, "invalid_request");

    // The Nominal API key needs the session's second factor.
    let key = json!({"apiKeyName": "laptop"});
    let r = w
        .post("/api/authorization/v1/api-key", Some(&token), key.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = w
        .post("/api/authorization/v1/api-key", Some(&mfa_token), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Password logins of the APIs refuse after the right password.
    let refused = w.login("ann@example.com", PW).await;
    assert!(
        matches!(refused, Err(portcullis_core::CoreError::Mfa(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn factor_changes_need_a_recent_authentication() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    let (uri, _) = w.enrol("ann@example.com").await;
    let id = w.engine.mfa_state(ann.id).await.expect("state").factors[0].id;
    // A session without the factor (as an IdP sign-in would be).
    let token = w.session(&ann, OrgChoice::Default).await;
    let path = format!("/account/v1/factors/{id}");
    w.delete(&path, &token)
        .await
        .account_problem(StatusCode::FORBIDDEN, "reauthentication_required");
    w.post("/account/v1/recovery-codes", Some(&token), json!({}))
        .await
        .account_problem(StatusCode::FORBIDDEN, "reauthentication_required");
    // The password is not enough for a user with a factor; a code is.
    let r = w
        .post(
            "/account/v1/reauthenticate",
            Some(&token),
            json!({"password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    w.delete(&path, &token)
        .await
        .account_problem(StatusCode::FORBIDDEN, "reauthentication_required");
    let r = w
        .post(
            "/account/v1/reauthenticate",
            Some(&token),
            json!({"password": "wrong wrong wrong"}),
        )
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = w
        .post(
            "/account/v1/reauthenticate",
            Some(&token),
            json!({"password": PW, "totpCode": "123456"}),
        )
        .await;
    r.account_problem(StatusCode::BAD_REQUEST, "invalid_request");
    let t = settled_now().await;
    let r = w
        .post(
            "/account/v1/reauthenticate",
            Some(&token),
            json!({"totpCode": code(&uri, t)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["validUntil"].is_string());
    let r = w
        .post("/account/v1/recovery-codes", Some(&token), json!({}))
        .await;
    assert_eq!(r.body["recoveryCodes"].as_array().map(Vec::len), Some(10));
    w.delete("/account/v1/factors/not-a-uuid", &token)
        .await
        .account_problem(StatusCode::NOT_FOUND, "not_found");
    let r = w.delete(&path, &token).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let list = w.get("/account/v1/factors", &token).await;
    assert_eq!(list.body["factors"], json!([]));
    assert_eq!(list.body["recoveryCodesLeft"], 0);
}

#[tokio::test]
async fn a_policy_requiring_a_factor_or_allowing_passkeys_only() {
    let w = world().await;
    w.user("ann@example.com").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    let passkeys_only = MfaPolicy {
        mode: MfaMode::Optional,
        passkeys_only: true,
    };
    w.store
        .set_org_mfa_policy(w.org.id, passkeys_only, chrono::Utc::now())
        .await
        .expect("policy");
    w.post("/account/v1/factors/totp", Some(&token), json!({}))
        .await
        .account_problem(StatusCode::FORBIDDEN, "factor_kind_not_allowed");
    let required = MfaPolicy {
        mode: MfaMode::Required,
        passkeys_only: false,
    };
    w.store
        .set_org_mfa_policy(w.org.id, required, chrono::Utc::now())
        .await
        .expect("policy");
    let r = w.sign_in("ann@example.com").await;
    assert_eq!(r.body["status"], "enrolment_required", "{}", r.body);
    assert_eq!(r.body["methods"], json!(["totp", "webauthn"]));
}
