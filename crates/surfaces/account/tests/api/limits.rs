//! Rate limits and the hashing pool: 429 answers.

use super::*;

#[tokio::test]
async fn throttled_requests_get_429_with_retry_after() {
    // The per-account delay (default: 1 s after a failure), shared with logins.
    let w = world_with(CoreConfig::default()).await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let r = w.change_password(&me, "wrong one!", NEW_PW, false).await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let r = w.change_password(&me, PW, NEW_PW, false).await;
    r.account_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "1");

    // The per-client-IP limit on the password endpoints.
    let mut cfg = config();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 1;
    let w = world_with(cfg).await;
    let body = json!({"email": "x@example.com", "resetCode": "a", "newPassword": NEW_PW});
    let first = w
        .post("/account/v1/password/reset-required", None, body.clone())
        .await;
    first.account_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let second = w
        .post("/account/v1/password/reset-required", None, body)
        .await;
    second.account_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let secs: u64 = second.header("retry-after").parse().expect("whole seconds");
    assert!(secs >= 1);
}

#[tokio::test]
async fn a_saturated_hashing_pool_gets_429_at_once_and_nothing_is_cached() {
    let mut cfg = config();
    cfg.passwords.hash_threads = 1;
    cfg.passwords.hash_queue = 1;
    let w = world_with(cfg).await;
    w.user("ann@example.com").await;
    let me = w.login("ann@example.com", PW).await.expect("login");
    let hasher = w.engine.hasher().clone();
    let slow = portcullis_core::password::HashParams {
        memory_kib: 65536,
        iterations: 6,
        parallelism: 1,
    }
    .hash_blocking("slow")
    .expect("hash");
    let base = hasher.verifications();
    let mut busy = Vec::new();
    for queued in [0, 1] {
        let (h, slow) = (hasher.clone(), slow.clone());
        busy.push(tokio::spawn(
            async move { h.verify("x", Some(&slow)).await },
        ));
        for _ in 0..5000 {
            if hasher.verifications() == base + 1 && hasher.queued() == queued {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        w.change_password(&me, PW, NEW_PW, false),
    )
    .await
    .expect("answered at once");
    r.account_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("pragma"), "no-cache");
    for b in busy {
        b.await.expect("task").expect("verify");
    }
    // Nominal's token and API-key routes are not cached either.
    let r = w
        .post(
            "/api/api-key-internal/v1/access-token",
            None,
            json!({"apiKey": "nope"}),
        )
        .await;
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("pragma"), "no-cache");
    let r = w
        .post("/api/authorization/v1/api-key", Some(&me), json!({}))
        .await;
    assert_eq!(r.header("cache-control"), "no-store");
}

/// Unknown API-key bearers are charged to the per-IP limit here too (issue 15, item 8).
#[tokio::test]
async fn unknown_api_key_bearers_get_429_once_the_ip_limit_is_spent() {
    let mut cfg = config();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 2;
    let w = world_with(cfg).await;
    for i in 0..2 {
        w.get("/account/v1/sessions", &format!("nominal_api_key_guess{i}"))
            .await
            .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let r = w
        .get("/account/v1/sessions", "nominal_api_key_guess9")
        .await;
    r.account_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(!r.header("retry-after").is_empty());
}
