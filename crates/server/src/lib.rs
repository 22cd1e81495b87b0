//! HTTP assembly for Portcullis: the shared middleware (request ids, structured request logs,
//! Prometheus metrics, client IP, body limit, timeouts, panic catching), the health and metrics
//! routes, the process's logs, and graceful serving. What the surfaces read of it (the client
//! IP, the request id) is typed in `portcullis-edge`, below both. The middleware is one
//! hand-written service (`observe.rs`); the access line is written directly (`access_log.rs`)
//! through a batched writer (`log_writer.rs`); see docs/design/platform.md.
//!
//! Surfaces plug in as ready-made axum [`Router`]s (their state already applied):
//!
//! ```text
//! let ctx = HttpContext::new(config.server.clone(), store.clone());
//! let app = build_app(vec![parsable_router, nominal_router], &ctx);
//! let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
//! serve(listener, app, ctx, shutdown_signal(), vec![hook(move || async move {
//!     engine.shutdown().await
//! })]).await?;
//! ```
//!
//! Surface routers must not install a fallback: an unknown path answers 404 from here.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod config;
pub mod conn;
pub mod log_writer;
mod logging;
mod observe;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use portcullis_core::revocation::RevocationView;
use portcullis_core::store::Store;
use portcullis_edge::TrustedProxies;
use tower::Layer as _;

pub use config::{Config, LogConfig, LogFormat, ServerConfig};
pub use conn::{ConnLimits, Refusal};
pub use logging::{LogGuard, init_tracing};
use observe::{Observe, RouteRegistry, RouteTagLayer};

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
    /// Each route's metric handles, shared by the routers built from this context.
    routes: Arc<RouteRegistry>,
    /// The engine's revocation view, whose feed freshness `/readyz` checks.
    revocations: Option<Arc<RevocationView>>,
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
            routes: Arc::default(),
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

/// The application with the shared middleware, as a `Router` (for tests and for embedding):
/// [`build_app`] behind a router that only forwards to it.
pub fn build_router(parts: Vec<Router>, ctx: &HttpContext) -> Router {
    Router::new().fallback_service(build_app(parts, ctx))
}

/// The application: the surface routers merged with `/healthz`, `/readyz` and `/metrics`
/// (unless `metrics_listen` moves it to [`metrics_router`]), inside the shared middleware
/// ([`observe`]). An unknown path answers 404.
pub fn build_app(parts: Vec<Router>, ctx: &HttpContext) -> impl App {
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
    let app = app
        .route_layer(RouteTagLayer {
            timeout,
            routes: ctx.routes.clone(),
        })
        .fallback(not_found);
    let edge = observe::Edge {
        trusted: ctx.trusted.clone(),
        body_limit: limit,
        routes: ctx.routes.clone(),
    };
    // The extractors' own limit (axum's default is 2 MiB) follows the configured one.
    Observe::new(DefaultBodyLimit::max(limit).layer(app), Arc::new(edge))
}

/// What [`serve`] serves: [`build_app`]'s application, or any `Router`.
pub trait App:
    tower::Service<
        http::Request<Body>,
        Response = Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> App for T where
    T: tower::Service<
            http::Request<Body>,
            Response = Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
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

pub(crate) fn json_response(status: StatusCode, body: &'static str) -> Response {
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
pub async fn serve<F, A: App>(
    listener: tokio::net::TcpListener,
    app: A,
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
