//! Test kit for Portcullis' integration tests: a [`TestEnv`] (an [`Engine`] on a fresh, migrated
//! SQLite file or PostgreSQL database) with helpers for orgs, users and password logins.
//!
//! ```ignore
//! let env = TestEnv::builder().config(cfg).build().await;
//! let acme = env.org("acme").await;
//! env.user("ann@example.com").member(&acme, &[Role::Admin]).create().await;
//! let ann = env.login("ann@example.com", OrgChoice::Default).await;
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "http")]
pub mod http;
pub mod mfa;
mod oidc;
#[cfg(feature = "passkeys")]
pub mod passkey;

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::{Engine, LoginGrant, OrgChoice};
use portcullis_core::store::Store;
use portcullis_core::tokens::Principal;
use portcullis_core::{
    AuditEvent, AuditFilter, CoreResult, MembershipKind, NewOrg, NewUser, Org, OrgId, Role, User,
};
use sqlx::Connection;
use tokio::sync::OnceCell;

/// The password of every user the kit creates.
pub const PASSWORD: &str = "a perfectly fine passphrase";

/// The PostgreSQL server URL (any database) under which the kit creates its test databases.
pub const POSTGRES_ENV: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// An empty audit context, as an anonymous local request.
pub fn ctx() -> AuditContext {
    AuditContext::default()
}

/// The default config with no delay between failed logins, the third locking the account until
/// an admin unlocks it.
pub fn lock_after_three() -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.lockout.delays_secs = vec![0];
    cfg.lockout.lock_after = 3;
    cfg.lockout.lock_secs = 0;
    cfg
}

/// Polls `cond` every 20 ms until it holds, failing with `what` after 1 s.
pub async fn within_a_second<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{what}: not seen within 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Lets a test's world, a struct with a field `env: TestEnv`, stand for its environment
/// (`w.engine`, `w.store`, `w.org(..)`): `portcullis_testkit::deref_env!(World);`.
#[macro_export]
macro_rules! deref_env {
    ($world:ty) => {
        impl ::std::ops::Deref for $world {
            type Target = $crate::TestEnv;
            fn deref(&self) -> &$crate::TestEnv {
                &self.env
            }
        }
    };
}

/// Builds a [`TestEnv`]: default [`CoreConfig`] on SQLite unless told otherwise.
#[derive(Default)]
pub struct TestEnvBuilder {
    config: CoreConfig,
    postgres: bool,
}

impl TestEnvBuilder {
    /// The engine's configuration (its region is registered in the store).
    pub fn config(mut self, config: CoreConfig) -> Self {
        self.config = config;
        self
    }

    /// PostgreSQL when `PORTCULLIS_TEST_POSTGRES_URL` is set; else SQLite with a notice (a failure under `CI=true`).
    pub fn postgres(mut self) -> Self {
        self.postgres = true;
        self
    }

    /// Creates the database, migrates it, registers the region and starts the engine.
    pub async fn build(self) -> TestEnv {
        let (url, dir, pg) = match self.postgres.then(|| std::env::var(POSTGRES_ENV).ok()) {
            Some(Some(admin_url)) => {
                let pg = PgDatabase::create(&admin_url).await;
                (pg.url.clone(), None, Some(pg))
            }
            asked => {
                if asked.is_some() {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "{POSTGRES_ENV} unset under CI=true"
                    );
                    eprintln!("NOTICE: {POSTGRES_ENV} unset, running on SQLite instead");
                }
                let (dir, path) = sqlite_file();
                (path, Some(dir), None)
            }
        };
        let store = portcullis_store::open(&url).await.expect("open store");
        store
            .upsert_region(self.config.region.clone())
            .await
            .expect("region");
        let master = MasterKey::generate();
        let engine = Engine::start(store.clone(), self.config, master.clone())
            .await
            .expect("engine");
        TestEnv {
            engine,
            store,
            master,
            url,
            password_hash: OnceCell::new(),
            _dir: dir,
            _pg: pg,
        }
    }
}

/// A fresh SQLite file in a directory of its own (removed with the directory).
fn sqlite_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    (dir, path.to_string_lossy().into_owned())
}

/// A migrated store on a fresh SQLite file, with no engine (for tests of the HTTP stack alone).
pub struct TempStore {
    /// The store handle.
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl TempStore {
    /// Creates and migrates the store.
    pub async fn sqlite() -> TempStore {
        let (dir, path) = sqlite_file();
        let store = portcullis_store::open(&path).await.expect("open store");
        TempStore { store, _dir: dir }
    }
}

/// An engine and its store on a database of its own, removed when dropped.
pub struct TestEnv {
    /// The engine under test.
    pub engine: Arc<Engine>,
    /// The engine's store handle.
    pub store: Arc<dyn Store>,
    /// The engine's master key (to start another engine on the same store).
    pub master: MasterKey,
    url: String,
    password_hash: OnceCell<String>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestEnv {
    /// A builder (default config, SQLite).
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder::default()
    }

    /// An environment with the default config on SQLite.
    pub async fn new() -> TestEnv {
        Self::builder().build().await
    }

    /// The store's SQLite path or PostgreSQL URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the store is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self._pg.is_some()
    }

    /// Another store handle on the same database, as another process (the admin CLI, a second server) has.
    pub async fn second_store(&self) -> Arc<dyn Store> {
        portcullis_store::open(&self.url)
            .await
            .expect("second store")
    }

    /// Another engine with `config` on a second handle to the same database and the same master key.
    pub async fn second_engine(&self, config: CoreConfig) -> Arc<Engine> {
        Engine::start(self.second_store().await, config, self.master.clone())
            .await
            .expect("second engine")
    }

    /// Creates org `name` (no display name) in the config's default region.
    pub async fn org(&self, name: &str) -> Org {
        self.store
            .create_org(NewOrg {
                name: name.into(),
                display_name: None,
                region_id: self.engine.config().region.id.clone(),
            })
            .await
            .expect("org")
    }

    /// Adds `user` to `org` with `roles` as `kind` (for users already created).
    pub async fn join(&self, user: &User, org: &Org, roles: &[Role], kind: MembershipKind) {
        self.store
            .upsert_membership(user.id, org.id, roles.iter().copied().collect(), kind)
            .await
            .expect("membership");
    }

    /// Starts a session for `user` as a password login would (`amr` `pwd`) and returns its token;
    /// the user needs no password.
    pub async fn session(&self, user: &User, choice: OrgChoice) -> String {
        self.engine
            .start_session(
                user.clone(),
                vec!["pwd".into()],
                choice,
                false,
                None,
                &ctx(),
            )
            .await
            .expect("session")
            .token
            .token
    }

    /// The engine's hash of [`PASSWORD`], computed once per environment.
    pub async fn password_hash(&self) -> String {
        self.password_hash
            .get_or_init(|| async { self.engine.hasher().hash(PASSWORD).await.expect("hash") })
            .await
            .clone()
    }

    /// Whether the store holds login-throttle state for `key` (an email).
    pub async fn throttled(&self, key: &str) -> bool {
        self.store
            .throttle_get(key)
            .await
            .expect("throttle state")
            .is_some()
    }

    /// Flushes the engine's audit log and returns its events with `action`, oldest first as the store lists them.
    pub async fn audit_events(&self, action: &str) -> Vec<AuditEvent> {
        self.engine.flush_audit().await;
        self.store
            .list_audit(&AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("audit")
            .into_iter()
            .filter(|ev| ev.action == action)
            .collect()
    }

    /// A user to create: password [`PASSWORD`], display name the email's local part, no orgs.
    pub fn user(&self, email: &str) -> UserSpec<'_> {
        UserSpec {
            env: self,
            new: NewUser {
                email: email.into(),
                display_name: email.split('@').next().unwrap_or_default().into(),
                avatar_url: None,
                password_hash: None,
                validated_at: None,
                super_admin: false,
            },
            with_password: true,
            orgs: Vec::new(),
        }
    }

    /// A user with `roles` in `org` (its default org): `user(email).member(org, roles).create()`.
    pub async fn user_in(&self, email: &str, org: &Org, roles: &[Role]) -> User {
        self.user(email).member(org, roles).create().await
    }

    /// Logs `email` in with [`PASSWORD`] and authenticates the token it got.
    pub async fn try_login(&self, email: &str, choice: OrgChoice) -> CoreResult<Login> {
        self.try_login_as(email, choice, None).await
    }

    /// [`TestEnv::try_login`] as a super-admin proxying for `proxied` when given.
    pub async fn try_login_as(
        &self,
        email: &str,
        choice: OrgChoice,
        proxied: Option<&str>,
    ) -> CoreResult<Login> {
        let grant = self
            .engine
            .login_password(email, PASSWORD, choice, proxied, &ctx())
            .await?;
        let principal = self
            .engine
            .authenticate(&grant.token.token)
            .await
            .expect("authenticate the new token");
        Ok(Login {
            token: grant.token.token.clone(),
            principal,
            grant,
        })
    }

    /// Logs `email` in with `password` (right or wrong), as a surface would, without using the
    /// token (so the session shows no use yet).
    pub async fn login_grant(
        &self,
        email: &str,
        password: &str,
        choice: OrgChoice,
    ) -> CoreResult<LoginGrant> {
        self.engine
            .login_password(email, password, choice, None, &ctx())
            .await
    }

    /// Logs super-admin `admin` in with [`PASSWORD`] into its default org, proxying for `target`,
    /// without using the token.
    pub async fn proxy_grant(&self, admin: &str, target: &str) -> CoreResult<LoginGrant> {
        self.engine
            .login_password(admin, PASSWORD, OrgChoice::Default, Some(target), &ctx())
            .await
    }

    /// [`TestEnv::try_login`], which must succeed.
    pub async fn login(&self, email: &str, choice: OrgChoice) -> Login {
        self.try_login(email, choice).await.expect("login")
    }
}

/// A successful password login.
pub struct Login {
    /// The access token.
    pub token: String,
    /// What the token authenticates as.
    pub principal: Principal,
    /// The whole grant (session, user, proxying admin).
    pub grant: LoginGrant,
}

/// A user about to be created by [`UserSpec::create`].
pub struct UserSpec<'a> {
    env: &'a TestEnv,
    new: NewUser,
    with_password: bool,
    orgs: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
}

impl UserSpec<'_> {
    /// Sets the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.new.display_name = name.into();
        self
    }

    /// Sets the avatar URL.
    pub fn avatar(mut self, url: &str) -> Self {
        self.new.avatar_url = Some(url.into());
        self
    }

    /// Makes the user a super-admin.
    pub fn super_admin(mut self) -> Self {
        self.new.super_admin = true;
        self
    }

    /// Makes the user a super-admin when `yes`.
    pub fn super_admin_if(mut self, yes: bool) -> Self {
        self.new.super_admin = yes;
        self
    }

    /// Marks the email validated now.
    pub fn validated(mut self) -> Self {
        self.new.validated_at = Some(chrono::Utc::now());
        self
    }

    /// Creates the user with no password (only sessions started for it, or federation, log it in).
    pub fn no_password(mut self) -> Self {
        self.with_password = false;
        self
    }

    /// Adds a membership in `org` with `roles`; the first org added is the default one.
    pub fn member(self, org: &Org, roles: &[Role]) -> Self {
        self.member_as(org, roles, MembershipKind::Member)
    }

    /// Adds a membership of `kind` in `org` with `roles`.
    pub fn member_as(mut self, org: &Org, roles: &[Role], kind: MembershipKind) -> Self {
        self.orgs
            .push((org.id, roles.iter().copied().collect(), kind));
        self
    }

    /// Creates the user and its memberships.
    pub async fn create(mut self) -> User {
        if self.with_password {
            self.new.password_hash = Some(self.env.password_hash().await);
        }
        let store = &self.env.store;
        let user = store.create_user(self.new).await.expect("user");
        for (org, roles, kind) in self.orgs {
            store
                .upsert_membership(user.id, org, roles, kind)
                .await
                .expect("membership");
        }
        user
    }
}

/// A fresh PostgreSQL database on the server at an admin URL, dropped (`WITH (FORCE)`) with this
/// value; the store suite uses it too.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates `portcullis_test_<uuid>` on the server `admin_url` points at.
    pub async fn create(admin_url: &str) -> PgDatabase {
        let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to the PostgreSQL admin database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        PgDatabase {
            url: with_database(admin_url, &name),
            admin_url: admin_url.into(),
            name,
        }
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Its own thread and runtime: a drop may run inside (or outside) any runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
                r.map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t2"), "postgres://h/t2");
    }

    #[tokio::test]
    async fn builds_users_and_logs_them_in() {
        for env in [
            TestEnv::new().await,
            TestEnv::builder().postgres().build().await,
        ] {
            let acme = env.org("acme").await;
            let ann = env
                .user("ann@example.com")
                .member(&acme, &[Role::Admin])
                .create()
                .await;
            assert_eq!(ann.display_name, "ann");
            let login = env.login("ann@example.com", OrgChoice::Default).await;
            assert_eq!(login.principal.org, acme.id);
            let other = env.second_store().await;
            assert!(other.get_user(ann.id).await.unwrap().is_some());
        }
    }
}
