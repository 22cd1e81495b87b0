//! Removing a member or disabling an org revokes every token issued for that org: at once for a
//! change this process makes, within a second for one made by another process on the store.
//! Team and setUserOrg tokens, which ride a session of another org, included.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::engine::OrgChoice;
use portcullis_core::revocation::RevocationView;
use portcullis_core::store::Store;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx, within_a_second};

/// Ann, an author of `home` (her default org) and `team`, and a second store handle on the
/// engine's database: the admin CLI or another server.
struct Env {
    env: TestEnv,
    other: Arc<dyn Store>,
    home: Org,
    team: Org,
    user: User,
}

portcullis_testkit::deref_env!(Env);

async fn env() -> Env {
    let env = TestEnv::new().await;
    let home = env.org("home").await;
    let team = env.org("team").await;
    let user = env
        .user("ann@example.com")
        .name("Ann")
        .member(&home, &[Role::Author])
        .member(&team, &[Role::Author])
        .create()
        .await;
    let other = env.second_store().await;
    Env {
        env,
        other,
        home,
        team,
        user,
    }
}

async fn add(s: &dyn Store, user: UserId, org: OrgId) {
    s.upsert_membership(
        user,
        org,
        BTreeSet::from([Role::Author]),
        MembershipKind::Member,
    )
    .await
    .unwrap();
}

/// Disables or enables the org through the use case, as an operator on `store` would.
async fn set_disabled(store: &dyn Store, org: OrgId, disabled: bool) {
    let uc = use_cases::UseCaseCtx::direct(store);
    use_cases::set_org_disabled(&uc, org, disabled, serde_json::json!({}))
        .await
        .unwrap();
}

impl Env {
    /// Ann's token from a fresh password login.
    async fn ann(&self, choice: OrgChoice) -> String {
        self.login("ann@example.com", choice).await.token
    }

    /// A session in `home`, and the team and setUserOrg tokens for `team` riding on it.
    async fn tokens_riding_home(&self) -> (String, String, String) {
        let home = self.ann(OrgChoice::Default).await;
        let p = self.engine.authenticate(&home).await.unwrap();
        assert_eq!(p.org, self.home.id);
        let team = self.engine.org_token(&p, self.team.id, &ctx()).await;
        let switched = self.engine.switch_org(&p, self.team.id, &ctx()).await;
        (home, team.unwrap().token, switched.unwrap().token)
    }

    async fn ok(&self, token: &str) -> bool {
        self.engine.authenticate(token).await.is_ok()
    }
}

#[tokio::test]
async fn a_removal_elsewhere_ends_team_and_switched_tokens_within_a_second() {
    let e = env().await;
    let (home, team, switched) = e.tokens_riding_home().await;
    for t in [&home, &team, &switched] {
        assert!(e.ok(t).await);
    }
    let other = use_cases::UseCaseCtx::direct(e.other.as_ref());
    use_cases::remove_membership(&other, e.user.id, e.team.id, serde_json::json!({}))
        .await
        .unwrap();
    within_a_second("removal", || async {
        !e.ok(&team).await && !e.ok(&switched).await
    })
    .await;
    assert!(e.ok(&home).await, "the home org's token is not touched");
    // Added back: the old tokens stay dead, new ones work.
    add(&*e.other, e.user.id, e.team.id).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!e.ok(&team).await && !e.ok(&switched).await);
    let (_, team2, switched2) = e.tokens_riding_home().await;
    assert!(e.ok(&team2).await && e.ok(&switched2).await);
}

#[tokio::test]
async fn a_removal_here_ends_them_at_once_and_survives_a_restart() {
    let e = env().await;
    let (home, team, switched) = e.tokens_riding_home().await;
    // The use case with this process's view: the store change, then the view, at once.
    let now = chrono::Utc::now();
    let uc = use_cases::UseCaseCtx {
        revocations: Some(e.engine.revocations()),
        ..use_cases::UseCaseCtx::direct(e.store.as_ref())
    };
    use_cases::remove_membership(&uc, e.user.id, e.team.id, serde_json::json!({}))
        .await
        .unwrap();
    assert!(!e.ok(&team).await && !e.ok(&switched).await);
    assert!(e.ok(&home).await);
    // A server started later loads the same state from the snapshot, re-added or not.
    add(&*e.store, e.user.id, e.team.id).await;
    let store = e.second_store().await;
    let view = RevocationView::load(store.as_ref(), chrono::Utc::now())
        .await
        .unwrap();
    let before = now - chrono::Duration::seconds(1);
    assert!(view.is_cut_off(e.user.id, e.team.id, before));
    assert!(!view.is_cut_off(e.user.id, e.home.id, before));
    assert!(!view.is_membership_deactivated(e.user.id, e.team.id));
}

#[tokio::test]
async fn a_deactivation_here_ends_tokens_riding_another_session_even_after_reactivation() {
    let e = env().await;
    let (_, team, switched) = e.tokens_riding_home().await;
    let uc = use_cases::UseCaseCtx {
        revocations: Some(e.engine.revocations()),
        ..use_cases::UseCaseCtx::direct(e.store.as_ref())
    };
    for deactivated in [true, false] {
        use_cases::set_membership_deactivated(
            &uc,
            e.user.id,
            e.team.id,
            deactivated,
            serde_json::json!({}),
        )
        .await
        .unwrap();
    }
    assert!(!e.ok(&team).await && !e.ok(&switched).await);
    // A token minted right after, in the same second, is good.
    let fresh = e.ann(OrgChoice::Specific(e.team.id)).await;
    assert!(e.ok(&fresh).await);
}

#[tokio::test]
async fn disabling_an_org_stops_its_tokens_and_api_keys_within_a_second() {
    let e = env().await;
    let (home, team, switched) = e.tokens_riding_home().await;
    let own = e.ann(OrgChoice::Specific(e.team.id)).await;
    let p = e.engine.authenticate(&own).await.unwrap();
    let (_, key) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let minted = e.engine.exchange_credential(&key, &ctx()).await.unwrap();
    for t in [&team, &switched, &own, &key, &minted.token] {
        assert!(e.ok(t).await);
    }
    set_disabled(e.other.as_ref(), e.team.id, true).await;
    within_a_second("org disabled", || async {
        let mut any = false;
        for t in [&team, &switched, &own, &key, &minted.token] {
            any |= e.ok(t).await;
        }
        !any && e.engine.exchange_credential(&key, &ctx()).await.is_err()
    })
    .await;
    assert!(e.ok(&home).await, "other orgs are not touched");
    // Enabled again: the key works again (stopped, not revoked); the old tokens stay dead.
    set_disabled(e.other.as_ref(), e.team.id, false).await;
    within_a_second("org enabled", || async { e.ok(&key).await }).await;
    for t in [&team, &switched, &own, &minted.token] {
        assert!(!e.ok(t).await);
    }
    let again = e.engine.exchange_credential(&key, &ctx()).await.unwrap();
    assert!(e.ok(&again.token).await);
}

/// The view knows how fresh its feed is: fresh after the snapshot and while polls succeed,
/// stale once they fail for longer than the limit, fresh again after one succeeds.
#[tokio::test]
async fn the_feed_goes_stale_while_polls_fail_and_fresh_when_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.sqlite").to_string_lossy().into_owned();
    let store = portcullis_store::open(&path).await.unwrap();
    let view = Arc::new(
        RevocationView::load(store.as_ref(), chrono::Utc::now())
            .await
            .unwrap(),
    );
    let limit = Duration::from_millis(400);
    assert!(!view.is_feed_stale(limit), "the snapshot counts");
    let poller = view.spawn_poller(store.clone(), Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!view.is_feed_stale(limit), "succeeding polls keep it fresh");

    // Every poll fails from now on.
    store.close().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(view.is_feed_stale(limit));
    assert!(view.feed_age().unwrap() > limit);
    poller.abort();

    // The store is back (a new handle on the same database): the next poll catches up.
    let back = portcullis_store::open(&path).await.unwrap();
    let poller = view.spawn_poller(back.clone(), Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!view.is_feed_stale(limit));
    poller.abort();
    back.close().await;
}
