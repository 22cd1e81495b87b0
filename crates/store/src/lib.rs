//! Storage for Portcullis: the [`Store`] port implemented for SQLite (the default) and
//! PostgreSQL, from one shared implementation: [`SqlStore`] (`sql_store.rs`) over the aggregate
//! functions in `sql/`, generic over a [`Backend`](backend::Backend) (`backend.rs`, implemented
//! in `sqlite.rs` and `postgres.rs`).
//!
//! ```no_run
//! # async fn f() -> Result<(), portcullis_core::store::StoreError> {
//! let store = portcullis_store::open("/var/lib/portcullis/store.db").await?; // connects + migrates
//! store.ping().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_core::model::Timestamp;
pub use portcullis_core::store::{Store, StoreError};

pub mod backend;
mod common;
mod health;
mod postgres;
mod sql;
mod sql_store;
mod sqlite;
mod write;

pub use postgres::PgStore;
pub use sql_store::SqlStore;
pub use sqlite::SqliteStore;

/// How long opening a database may take before it is reported `Unavailable`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`Store::throttle_get`] reports as `locked_until` for a key locked until an admin
/// unlocks it (`throttle_fail(.., Some(None))`); [`Store::throttle_claim`] reports such a key as
/// `Locked { until: None }`.
pub const INDEFINITE_LOCK: Timestamp = DateTime::<Utc>::MAX_UTC;

/// A store of either backend, before it is handed out as `Arc<dyn Store>`.
#[derive(Debug, Clone)]
pub enum DbStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl DbStore {
    /// Picks the backend from the address: `postgres://` or `postgresql://` → PostgreSQL;
    /// `sqlite:` URLs and plain paths → SQLite (the file is created if missing).
    /// Does not migrate.
    pub async fn connect(url_or_path: &str) -> Result<DbStore, StoreError> {
        if is_postgres_url(url_or_path) {
            Ok(DbStore::Postgres(PgStore::connect(url_or_path).await?))
        } else {
            Ok(DbStore::Sqlite(SqliteStore::connect(url_or_path).await?))
        }
    }

    /// Applies pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            DbStore::Sqlite(s) => s.migrate().await,
            DbStore::Postgres(s) => s.migrate().await,
        }
    }

    pub fn into_dyn(self) -> Arc<dyn Store> {
        match self {
            DbStore::Sqlite(s) => Arc::new(s),
            DbStore::Postgres(s) => Arc::new(s),
        }
    }
}

/// Connects to the store at `url_or_path` (see [`DbStore::connect`]) and migrates it.
pub async fn open(url_or_path: &str) -> Result<Arc<dyn Store>, StoreError> {
    let store = DbStore::connect(url_or_path).await?;
    store.migrate().await?;
    Ok(store.into_dyn())
}

fn is_postgres_url(s: &str) -> bool {
    let lower = s.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

pub(crate) fn migrate_err(e: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::Execute(e) => common::db_err(e),
        e @ (M::VersionMissing(_)
        | M::VersionMismatch(_)
        | M::VersionTooOld(..)
        | M::VersionTooNew(..)) => StoreError::Corrupt(format!("migrations: {e}")),
        e => StoreError::Unavailable(format!("migrations: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backend_choice() {
        assert!(super::is_postgres_url("postgres://u@h/db"));
        assert!(super::is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!super::is_postgres_url("sqlite://x.db"));
        assert!(!super::is_postgres_url("/var/lib/x.db"));
    }
}
