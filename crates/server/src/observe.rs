//! The edge's middleware as one hand-written tower service around the router ([`Observe`]),
//! plus one per-route layer ([`RouteTagLayer`]): axum boxes every layer of a `Router` on every
//! request, and the five layers this replaces (id and access log, panic catching, two body
//! limits, route label, timeout) cost a fifth of a health check.
//!
//! `Observe`, outermost: request id (kept from `x-request-id` when well-formed, else new; in the
//! request headers, the `RequestId` extension and the response), client IP (`ClientIp`), the body
//! limit (413 as tower-http's `RequestBodyLimit` answered it), panic catching (500 with the JSON
//! error body), the request counter and latency histogram, and one access line.
//!
//! `RouteTag`, on each route: the request timeout (503, as tower-http's `Timeout`), and the
//! route's metric handles for `Observe`, resolved from axum's `MatchedPath` once per route.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, HttpBody as _};
use axum::extract::{ConnectInfo, MatchedPath};
use axum::response::Response;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use portcullis_edge::{ClientIp, REQUEST_ID_HEADER, RequestId, TrustedProxies};
use tower::{Layer, Service};
use tracing::Level;

use crate::access_log::{self, AccessRecord};
use crate::logging::{self, JsonLog, with_request_id};

/// What [`Observe`] needs of the server's configuration.
pub(crate) struct Edge {
    pub trusted: Arc<TrustedProxies>,
    pub body_limit: usize,
    pub routes: Arc<RouteRegistry>,
}

/// The request counter and latency histogram of each (method, status) seen on one route.
/// Lookups read filled slots without a lock; a new pair registers under the lock.
pub(crate) struct RouteStats {
    route: Box<str>,
    slots: [OnceLock<Slot>; 8],
    /// Taken to fill a slot; holds the pairs past the slots (a route with many statuses).
    more: parking_lot::Mutex<Vec<Slot>>,
}

struct Slot {
    method: Method,
    status: u16,
    requests: Counter,
    latency: Histogram,
}

impl Slot {
    fn register(route: &str, method: &Method, status: u16) -> Slot {
        let labels = [
            ("method", method.as_str().to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        Slot {
            method: method.clone(),
            status,
            requests: metrics::counter!("http_requests_total", &labels),
            latency: metrics::histogram!("http_request_duration_seconds", &labels),
        }
    }

    fn is(&self, method: &Method, status: u16) -> bool {
        self.status == status && self.method == *method
    }

    fn record(&self, secs: f64) {
        self.requests.increment(1);
        self.latency.record(secs);
    }
}

impl RouteStats {
    fn new(route: &str) -> RouteStats {
        RouteStats {
            route: route.into(),
            slots: Default::default(),
            more: parking_lot::Mutex::default(),
        }
    }

    pub fn route(&self) -> &str {
        &self.route
    }

    fn record(&self, method: &Method, status: u16, secs: f64) {
        for slot in &self.slots {
            match slot.get() {
                Some(s) if s.is(method, status) => return s.record(secs),
                Some(_) => {}
                None => break,
            }
        }
        let mut more = self.more.lock();
        for slot in &self.slots {
            match slot.get() {
                Some(s) if s.is(method, status) => return s.record(secs),
                Some(_) => {}
                None => {
                    return slot
                        .get_or_init(|| Slot::register(&self.route, method, status))
                        .record(secs);
                }
            }
        }
        if let Some(s) = more.iter().find(|s| s.is(method, status)) {
            return s.record(secs);
        }
        let s = Slot::register(&self.route, method, status);
        s.record(secs);
        more.push(s);
    }
}

/// Every route's [`RouteStats`], by route template; `unmatched` for requests no route took.
pub(crate) struct RouteRegistry {
    by_route: parking_lot::Mutex<HashMap<Box<str>, Arc<RouteStats>>>,
    unmatched: Arc<RouteStats>,
}

impl Default for RouteRegistry {
    fn default() -> Self {
        RouteRegistry {
            by_route: parking_lot::Mutex::default(),
            unmatched: Arc::new(RouteStats::new("unmatched")),
        }
    }
}

impl RouteRegistry {
    fn get(&self, route: &str) -> Arc<RouteStats> {
        let mut map = self.by_route.lock();
        match map.get(route) {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(RouteStats::new(route));
                map.insert(route.into(), s.clone());
                s
            }
        }
    }
}

/// The matched route's stats, carried on the response from [`RouteTag`] to [`Observe`].
#[derive(Clone)]
struct RouteLabel(Arc<RouteStats>);

/// Adds [`RouteTag`] to each route (`Router::route_layer`).
#[derive(Clone)]
pub(crate) struct RouteTagLayer {
    pub timeout: Duration,
    pub routes: Arc<RouteRegistry>,
}

impl<S> Layer<S> for RouteTagLayer {
    type Service = RouteTag<S>;

    fn layer(&self, inner: S) -> RouteTag<S> {
        RouteTag {
            inner,
            timeout: self.timeout,
            routes: self.routes.clone(),
            // One per route (and method): its first request fills it.
            stats: Arc::default(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct RouteTag<S> {
    inner: S,
    timeout: Duration,
    routes: Arc<RouteRegistry>,
    stats: Arc<OnceLock<Arc<RouteStats>>>,
}

impl<S> RouteTag<S> {
    fn stats(&self, matched: &MatchedPath) -> Arc<RouteStats> {
        let path = matched.as_str();
        let mine = self.stats.get_or_init(|| self.routes.get(path));
        if mine.route() == path {
            mine.clone()
        } else {
            // The same service under a second path: not how axum builds routes, but exact.
            self.routes.get(path)
        }
    }
}

impl<S> Service<Request<Body>> for RouteTag<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RouteTagFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let label = req.extensions().get::<MatchedPath>().map(|m| self.stats(m));
        RouteTagFuture {
            deadline: tokio::time::Instant::now() + self.timeout,
            inner: self.inner.call(req),
            sleep: Timer::Unarmed,
            label,
        }
    }
}

pin_project! {
    #[project = TimerProj]
    enum Timer {
        Unarmed,
        Armed { #[pin] sleep: tokio::time::Sleep },
    }
}

pin_project! {
    /// The route's response with its label, or 503 once the deadline passed. The timer is armed
    /// only when the handler first waits: most requests finish in their first poll.
    pub(crate) struct RouteTagFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Timer,
        deadline: tokio::time::Instant,
        label: Option<Arc<RouteStats>>,
    }
}

impl<F> Future for RouteTagFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut resp = match this.inner.poll(cx) {
            Poll::Ready(Ok(r)) => r,
            Poll::Ready(Err(e)) => match e {},
            Poll::Pending => {
                if matches!(this.sleep.as_mut().project(), TimerProj::Unarmed) {
                    this.sleep.set(Timer::Armed {
                        sleep: tokio::time::sleep_until(*this.deadline),
                    });
                }
                let TimerProj::Armed { sleep } = this.sleep.project() else {
                    return Poll::Pending;
                };
                ready!(sleep.poll(cx));
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                r
            }
        };
        if let Some(label) = this.label.take() {
            resp.extensions_mut().insert(RouteLabel(label));
        }
        Poll::Ready(Ok(resp))
    }
}

/// The outermost service: see the module comment.
#[derive(Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    edge: Arc<Edge>,
}

impl<S> Observe<S> {
    pub(crate) fn new(inner: S, edge: Arc<Edge>) -> Observe<S> {
        Observe { inner, edge }
    }
}

/// What the access line and the metrics need once the response is there.
struct Pending {
    started: Instant,
    method: Method,
    uri: Uri,
    client: IpAddr,
    id: HeaderValue,
    /// The id while it is not this thread's current one (see [`with_request_id`]).
    current: Option<HeaderValue>,
    /// Without JSON logs: the `request` span the pretty format shows.
    span: Option<tracing::Span>,
    json: Option<&'static JsonLog>,
    edge: Arc<Edge>,
}

impl Pending {
    /// Runs `f` in the request's logging context.
    fn scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _entered = self.span.as_ref().map(|s| s.enter());
        with_request_id(&mut self.current, f)
    }

    fn finish(self, mut resp: Response) -> Response {
        let elapsed = self.started.elapsed();
        let status = resp.status().as_u16();
        let label = resp.extensions_mut().remove::<RouteLabel>();
        let stats = label
            .as_ref()
            .map_or(&*self.edge.routes.unmatched, |l| &*l.0);
        stats.record(&self.method, status, elapsed.as_secs_f64());
        let record = AccessRecord {
            method: self.method.as_str(),
            path: self.uri.path(),
            client_ip: self.client,
            status,
            route: stats.route(),
            latency_ms: elapsed.as_secs_f64() * 1000.0,
            request_id: self.id.to_str().unwrap_or_default(),
        };
        match self.json {
            Some(json) if json.access => write_access_line(json, &record),
            Some(_) => {}
            None => {
                let _entered = self.span.as_ref().map(|s| s.enter());
                tracing::info!(
                    target: access_log::TARGET,
                    method = %record.method,
                    path = %record.path,
                    client_ip = %record.client_ip,
                    status = record.status,
                    route = %record.route,
                    latency_ms = record.latency_ms,
                    "request finished"
                );
            }
        }
        resp.headers_mut().insert(REQUEST_ID_HEADER, self.id);
        resp
    }
}

fn write_access_line(json: &JsonLog, record: &AccessRecord<'_>) {
    thread_local! {
        static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        line.clear();
        access_log::write_json(&mut line, SystemTime::now(), record);
        json.writer.append(&line);
    });
}

impl<S> Service<Request<Body>> for Observe<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let RequestId(request_id) = RequestId::from_headers(req.headers());
        let id = HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static(""));
        let client = self.client_ip(&req);
        req.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
        let json = logging::json_log();
        let span = match json {
            Some(_) => None,
            None => Some(tracing::span!(Level::INFO, "request", request_id = %request_id)),
        };
        req.extensions_mut().insert(RequestId(request_id));
        req.extensions_mut().insert(ClientIp(client));
        let mut pending = Pending {
            started,
            method: req.method().clone(),
            uri: req.uri().clone(),
            client,
            current: Some(id.clone()),
            id,
            span,
            json,
            edge: self.edge.clone(),
        };
        let state = match limit_body(req, self.edge.body_limit) {
            None => State::Done {
                resp: Some(too_large()),
            },
            Some(req) => {
                let inner = &mut self.inner;
                match pending.scope(|| catch_unwind(AssertUnwindSafe(|| inner.call(req)))) {
                    Ok(fut) => State::Inner { fut },
                    Err(_) => State::Done {
                        resp: Some(pending.scope(panic_response)),
                    },
                }
            }
        };
        ObserveFuture {
            state,
            pending: Some(pending),
        }
    }
}

impl<S> Observe<S> {
    fn client_ip(&self, req: &Request<Body>) -> IpAddr {
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
        match peer {
            Some(peer) => self.edge.trusted.client_ip(peer, req.headers()),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

/// The body limit, as tower-http's `RequestBodyLimit` applied it (`None`: answer 413): a declared length over the
/// limit is refused unread; any other body is cut at the limit (or its declared length), which
/// a body that cannot exceed it (hyper holds a body to its declared length; an empty one) does
/// not need.
fn limit_body(req: Request<Body>, limit: usize) -> Option<Request<Body>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let cap = match declared {
        Some(len) if len > limit => return None,
        Some(len) => len,
        None => limit,
    };
    if req
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= cap as u64)
    {
        return Some(req);
    }
    Some(req.map(|b| Body::new(http_body_util::Limited::new(b, cap))))
}

/// tower-http's 413.
fn too_large() -> Response {
    let mut r = Response::new(Body::from("length limit exceeded"));
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn panic_response() -> Response {
    tracing::error!("a request handler panicked");
    crate::json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"error":"internal error"}"#,
    )
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] fut: F },
        Done { resp: Option<Response> },
    }
}

pin_project! {
    pub(crate) struct ObserveFuture<F> {
        #[pin]
        state: State<F>,
        pending: Option<Pending>,
    }
}

impl<F> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(pending) = this.pending.as_mut() else {
            return Poll::Pending;
        };
        let resp = match this.state.project() {
            StateProj::Inner { fut } => {
                match pending.scope(|| catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(r))) => r,
                    Ok(Poll::Ready(Err(e))) => match e {},
                    Err(_) => pending.scope(panic_response),
                }
            }
            StateProj::Done { resp } => resp.take().unwrap_or_else(panic_response),
        };
        match this.pending.take() {
            Some(p) => Poll::Ready(Ok(p.finish(resp))),
            None => Poll::Ready(Ok(resp)),
        }
    }
}
