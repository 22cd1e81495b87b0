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
        grant: None,
    }
}

/// A grant session of `client` (a browser session's child when `parent` is given).
pub fn grant_session(
    id: &str,
    user: UserId,
    org: OrgId,
    client: &str,
    parent: Option<&str>,
    offline: bool,
) -> Session {
    Session {
        grant: Some(SessionGrant {
            client_id: client.to_string(),
            parent: parent.map(|p| SessionId(p.to_string())),
            offline,
        }),
        ..session(id, user, org, t(3600))
    }
}

/// A confidential client with one secret (`<id>-secret-1`, no expiry).
pub fn oauth_client(id: &str, org: Option<OrgId>, logout_uri: Option<&str>) -> OAuthClient {
    OAuthClient {
        client_id: id.to_string(),
        name: format!("{id} app"),
        kind: ClientKind::Confidential,
        token_endpoint_auth: TokenEndpointAuth::ClientSecretBasic,
        secrets: vec![ClientSecret {
            hash: format!("{id}-secret-1"),
            created_at: t(0),
            expires_at: None,
        }],
        jwks: None,
        redirect_uris: vec![format!("https://{id}.example/cb")],
        post_logout_redirect_uris: Vec::new(),
        grant_types: [GrantType::AuthorizationCode, GrantType::RefreshToken].into(),
        scopes: ["openid", "email"].map(String::from).into(),
        org_id: org,
        first_party: false,
        id_token_alg: IdTokenAlg::Rs256,
        access_token_secs: 300,
        refresh_token_secs: 3600,
        allow_offline: true,
        introspect_any: false,
        backchannel_logout_uri: logout_uri.map(String::from),
        token_exchange_audiences: Vec::new(),
        declarative: false,
        disabled_at: None,
        created_at: t(0),
        updated_at: t(0),
    }
}

/// An unconsumed code of `client`, issued in `browser`, expiring at t(60).
pub fn auth_code(
    hash: &str,
    client: &str,
    browser: &str,
    user: UserId,
    org: OrgId,
) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.to_string(),
        client_id: client.to_string(),
        browser_session: SessionId(browser.to_string()),
        user_id: user,
        org_id: org,
        redirect_uri: format!("https://{client}.example/cb"),
        scopes: vec!["openid".into(), "email".into()],
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        auth_time: t(0),
        amr: vec!["pwd".into()],
        acr: None,
        created_at: t(1),
        expires_at: t(60),
        consumed_at: None,
        grant_session: None,
    }
}

/// A current refresh token of the grant session, expiring at `expires`.
pub fn refresh_token(hash: &str, grant: &Session, expires: Timestamp) -> RefreshToken {
    RefreshToken {
        token_hash: hash.to_string(),
        grant_session: grant.id.clone(),
        client_id: grant
            .grant
            .as_ref()
            .map(|g| g.client_id.clone())
            .unwrap_or_default(),
        user_id: grant.user_id,
        org_id: grant.org_id,
        scopes: vec!["openid".into(), "offline_access".into()],
        auth_time: t(0),
        amr: vec!["pwd".into()],
        acr: Some("urn:portcullis:pwd".into()),
        issued_at: t(2),
        expires_at: expires,
        rotated_at: None,
        revoked_at: None,
    }
}

/// The revocation events appended after `seq`.
pub async fn events_after(s: &dyn Store, seq: i64) -> Vec<RevocationEvent> {
    s.revocation_events_since(seq, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|(_, e)| e)
        .collect()
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
