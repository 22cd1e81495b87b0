//! Harness shared by the store tests: a fresh SQLite file or a fresh PostgreSQL database per
//! test, and a macro that instantiates every test case for both backends.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration};
use portcullis_core::model::*;
use portcullis_core::store::{Deactivation, Store, StoreResult, WriteTx};
use portcullis_core::use_cases::{self, UnitWrites};
use portcullis_store::DbStore;

pub const PG_ENV: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// A fixed, microsecond-aligned instant plus `secs` seconds.
pub fn t(secs: i64) -> Timestamp {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default() + Duration::seconds(secs)
}

pub fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_string(),
        display_name: email.split('@').next().unwrap_or_default().to_string(),
        avatar_url: None,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        validated_at: Some(t(0)),
        super_admin: false,
    }
}

pub fn named_user(email: &str, name: &str) -> NewUser {
    NewUser {
        display_name: name.to_string(),
        ..new_user(email)
    }
}

pub fn region(id: &str) -> Region {
    Region {
        id: id.to_string(),
        api_host: format!("api.{id}.example"),
        sig_host: format!("sig.{id}.example"),
        static_host: format!("static.{id}.example"),
    }
}

pub async fn org(s: &dyn Store, name: &str) -> OrgId {
    s.upsert_region(region("eu")).await.expect("region");
    s.create_org(NewOrg {
        name: name.to_string(),
        display_name: Some(format!("{name} display")),
        region_id: "eu".into(),
    })
    .await
    .expect("org")
    .id
}

pub async fn member(s: &dyn Store, email: &str, org: OrgId, roles: &[Role]) -> User {
    let u = s.create_user(new_user(email)).await.expect("user");
    s.upsert_membership(
        u.id,
        org,
        roles.iter().copied().collect(),
        MembershipKind::Member,
    )
    .await
    .expect("membership");
    u
}

pub fn session(id: &str, user: UserId, org: OrgId, expires: Timestamp) -> Session {
    Session {
        id: SessionId(id.to_string()),
        user_id: user,
        org_id: org,
        kind: SessionKind::Login,
        amr: vec!["pwd".into()],
        actor_id: None,
        created_at: t(0),
        expires_at: expires,
        idle_timeout_secs: Some(3600),
        last_seen_at: t(0),
        revoked_at: None,
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

pub fn credential(
    user: UserId,
    org: OrgId,
    kind: CredentialKind,
    seed: u8,
    created: Timestamp,
) -> Credential {
    Credential {
        id: CredentialId::new(),
        kind,
        user_id: user,
        org_id: org,
        creator_id: user,
        name: format!("key {seed}"),
        secret_hash: [seed; 32],
        created_at: created,
        expires_at: None,
        revoked_at: None,
        revoked_by: None,
    }
}

pub fn roles(r: &[Role]) -> BTreeSet<Role> {
    r.iter().copied().collect()
}

/// Runs `case` against a fresh SQLite database in a temporary directory.
pub async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(DbStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let db = DbStore::connect(path.to_str().expect("utf-8 path"))
        .await
        .expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    let result = tokio::spawn(case(db.clone())).await;
    db.into_dyn().close().await;
    drop(dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `case` against a fresh PostgreSQL database (created and dropped here), or prints a
/// loud notice and returns when `PORTCULLIS_TEST_POSTGRES_URL` is unset.
pub async fn run_postgres<F, Fut>(name: &str, case: F)
where
    F: FnOnce(DbStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        eprintln!("SKIPPED: PostgreSQL store tests ({PG_ENV} unset) [{name}]");
        return;
    };
    let pg = portcullis_testkit::PgDatabase::create(&admin_url).await;
    let db = DbStore::connect(pg.url()).await.expect("connect postgres");
    db.migrate().await.expect("migrate postgres");
    let result = tokio::spawn(case(db.clone())).await;
    db.into_dyn().close().await;
    drop(pg);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub fn dyn_store(db: &DbStore) -> Arc<dyn Store> {
    db.clone().into_dyn()
}

/// Instantiates each named case (an `async fn(DbStore)` in `cases`) for both backends.
#[macro_export]
macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::common::run_sqlite($crate::cases::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::common::run_postgres(stringify!($case), $crate::cases::$case).await;
                }
            )*
        }
    };
}

/// Runs `writes` in one unit of work and commits it.
pub async fn in_unit<T>(
    s: &dyn Store,
    writes: impl for<'t> FnOnce(&'t mut dyn WriteTx) -> UnitWrites<'t, T>,
) -> StoreResult<T> {
    let mut tx = s.begin_write().await?;
    let v = writes(tx.as_mut()).await?;
    tx.commit().await?;
    Ok(v)
}

/// Removes a membership as the core does (`use_cases::remove_membership_in`), in one unit.
pub async fn remove_member(
    s: &dyn Store,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    in_unit(s, move |tx| {
        Box::pin(use_cases::remove_membership_in(tx, user, org, at))
    })
    .await
}

/// Deactivates a membership as the core does, in one unit.
pub async fn deactivate_member(
    s: &dyn Store,
    user: UserId,
    org: OrgId,
    by: Option<UserId>,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    in_unit(s, move |tx| {
        Box::pin(use_cases::deactivate_membership_in(tx, user, org, by, at))
    })
    .await
}

/// Deactivates a user everywhere as the core does, in one unit.
pub async fn deactivate_user(
    s: &dyn Store,
    user: UserId,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    in_unit(s, move |tx| {
        Box::pin(use_cases::deactivate_user_in(tx, user, at))
    })
    .await
}

/// Disables or enables an org as the core does, in one unit.
pub async fn set_org_disabled(
    s: &dyn Store,
    org: OrgId,
    disabled: bool,
    at: Timestamp,
) -> StoreResult<Org> {
    in_unit(s, move |tx| {
        Box::pin(use_cases::set_org_disabled_in(tx, org, disabled, at))
    })
    .await
}
