//! The load generator: N HTTP/1.1 keep-alive connections (hyper 1 client connections, one
//! `tokio` current-thread runtime per generator thread, each thread pinned to one client core),
//! closed loop: each connection sends its next request as soon as the previous answer is read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// A tiny xorshift64* generator: per-connection, deterministic, no locking.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// What one scenario sends and what counts as a correct answer. Requests fall into classes
/// (e.g. `login` and `validate` in the mixed scenario), each reported on its own.
pub trait Workload: Send + Sync + 'static {
    fn classes(&self) -> Vec<&'static str>;
    /// The class and the request for connection `conn` of `conns`.
    fn request(&self, conn: usize, conns: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>);
    /// `Err(reason)` when the answer is not the expected success.
    fn check(&self, class: usize, status: StatusCode, body: &[u8]) -> Result<(), String>;
    /// Sees each answer that passed `check`, with its connection: for workloads whose next
    /// request depends on the last answer (a challenge to finish).
    fn observe(&self, _conn: usize, _class: usize, _body: &[u8]) {}
}

#[derive(Debug, Clone)]
pub struct LoadOpts {
    pub addr: SocketAddr,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// One generator thread per entry, pinned to that core; empty = one unpinned thread.
    pub client_cpus: Vec<usize>,
}

/// Results of one class of requests.
#[derive(Debug, Clone, Default)]
pub struct ClassStats {
    pub name: &'static str,
    /// Successful requests completed inside the measured window.
    pub ok: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Failed requests, warm-up included.
    pub errors: u64,
    pub first_errors: Vec<String>,
}

#[derive(Default)]
struct ConnStats {
    lat_us: Vec<Vec<u32>>,
    errors: Vec<u64>,
    first_errors: Vec<String>,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok((parts.status, body))
}

#[allow(clippy::too_many_arguments)]
async fn connection_loop(
    wl: Arc<dyn Workload>,
    addr: SocketAddr,
    conn: usize,
    conns: usize,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    classes: usize,
) -> ConnStats {
    let mut stats = ConnStats {
        lat_us: vec![Vec::with_capacity(4096); classes],
        errors: vec![0; classes],
        first_errors: Vec::new(),
    };
    let mut rng = Rng::new(conn as u64 + 1);
    let mut sender = None;
    tokio::time::sleep_until(start.into()).await;
    while Instant::now() < end {
        let (class, req) = wl.request(conn, conns, &mut rng);
        let note = |stats: &mut ConnStats, msg: String| {
            stats.errors[class] += 1;
            if stats.first_errors.len() < 3 {
                stats.first_errors.push(msg);
            }
        };
        if sender.is_none() {
            match connect(addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    note(&mut stats, format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let t0 = Instant::now();
        let res = tokio::time::timeout(Duration::from_secs(30), exchange(s, req)).await;
        let t1 = Instant::now();
        match res {
            Ok(Ok((status, body))) => match wl.check(class, status, &body) {
                Ok(()) => {
                    wl.observe(conn, class, &body);
                    if t1 >= measure_from && t1 <= end {
                        let us = (t1 - t0).as_micros().min(u32::MAX as u128) as u32;
                        stats.lat_us[class].push(us);
                    }
                }
                Err(why) => note(&mut stats, why),
            },
            Ok(Err(e)) => {
                note(&mut stats, format!("transport: {e}"));
                sender = None;
            }
            Err(_) => {
                note(&mut stats, "timeout after 30 s".into());
                sender = None;
            }
        }
    }
    stats
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// Runs `wl` for warm-up + duration and returns one [`ClassStats`] per class.
pub fn run(opts: &LoadOpts, wl: Arc<dyn Workload>) -> anyhow::Result<Vec<ClassStats>> {
    Ok(run_probed(opts, wl, None)?.0)
}

/// A reading of a server counter, taken at the start and at the end of the measured window.
pub type Probe = dyn Fn() -> Option<f64> + Sync;

/// [`run`], also returning how much `probe` grew over the measured window.
pub fn run_probed(
    opts: &LoadOpts,
    wl: Arc<dyn Workload>,
    probe: Option<&Probe>,
) -> anyhow::Result<(Vec<ClassStats>, Option<f64>)> {
    let start = Instant::now() + Duration::from_millis(300);
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;
    std::thread::scope(|scope| {
        let grew = probe.map(|probe| {
            scope.spawn(move || {
                std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
                let first = probe();
                std::thread::sleep(end.saturating_duration_since(Instant::now()));
                Some(probe()? - first?)
            })
        });
        let stats = run_window(opts, wl, start, measure_from, end)?;
        let grew = grew.and_then(|h| h.join().ok().flatten());
        Ok((stats, grew))
    })
}

fn run_window(
    opts: &LoadOpts,
    wl: Arc<dyn Workload>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Vec<ClassStats>> {
    let classes = wl.classes();
    let threads = opts.client_cpus.len().max(1);
    let mut handles = Vec::new();
    for t in 0..threads {
        let wl = wl.clone();
        let cpu = opts.client_cpus.get(t).copied();
        let addr = opts.addr;
        let conns = opts.connections;
        let nclasses = classes.len();
        let h = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || -> anyhow::Result<Vec<ConnStats>> {
                if let Some(cpu) = cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let mut tasks = Vec::new();
                    for c in (t..conns).step_by(threads) {
                        tasks.push(tokio::spawn(connection_loop(
                            wl.clone(),
                            addr,
                            c,
                            conns,
                            start,
                            measure_from,
                            end,
                            nclasses,
                        )));
                    }
                    let mut out = Vec::new();
                    for task in tasks {
                        out.push(task.await?);
                    }
                    Ok(out)
                })
            })
            .context("cannot start a load generator thread")?;
        handles.push(h);
    }
    let mut all = Vec::new();
    for h in handles {
        let per = h
            .join()
            .map_err(|_| anyhow::anyhow!("a load generator thread panicked"))??;
        all.extend(per);
    }
    let secs = opts.duration.as_secs_f64();
    let mut out = Vec::new();
    for (i, name) in classes.iter().enumerate() {
        let mut lat: Vec<u32> = all
            .iter()
            .flat_map(|c| c.lat_us[i].iter().copied())
            .collect();
        lat.sort_unstable();
        let errors = all.iter().map(|c| c.errors[i]).sum();
        out.push(ClassStats {
            name,
            ok: lat.len() as u64,
            rps: lat.len() as f64 / secs,
            p50_ms: percentile(&lat, 50.0),
            p90_ms: percentile(&lat, 90.0),
            p99_ms: percentile(&lat, 99.0),
            errors,
            first_errors: Vec::new(),
        });
    }
    // Error samples are per connection, not per class: attach them to every class with errors.
    let samples: Vec<String> = all
        .iter()
        .flat_map(|c| c.first_errors.iter().cloned())
        .take(5)
        .collect();
    for c in out.iter_mut().filter(|c| c.errors > 0) {
        c.first_errors = samples.clone();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 90.0), 90.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
        assert_eq!(percentile(&[7000], 1.0), 7.0);
    }

    #[test]
    fn rng_stays_in_range() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            assert!(r.below(7) < 7);
        }
    }
}
