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
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};

use crate::common::db_err;
use crate::imp::Lock;
use crate::{CONNECT_TIMEOUT, migrate_err};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL implementation of [`Store`](portcullis_core::store::Store).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` or `postgresql://` URL. Does not migrate; call
    /// [`PgStore::migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        // One direct attempt first: the pool retries failed connects until its timeout, which
        // would turn "connection refused" into a slow, vague timeout.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options));
        match probe.await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot connect to PostgreSQL: {e}"
                )));
            }
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "timed out after {}s connecting to PostgreSQL",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        let connecting = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options);
        let pool = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(pool)) => pool,
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot connect to PostgreSQL: {e}"
                )));
            }
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "timed out after {}s connecting to PostgreSQL",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        tracing::info!("connected to PostgreSQL store");
        Ok(PgStore { pool })
    }

    /// Applies the embedded migrations not yet applied; a no-op when up to date. Concurrent
    /// callers are serialised by sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(migrate_err)?;
        tracing::info!("PostgreSQL store schema is up to date");
        Ok(())
    }
}

type Ts = DateTime<Utc>;

fn enc(t: Timestamp) -> Ts {
    t
}

fn dec(v: Ts) -> StoreResult<Timestamp> {
    Ok(v)
}

async fn begin_write(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    pool.begin().await.map_err(db_err)
}

async fn begin_snapshot(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(db_err)
}

async fn lock(conn: &mut PgConnection, lock: Lock) -> StoreResult<()> {
    let query = match lock {
        Lock::User(id) => sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(id.0),
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

store_impl!(PgStore, Postgres, "postgres");
