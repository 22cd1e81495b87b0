//! What differs between SQLite and PostgreSQL, behind one trait, and the statement type the
//! shared SQL (`sql/`) is written with.
//!
//! Generic sqlx code over `DB: Database` needs where-clauses (executor, encode, decode, column
//! index) repeated on every function. Instead, [`Backend`] is implemented concretely for
//! `sqlx::Sqlite` and `sqlx::Postgres` (`sqlite.rs`, `postgres.rs`): binding a value, reading a
//! column, running a statement, timestamps, transactions and locks. [`Bind`] and [`Col`] name
//! the values both backends encode and decode, so generic code needs only `B: Backend`.
//!
//! All shared SQL is portable: `$n` placeholders (both backends accept them), `RETURNING`,
//! `ON CONFLICT`, `NULLS FIRST/LAST`, `TRUE/FALSE`.

use std::borrow::Cow;
use std::future::Future;
use std::ops::DerefMut;

use portcullis_core::model::{OrgId, Timestamp, UserId};
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, Database, Decode, Encode, Executor, IntoArguments,
    Pool, Postgres, Sqlite, Transaction, Type,
};

use crate::common::db_err;

/// Explicit locks a backend may need to take inside a write transaction.
#[derive(Debug, Clone, Copy)]
pub enum Lock {
    /// The user's row, for read-then-write sequences on the user's credentials.
    User(UserId),
    /// The whole users table, so that "no users yet" stays true until commit.
    Bootstrap,
    /// The revocation feed: events must commit in sequence order. Always taken last.
    RevocationFeed,
    /// The org's row, for read-then-write sequences on per-org tables (team settings).
    Org(OrgId),
}

/// A value both backends bind as a statement parameter.
pub trait Bind:
    for<'q> Encode<'q, Sqlite> + Type<Sqlite> + for<'q> Encode<'q, Postgres> + Type<Postgres> + Send
{
}

impl<T> Bind for T where
    T: for<'q> Encode<'q, Sqlite>
        + Type<Sqlite>
        + for<'q> Encode<'q, Postgres>
        + Type<Postgres>
        + Send
{
}

/// A column value both backends decode.
pub trait Col:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Col for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// SQL text: a literal, or built at run time by [`Stmt::push`].
pub type Sql = Cow<'static, str>;

/// One database engine: implemented for `sqlx::Sqlite` and `sqlx::Postgres` only.
pub trait Backend: Send + Sync + Sized + 'static {
    /// "sqlite" or "postgres", for logs and metrics.
    const NAME: &'static str;
    /// Ends a `SELECT` that claims rows for work (a queue): ` FOR UPDATE SKIP LOCKED` where
    /// concurrent claimers would otherwise wait on each other's rows, empty where writers are
    /// serialised anyway.
    const SKIP_LOCKED: &'static str;
    type Conn: Send;
    type Row: Send + Sync;
    type Args: Default + Send;
    type Pool: Clone + Send + Sync + std::fmt::Debug;
    /// A connection borrowed from the pool.
    type Pooled: DerefMut<Target = Self::Conn> + Send;
    /// An open transaction; dropped without [`Backend::commit`] it rolls back.
    type Tx: DerefMut<Target = Self::Conn> + Send;

    /// Appends the placeholder of the `n`th (1-based) parameter to SQL built at run time;
    /// `positional` when every parameter of the statement is appended this way.
    fn placeholder(sql: &mut String, n: usize, positional: bool);
    fn add<T: Bind>(args: &mut Self::Args, value: T) -> Result<(), BoxDynError>;
    fn add_ts(args: &mut Self::Args, t: Option<Timestamp>) -> Result<(), BoxDynError>;
    fn col<T: Col>(row: &Self::Row, i: usize) -> StoreResult<T>;
    fn ts(row: &Self::Row, i: usize) -> StoreResult<Timestamp>;
    fn opt_ts(row: &Self::Row, i: usize) -> StoreResult<Option<Timestamp>>;

    /// Runs a statement; returns the number of rows it changed.
    fn execute(
        conn: &mut Self::Conn,
        sql: Sql,
        args: Self::Args,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    fn fetch_optional(
        conn: &mut Self::Conn,
        sql: Sql,
        args: Self::Args,
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send;
    fn fetch_all(
        conn: &mut Self::Conn,
        sql: Sql,
        args: Self::Args,
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;

    fn acquire(pool: &Self::Pool) -> impl Future<Output = StoreResult<Self::Pooled>> + Send;
    /// Opens and closes one connection outside the pool: can the database be reached now?
    fn probe(pool: &Self::Pool) -> impl Future<Output = StoreResult<()>> + Send;
    /// A transaction that will write.
    fn begin_write(pool: &Self::Pool) -> impl Future<Output = StoreResult<Self::Tx>> + Send;
    /// A read-only transaction that sees one consistent snapshot.
    fn begin_snapshot(pool: &Self::Pool) -> impl Future<Output = StoreResult<Self::Tx>> + Send;
    fn commit(tx: Self::Tx) -> impl Future<Output = StoreResult<()>> + Send;
    /// Takes an explicit lock where a read-then-write must be atomic (a no-op where writers are
    /// already serialised).
    fn lock(conn: &mut Self::Conn, lock: Lock) -> impl Future<Output = StoreResult<()>> + Send;
    /// Waits for in-flight work and closes the connections.
    fn close(pool: &Self::Pool) -> impl Future<Output = ()> + Send;
}

/// A statement with its parameters, written like sqlx:
/// `q::<B>("SELECT … WHERE id = $1").bind(id).fetch_optional(conn).await?`.
pub struct Stmt<B: Backend> {
    sql: Sql,
    args: B::Args,
    binds: usize,
    /// The first value that failed to encode; reported when the statement runs.
    error: Option<BoxDynError>,
    /// Whether the statement's text had no placeholder of its own when the first one was
    /// appended (decided then).
    positional: Option<bool>,
}

/// A statement from literal SQL.
pub fn q<B: Backend>(sql: &'static str) -> Stmt<B> {
    Stmt {
        sql: Cow::Borrowed(sql),
        args: B::Args::default(),
        binds: 0,
        error: None,
        positional: None,
    }
}

impl<B: Backend> Stmt<B> {
    fn record(&mut self, added: Result<(), BoxDynError>) {
        self.binds += 1;
        if let (Err(e), None) = (added, &self.error) {
            self.error = Some(e);
        }
    }

    /// Binds the next `$n`.
    pub fn bind<T: Bind>(mut self, value: T) -> Self {
        let added = B::add(&mut self.args, value);
        self.record(added);
        self
    }

    pub fn bind_ts(self, t: Timestamp) -> Self {
        self.bind_opt_ts(Some(t))
    }

    pub fn bind_opt_ts(mut self, t: Option<Timestamp>) -> Self {
        let added = B::add_ts(&mut self.args, t);
        self.record(added);
        self
    }

    /// Appends SQL text (for statements built at run time).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.to_mut().push_str(sql);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub fn push_bind<T: Bind>(&mut self, value: T) -> &mut Self {
        let added = B::add(&mut self.args, value);
        self.record(added);
        self.placeholder()
    }

    /// Appends the next placeholder and binds the timestamp to it.
    pub fn push_bind_ts(&mut self, t: Timestamp) -> &mut Self {
        let added = B::add_ts(&mut self.args, Some(t));
        self.record(added);
        self.placeholder()
    }

    /// Appends `$i, $j, …` binding each value (an `IN (…)` list or a `VALUES` row).
    pub fn push_list<T: Bind>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(v);
        }
        self
    }

    fn placeholder(&mut self) -> &mut Self {
        let positional = *self.positional.get_or_insert(self.binds == 1);
        B::placeholder(self.sql.to_mut(), self.binds, positional);
        self
    }

    fn parts(self) -> StoreResult<(Sql, B::Args)> {
        match self.error {
            Some(e) => Err(db_err(sqlx::Error::Encode(e))),
            None => Ok((self.sql, self.args)),
        }
    }

    /// Returns the number of rows changed.
    pub async fn execute(self, conn: &mut B::Conn) -> StoreResult<u64> {
        let (sql, args) = self.parts()?;
        B::execute(conn, sql, args).await
    }

    pub async fn fetch_optional(self, conn: &mut B::Conn) -> StoreResult<Option<B::Row>> {
        let (sql, args) = self.parts()?;
        B::fetch_optional(conn, sql, args).await
    }

    /// The first row; `NotFound("row")` when there is none.
    pub async fn fetch_one(self, conn: &mut B::Conn) -> StoreResult<B::Row> {
        self.fetch_optional(conn)
            .await?
            .ok_or_else(|| db_err(sqlx::Error::RowNotFound))
    }

    pub async fn fetch_all(self, conn: &mut B::Conn) -> StoreResult<Vec<B::Row>> {
        let (sql, args) = self.parts()?;
        B::fetch_all(conn, sql, args).await
    }
}

/// Counts one round trip to the database (a statement, `BEGIN`, `COMMIT` or a connection
/// check) in the `store_round_trips_total` metric, labelled by backend. The benchmark divides
/// its growth by the requests served.
pub(crate) fn round_trip(backend: &'static str) {
    metrics::counter!("store_round_trips_total", "backend" => backend).increment(1);
}

/// A pooled connection idle at least this long is pinged before it is handed out.
///
/// sqlx already pings every connection when it is released, so a connection taken from the pool
/// was alive when it went back. Only one that then sat idle can have died since (the database
/// restarted, a firewall dropped it); a busy pool reuses connections within microseconds, and a
/// ping there would be one more round trip on every request for nothing.
pub(crate) const CHECK_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a connection about to be handed out needs a liveness ping first.
pub(crate) fn needs_liveness_check(meta: &sqlx::pool::PoolConnectionMetadata) -> bool {
    meta.idle_for >= CHECK_IF_IDLE_FOR
}

/// The sqlx calls both backends make alike, written once for their `impl Backend`.
pub(crate) mod io {
    use super::*;

    pub(crate) async fn fetch_optional<DB: Database>(
        conn: &mut DB::Connection,
        sql: Sql,
        args: DB::Arguments,
    ) -> StoreResult<Option<DB::Row>>
    where
        DB::Arguments: IntoArguments<DB>,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_optional(conn)
            .await
            .map_err(db_err)
    }

    pub(crate) async fn fetch_all<DB: Database>(
        conn: &mut DB::Connection,
        sql: Sql,
        args: DB::Arguments,
    ) -> StoreResult<Vec<DB::Row>>
    where
        DB::Arguments: IntoArguments<DB>,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        sqlx::query_with(AssertSqlSafe(sql), args)
            .fetch_all(conn)
            .await
            .map_err(db_err)
    }

    pub(crate) async fn acquire<DB: Database>(pool: &Pool<DB>) -> StoreResult<PoolConnection<DB>> {
        pool.acquire().await.map_err(db_err)
    }

    /// Errors are not logged here: the health gate logs when reachability changes.
    pub(crate) async fn probe<DB: Database>(pool: &Pool<DB>) -> StoreResult<()> {
        let options = pool.connect_options();
        let conn = options
            .connect()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // The connection worked; how it closes does not matter.
        let _ = conn.close().await;
        Ok(())
    }

    pub(crate) async fn commit<DB: Database>(tx: Transaction<'static, DB>) -> StoreResult<()> {
        tx.commit().await.map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_placeholders_are_positional_only_where_the_text_has_none() {
        // Every parameter appended: `?` on SQLite (no per-name lookup), `$n` on PostgreSQL.
        let mut all = q::<Sqlite>("INSERT INTO t (a, b) VALUES (");
        all.push_list([1_i64, 2]).push(")");
        assert_eq!(all.sql, "INSERT INTO t (a, b) VALUES (?, ?)");
        let mut pg = q::<Postgres>("INSERT INTO t (a, b) VALUES (");
        pg.push_list([1_i64, 2]).push(")");
        assert_eq!(pg.sql, "INSERT INTO t (a, b) VALUES ($1, $2)");
        // The text binds `$1` itself: SQLite would number a later `?` apart from sqlx's own
        // count, so the rest stay `$n`.
        let mut mixed = q::<Sqlite>("SELECT id FROM t WHERE org = $1 AND id IN (").bind(7_i64);
        mixed.push_list([1_i64, 2]).push(")");
        assert_eq!(
            mixed.sql,
            "SELECT id FROM t WHERE org = $1 AND id IN ($2, $3)"
        );
    }
}
