//! Org switches (Nominal setUserOrg) record the last login without a store write on the request,
//! and the value is never lost: the login-activity listing shows it, the engine's shutdown and
//! its background writer store it, and a late write never hides a newer login.

use portcullis_core::engine::OrgChoice;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx};

/// Ann, a member of acme (her home org) and beta, signed in to acme.
async fn env() -> (TestEnv, Org, Org, User, tokens::Principal) {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    let beta = e.org("beta").await;
    let ann = e
        .user("ann@example.com")
        .member(&acme, &[Role::Admin])
        .member(&beta, &[Role::Admin])
        .create()
        .await;
    let p = e
        .login("ann@example.com", OrgChoice::Specific(acme.id))
        .await
        .principal;
    (e, acme, beta, ann, p)
}

async fn stored(e: &TestEnv, user: &User, org: &Org) -> Option<Timestamp> {
    e.store
        .get_membership(user.id, org.id)
        .await
        .unwrap()
        .unwrap()
        .last_login_at
}

#[tokio::test]
async fn a_switch_is_not_written_on_the_request_but_the_listing_shows_it() {
    let (e, acme, beta, ann, p) = env().await;
    assert!(stored(&e, &ann, &acme).await.is_some(), "the login's own");
    let t = e.engine.switch_org(&p, beta.id, &ctx()).await.unwrap();
    assert_eq!(t.org, beta.id);
    assert_eq!(
        stored(&e, &ann, &beta).await,
        None,
        "coalesced, not yet written"
    );
    // The reader writes what is pending first: the listing is exact on this process.
    let page = e
        .engine
        .login_activity(&[beta.id], true, 0, 10)
        .await
        .unwrap();
    let row = page.items.iter().find(|m| m.user_id == ann.id).unwrap();
    let at = row.last_login_at.expect("the switch is listed");
    assert!((chrono::Utc::now() - at).num_seconds() < 60);
    assert_eq!(stored(&e, &ann, &beta).await, Some(at));
}

#[tokio::test]
async fn shutdown_writes_the_pending_switches() {
    let (e, _, beta, ann, p) = env().await;
    e.engine.switch_org(&p, beta.id, &ctx()).await.unwrap();
    assert_eq!(stored(&e, &ann, &beta).await, None);
    e.engine.shutdown().await;
    assert!(stored(&e, &ann, &beta).await.is_some());
}

#[tokio::test]
async fn the_background_writer_stores_a_switch_within_seconds() {
    let (e, _, beta, ann, p) = env().await;
    e.engine.switch_org(&p, beta.id, &ctx()).await.unwrap();
    // The writer looks every FLUSH_EVERY (5 s); allow two rounds.
    let limit = portcullis_core::last_login::FLUSH_EVERY * 2 + std::time::Duration::from_secs(1);
    let start = std::time::Instant::now();
    while stored(&e, &ann, &beta).await.is_none() {
        assert!(start.elapsed() < limit, "not written within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_late_write_never_moves_the_value_back() {
    let (e, acme, _, ann, _) = env().await;
    let login = stored(&e, &ann, &acme).await.unwrap();
    let older = login - chrono::Duration::minutes(5);
    e.store
        .record_last_logins(&[(ann.id, acme.id, older), (UserId::new(), acme.id, older)])
        .await
        .unwrap();
    assert_eq!(stored(&e, &ann, &acme).await, Some(login));
    let newer = login + chrono::Duration::minutes(5);
    e.store
        .record_last_logins(&[(ann.id, acme.id, newer)])
        .await
        .unwrap();
    assert_eq!(stored(&e, &ann, &acme).await, Some(newer));
}
