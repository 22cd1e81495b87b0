//! Opening stores: backend choice, file creation, and fast, clear failures.

use std::time::{Duration, Instant};

use portcullis_core::store::StoreError;
use portcullis_store::{DbStore, open};

#[tokio::test]
async fn sqlite_path_and_url_create_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.ping().await.unwrap();
    store.close().await;
    assert!(path.exists());

    let url = format!("sqlite://{}", dir.path().join("b.db").display());
    let store = open(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.close().await;
    assert!(dir.path().join("b.db").exists());
}

#[tokio::test]
async fn sqlite_is_wal_and_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let store = open(path.to_str().unwrap()).await.unwrap();
    store.close().await;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unwritable_sqlite_path_is_unavailable_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let bad = file.join("sub/store.db"); // a directory under a regular file
    let start = Instant::now();
    let err = DbStore::connect(bad.to_str().unwrap()).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(6));
    match err {
        StoreError::Unavailable(m) => assert!(m.contains("plain-file"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_quickly() {
    let start = Instant::now();
    // Port 1 on loopback: nothing listens there.
    let err = DbStore::connect("postgres://postgres@127.0.0.1:1/postgres")
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(7),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn postgres_url_picks_postgres() {
    let Ok(url) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: PostgreSQL store tests (PORTCULLIS_TEST_POSTGRES_URL unset)");
        return;
    };
    let db = DbStore::connect(&url).await.unwrap();
    let store = db.into_dyn();
    assert_eq!(store.backend(), "postgres");
    store.ping().await.unwrap();
    store.close().await;
}
