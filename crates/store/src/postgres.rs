//! The PostgreSQL backend: native UUID, TIMESTAMPTZ, BOOLEAN and BYTEA columns.
//!
//! Transactions run at READ COMMITTED. Where a read-then-write must be atomic the code takes an
//! explicit lock ([`Lock`]): the user's row for replacing persistent credentials, the users
//! table for bootstrap, and the revocation feed table so that event sequence numbers commit in
//! order. Read-only multi-statement reads (snapshots) run at REPEATABLE READ.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_core::model::Timestamp;
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Arguments, AssertSqlSafe, Connection, Postgres, Row, Transaction};

use crate::backend::{Backend, Bind, Col, Lock, Sql, io, needs_liveness_check, round_trip};
use crate::common::db_err;
use crate::sql_store::SqlStore;
use crate::{CONNECT_TIMEOUT, migrate_err};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL implementation of [`Store`](portcullis_core::store::Store).
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to a `postgres://` or `postgresql://` URL. Does not migrate; call
    /// [`PgStore::migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        // One direct attempt first: the pool retries failed connects until its timeout, which
        // would turn "connection refused" into a slow, vague timeout.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options));
        let conn = connected(probe.await)?;
        let _ = conn.close().await;
        let connecting = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx checks a connection when it is released (a round trip it makes after this hook).
            .after_release(|_conn, _meta| {
                Box::pin(async move {
                    round_trip(Postgres::NAME);
                    Ok(true)
                })
            })
            // Instead of sqlx's check on every acquire: only after an idle spell, and counted.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if needs_liveness_check(&meta) {
                        round_trip(Postgres::NAME);
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options);
        let pool = connected(tokio::time::timeout(CONNECT_TIMEOUT, connecting).await)?;
        tracing::info!("connected to PostgreSQL store");
        Ok(SqlStore::new(pool))
    }

    /// Applies the embedded migrations not yet applied; a no-op when up to date. Concurrent
    /// callers are serialised by sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(self.pool()).await.map_err(migrate_err)?;
        tracing::info!("PostgreSQL store schema is up to date");
        Ok(())
    }
}

/// The outcome of a connect attempt bounded by `CONNECT_TIMEOUT`, as the store's error.
fn connected<T>(
    attempt: Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>,
) -> Result<T, StoreError> {
    match attempt {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL: {e}"
        ))),
        Err(_) => Err(StoreError::Unavailable(format!(
            "timed out after {}s connecting to PostgreSQL",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

impl Backend for Postgres {
    const NAME: &'static str = "postgres";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    type Conn = PgConnection;
    type Row = PgRow;
    type Args = PgArguments;
    type Pool = PgPool;
    type Pooled = PoolConnection<Postgres>;
    type Tx = Transaction<'static, Postgres>;

    fn placeholder(sql: &mut String, n: usize, _positional: bool) {
        use std::fmt::Write as _;
        let _ = write!(sql, "${n}");
    }

    fn add<T: Bind>(args: &mut PgArguments, value: T) -> Result<(), BoxDynError> {
        args.add(value)
    }

    /// Timestamps are TIMESTAMPTZ.
    fn add_ts(args: &mut PgArguments, t: Option<Timestamp>) -> Result<(), BoxDynError> {
        args.add(t)
    }

    fn col<T: Col>(row: &PgRow, i: usize) -> StoreResult<T> {
        row.try_get(i).map_err(db_err)
    }

    fn ts(row: &PgRow, i: usize) -> StoreResult<Timestamp> {
        Self::col::<DateTime<Utc>>(row, i)
    }

    fn opt_ts(row: &PgRow, i: usize) -> StoreResult<Option<Timestamp>> {
        Self::col::<Option<DateTime<Utc>>>(row, i)
    }

    async fn execute(conn: &mut PgConnection, sql: Sql, args: PgArguments) -> StoreResult<u64> {
        round_trip(Self::NAME);
        let done = sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(conn)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn fetch_optional(
        conn: &mut PgConnection,
        sql: Sql,
        args: PgArguments,
    ) -> StoreResult<Option<PgRow>> {
        round_trip(Self::NAME);
        io::fetch_optional::<Postgres>(conn, sql, args).await
    }

    async fn fetch_all(
        conn: &mut PgConnection,
        sql: Sql,
        args: PgArguments,
    ) -> StoreResult<Vec<PgRow>> {
        round_trip(Self::NAME);
        io::fetch_all::<Postgres>(conn, sql, args).await
    }

    async fn acquire(pool: &PgPool) -> StoreResult<PoolConnection<Postgres>> {
        io::acquire(pool).await
    }

    async fn probe(pool: &PgPool) -> StoreResult<()> {
        io::probe(pool).await
    }

    async fn begin_write(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
        round_trip(Self::NAME);
        pool.begin().await.map_err(db_err)
    }

    async fn begin_snapshot(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
        round_trip(Self::NAME);
        pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_err)
    }

    async fn commit(tx: Transaction<'static, Postgres>) -> StoreResult<()> {
        round_trip(Self::NAME);
        io::commit(tx).await
    }

    async fn lock(conn: &mut PgConnection, lock: Lock) -> StoreResult<()> {
        round_trip(Self::NAME);
        let query = match lock {
            Lock::User(id) => {
                sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(id.0)
            }
            // Conflicts with itself and with every INSERT into users.
            Lock::Bootstrap => sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
            // Writers of the feed queue up, so sequence numbers become visible in order; plain
            // readers are not blocked.
            Lock::RevocationFeed => sqlx::query("LOCK TABLE revocation_events IN EXCLUSIVE MODE"),
            Lock::Org(id) => sqlx::query("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE").bind(id.0),
        };
        query.execute(&mut *conn).await.map_err(db_err)?;
        Ok(())
    }

    async fn close(pool: &PgPool) {
        pool.close().await;
    }
}
