//! HTTP assembly for Portcullis: the shared middleware (request ids, structured request logs,
//! Prometheus metrics, client IP, body limit, timeouts, panic catching), the health and metrics
//! routes, and graceful serving. What the surfaces read of it (the client IP, the request id)
//! is typed in `portcullis-edge`, below both.
//!
//! Surfaces plug in as ready-made axum [`Router`]s (their state already applied):
//!
//! ```text
//! let ctx = HttpContext::new(config.server.clone(), store.clone());
//! let app = build_router(vec![parsable_router, nominal_router], &ctx);
//! let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
//! serve(listener, app, ctx, shutdown_signal(), vec![hook(move || async move {
//!     engine.shutdown().await
//! })]).await?;
//! ```
//!
//! Surface routers must not install a fallback: an unknown path answers 404 from here.
#![forbid(unsafe_code)]

pub mod config;
pub mod conn;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, Method, StatusCode, header};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use portcullis_core::revocation::RevocationView;
use portcullis_core::store::Store;
use portcullis_edge::{ClientIp, REQUEST_ID_HEADER, RequestId, TrustedProxies};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::{Instrument, Level};

pub use config::{Config, LogConfig, LogFormat, ServerConfig};
pub use conn::{ConnLimits, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("cannot set up logging: {0}")]
    Logging(String),
}

/// What the shared routes and middleware need.
#[derive(Clone)]
pub struct HttpContext {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub metrics: PrometheusHandle,
    trusted: Arc<TrustedProxies>,
    draining: Arc<AtomicBool>,
    route_metrics: Arc<RouteMetrics>,
    /// The engine's revocation view, whose feed freshness `/readyz` checks.
    revocations: Option<Arc<RevocationView>>,
}

/// The request counter and latency histogram of each (method, route, status), registered once:
/// building label sets and looking them up in the recorder on every request cost more than the
/// rest of a health check.
/// One (method, status) pair seen on a route, with its handles.
type Seen = (Method, u16, Counter, Histogram);

#[derive(Default)]
struct RouteMetrics {
    /// route → the (method, status) pairs seen on it.
    handles: parking_lot::RwLock<HashMap<String, Vec<Seen>>>,
}

impl RouteMetrics {
    fn get(&self, method: &Method, route: &str, status: StatusCode) -> (Counter, Histogram) {
        let status = status.as_u16();
        let find = |seen: &[Seen]| {
            seen.iter()
                .find(|(m, s, _, _)| *s == status && m == method)
                .map(|(_, _, c, h)| (c.clone(), h.clone()))
        };
        if let Some(h) = self.handles.read().get(route).and_then(|seen| find(seen)) {
            return h;
        }
        let mut handles = self.handles.write();
        let seen = handles.entry(route.to_owned()).or_default();
        if let Some(h) = find(seen) {
            return h;
        }
        let labels = [
            ("method", method.as_str().to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        let counter = metrics::counter!("http_requests_total", &labels);
        let histogram = metrics::histogram!("http_request_duration_seconds", &labels);
        seen.push((method.clone(), status, counter.clone(), histogram.clone()));
        (counter, histogram)
    }
}

impl HttpContext {
    pub fn new(config: ServerConfig, store: Arc<dyn Store>) -> HttpContext {
        HttpContext {
            trusted: Arc::new(
                TrustedProxies::new(config.trusted_proxies.clone())
                    .with_header(config.proxy_header),
            ),
            config,
            store,
            metrics: metrics_handle(),
            draining: Arc::new(AtomicBool::new(false)),
            route_metrics: Arc::default(),
            revocations: None,
        }
    }

    /// Makes `/readyz` answer 503 while the view's revocation feed is older than
    /// `revocation_feed_stale_secs`: this node would accept tokens revoked elsewhere.
    pub fn with_revocation_feed(mut self, view: Arc<RevocationView>) -> HttpContext {
        self.revocations = Some(view);
        self
    }

    /// True once shutdown has begun; `/readyz` then answers 503.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for HttpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpContext")
            .field("config", &self.config)
            .field("store", &self.store.backend())
            .finish()
    }
}

/// The process-wide Prometheus recorder, installed on first use. Anything in the process that
/// records through the `metrics` macros shows up on `/metrics`.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "histogram buckets refused; using summaries");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Merges the surface routers, adds `/healthz`, `/readyz` and `/metrics` (unless
/// `metrics_listen` moves it to [`metrics_router`]), and wraps everything in the shared
/// middleware. An unknown path answers 404.
pub fn build_router(parts: Vec<Router>, ctx: &HttpContext) -> Router {
    let timeout = Duration::from_secs(ctx.config.request_timeout_secs.max(1));
    let limit = ctx.config.body_limit_bytes;
    let mut shared = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if ctx.config.metrics_listen.is_none() {
        shared = shared.route("/metrics", get(metrics_route));
    }
    let mut app: Router = shared.with_state(ctx.clone());
    for part in parts {
        app = app.merge(part);
    }
    app.route_layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        timeout,
    ))
    // Runs outside the timeout, so a timed-out request is still counted under its route.
    .route_layer(middleware::from_fn(label_route))
    .fallback(not_found)
    .layer(DefaultBodyLimit::max(limit))
    .layer(RequestBodyLimitLayer::new(limit))
    .layer(CatchPanicLayer::custom(panic_response))
    .layer(middleware::from_fn_with_state(ctx.clone(), observe))
}

/// `/metrics` alone, for the separate `metrics_listen` address: metrics can then be kept on
/// an internal interface, away from the public listener.
pub fn metrics_router(ctx: &HttpContext) -> Router {
    Router::new()
        .route("/metrics", get(metrics_route))
        .fallback(not_found)
        .with_state(ctx.clone())
}

/// Serves [`metrics_router`] on `listener` in a background task; abort it at shutdown.
pub fn spawn_metrics(
    listener: tokio::net::TcpListener,
    ctx: &HttpContext,
) -> tokio::task::JoinHandle<()> {
    let app = metrics_router(ctx);
    let config = ctx.config.clone();
    // The same connection caps and header timeout as the main listener, counted apart.
    let limits = ConnLimits::new(
        config.max_connections,
        config.max_connections_per_ip,
        ctx.trusted.clone(),
    );
    tokio::spawn(async move {
        conn::accept_loop(listener, app, &config, limits, std::future::pending()).await;
    })
}

async fn healthz() -> impl IntoResponse {
    json_response(StatusCode::OK, r#"{"status":"ok"}"#)
}

async fn readyz(State(ctx): State<HttpContext>) -> Response {
    if ctx.is_draining() {
        return json_response(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"draining"}"#);
    }
    if let Some(view) = &ctx.revocations {
        let max = Duration::from_secs(ctx.config.revocation_feed_stale_secs);
        if view.is_feed_stale(max) {
            tracing::warn!(
                age_ms = view.feed_age().map(|a| a.as_millis() as u64),
                "not ready: the revocation feed is stale"
            );
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"revocation feed stale"}"#,
            );
        }
    }
    match tokio::time::timeout(Duration::from_secs(2), ctx.store.ping()).await {
        Ok(Ok(())) => json_response(StatusCode::OK, r#"{"status":"ready"}"#),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"store"}"#,
            )
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable","reason":"store timeout"}"#,
            )
        }
    }
}

async fn metrics_route(State(ctx): State<HttpContext>) -> Response {
    let body = ctx.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#)
}

fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"error":"internal error"}"#,
    )
}

fn json_response(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The route template of a matched request, carried on the response for the metrics layer.
#[derive(Debug, Clone)]
struct RouteLabel(MatchedPath);

async fn label_route(req: Request, next: Next) -> Response {
    let label = req.extensions().get::<MatchedPath>().cloned();
    let mut resp = next.run(req).await;
    if let Some(label) = label {
        resp.extensions_mut().insert(RouteLabel(label));
    }
    resp
}

/// The outermost middleware: request id, client IP, a span for the request's logs, one access
/// log line, and the request counter and latency histogram.
async fn observe(State(ctx): State<HttpContext>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let RequestId(request_id) = RequestId::from_headers(req.headers());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
        .or_else(|| {
            // What tests install with `Router::layer(MockConnectInfo(addr))`.
            req.extensions()
                .get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|m| m.0.ip())
        });
    let client = match peer {
        Some(peer) => ctx.trusted.client_ip(peer, req.headers()),
        None => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    req.extensions_mut().insert(RequestId(request_id.clone()));
    req.extensions_mut().insert(ClientIp(client));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // The span carries only the id, which every log line of the request needs; the rest goes
    // on the one access line. Each span field is formatted at creation and again per event.
    let span = tracing::span!(Level::INFO, "request", request_id = %request_id);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = resp.status();
    let route = resp.extensions_mut().remove::<RouteLabel>();
    let route = route.as_ref().map_or("unmatched", |l| l.0.as_str());
    let (requests, latency) = ctx.route_metrics.get(&method, route, status);
    requests.increment(1);
    latency.record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %path,
            client_ip = %client,
            status = status.as_u16(),
            route = %route,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// Something to run after the server stopped accepting and in-flight requests finished, and
/// before the store is closed (e.g. the engine's shutdown, which flushes the audit queue).
pub type ShutdownHook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Wraps an async closure as a [`ShutdownHook`].
pub fn hook<F, Fut>(f: F) -> ShutdownHook
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move || Box::pin(f()))
}

/// Binds the listener, with a clear error naming the address.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Serves `app` on `listener` until `shutdown` resolves, then: stops accepting, lets in-flight
/// requests finish (at most `shutdown_grace_secs`), runs the hooks in order, and closes the store.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    app: Router,
    ctx: HttpContext,
    shutdown: F,
    hooks: Vec<ShutdownHook>,
) -> Result<(), ServerError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let grace = Duration::from_secs(ctx.config.shutdown_grace_secs);
    let draining = ctx.draining.clone();
    let signal = async move {
        shutdown.await;
        draining.store(true, Ordering::SeqCst);
        tracing::info!("shutdown requested: no new connections; finishing in-flight requests");
    };

    let upkeep_handle = ctx.metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep_handle.run_upkeep();
        }
    });

    let limits = ConnLimits::new(
        ctx.config.max_connections,
        ctx.config.max_connections_per_ip,
        ctx.trusted.clone(),
    );
    // Returns once the signal fired and the listener is closed.
    let open = conn::accept_loop(listener, app, &ctx.config, limits, signal).await;
    // Idle keep-alive connections close now; busy ones after their response.
    if tokio::time::timeout(grace, open.shutdown()).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "in-flight requests did not finish in time; dropping them"
        );
    }
    upkeep.abort();
    tracing::info!("HTTP server stopped; running shutdown hooks");
    for h in hooks {
        h().await;
    }
    ctx.store.close().await;
    tracing::info!("store closed; shutdown complete");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    // Installed now, not at the first poll: a SIGTERM that arrives between "listening" and the
    // serve loop's first poll must stop the server gracefully, not kill it.
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match handlers {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("received SIGTERM"),
                    _ = int.recv() => tracing::info!("received SIGINT"),
                }
                return;
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot install signal handlers; only Ctrl-C will stop the server");
            }
        }
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot wait for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// Keeps the log writer thread alive; dropping it writes out every buffered line.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Installs the global `tracing` subscriber, writing to stderr. `RUST_LOG` overrides the level.
///
/// Lines are formatted on the calling thread and written by one writer thread in batches, so
/// an access line per request costs no system call on the request path. Nothing is dropped: a
/// full queue makes the logging thread wait. Keep the returned guard until exit.
pub fn init_tracing(cfg: &LogConfig) -> Result<LogGuard, ServerError> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(v),
        _ => EnvFilter::try_new(&cfg.level),
    }
    .map_err(|e| ServerError::Logging(format!("invalid log level {:?}: {e}", cfg.level)))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // Bounded memory: a writer that falls behind holds at most this many lines (a few
        // MiB) before logging waits for it.
        .buffered_lines_limit(16_384)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let result = match cfg.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
    result.map_err(|e| ServerError::Logging(e.to_string()))?;
    Ok(LogGuard(guard))
}
