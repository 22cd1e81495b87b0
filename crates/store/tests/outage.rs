//! Outages. A PostgreSQL server that goes away and comes back, seen through a TCP proxy the test
//! cuts and restores: while it is gone the store fails fast with `Unavailable` (not after the
//! pool's 10 s acquire timeout), and it recovers by itself once the server answers again. A
//! SQLite file that is read-only when the store opens it: reads work, writes are `Unavailable`,
//! and the first write after it is writable again succeeds.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use portcullis_core::model::Region;
use portcullis_core::store::{Store, StoreError};
use portcullis_store::{PgStore, SqliteStore};
use portcullis_testkit::PgDatabase;
use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Forwards every connection to `upstream` until cut; cutting closes the listener and every
/// forwarded connection, as a stopped server would.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut proxy = Proxy {
            addr,
            upstream,
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            // Dropped with this task when it is aborted: every connection closes with it.
            let mut conns = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find(['/', '?']).map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let host_start = authority.rfind('@').map_or(start, |i| start + i + 1);
    format!("{}{addr}{}", &url[..host_start], &url[end..])
}

fn upstream_of(url: &str) -> SocketAddr {
    let options = PgConnectOptions::from_str(url).unwrap();
    let host = match options.get_host() {
        "localhost" => "127.0.0.1",
        h => h,
    };
    format!("{host}:{}", options.get_port()).parse().unwrap()
}

async fn until_up(store: &PgStore, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match store.ping().await {
            Ok(()) => return started.elapsed(),
            Err(e) if started.elapsed() < within => {
                eprintln!("still down: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("not back within {within:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_fast_and_the_store_recovers_by_itself() {
    let Ok(admin) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: PostgreSQL outage test (PORTCULLIS_TEST_POSTGRES_URL unset)");
        return;
    };
    let db = PgDatabase::create(&admin).await;
    let direct = PgStore::connect(db.url()).await.unwrap();
    direct.migrate().await.unwrap();
    direct.close().await;

    let mut proxy = Proxy::start(upstream_of(db.url())).await;
    let store = PgStore::connect(&through(db.url(), proxy.addr))
        .await
        .unwrap();
    store.ping().await.unwrap();
    store.begin_write().await.unwrap().commit().await.unwrap();

    proxy.cut().await;
    let started = Instant::now();
    let err = store.ping().await.unwrap_err();
    let first = started.elapsed();
    eprintln!("first failure after {first:?}: {err}");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // The pool alone would retry the refused connection for its 10 s acquire timeout.
    assert!(first < Duration::from_secs(5), "took {first:?}");

    // A connection used within the last second is handed out unchecked, so the first failures
    // may come from the pool's cut connections (each closed when sqlx's release check fails);
    // the first fresh connection refused marks the database down.
    let started = Instant::now();
    for _ in 0..20 {
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            store.begin_write().await.err(),
            Some(StoreError::Unavailable(_))
        ));
    }
    let forty = started.elapsed();
    eprintln!("40 more failures in {forty:?}");
    assert!(forty < Duration::from_secs(3), "took {forty:?}");
    assert!(store.is_unreachable());

    proxy.restore().await;
    let back = until_up(&store, Duration::from_secs(15)).await;
    eprintln!("up again {back:?} after the server came back");
    assert!(!store.is_unreachable());
    store.begin_write().await.unwrap().commit().await.unwrap();
    store.close().await;
    proxy.cut().await;
}

/// A file made unwritable for this process until dropped: mode 0444, and for root, whom modes
/// do not stop, the immutable attribute (`chattr +i`).
struct WriteProtected(std::path::PathBuf);

impl WriteProtected {
    /// None when nothing stops this process writing the file (root without the capability).
    fn new(path: &std::path::Path) -> Option<WriteProtected> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let guard = WriteProtected(path.to_owned());
        if std::fs::OpenOptions::new().write(true).open(path).is_err() {
            return Some(guard);
        }
        let chattr = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status();
        let writable = std::fs::OpenOptions::new().write(true).open(path).is_ok();
        (matches!(chattr, Ok(s) if s.success()) && !writable).then_some(guard)
    }
}

impl Drop for WriteProtected {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o644));
    }
}

fn region(id: &str) -> Region {
    Region {
        id: id.into(),
        api_host: format!("api.{id}.test"),
        sig_host: format!("sig.{id}.test"),
        static_host: format!("static.{id}.test"),
    }
}

#[tokio::test]
async fn a_read_only_sqlite_file_refuses_writes_and_recovers_when_writable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    // Kept open to the end: closing the last connection removes SQLite's -wal and -shm, and the
    // ones a read-only open would create get the file's read-only mode (docs/reliability.md).
    let first = portcullis_store::open(path.to_str().unwrap())
        .await
        .unwrap();
    first.upsert_region(region("before")).await.unwrap();

    let Some(protected) = WriteProtected::new(&path) else {
        eprintln!("SKIPPED: cannot make a file read-only for this process (root without chattr)");
        return;
    };
    // Opened while unwritable: SQLite opens every connection read-only.
    let store = SqliteStore::connect(path.to_str().unwrap()).await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(
        store.get_region("before").await.unwrap(),
        Some(region("before")),
        "reads keep working"
    );
    for _ in 0..3 {
        let err = store.upsert_region(region("during")).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    drop(protected);
    // Without the eviction the pool would keep its read-only connections (and refuse) until
    // its idle timeout, 10 minutes.
    store.upsert_region(region("after")).await.unwrap();
    store.begin_write().await.unwrap().commit().await.unwrap();
    let ids: Vec<String> = store
        .list_regions()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(
        ids.contains(&"after".to_string()) && !ids.contains(&"during".to_string()),
        "{ids:?}"
    );
    store.close().await;
    first.close().await;
}

#[test]
fn through_replaces_only_the_address() {
    let addr: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    assert_eq!(
        through(
            "postgres://postgres@127.0.0.1:5432/db?sslmode=disable",
            addr
        ),
        "postgres://postgres@127.0.0.1:6000/db?sslmode=disable"
    );
    assert_eq!(
        through("postgresql://u:p@db.example:5433/x", addr),
        "postgresql://u:p@127.0.0.1:6000/x"
    );
    assert_eq!(
        through("postgres://h/x", addr),
        "postgres://127.0.0.1:6000/x"
    );
}
