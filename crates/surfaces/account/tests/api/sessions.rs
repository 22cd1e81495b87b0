//! Listing, ending and checking sessions; token failures.

use super::*;

#[tokio::test]
async fn lists_the_callers_sessions_and_marks_the_current_one() {
    let w = world().await;
    w.user("ann@example.com").await;
    w.user("bob@example.com").await;
    let first = w.login("ann@example.com", PW).await.expect("login");
    let second = w.login("ann@example.com", PW).await.expect("login");
    w.login("bob@example.com", PW).await.expect("login");
    let sid = w.principal(&second).await.session().cloned().expect("sid");

    let sessions = w.sessions(&second).await;
    assert_eq!(sessions.len(), 2, "Ann's two, not Bob's: {sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let s = current[0];
    assert_eq!(s["id"], sid.0);
    assert_eq!(s["kind"], "login");
    assert_eq!(s["authMethods"], json!(["pwd"]));
    assert_eq!(s["orgId"], w.org.id.to_string());
    assert_eq!(s["actorId"], Value::Null);
    assert_eq!(
        s["clientId"],
        Value::Null,
        "a sign-in, not an application's session"
    );
    assert_eq!(s["offline"], false);
    assert!(s["createdAt"].is_string() && s["expiresAt"].is_string());
    // The same list through the other token, marked the other way round.
    let other = w.sessions(&first).await;
    let current: Vec<_> = other.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_ne!(current[0]["id"], sid.0);

    // Parsable's scheme works too.
    let req = Request::get("/account/v1/sessions")
        .header("authorization", format!("Token {first}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(w.send(req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_bad_tokens_get_401_problems_with_a_challenge() {
    let w = world().await;
    let r = w
        .app
        .call(Method::GET, "/account/v1/sessions", None, None)
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"portcullis\"");
    let r = w.get("/account/v1/sessions", "not.a.token").await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"portcullis\", error=\"invalid_token\""
    );
    let req = Request::get("/account/v1/sessions")
        .header("authorization", "Basic YTpi")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .expect("request");
    let r = w.send(req).await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(r.body["requestId"], "req-42");
}

/// However a token fails (malformed, wrong scheme, two headers, forged, expired, ended), the
/// problem's detail is the same two words: why is for the logs only.
#[tokio::test]
async fn every_token_failure_says_only_invalid_token() {
    let w = world().await;
    let ann = w.user("ann@example.com").await;
    let keep = w.login("ann@example.com", PW).await.expect("login");
    let ended = w.login("ann@example.com", PW).await.expect("login");
    let sid = w.principal(&ended).await.session().cloned().expect("sid");
    let r = w
        .delete(&format!("/account/v1/sessions/{}", sid.0), &keep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let mut forged = keep.clone();
    let last = forged.pop().expect("a signature");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let now = chrono::Utc::now();
    let tokens = w.engine.access_tokens();
    let me = w.principal(&keep).await;
    let claims = tokens.claims(
        ann.id,
        w.org.id,
        &me.session().expect("sid").0,
        now - chrono::Duration::hours(2),
        now - chrono::Duration::hours(1),
        vec!["pwd".into()],
        false,
    );
    let expired = tokens.sign(&claims).expect("sign");

    let with_auth = |values: &[&str]| {
        let mut b = Request::get("/account/v1/sessions");
        for v in values {
            b = b.header("authorization", *v);
        }
        b.body(Body::empty()).expect("request")
    };
    let cases = [
        (
            "malformed",
            w.get("/account/v1/sessions", "not.a.token").await,
        ),
        ("forged", w.get("/account/v1/sessions", &forged).await),
        ("ended session", w.get("/account/v1/sessions", &ended).await),
        ("expired", w.get("/account/v1/sessions", &expired).await),
        ("basic scheme", w.send(with_auth(&["Basic YTpi"])).await),
        (
            "two headers",
            w.send(with_auth(&[
                &format!("Bearer {keep}"),
                &format!("Bearer {keep}"),
            ]))
            .await,
        ),
    ];
    for (case, r) in cases {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}: {}", r.body);
        assert_eq!(r.body["detail"], "invalid token", "{case}: {}", r.body);
        assert_eq!(
            r.header("www-authenticate"),
            "Bearer realm=\"portcullis\", error=\"invalid_token\"",
            "{case}"
        );
    }
    // The caller's own token still works.
    assert_eq!(w.sessions(&keep).await.len(), 1);
}

#[tokio::test]
async fn an_ended_session_fails_on_both_apis() {
    let w = world().await;
    w.user("ann@example.com").await;
    let keep = w.login("ann@example.com", PW).await.expect("login");
    let doomed = w.login("ann@example.com", PW).await.expect("login");
    let third = w.login("ann@example.com", PW).await.expect("login");
    assert_eq!(w.get(PROFILE, &doomed).await.status, StatusCode::OK);
    let sid = w.principal(&doomed).await.session().cloned().expect("sid");

    let r = w
        .delete(&format!("/account/v1/sessions/{}", sid.0), &keep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = w.get(PROFILE, &doomed).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "Nominal refuses it");
    assert_eq!(r.body["errorName"], "Authorization:NotAuthorized");
    w.get("/account/v1/sessions", &doomed)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    // Ending it again is fine (idempotent); the survivors still work.
    let r = w
        .delete(&format!("/account/v1/sessions/{}", sid.0), &keep)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(w.sessions(&keep).await.len(), 2);

    // End the others: the third ends, the caller's stays.
    let r = w
        .post("/account/v1/sessions/end-others", Some(&keep), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ended"], 1);
    assert_eq!(w.get(PROFILE, &third).await.status, StatusCode::FORBIDDEN);
    assert_eq!(w.get(PROFILE, &keep).await.status, StatusCode::OK);
    let left = w.sessions(&keep).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
}

#[tokio::test]
async fn another_users_session_is_not_found() {
    let w = world().await;
    w.user("ann@example.com").await;
    w.user("bob@example.com").await;
    let ann = w.login("ann@example.com", PW).await.expect("login");
    let bob = w.login("bob@example.com", PW).await.expect("login");
    let bob_sid = w.principal(&bob).await.session().cloned().expect("sid");

    let theirs = w
        .delete(&format!("/account/v1/sessions/{}", bob_sid.0), &ann)
        .await;
    let detail = theirs.account_problem(StatusCode::NOT_FOUND, "not_found");
    let unknown = w.delete("/account/v1/sessions/no-such-session", &ann).await;
    assert_eq!(
        unknown.account_problem(StatusCode::NOT_FOUND, "not_found"),
        detail
    );
    let long = w
        .delete(&format!("/account/v1/sessions/{}", "x".repeat(200)), &ann)
        .await;
    assert_eq!(
        long.account_problem(StatusCode::NOT_FOUND, "not_found"),
        detail
    );
    assert_eq!(w.get(PROFILE, &bob).await.status, StatusCode::OK);
}

#[tokio::test]
async fn idle_sessions_are_refused_and_sessions_show_their_last_use() {
    let mut cfg = config();
    cfg.tokens.idle_timeout_secs = 900;
    let w = world_with(cfg).await;
    let ann = w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let sessions = w.sessions(&me).await;
    let s = &sessions[0];
    let last_seen: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(s["lastSeen"].clone()).expect("lastSeen");
    let idle: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(s["idleExpiresAt"].clone()).expect("idleExpiresAt");
    assert_eq!(idle - last_seen, chrono::Duration::seconds(900));

    // A session unused for two hours, whose token has not expired.
    let now = chrono::Utc::now();
    let stale = Session {
        id: SessionId::generate(),
        user_id: ann.id,
        org_id: w.org.id,
        kind: SessionKind::Login,
        amr: vec!["pwd".into()],
        actor_id: None,
        created_at: now - chrono::Duration::hours(2),
        expires_at: now + chrono::Duration::hours(1),
        idle_timeout_secs: Some(900),
        last_seen_at: now - chrono::Duration::hours(2),
        revoked_at: None,
        ip: None,
        user_agent: None,
        grant: None,
    };
    w.store
        .create_session(stale.clone())
        .await
        .expect("session");
    assert_eq!(
        w.sessions(&me).await.len(),
        1,
        "an idle session is not listed as live"
    );
    let tokens = w.engine.access_tokens();
    let claims = tokens.claims(
        ann.id,
        w.org.id,
        &stale.id.0,
        now,
        stale.expires_at,
        vec!["pwd".into()],
        false,
    );
    let token = tokens.sign(&claims).expect("sign");
    let d = w
        .get("/account/v1/sessions", &token)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(d, "invalid token", "the reason is not told");
    assert_eq!(w.get(PROFILE, &token).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_revoked_signing_key_is_refused_at_once() {
    let w = world().await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    assert_eq!(w.sessions(&me).await.len(), 1);
    let kid = w
        .engine
        .access_tokens()
        .keys()
        .signing_kid()
        .expect("a signing key");
    w.engine
        .revoke_signing_key(&kid, &AuditContext::default())
        .await
        .expect("revoke");
    let d = w
        .get("/account/v1/sessions", &me)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(d, "invalid token");
    let fresh = w.login("ann@example.com", PW).await.expect("login");
    assert_eq!(w.sessions(&fresh).await.len(), 2);
}

/// `GET /account/v1/sessions/current`: a resource server's online check of a bearer (issue 15,
/// item 5). 200 with what the bearer stands for while it is valid; the usual 401 once its
/// session has ended, although the token itself has not expired.
#[tokio::test]
async fn the_current_session_check_answers_until_the_session_ends() {
    const CURRENT: &str = "/account/v1/sessions/current";
    let mut cfg = config();
    cfg.tokens.idle_timeout_secs = 900;
    let w = world_with(cfg).await;
    let ann = w.user("ann@example.com").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    let sid = w.principal(&token).await.session().cloned().expect("sid");
    let r = w.get(CURRENT, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    let b = &r.body;
    assert_eq!(b["active"], true);
    assert_eq!(b["id"], sid.0);
    assert_eq!(b["kind"], "login");
    assert_eq!(b["userId"], ann.id.to_string());
    assert_eq!(b["orgId"], w.org.id.to_string());
    assert_eq!(b["credentialId"], Value::Null);
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a timestamp")).expect("rfc 3339")
    };
    let idle = parse(&b["idleExpiresAt"]) - chrono::Utc::now().fixed_offset();
    assert!(
        idle.num_seconds() > 890 && idle.num_seconds() <= 900,
        "{idle}"
    );
    assert!(parse(&b["expiresAt"]) > parse(&b["idleExpiresAt"]));

    // An API key answers as itself: no session, no idle deadline.
    let key = w
        .app
        .call(
            Method::POST,
            "/api/authorization/v1/api-key",
            Some(&token),
            Some(json!({"apiKeyName": "ci", "expiresAfterDays": 1})),
        )
        .await;
    let secret = key.body["apiKeyValue"].as_str().expect("a key").to_owned();
    let r = w.get(CURRENT, &secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (&r.body["kind"], &r.body["id"]),
        (&json!("credential"), &Value::Null)
    );
    assert!(r.body["credentialId"].is_string());
    assert_eq!(r.body["idleExpiresAt"], Value::Null);

    // Logout: the token is still unexpired, but the check says no.
    w.engine
        .logout(&token, &AuditContext::default())
        .await
        .expect("logout");
    w.get(CURRENT, &token)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    w.app
        .call(Method::GET, CURRENT, None, None)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

/// A store that cannot serve (here closed; in production unreachable or read-only): the account
/// API and the Nominal surface next to it answer their own "unavailable, retry" error, with
/// `Retry-After`, and `/readyz` says not ready. The token itself still verifies in memory.
#[tokio::test]
async fn a_store_that_cannot_serve_is_unavailable_on_both_apis() {
    let w = world().await;
    w.user("ann@example.com").await;
    let token = w.login("ann@example.com", PW).await.expect("login");
    w.store.close().await;

    let r = w.get("/account/v1/sessions", &token).await;
    let detail = r.account_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(
        !detail.contains("closed"),
        "the cause is not sent: {detail}"
    );
    assert_eq!(r.header("retry-after"), "1");

    let key = json!({"apiKeyName": "k", "expiresAfterDays": null});
    let req = Request::post("/api/authorization/v1/api-key")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(key.to_string()))
        .expect("request");
    let r = w.send(req).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["errorName"], "Default:Unavailable");
    assert_eq!(r.header("retry-after"), "1");

    let req = Request::get("/readyz")
        .body(Body::empty())
        .expect("request");
    assert_eq!(w.send(req).await.status, StatusCode::SERVICE_UNAVAILABLE);
}
