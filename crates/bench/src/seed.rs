//! Seeding. Small seeds go through the admin CLI and the API (see `main.rs`); the bulk
//! population (login users and API keys, up to millions) is written here straight into the
//! store's tables with sqlx, in large transactions, while the server is stopped. Every bulk
//! user shares ONE precomputed argon2id PHC string; every bulk key stores the SHA-256 of a
//! secret derived from its index, so the load generator can recompute any key's secret.

use std::time::Instant;

use anyhow::Context as _;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use sqlx::{Connection as _, QueryBuilder};
use uuid::Uuid;

/// The password of every bulk user (and of the seeded admins).
pub const BENCH_PASSWORD: &str = "bench-load-Passw0rd-7731";
/// The prefix of API key secrets (the server's default `core.credentials.prefix`).
pub const KEY_PREFIX: &str = "nominal_api_key_";

/// argon2id parameters: the server's defaults, written explicitly into the bench config.
#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

pub const ARGON2: HashParams = HashParams {
    memory_kib: 19456,
    iterations: 2,
    parallelism: 1,
};

impl HashParams {
    pub fn argon2(&self) -> anyhow::Result<Argon2<'static>> {
        let p = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }

    /// A PHC string for `password` at these parameters (what the server would store).
    pub fn phc(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        let h = self
            .argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(h.to_string())
    }
}

/// The login email of bulk user `i` (1-based).
pub fn user_email(i: u64) -> String {
    format!("load-{i:07}@bench.test")
}

/// The secret of bulk API key `i` (1-based): the prefix and 43 base64url characters, like a
/// server-issued one.
pub fn api_key_secret(i: u64) -> String {
    let raw = Sha256::digest(format!("portcullis-bench-key-{i}").as_bytes());
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
}

fn secret_hash(i: u64) -> Vec<u8> {
    Sha256::digest(api_key_secret(i).as_bytes()).to_vec()
}

/// Rows per INSERT statement and per transaction.
const ROWS_PER_STATEMENT: u64 = 1000;
const ROWS_PER_TX: u64 = 50_000;

/// Where the bulk rows go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The SQLite database file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

// One body for both backends: `$ts` encodes a timestamp for the backend (i64 microseconds
// for SQLite, `DateTime<Utc>` for PostgreSQL).
macro_rules! bulk_body {
    ($conn:expr, $org:expr, $from:expr, $to:expr, $phc:expr, $now:expr, $ts:expr) => {{
        let conn = $conn;
        let ts = $ts($now);
        let mut i = $from;
        while i <= $to {
            let tx_end = (i + ROWS_PER_TX - 1).min($to);
            let mut tx = conn.begin().await?;
            while i <= tx_end {
                let stmt_end = (i + ROWS_PER_STATEMENT - 1).min(tx_end);
                let ids: Vec<(u64, Uuid, Uuid)> = (i..=stmt_end)
                    .map(|n| (n, Uuid::new_v4(), Uuid::new_v4()))
                    .collect();
                let mut q = QueryBuilder::new(
                    "INSERT INTO users (id, email, email_norm, display_name, name_norm, \
                     password_hash, validated_at, super_admin, deactivated, \
                     password_reset_required, created_at, updated_at) ",
                );
                q.push_values(ids.iter(), |mut b, (n, uid, _)| {
                    let email = user_email(*n);
                    let name = format!("Load User {n}");
                    b.push_bind(*uid)
                        .push_bind(email.clone())
                        .push_bind(email)
                        .push_bind(name.clone())
                        .push_bind(name.to_lowercase())
                        .push_bind($phc.to_string())
                        .push_bind(ts)
                        .push_bind(false)
                        .push_bind(false)
                        .push_bind(false)
                        .push_bind(ts)
                        .push_bind(ts);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::new(
                    "INSERT INTO memberships (user_id, org_id, roles, kind, deactivated, \
                     created_at, updated_at) ",
                );
                q.push_values(ids.iter(), |mut b, (_, uid, _)| {
                    b.push_bind(*uid)
                        .push_bind($org)
                        .push_bind("AUTHOR")
                        .push_bind("member")
                        .push_bind(false)
                        .push_bind(ts)
                        .push_bind(ts);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::new(
                    "INSERT INTO credentials (id, kind, user_id, org_id, creator_id, name, \
                     secret_hash, created_at) ",
                );
                q.push_values(ids.iter(), |mut b, (n, uid, cid)| {
                    b.push_bind(*cid)
                        .push_bind("api_key")
                        .push_bind(*uid)
                        .push_bind($org)
                        .push_bind(*uid)
                        .push_bind(format!("load-key-{n}"))
                        .push_bind(secret_hash(*n))
                        .push_bind(ts);
                });
                q.build().execute(&mut *tx).await?;
                i = stmt_end + 1;
            }
            tx.commit().await?;
        }
    }};
}

/// Inserts bulk users `from..=to` (each an AUTHOR member of `org`, password
/// [`BENCH_PASSWORD`] via the shared `phc`) and one API key per user in `org`.
/// The server must not be running.
pub async fn bulk(target: &Target, org: Uuid, from: u64, to: u64, phc: &str) -> anyhow::Result<()> {
    if from > to {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let started = Instant::now();
    match target {
        Target::Sqlite(path) => {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Off)
                .pragma("cache_size", "-524288")
                .foreign_keys(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts)
                .await
                .with_context(|| format!("cannot open {}", path.display()))?;
            let enc = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();
            bulk_body!(&mut conn, org, from, to, phc, now, enc);
            // Fold the WAL back into the database so the server starts from a clean file.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Target::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .context("cannot connect to PostgreSQL")?;
            sqlx::query("SET synchronous_commit = off")
                .execute(&mut conn)
                .await?;
            let enc = |t: chrono::DateTime<chrono::Utc>| t;
            bulk_body!(&mut conn, org, from, to, phc, now, enc);
            // What autovacuum would do soon after such a load anyway.
            sqlx::query("ANALYZE").execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    eprintln!(
        "  bulk-seeded users {from}..={to} (+ memberships, + API keys) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates a fresh database next to the one `admin_url` names and returns its URL.
pub async fn create_pg_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    let name = format!(
        "portcullis_bench_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .context("cannot connect to PostgreSQL (--database-url)")?;
    // `name` is generated here from digits and underscores only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .context("cannot create the benchmark database")?;
    conn.close().await?;
    Ok((replace_db_name(admin_url, &name)?, name))
}

pub async fn drop_pg_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// `postgres://u:p@h:5432/db?x=y` with `db` replaced by `name`.
pub fn replace_db_name(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").context("not a URL")? + 3;
    let host_and_path = &base[scheme_end..];
    let authority = host_and_path.split('/').next().unwrap_or(host_and_path);
    let mut out = format!("{}{}/{}", &base[..scheme_end], authority, name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_secrets_look_like_server_ones() {
        let s = api_key_secret(1);
        assert!(s.starts_with(KEY_PREFIX));
        assert_eq!(s.len(), KEY_PREFIX.len() + 43);
        assert_ne!(s, api_key_secret(2));
        assert_eq!(secret_hash(5).len(), 32);
    }

    #[test]
    fn database_name_replacement() {
        assert_eq!(
            replace_db_name("postgres://postgres@127.0.0.1:5432/postgres", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            replace_db_name("postgres://u:p@h/db?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            replace_db_name("postgresql://h", "b").unwrap(),
            "postgresql://h/b"
        );
    }

    #[test]
    fn emails_sort_in_index_order() {
        assert!(user_email(9) < user_email(10));
        assert_eq!(user_email(1), "load-0000001@bench.test");
    }
}
