//! Accepting connections: a cap on open connections, overall and per client address, and
//! HTTP/1 serving with a header-read timeout, so slow or idle clients (slowloris) cannot hold
//! the server's connections.
//!
//! A refused connection is closed as soon as it is accepted, before anything is read, and
//! counted in `http_connections_refused_total{reason}`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use portcullis_edge::TrustedProxies;
use tower::ServiceExt as _;

use crate::config::ServerConfig;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` are open.
    Total,
    /// `max_connections_per_ip` are open from the peer's address (IPv6: its /64).
    PerIp,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Total => "max_connections",
            Refusal::PerIp => "max_connections_per_ip",
        }
    }
}

/// Counts open connections against the caps.
#[derive(Debug)]
pub struct ConnLimits {
    max_total: usize,
    max_per_ip: usize,
    /// Trusted proxies carry many clients each: they count only against the total.
    exempt: Arc<TrustedProxies>,
    open: parking_lot::Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnPermit {
    limits: Arc<ConnLimits>,
    /// The per-address key it counts under (`None` for an exempt peer).
    key: Option<IpAddr>,
}

impl ConnLimits {
    pub fn new(max_total: usize, max_per_ip: usize, exempt: Arc<TrustedProxies>) -> Arc<Self> {
        Arc::new(ConnLimits {
            max_total,
            max_per_ip,
            exempt,
            open: parking_lot::Mutex::default(),
        })
    }

    /// Admits a connection from `peer`, or says why not.
    pub fn try_admit(self: &Arc<Self>, peer: IpAddr) -> Result<ConnPermit, Refusal> {
        let peer = peer.to_canonical();
        let key =
            (!self.exempt.contains(peer)).then(|| portcullis_core::engine::ip_limit_key(peer));
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Refusal::Total);
        }
        if let Some(key) = key {
            let n = open.per_ip.entry(key).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(Refusal::PerIp);
            }
            *n += 1;
        }
        open.total += 1;
        Ok(ConnPermit {
            limits: self.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().total
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(n) = open.per_ip.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&key);
            }
        }
    }
}

/// Accepts and serves connections until `shutdown` resolves, then stops accepting (the
/// listener is closed) and returns the handle that waits for the open connections to finish.
pub(crate) async fn accept_loop<F, A: crate::App>(
    listener: tokio::net::TcpListener,
    app: A,
    config: &ServerConfig,
    limits: Arc<ConnLimits>,
    shutdown: F,
) -> GracefulShutdown
where
    F: Future<Output = ()>,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_read_timeout_secs.max(1)));
    let graceful = GracefulShutdown::new();
    let open_gauge = metrics::gauge!("http_connections_open");
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let permit = match limits.try_admit(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                metrics::counter!("http_connections_refused_total", "reason" => why.label())
                    .increment(1);
                tracing::debug!(peer = %peer, reason = why.label(), "connection refused");
                drop(tcp);
                continue;
            }
        };
        // Small answers must leave at once: with Nagle on, a response can wait for the
        // client's delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let conn = http.serve_connection(TokioIo::new(tcp), service(app.clone(), peer));
        let conn = graceful.watch(conn);
        let open_gauge = open_gauge.clone();
        open_gauge.increment(1.0);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                if e.is_timeout() {
                    metrics::counter!("http_header_read_timeouts_total").increment(1);
                }
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            open_gauge.decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    graceful
}

/// The app for one connection, with the peer address where `ConnectInfo` extractors look.
fn service<A: crate::App>(
    app: A,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req.map(axum::body::Body::new))
    })
}

/// Errors on one connection (reset before accept) are skipped; others (out of file
/// descriptors) are logged and retried after a pause, as axum's own loop does.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_count_per_address_and_in_total_and_free_on_drop() {
        let proxies = Arc::new(TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]));
        let limits = ConnLimits::new(4, 2, proxies);
        let a1 = limits.try_admit(ip("192.0.2.1")).unwrap();
        let _a2 = limits.try_admit(ip("::ffff:192.0.2.1")).unwrap();
        assert_eq!(
            limits.try_admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::PerIp
        );
        // IPv6: one /64 is one client.
        let _b1 = limits.try_admit(ip("2001:db8::1")).unwrap();
        let _b2 = limits.try_admit(ip("2001:db8::2")).unwrap();
        assert_eq!(
            limits.try_admit(ip("2001:db8::3")).unwrap_err(),
            Refusal::Total
        );
        drop(a1);
        assert_eq!(
            limits.try_admit(ip("2001:db8::ffff")).unwrap_err(),
            Refusal::PerIp
        );
        // A trusted proxy is held only to the total.
        let p1 = limits.try_admit(ip("10.1.1.1")).unwrap();
        assert_eq!(limits.open(), 4);
        assert_eq!(
            limits.try_admit(ip("10.1.1.1")).unwrap_err(),
            Refusal::Total
        );
        drop(p1);
        assert_eq!(limits.open(), 3);
        let _a3 = limits.try_admit(ip("192.0.2.1")).unwrap();
    }
}
