//! Transport errors, version headers, the three encodings, limits, and the HTTP edge
//! (caching, a saturated hashing pool, clients that go away).

use super::*;

// ---- transport, versions, encodings ---------------------------------------------------------------

#[tokio::test]
async fn transport_errors() {
    let e = env().await;
    let r = e.app.get("/api/auth").send().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers.get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    assert_eq!(
        r.headers.get("wi-thrift-version").map(|v| v.as_bytes()),
        Some(&b"1.22.13"[..])
    );
    let big = vec![b' '; 1024 * 1024 + 1];
    let r = e.post(&[("content-type", "application/json")], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = e
        .post(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = e
        .post(
            &[("content-type", "application/x-thrift")],
            vec![0x80, 0x01, 0x00, 0x01],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.header("content-type").starts_with("text/plain"));
    assert_eq!(
        r.headers.get("wi-thrift-version").map(|v| v.as_bytes()),
        Some(&b"1.22.13"[..])
    );
    let r = e
        .post(&[("content-type", "text/plain")], b"{}".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn application_errors_are_http_200() {
    let e = env().await;
    let r = e
        .post(
            &[("content-type", "application/json")],
            br#"{"method":"loginUser","arguments":{}}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        json_of(&r),
        json!({"method": "loginUser", "exception": {"message": "Unknown function loginUser", "type": 1}})
    );
    let r = e
        .post(&[("content-type", "application/json")], b"{oops".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(json_of(&r)["exception"]["type"], 7);
    assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
}

#[tokio::test]
async fn version_header_rules() {
    let e = env().await;
    e.member_user("ver@example.com", &[Role::Author]).await;
    let body =
        json!({"method": "login", "arguments": {"email": "ver@example.com", "password": PW}})
            .to_string()
            .into_bytes();
    for (v, want) in [
        ("1.22.13", None),
        ("1.0.0", None),
        ("1.22", Some(420)),
        ("abc", Some(420)),
        ("2.0.0", Some(421)),
    ] {
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("wi-thrift-version", v),
                ],
                body.clone(),
            )
            .await;
        let j = json_of(&r);
        match want {
            None => assert!(j["result"]["success"].is_object(), "{v}: {j}"),
            Some(c) => {
                assert_eq!(j["result"]["err"]["errorCode"], c, "{v}");
                assert!(!j["result"]["err"]["rqId"].as_str().unwrap_or("").is_empty());
            }
        }
    }
    // Method lookup and argument decoding come before the version check.
    let r = e
        .post(
            &[
                ("content-type", "application/json"),
                ("wi-thrift-version", "9"),
            ],
            br#"{"method":"nope"}"#.to_vec(),
        )
        .await;
    assert_eq!(json_of(&r)["exception"]["type"], 1);
}

#[tokio::test]
async fn compact_and_tjson_encodings() {
    let e = env().await;
    let (u, _) = e.member_user("enc@example.com", &[Role::Author]).await;
    let good = wire::LoginArgs {
        email: "enc@example.com".into(),
        password: PW.into(),
        options: wire::LoginOptions::default(),
    };
    let bad = wire::LoginArgs {
        password: "wrong wrong wrong".into(),
        ..good.clone()
    };
    // Compact with the mothership type, and with plain x-thrift (sniffed).
    for ct in [wire::CT_MOTHERSHIP_COMPACT, "application/x-thrift"] {
        let r = e
            .post(&[("content-type", ct)], compact_call("login", 7, &good))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), ct);
        let (name, seq, reply) = decode_login_reply(Encoding::Compact, &r.raw);
        assert_eq!((name.as_str(), seq), ("login", 7));
        let lr = reply.success.expect("success");
        assert_eq!(lr.current_user.id, u.id.to_string());
        let r = e
            .post(&[("content-type", ct)], compact_call("login", 1, &bad))
            .await;
        let (_, _, reply) = decode_login_reply(Encoding::Compact, &r.raw);
        let err = reply.err.expect("err");
        assert_eq!(err.error_code, wire::ErrorCode::UNAUTHORIZED);
        assert_eq!(err.message, "Invalid email or password");
    }
    // The Python client sends both content types.
    let r = e
        .post(
            &[
                ("content-type", "application/x-thrift"),
                ("content-type", wire::CT_MOTHERSHIP_COMPACT),
            ],
            compact_call("login", 0, &good),
        )
        .await;
    assert_eq!(r.header("content-type"), wire::CT_MOTHERSHIP_COMPACT);
    // TJSON with its own type and with x-thrift.
    for (ct, reply_ct) in [
        (wire::CT_TJSON, wire::CT_TJSON),
        ("application/x-thrift", "application/x-thrift"),
    ] {
        let r = e
            .post(&[("content-type", ct)], tjson_call("login", &good))
            .await;
        assert_eq!(r.header("content-type"), reply_ct);
        let (_, _, reply) = decode_login_reply(Encoding::TJson, &r.raw);
        let lr = reply.success.expect("success");
        assert_eq!(lr.current_user.email, "enc@example.com");
        assert!(lr.current_user_modular.team_id_to_membership.is_some());
        let tok = lr.auth_token;
        // refresh over TJSON with the token header.
        let auth = format!("Token {tok}");
        let r = e
            .post(
                &[("content-type", ct), ("authorization", auth.as_str())],
                tjson_call("refresh", &wire::RefreshArgs {}),
            )
            .await;
        let msg = portcullis_thrift::decode_message(Encoding::TJson, &r.raw).expect("msg");
        let reply: wire::RefreshReply = msg.decode_body().expect("refresh_result");
        assert_eq!(reply.success.expect("success").auth_token, tok);
        let r = e
            .post(&[("content-type", ct)], tjson_call("login", &bad))
            .await;
        let (_, _, reply) = decode_login_reply(Encoding::TJson, &r.raw);
        assert_eq!(reply.err.expect("err").error_code.0, 401);
    }
}

#[tokio::test]
async fn rate_limit_is_503() {
    let mut cfg = test_config();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 1;
    let e = env_with(cfg, false).await;
    let send = || {
        let req = Request::post("/api/auth")
            .header("content-type", "application/json")
            .extension(ClientIp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))))
            .body(Body::from(
                json!({"method": "startLogin", "arguments": {"email": "a@b.c"}}).to_string(),
            ))
            .expect("request");
        e.app.send(req)
    };
    let first = json_of(&send().await);
    assert!(first["result"]["success"].is_object());
    let second = json_of(&send().await);
    assert_eq!(second["result"]["err"]["errorCode"], 503);
    assert_eq!(second["result"]["err"]["slug"], "rate-limited");
}

/// A store that cannot serve (here closed; in production unreachable or read-only) is the
/// "retry later" err 503, with a generic message: the cause stays in the logs.
#[tokio::test]
async fn an_unavailable_store_is_err_503_unavailable() {
    let e = env().await;
    e.member_user("down@example.com", &[Role::Author]).await;
    e.store.close().await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": "down@example.com", "password": PW}),
            None,
        )
        .await;
    assert_eq!(code, 503);
    assert_eq!(
        err["message"],
        "Service temporarily unavailable; retry shortly"
    );
    assert_eq!(err["slug"], "unavailable");
}

// ---- HTTP edge: caching, a saturated hashing pool, clients that go away ---------------------

/// A slow verification on the engine's hashing pool (the PHC's own parameters apply).
fn slow_phc() -> String {
    portcullis_core::password::HashParams {
        memory_kib: 65536,
        iterations: 6,
        parallelism: 1,
    }
    .hash_blocking("slow")
    .expect("hash")
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..5000 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for {what}");
}

fn one_hashing_thread(queue: usize) -> CoreConfig {
    let mut cfg = test_config();
    cfg.passwords.hash_threads = 1;
    cfg.passwords.hash_queue = queue;
    cfg
}

fn login_request(email: &str, pw: &str) -> Request<Body> {
    Request::post("/api/auth")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"method": "login", "arguments": {"email": email, "password": pw}}).to_string(),
        ))
        .expect("request")
}

#[tokio::test]
async fn replies_are_never_cached() {
    let e = env().await;
    e.member_user("ann@example.com", &[Role::Author]).await;
    for pw in [PW, "wrong password here"] {
        let r = e.app.send(login_request("ann@example.com", pw)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers.get("cache-control").expect("cache-control"),
            "no-store"
        );
        assert_eq!(r.headers.get("pragma").expect("pragma"), "no-cache");
    }
}

#[tokio::test]
async fn a_saturated_hashing_pool_answers_503_at_once() {
    let e = env_with(one_hashing_thread(1), false).await;
    e.member_user("ann@example.com", &[Role::Author]).await;
    let hasher = e.engine.hasher().clone();
    let slow = slow_phc();
    let mut busy = Vec::new();
    for queued in [0, 1] {
        let (h, slow) = (hasher.clone(), slow.clone());
        busy.push(tokio::spawn(
            async move { h.verify("x", Some(&slow)).await },
        ));
        until("the pool to fill", || {
            hasher.verifications() == 1 && hasher.queued() == queued
        })
        .await;
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        e.app.send(login_request("ann@example.com", PW)),
    )
    .await
    .expect("answered at once, not after the queue");
    let v = json_of(&r);
    assert_eq!(v["result"]["err"]["errorCode"], 503, "{v}");
    assert_eq!(v["result"]["err"]["slug"], "rate-limited", "{v}");
    for b in busy {
        b.await.expect("task").expect("verify");
    }
    // Nothing was held against the account.
    e.login("ann@example.com").await;
}

#[tokio::test]
async fn a_client_that_goes_away_costs_no_hash() {
    let e = env_with(one_hashing_thread(4), false).await;
    e.member_user("ann@example.com", &[Role::Author]).await;
    let hasher = e.engine.hasher().clone();
    let slow = slow_phc();
    let running = {
        let h = hasher.clone();
        tokio::spawn(async move { h.verify("x", Some(&slow)).await })
    };
    until("the slow job to start", || hasher.verifications() == 1).await;
    // The client sends a login, which waits for the busy thread, then disconnects (the
    // server drops the request's future).
    let client = tokio::spawn(
        e.app
            .router()
            .clone()
            .oneshot(login_request("ann@example.com", PW)),
    );
    until("the login's hash to queue", || hasher.queued() == 1).await;
    client.abort();
    let _ = client.await;
    running.await.expect("task").expect("verify");
    until("the queue to drain", || {
        hasher.queued() == 0 && hasher.abandoned() == 1
    })
    .await;
    assert_eq!(
        hasher.verifications(),
        1,
        "the abandoned login was not hashed"
    );
}
