//! Password changes and forced resets over HTTP.

use super::*;

#[tokio::test]
async fn changing_the_password_over_http() {
    let w = world().await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let other = w.login("ann@example.com", PW).await.expect("login");

    let r = w.change_password(&me, "wrong one!", NEW_PW, true).await;
    let detail = r.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(detail.contains("current password"), "{detail}");
    for (weak, why) in [
        ("short", "at least 8 characters"),
        ("password123", "most common passwords"),
        ("ann@example.com", "email"),
        (PW, "differ"),
    ] {
        let r = w.change_password(&me, PW, weak, true).await;
        let detail = r.account_problem(StatusCode::BAD_REQUEST, "invalid_argument");
        assert!(detail.contains(why), "{weak}: {detail}");
    }
    let r = w.change_password(&me, PW, &"y".repeat(1025), true).await;
    assert!(
        r.account_problem(StatusCode::BAD_REQUEST, "invalid_argument")
            .contains("1024 bytes")
    );
    // Malformed bodies are problems too.
    let r = w
        .post(
            "/account/v1/password",
            Some(&me),
            json!({"currentPassword": PW}),
        )
        .await;
    r.account_problem(StatusCode::BAD_REQUEST, "invalid_request");
    let req = Request::post("/account/v1/password")
        .header("authorization", format!("Bearer {me}"))
        .header("content-type", "text/plain")
        .body(Body::from("hello"))
        .expect("request");
    w.send(req)
        .await
        .account_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert_eq!(
        w.get(PROFILE, &other).await.status,
        StatusCode::OK,
        "nothing changed yet"
    );

    let r = w.change_password(&me, PW, NEW_PW, true).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        w.get(PROFILE, &other).await.status,
        StatusCode::FORBIDDEN,
        "other sessions ended"
    );
    assert_eq!(
        w.get(PROFILE, &me).await.status,
        StatusCode::OK,
        "the caller's stays"
    );
    assert!(
        w.login("ann@example.com", PW).await.is_err(),
        "the old password fails"
    );
    w.login("ann@example.com", NEW_PW)
        .await
        .expect("the new one works");
}

#[tokio::test]
async fn credentials_may_not_use_the_account_api() {
    let w = world().await;
    w.user("ann@example.com").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    let p = w.principal(&token).await;
    let (_, key) = w
        .engine
        .create_api_key(&p, "ci", None, &AuditContext::default())
        .await
        .expect("api key");
    let r = w.change_password(&key, PW, NEW_PW, false).await;
    r.account_problem(StatusCode::FORBIDDEN, "credential_not_allowed");
    w.get("/account/v1/sessions", &key)
        .await
        .account_problem(StatusCode::FORBIDDEN, "credential_not_allowed");
    w.login("ann@example.com", PW)
        .await
        .expect("password unchanged");
}

#[tokio::test]
async fn a_forced_reset_is_completed_with_the_one_time_code_without_revealing_accounts() {
    let w = world().await;
    w.user("ann@example.com").await;
    let old_session = w.login("ann@example.com", PW).await.expect("login");
    let reset = portcullis_core::admin::Admin::new(w.store.clone(), &config(), "test")
        .require_password_reset("ann@example.com", false)
        .await
        .expect("force reset");
    let code = reset.code.to_string();
    assert!(
        w.login("ann@example.com", PW).await.is_err(),
        "login refuses it"
    );
    w.engine
        .unlock("ann@example.com", &AuditContext::default())
        .await
        .expect("unlock");

    const PATH: &str = "/account/v1/password/reset-required";
    let body =
        |email: &str, code: &str| json!({"email": email, "resetCode": code, "newPassword": NEW_PW});
    let unknown = w.post(PATH, None, body("nobody@example.com", &code)).await;
    let wrong = w
        .post(PATH, None, body("ann@example.com", "wrong one!"))
        .await;
    // The old password alone does not do it.
    let old = w.post(PATH, None, body("ann@example.com", PW)).await;
    let a = unknown.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let b = wrong.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let c = old.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(
        a == b && b == c,
        "the same answer for an unknown email and a wrong code"
    );
    let strip = |r: &Reply| {
        let mut v = r.body.clone();
        v["requestId"] = Value::Null;
        v
    };
    assert_eq!(strip(&unknown), strip(&wrong));
    // The old request shape is refused as such.
    let r = w
        .post(
            PATH,
            None,
            json!({"email": "ann@example.com", "currentPassword": PW, "newPassword": NEW_PW}),
        )
        .await;
    r.account_problem(StatusCode::BAD_REQUEST, "invalid_request");

    w.engine
        .unlock("ann@example.com", &AuditContext::default())
        .await
        .expect("unlock");
    let r = w.post(PATH, None, body(" ANN@example.com", &code)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        w.get(PROFILE, &old_session).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(w.login("ann@example.com", PW).await.is_err());
    let fresh = w
        .login("ann@example.com", NEW_PW)
        .await
        .expect("new password");
    assert_eq!(w.get(PROFILE, &fresh).await.status, StatusCode::OK);
    // Spent.
    let again = json!({"email": "ann@example.com", "resetCode": code, "newPassword": "a third long password"});
    w.post(PATH, None, again)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

/// A flagged account cannot log in with its password, but an IdP sign-in (the federation
/// crate's logins end in `finish_login`, `amr = ["fed"]`) is not refused by the flag. That
/// session must not replace the password with only the old one: 403, nothing changed.
#[tokio::test]
async fn a_user_flagged_for_a_reset_cannot_change_the_password_from_an_idp_session() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    let reset = portcullis_core::admin::Admin::new(w.store.clone(), &config(), "test")
        .require_password_reset("ann@example.com", false)
        .await
        .expect("force reset");
    let grant = w
        .engine
        .finish_login(
            ann.clone(),
            vec!["fed".into()],
            OrgChoice::Default,
            None,
            &AuditContext::default(),
        )
        .await
        .expect("an IdP sign-in");
    let idp = grant.token.token;
    let r = w.change_password(&idp, PW, NEW_PW, true).await;
    let detail = r.account_problem(StatusCode::FORBIDDEN, "forbidden");
    assert!(detail.contains("reset code"), "{detail}");
    let after = w.store.get_user(ann.id).await.expect("get").expect("user");
    assert!(after.password_reset_required, "still flagged");
    assert_eq!(
        after.password_hash, ann.password_hash,
        "the password is unchanged"
    );
    assert_eq!(
        w.get(PROFILE, &idp).await.status,
        StatusCode::OK,
        "no session ended"
    );
    // The code is the way out.
    let body = json!({"email": "ann@example.com", "resetCode": reset.code.to_string(), "newPassword": NEW_PW});
    let r = w
        .post("/account/v1/password/reset-required", None, body)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_by_default_and_can_revoke_credentials() {
    let w = world().await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let other = w.login("ann@example.com", PW).await.expect("login");
    let p = w.principal(&me).await;
    let (_, key) = w
        .engine
        .create_api_key(&p, "ci", None, &AuditContext::default())
        .await
        .expect("api key");
    let body = json!({"currentPassword": PW, "newPassword": NEW_PW, "revokeCredentials": true});
    let r = w.post("/account/v1/password", Some(&me), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    w.get("/account/v1/sessions", &other)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        w.get(PROFILE, &key).await.status,
        StatusCode::FORBIDDEN,
        "the API key is revoked"
    );
    assert_eq!(w.sessions(&me).await.len(), 1);
}
