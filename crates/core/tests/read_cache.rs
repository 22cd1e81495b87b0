//! The engine's read cache never outlives a change: one made by this process is seen at once,
//! one made by another process on the same store within a second.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::store::Store;
use portcullis_core::*;

const PW: &str = "a perfectly fine passphrase";

struct Env {
    engine: Arc<Engine>,
    /// A second handle on the same database: the admin CLI or another server.
    other: Arc<dyn Store>,
    org: Org,
    user: User,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite").to_string_lossy().into_owned();
    let store = portcullis_store::open(&path).await.unwrap();
    let cfg = CoreConfig::default();
    store.upsert_region(cfg.region.clone()).await.unwrap();
    let engine = Engine::start(store.clone(), cfg, MasterKey::generate())
        .await
        .unwrap();
    let org = store
        .create_org(NewOrg {
            name: "acme".into(),
            display_name: None,
            region_id: "local".into(),
        })
        .await
        .unwrap();
    let user = store
        .create_user(NewUser {
            email: "ann@example.com".into(),
            display_name: "Ann".into(),
            avatar_url: None,
            password_hash: Some(engine.hasher().hash(PW).await.unwrap()),
            validated_at: None,
            super_admin: false,
        })
        .await
        .unwrap();
    store
        .upsert_membership(
            user.id,
            org.id,
            BTreeSet::from([Role::Admin]),
            MembershipKind::Member,
        )
        .await
        .unwrap();
    let other = portcullis_store::open(&path).await.unwrap();
    Env {
        engine,
        other,
        org,
        user,
        _dir: dir,
    }
}

impl Env {
    /// Ann's principal, from a fresh password login.
    async fn login(&self) -> portcullis_core::tokens::Principal {
        let grant = self
            .engine
            .login_password("ann@example.com", PW, OrgChoice::Default, None, &ctx())
            .await
            .unwrap();
        self.engine.authenticate(&grant.token.token).await.unwrap()
    }
}

fn ctx() -> AuditContext {
    AuditContext::default()
}

/// Polls `cond` until it holds, failing after 1 s.
async fn within_a_second<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: not seen within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_role_removed_elsewhere_ends_admin_rights_within_a_second() {
    let e = env().await;
    let p = e.login().await;
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
    let p = e.login().await;
    let (_, secret) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    for _ in 0..2 {
        e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    }
    // Removal reaches both the revocation view and the cached row through the feed.
    e.other
        .remove_membership(e.user.id, e.org.id, chrono::Utc::now())
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
    let p = e.login().await;
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
