//! The engine's read cache never outlives a change: one made by this process is seen at once,
//! one made by another process on the same store within a second.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::engine::OrgChoice;
use portcullis_core::store::Store;
use portcullis_core::tokens::Principal;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx, within_a_second};

/// Ann, an admin of acme, and a second store handle on the engine's database: the admin CLI or
/// another server.
struct Env {
    env: TestEnv,
    other: Arc<dyn Store>,
    org: Org,
    user: User,
}

portcullis_testkit::deref_env!(Env);

async fn env() -> Env {
    let env = TestEnv::new().await;
    let org = env.org("acme").await;
    let user = env
        .user("ann@example.com")
        .name("Ann")
        .member(&org, &[Role::Admin])
        .create()
        .await;
    let other = env.second_store().await;
    Env {
        env,
        other,
        org,
        user,
    }
}

/// Ann's principal, from a fresh password login.
async fn login(e: &Env) -> Principal {
    e.login("ann@example.com", OrgChoice::Default)
        .await
        .principal
}

#[tokio::test]
async fn a_role_removed_elsewhere_ends_admin_rights_within_a_second() {
    let e = env().await;
    let p = login(&e).await;
    // Twice: the second answer comes from the cache.
    assert!(e.engine.is_org_admin(&p).await.unwrap());
    assert!(e.engine.is_org_admin(&p).await.unwrap());
    e.other
        .upsert_membership(
            e.user.id,
            e.org.id,
            BTreeSet::from([Role::Author]),
            MembershipKind::Member,
        )
        .await
        .unwrap();
    within_a_second("role change", || async {
        !e.engine.is_org_admin(&p).await.unwrap()
    })
    .await;
}

#[tokio::test]
async fn an_api_key_of_a_removed_member_stops_exchanging() {
    let e = env().await;
    let p = login(&e).await;
    let (_, secret) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    for _ in 0..2 {
        e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    }
    // Removal reaches both the revocation view and the cached row through the feed.
    let other = use_cases::UseCaseCtx::direct(e.other.as_ref());
    use_cases::remove_membership(&other, e.user.id, e.org.id, serde_json::json!({}))
        .await
        .unwrap();
    within_a_second("membership removal", || async {
        e.engine.exchange_credential(&secret, &ctx()).await.is_err()
    })
    .await;
}

#[tokio::test]
async fn profile_changes_reach_who_am_i() {
    let e = env().await;
    let p = login(&e).await;
    let me = e.engine.current_user(&p).await.unwrap();
    assert_eq!(me.display_name, "Ann");
    assert_eq!(me.password_hash, None, "who-am-I never carries the hash");
    // This process: seen at once.
    e.engine
        .update_my_display_name(&p, "Ann B.", &ctx())
        .await
        .unwrap();
    assert_eq!(
        e.engine.current_user(&p).await.unwrap().display_name,
        "Ann B."
    );
    // Another process: within a second.
    e.other
        .update_user(
            e.user.id,
            UserUpdate {
                display_name: Some("Ann C.".into()),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    within_a_second("profile change", || async {
        e.engine.current_user(&p).await.unwrap().display_name == "Ann C."
    })
    .await;
}

/// Ann's team token in acme and what its login result says about the team's settings.
async fn team_setting(e: &Env, p: &Principal, key: &str) -> Option<SettingValue> {
    let issued = e.engine.org_token(p, e.org.id, &ctx()).await.unwrap();
    let data = e.engine.login_data_for_org_token(p, &issued).await.unwrap();
    assert_eq!(data.orgs.len(), 1);
    data.orgs[0].settings.get(key).cloned()
}

#[tokio::test]
async fn a_team_token_result_follows_team_changes_here_at_once_and_elsewhere_within_a_second() {
    let e = env().await;
    let p = login(&e).await;
    // Twice: the second result comes from the cache.
    assert_eq!(team_setting(&e, &p, "a").await, None);
    assert_eq!(team_setting(&e, &p, "a").await, None);
    // Through the org-admin service of this server: seen at once.
    let admin = e.engine.org_admin(&p, e.org.id).await.unwrap();
    admin
        .update_org_settings(
            &e.org.id.to_string(),
            &[(
                "a".into(),
                Some(serde_json::json!({"type": "bool", "value": true})),
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        team_setting(&e, &p, "a").await,
        Some(SettingValue::Bool(true))
    );
    // Another process: within a second (an org event in the feed).
    e.other
        .update_org_settings(
            e.org.id,
            &[(
                "a".into(),
                Some(serde_json::json!({"type": "bool", "value": false})),
            )],
            100,
        )
        .await
        .unwrap();
    within_a_second("team setting", || async {
        team_setting(&e, &p, "a").await == Some(SettingValue::Bool(false))
    })
    .await;
    // The permission table and the org's profile are cached with it, and followed the same way.
    let perms = |data: &org_views::LoginData| data.orgs[0].job_permissions;
    let issued = e.engine.org_token(&p, e.org.id, &ctx()).await.unwrap();
    let before = perms(
        &e.engine
            .login_data_for_org_token(&p, &issued)
            .await
            .unwrap(),
    );
    e.other
        .set_job_permissions(e.org.id, Role::Admin, Some(JobPermissions::default()))
        .await
        .unwrap();
    e.other
        .update_org(
            e.org.id,
            OrgUpdate {
                display_name: Some(Some("Acme Inc.".into())),
                ..OrgUpdate::default()
            },
        )
        .await
        .unwrap();
    within_a_second("permission table and profile", || async {
        let data = e
            .engine
            .login_data_for_org_token(&p, &issued)
            .await
            .unwrap();
        perms(&data) == JobPermissions::default()
            && data.orgs[0].org.display_name.as_deref() == Some("Acme Inc.")
    })
    .await;
    assert_ne!(before, JobPermissions::default());
}
