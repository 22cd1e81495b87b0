//! The SQLite backend: one file, WAL journal, `synchronous=FULL`, foreign keys on.
//!
//! Timestamps are INTEGER microseconds since the Unix epoch, UUIDs 16-byte BLOBs. Write
//! transactions start with `BEGIN IMMEDIATE`, which takes the database's single write lock up
//! front: writers are serialised (waiting up to the busy timeout), so a read-then-write inside
//! one transaction is atomic without further locks, and no transaction fails on a lock upgrade.

use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::DateTime;
use portcullis_core::model::Timestamp;
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::error::BoxDynError;
use sqlx::pool::{PoolConnection, PoolConnectionMetadata};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, Connection, Row, Sqlite, Transaction};

use crate::backend::{Backend, Bind, Col, Lock, Sql, io, needs_liveness_check, round_trip};
use crate::common::{corrupt, db_err};
use crate::sql_store::SqlStore;
use crate::{CONNECT_TIMEOUT, migrate_err};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a writer waits for the write lock before giving up with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 8;

/// The SQLite implementation of [`Store`](portcullis_core::store::Store).
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating it if missing) the database at a file path or a `sqlite:` URL.
    /// Does not migrate; call [`SqliteStore::migrate`].
    pub async fn connect(url_or_path: &str) -> Result<Self, StoreError> {
        let options = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path)
                .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL: {e}")))?
        } else {
            SqliteConnectOptions::new().filename(url_or_path)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let connecting = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(BUSY_TIMEOUT)
            // sqlx checks a connection when it is released (a round trip it makes after this hook).
            .after_release(|_conn, _meta| {
                Box::pin(async move {
                    round_trip(Sqlite::NAME);
                    Ok(true)
                })
            })
            // Instead of sqlx's check on every acquire: only after an idle spell, and counted.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if needs_liveness_check(&meta) {
                        round_trip(Sqlite::NAME);
                        conn.ping().await?;
                    }
                    Ok(opened_since_refusal(meta))
                })
            })
            .connect_with(options);
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot open SQLite database {url_or_path}: {e}"
                )));
            }
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "timed out opening SQLite database {url_or_path}"
                )));
            }
        };
        tracing::info!(database = url_or_path, "opened SQLite store");
        Ok(SqlStore::new(pool))
    }

    /// Applies the embedded migrations not yet applied; a no-op when up to date.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(self.pool()).await.map_err(migrate_err)?;
        tracing::info!("SQLite store schema is up to date");
        Ok(())
    }
}

/// When a write was last refused as read-only (µs since [`clock`]'s start, plus one; 0: never).
///
/// SQLite opens a file it may not write (mode, directory, read-only mount) read-only, silently,
/// and the connection stays read-only after the file is writable again: the pool would keep
/// refusing writes until its idle timeout. So after a refusal, every connection opened before it
/// is closed on its next acquire (`before_acquire`) and a fresh one opened: once the file (and
/// its -wal and -shm, docs/reliability.md) is writable, writes work again. Process-wide, because
/// sqlx's error carries no handle on its pool; another SQLite store in the process only reopens
/// connections as well.
static READ_ONLY_REFUSED: AtomicU64 = AtomicU64::new(0);

fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let micros = START.get_or_init(Instant::now).elapsed().as_micros();
    u64::try_from(micros).unwrap_or(u64::MAX)
}

/// `SQLITE_READONLY` and its extended codes (`SQLITE_READONLY_DBMOVED`, `_CANTINIT`, …).
const SQLITE_READONLY: i32 = 8;

fn is_read_only(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    d.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == SQLITE_READONLY)
}

/// The store's error for a driver error, noting a read-only refusal first.
fn sqlite_err(e: sqlx::Error) -> StoreError {
    if is_read_only(&e) {
        READ_ONLY_REFUSED.store(clock().saturating_add(1), Ordering::Release);
    }
    db_err(e)
}

/// Keep a pooled connection unless a write was refused as read-only since it opened.
fn opened_since_refusal(meta: PoolConnectionMetadata) -> bool {
    keep(READ_ONLY_REFUSED.load(Ordering::Acquire), clock(), meta.age)
}

fn keep(refused: u64, now: u64, age: Duration) -> bool {
    if refused == 0 {
        return true;
    }
    let age = u64::try_from(age.as_micros()).unwrap_or(u64::MAX);
    now.saturating_sub(age) >= refused
}

impl Backend for Sqlite {
    const NAME: &'static str = "sqlite";
    const SKIP_LOCKED: &'static str = "";
    type Conn = SqliteConnection;
    type Row = SqliteRow;
    type Args = SqliteArguments;
    type Pool = SqlitePool;
    type Pooled = PoolConnection<Sqlite>;
    type Tx = Transaction<'static, Sqlite>;

    /// `?` where every parameter is appended (numbered by position): SQLite looks a `$n` up
    /// by name in a linear list for each parameter, which made a 900-parameter audit batch
    /// quadratic. Statements with `$n` in their own text keep `$n` for the rest.
    fn placeholder(sql: &mut String, n: usize, positional: bool) {
        if positional {
            sql.push('?');
        } else {
            use std::fmt::Write as _;
            let _ = write!(sql, "${n}");
        }
    }

    fn add<T: Bind>(args: &mut SqliteArguments, value: T) -> Result<(), BoxDynError> {
        args.add(value)
    }

    /// Timestamps are INTEGER microseconds since the Unix epoch.
    fn add_ts(args: &mut SqliteArguments, t: Option<Timestamp>) -> Result<(), BoxDynError> {
        args.add(t.map(|t| t.timestamp_micros()))
    }

    fn col<T: Col>(row: &SqliteRow, i: usize) -> StoreResult<T> {
        row.try_get(i).map_err(db_err)
    }

    fn ts(row: &SqliteRow, i: usize) -> StoreResult<Timestamp> {
        micros_to_ts(Self::col(row, i)?)
    }

    fn opt_ts(row: &SqliteRow, i: usize) -> StoreResult<Option<Timestamp>> {
        Self::col::<Option<i64>>(row, i)?
            .map(micros_to_ts)
            .transpose()
    }

    async fn execute(
        conn: &mut SqliteConnection,
        sql: Sql,
        args: SqliteArguments,
    ) -> StoreResult<u64> {
        round_trip(Self::NAME);
        let done = sqlx::query_with(AssertSqlSafe(sql), args)
            .execute(conn)
            .await
            .map_err(sqlite_err)?;
        Ok(done.rows_affected())
    }

    async fn fetch_optional(
        conn: &mut SqliteConnection,
        sql: Sql,
        args: SqliteArguments,
    ) -> StoreResult<Option<SqliteRow>> {
        round_trip(Self::NAME);
        sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_optional(conn)
            .await
            .map_err(sqlite_err)
    }

    async fn fetch_all(
        conn: &mut SqliteConnection,
        sql: Sql,
        args: SqliteArguments,
    ) -> StoreResult<Vec<SqliteRow>> {
        round_trip(Self::NAME);
        sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(conn)
            .await
            .map_err(sqlite_err)
    }

    async fn acquire(pool: &SqlitePool) -> StoreResult<PoolConnection<Sqlite>> {
        io::acquire(pool).await
    }

    async fn probe(pool: &SqlitePool) -> StoreResult<()> {
        io::probe(pool).await
    }

    async fn begin_write(pool: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
        round_trip(Self::NAME);
        pool.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_err)
    }

    /// A deferred transaction: in WAL mode its first read fixes a snapshot for the rest.
    async fn begin_snapshot(pool: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
        round_trip(Self::NAME);
        pool.begin().await.map_err(db_err)
    }

    async fn commit(tx: Transaction<'static, Sqlite>) -> StoreResult<()> {
        round_trip(Self::NAME);
        tx.commit().await.map_err(sqlite_err)
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already serialises every writer.
    async fn lock(_conn: &mut SqliteConnection, _lock: Lock) -> StoreResult<()> {
        Ok(())
    }

    async fn close(pool: &SqlitePool) {
        pool.close().await;
    }
}

fn micros_to_ts(v: i64) -> StoreResult<Timestamp> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| corrupt(format!("timestamp {v} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_opened_before_a_read_only_refusal_are_replaced() {
        let s = Duration::from_secs;
        // No refusal yet: keep everything.
        assert!(keep(0, 1_000_000_000, s(100)));
        // Refused at 500 s: a connection opened at 400 s goes, one opened at 600 s stays.
        assert!(!keep(500_000_000, 700_000_000, s(300)));
        assert!(keep(500_000_000, 700_000_000, s(100)));
        // An age beyond the clock (the pool's own clock started earlier) counts as old.
        assert!(!keep(5, 10, s(1)));
    }
}
