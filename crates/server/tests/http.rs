//! The shared HTTP stack against a real (temporary SQLite) store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use portcullis_core::revocation::RevocationView;
use portcullis_core::store::Store;
use portcullis_edge::{ClientIp, ProxyHeader, RequestId};
use portcullis_server::{HttpContext, ServerConfig, build_router, hook, serve};
use portcullis_testkit::TempStore;
use portcullis_testkit::http::TestApp;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A store on a fresh SQLite file; the first value keeps the file.
async fn temp_store() -> (TempStore, Arc<dyn Store>) {
    let temp = TempStore::sqlite().await;
    let store = temp.store.clone();
    (temp, store)
}

fn surface() -> Router {
    Router::new()
        .route(
            "/api/echo",
            post(|body: Bytes| async move { format!("{}", body.len()) }),
        )
        .route(
            "/api/ip",
            get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
        )
        .route(
            "/api/rid",
            get(|RequestId(id): RequestId| async move { id }),
        )
        .route(
            "/api/slow/{ms}",
            get(
                |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "done"
                },
            ),
        )
        .route(
            "/api/panic",
            get(|| async {
                let v: Vec<u8> = Vec::new();
                // Index out of bounds on purpose.
                format!("{}", v[1])
            }),
        )
}

fn config() -> ServerConfig {
    ServerConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        request_timeout_secs: 1,
        ..ServerConfig::default()
    }
}

async fn app(store: Arc<dyn Store>, peer: &str) -> Router {
    let ctx = HttpContext::new(config(), store);
    build_router(vec![surface()], &ctx).layer(MockConnectInfo(peer.parse::<SocketAddr>().unwrap()))
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let r = TestApp::new(app.clone()).send(req).await;
    let text = r.text();
    (r.status, r.headers, text)
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_ready_and_unknown_paths() {
    let (_d, store) = temp_store().await;
    let app = app(store, "127.0.0.1:5000").await;
    let (s, h, b) = call(&app, get_req("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("ok"));
    assert!(h.get("x-request-id").is_some());
    let (s, _, b) = call(&app, get_req("/readyz")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, _) = call(&app, get_req("/no/such/path")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(&app, get_req("/")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readyz_fails_when_the_store_is_closed() {
    let (_d, store) = temp_store().await;
    let app = app(store.clone(), "127.0.0.1:5000").await;
    store.close().await;
    let (s, _, _) = call(&app, get_req("/readyz")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // Liveness does not depend on the store.
    let (s, _, _) = call(&app, get_req("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn request_ids_are_generated_kept_and_echoed() {
    let (_d, store) = temp_store().await;
    let app = app(store, "127.0.0.1:5000").await;
    let (_, h, body) = call(&app, get_req("/api/rid")).await;
    let generated = h.get("x-request-id").unwrap().to_str().unwrap().to_owned();
    assert_eq!(generated, body, "handlers see the id that is echoed");
    assert!(uuid::Uuid::parse_str(&generated).is_ok());

    let req = Request::get("/api/rid")
        .header("x-request-id", "client-id-42")
        .body(Body::empty())
        .unwrap();
    let (_, h, body) = call(&app, req).await;
    assert_eq!(h.get("x-request-id").unwrap(), "client-id-42");
    assert_eq!(body, "client-id-42");

    // Oversized ids are replaced.
    let req = Request::get("/api/rid")
        .header("x-request-id", "x".repeat(500))
        .body(Body::empty())
        .unwrap();
    let (_, h, _) = call(&app, req).await;
    assert_eq!(h.get("x-request-id").unwrap().len(), 36);
}

#[tokio::test]
async fn client_ip_honours_only_trusted_proxies() {
    let (_d, store) = temp_store().await;
    let via_proxy = app(store.clone(), "10.1.2.3:4000").await;
    let req = Request::get("/api/ip")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.5")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&via_proxy, req).await.2, "203.0.113.5");
    // The proxy appends to X-Forwarded-For; a Forwarded header is the client's own.
    let req = Request::get("/api/ip")
        .header("forwarded", "for=\"[2001:db8::7]:1234\"")
        .header("x-forwarded-for", "203.0.113.5")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&via_proxy, req).await.2, "203.0.113.5");
    let req = Request::get("/api/ip")
        .header("forwarded", "for=6.6.6.6")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&via_proxy, req).await.2, "10.1.2.3");
    // A deployment whose proxies set Forwarded says so, and then X-Forwarded-For is ignored.
    let ctx = HttpContext::new(
        ServerConfig {
            proxy_header: ProxyHeader::Forwarded,
            ..config()
        },
        store.clone(),
    );
    let rfc7239 = build_router(vec![surface()], &ctx).layer(MockConnectInfo(
        "10.1.2.3:4000".parse::<SocketAddr>().unwrap(),
    ));
    let req = Request::get("/api/ip")
        .header("forwarded", "for=\"[2001:db8::7]:1234\"")
        .header("x-forwarded-for", "6.6.6.6")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&rfc7239, req).await.2, "2001:db8::7");

    let direct = app(store, "198.51.100.1:4000").await;
    let req = Request::get("/api/ip")
        .header("x-forwarded-for", "6.6.6.6")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&direct, req).await.2, "198.51.100.1");
}

#[tokio::test]
async fn body_limit_is_one_mebibyte() {
    let (_d, store) = temp_store().await;
    let app = app(store, "127.0.0.1:5000").await;
    let ok = Request::post("/api/echo")
        .body(Body::from(vec![b'a'; 1024 * 1024]))
        .unwrap();
    let (s, _, b) = call(&app, ok).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, "1048576");
    let big = Request::post("/api/echo")
        .body(Body::from(vec![b'a'; 1024 * 1024 + 1]))
        .unwrap();
    assert_eq!(call(&app, big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn slow_requests_time_out_with_503_and_panics_are_500() {
    let (_d, store) = temp_store().await;
    let app = app(store, "127.0.0.1:5000").await;
    let (s, _, _) = call(&app, get_req("/api/slow/3000")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, h, _) = call(&app, get_req("/api/panic")).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(h.get("x-request-id").is_some());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let (_d, store) = temp_store().await;
    let app = app(store, "127.0.0.1:5000").await;
    for _ in 0..3 {
        call(&app, get_req("/healthz")).await;
    }
    call(&app, get_req("/missing")).await;
    call(&app, get_req("/api/slow/1")).await;
    let (s, h, text) = call(&app, get_req("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let count_line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no healthz counter in\n{text}"));
    let n: f64 = count_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 3.0, "{count_line}");
    assert!(
        text.contains("route=\"unmatched\",status=\"404\""),
        "{text}"
    );
    assert!(text.contains("route=\"/api/slow/{ms}\""), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// A real listener: a slow request in flight when shutdown is requested completes; then the
/// hooks run while the store is still open; then the store is closed.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_then_hooks_then_store() {
    let (_d, store) = temp_store().await;
    let ctx = HttpContext::new(
        ServerConfig {
            request_timeout_secs: 10,
            ..ServerConfig::default()
        },
        store.clone(),
    );
    let app = build_router(vec![surface()], &ctx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let hook_ran = Arc::new(AtomicBool::new(false));
    let hook_flag = hook_ran.clone();
    let hook_store = store.clone();
    let server = tokio::spawn(serve(
        listener,
        app,
        ctx,
        async move {
            let _ = stop_rx.await;
        },
        vec![hook(move || async move {
            assert!(hook_store.ping().await.is_ok(), "store open during hooks");
            hook_flag.store(true, Ordering::SeqCst);
        })],
    ));

    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /api/slow/800 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(()).unwrap();

    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done"), "{response}");

    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(hook_ran.load(Ordering::SeqCst));
    // New connections are refused once stopped.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// With `metrics_listen`, `/metrics` is served on its own listener only.
#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let (_d, store) = temp_store().await;
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = metrics_listener.local_addr().unwrap();
    let ctx = HttpContext::new(
        ServerConfig {
            metrics_listen: Some(maddr),
            ..config()
        },
        store,
    );
    let public = build_router(vec![surface()], &ctx).layer(MockConnectInfo(
        "127.0.0.1:5000".parse::<SocketAddr>().unwrap(),
    ));
    call(&public, get_req("/healthz")).await;
    let (s, _, _) = call(&public, get_req("/metrics")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not on the public listener");

    let task = portcullis_server::spawn_metrics(metrics_listener, &ctx);
    let mut conn = tokio::net::TcpStream::connect(maddr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("http_requests_total"), "{text}");
    let mut conn = tokio::net::TcpStream::connect(maddr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    assert!(
        text.starts_with("HTTP/1.1 404"),
        "only /metrics there: {text}"
    );
    task.abort();
}

/// A node whose revocation feed has not been read for `revocation_feed_stale_secs` is not
/// ready, and says why; it is ready again once the feed is read.
#[tokio::test]
async fn readyz_fails_while_the_revocation_feed_is_stale() {
    let (_d, store) = temp_store().await;
    let view = Arc::new(
        RevocationView::load(store.as_ref(), chrono::Utc::now())
            .await
            .unwrap(),
    );
    let ctx = HttpContext::new(
        ServerConfig {
            revocation_feed_stale_secs: 1,
            ..config()
        },
        store.clone(),
    )
    .with_revocation_feed(view.clone());
    let app = build_router(vec![surface()], &ctx).layer(MockConnectInfo(
        "127.0.0.1:5000".parse::<SocketAddr>().unwrap(),
    ));
    let (s, _, b) = call(&app, get_req("/readyz")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Nothing reads the feed (as when every poll fails): stale after a second.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (s, h, b) = call(&app, get_req("/readyz")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        b,
        r#"{"status":"unavailable","reason":"revocation feed stale"}"#
    );
    // Liveness does not depend on it.
    let (s, _, _) = call(&app, get_req("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
    // One successful poll and the node is ready again.
    view.catch_up(store.as_ref(), chrono::Utc::now())
        .await
        .unwrap();
    let (s, _, b) = call(&app, get_req("/readyz")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

// ---- connections: header-read timeout and caps ------------------------------------------------

/// A real listener with `cfg`; send on the returned channel to stop it.
async fn listen(
    cfg: ServerConfig,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), portcullis_server::ServerError>>,
    TempStore,
) {
    let (dir, store) = temp_store().await;
    let ctx = HttpContext::new(cfg, store);
    let app = build_router(vec![surface()], &ctx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        app,
        ctx,
        async move {
            let _ = stop_rx.await;
        },
        vec![],
    ));
    (addr, stop_tx, server, dir)
}

/// Stops a server from [`listen`] and waits (5 s at most) for it to end cleanly.
async fn stop_listening(
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), portcullis_server::ServerError>>,
    what: &str,
) {
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect(what)
        .unwrap()
        .unwrap();
}

/// A connection to `addr` from the loopback address `from` (127.0.0.x: Linux routes all of
/// 127/8 to the loopback interface).
async fn connect_from(from: &str, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// One keep-alive `GET /healthz` on `conn`; true if it was answered 200.
async fn healthz_on(conn: &mut tokio::net::TcpStream) -> bool {
    if conn
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&got).contains(r#"{"status":"ok"}"#) {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "neither answered nor closed");
    String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200")
}

/// Reads until the server closes the connection; how long that took, or `None` if it did not
/// within `limit`.
async fn closed_within(conn: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(n) => assert!(
                    !String::from_utf8_lossy(&buf[..n]).contains("200 OK"),
                    "a partial request was answered"
                ),
            }
        }
    })
    .await
    .ok()
}

/// A client that drips its request head a byte at a time (slowloris), or sends nothing, is
/// disconnected once `header_read_timeout_secs` have passed; a prompt client is served.
#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_after_the_header_read_timeout() {
    let (addr, stop, server, _d) = listen(ServerConfig {
        header_read_timeout_secs: 1,
        ..config()
    })
    .await;
    let mut prompt = connect_from("127.0.0.1", addr).await;
    assert!(healthz_on(&mut prompt).await);

    let drip = connect_from("127.0.0.1", addr).await;
    let (mut rd, mut wr) = drip.into_split();
    let dripper = tokio::spawn(async move {
        for b in b"GET /healthz HTTP/1.1\r\nhost: example.com\r\nx-drip: "
            .iter()
            .cycle()
        {
            if wr.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut idle = connect_from("127.0.0.1", addr).await;

    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    let dripped = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(n) => assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK")),
            }
        }
    })
    .await
    .expect("the dripping client is still connected after 5 s");
    assert!(dripped >= Duration::from_millis(800), "{dripped:?}");
    dripper.abort();
    closed_within(&mut idle, Duration::from_secs(5))
        .await
        .expect("the idle client is still connected after 5 s");

    // A fresh client is still served.
    let mut fresh = connect_from("127.0.0.1", addr).await;
    assert!(healthz_on(&mut fresh).await);
    stop_listening(stop, server, "server stops").await;
}

/// The (N+1)th concurrent connection from one address is closed at once; other addresses are
/// unaffected, and a closed connection frees its place.
#[tokio::test]
async fn connections_per_address_are_capped() {
    let (addr, stop, server, _d) = listen(ServerConfig {
        max_connections_per_ip: 2,
        ..config()
    })
    .await;
    let mut a = connect_from("127.0.0.1", addr).await;
    let mut b = connect_from("127.0.0.1", addr).await;
    assert!(healthz_on(&mut a).await && healthz_on(&mut b).await);
    let mut c = connect_from("127.0.0.1", addr).await;
    assert!(
        !healthz_on(&mut c).await,
        "third connection from one address"
    );
    assert!(
        closed_within(&mut c, Duration::from_secs(2))
            .await
            .is_some(),
        "refused connections are closed"
    );
    let mut other = connect_from("127.0.0.2", addr).await;
    assert!(healthz_on(&mut other).await, "another address is served");
    // The held connections still work.
    assert!(healthz_on(&mut a).await);

    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut d = connect_from("127.0.0.1", addr).await;
    assert!(healthz_on(&mut d).await, "a freed place is reused");
    let metrics = portcullis_server::metrics_handle().render();
    assert!(
        metrics.contains(r#"http_connections_refused_total{reason="max_connections_per_ip"}"#),
        "{metrics}"
    );
    stop_listening(
        stop,
        server,
        "server stops with keep-alive connections open",
    )
    .await;
}

/// Past `max_connections` open connections, any new one is closed at once, whatever its
/// address.
#[tokio::test]
async fn connections_are_capped_in_total() {
    let (addr, stop, server, _d) = listen(ServerConfig {
        max_connections: 2,
        ..config()
    })
    .await;
    let mut a = connect_from("127.0.0.1", addr).await;
    let mut b = connect_from("127.0.0.2", addr).await;
    assert!(healthz_on(&mut a).await && healthz_on(&mut b).await);
    let mut c = connect_from("127.0.0.3", addr).await;
    assert!(!healthz_on(&mut c).await, "third connection in total");
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut d = connect_from("127.0.0.3", addr).await;
    assert!(healthz_on(&mut d).await, "a freed place is reused");
    let metrics = portcullis_server::metrics_handle().render();
    assert!(
        metrics.contains(r#"http_connections_refused_total{reason="max_connections"}"#),
        "{metrics}"
    );
    stop_listening(stop, server, "server stops").await;
}
