//! Raw ceilings on the server's cores: how fast the bare primitives run with one thread pinned
//! to each server core, nothing else in the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use crate::load::LoadOpts;
use crate::seed::HashParams;
use crate::workloads::Healthz;

#[derive(Debug, Clone, Copy)]
pub struct Ceilings {
    /// argon2id verifications per second at the configured parameters.
    pub argon2: f64,
    /// Ed25519 verifications per second (a JWT-sized message).
    pub ed25519_verify: f64,
    /// Ed25519 signatures per second (what minting a token costs).
    pub ed25519_sign: f64,
    pub threads: usize,
    /// Requests per second of a bare hyper server on the server's cores (see [`bare_http`]).
    pub bare_http: Option<f64>,
}

/// Runs `op` on one thread per entry of `cpus` (pinned; one unpinned thread per core when
/// empty) for `dur`, and returns operations per second across all threads.
fn per_core<F>(cpus: &[usize], dur: Duration, op: F) -> f64
where
    F: Fn() + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<Option<usize>> = if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        vec![None; n]
    } else {
        cpus.iter().copied().map(Some).collect()
    };
    let start = Instant::now();
    let handles: Vec<_> = threads
        .into_iter()
        .map(|cpu| {
            let op = op.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                if let Some(cpu) = cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                }
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    op();
                    n += 1;
                }
                (n, Instant::now())
            })
        })
        .collect();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    let mut total = 0.0;
    for h in handles {
        if let Ok((n, ended)) = h.join() {
            // Each thread's own elapsed time: the last operation may overrun `dur`.
            total += n as f64 / (ended - start).as_secs_f64();
        }
    }
    total
}

pub fn measure(params: HashParams, cpus: &[usize], dur: Duration) -> anyhow::Result<Ceilings> {
    let threads = if cpus.is_empty() {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        cpus.len()
    };
    // argon2: the server verifies a stored PHC string, which is one full hash.
    let phc = params.phc(crate::seed::BENCH_PASSWORD)?;
    let argon2 = per_core(cpus, dur, move || {
        let parsed = PasswordHash::new(&phc).expect("a PHC string");
        let ok = argon2::Argon2::default()
            .verify_password(crate::seed::BENCH_PASSWORD.as_bytes(), &parsed)
            .is_ok();
        assert!(ok);
    });
    // Ed25519 over a message the size of a JWT's signing input (~260 bytes).
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let msg: Vec<u8> = (0..260u32).map(|i| b'A' + (i % 26) as u8).collect();
    let sig = key.sign(&msg);
    let vk = key.verifying_key();
    let m2 = msg.clone();
    let ed25519_verify = per_core(cpus, dur, move || {
        assert!(vk.verify(&m2, &sig).is_ok());
    });
    let ed25519_sign = per_core(cpus, dur, move || {
        std::hint::black_box(key.sign(&msg));
    });
    Ok(Ceilings {
        argon2,
        ed25519_verify,
        ed25519_sign,
        threads,
        bare_http: None,
    })
}

/// The loopback HTTP ceiling: a bare hyper HTTP/1.1 server with no application at all (a fixed
/// `200 {"status":"ok"}`), on the server's cores, driven by the same generator and connections
/// as the scenarios. On a VM whose loopback TCP costs more than the application, this, not a
/// crypto primitive, bounds every request/response scenario.
pub fn bare_http(server_cpus: &[usize], opts: &LoadOpts, secs: Duration) -> anyhow::Result<f64> {
    use std::sync::atomic::AtomicUsize;

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let workers = server_cpus.len().max(1);
    let cpus: Arc<Vec<usize>> = Arc::new(server_cpus.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(move || {
            if !cpus.is_empty() {
                let i = next.fetch_add(1, Ordering::Relaxed) % cpus.len();
                core_affinity::set_for_current(core_affinity::CoreId { id: cpus[i] });
            }
        })
        .enable_all()
        .build()?;
    let listener = {
        let _runtime = rt.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    // An accept error ends the server; the generator then reports every request as an error.
    let accept = rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let mut resp =
                        http::Response::new(Full::new(Bytes::from_static(br#"{"status":"ok"}"#)));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, std::convert::Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    let host = http::HeaderValue::from_str(&addr.to_string())?;
    let run = LoadOpts {
        addr,
        warmup: Duration::from_secs(1),
        duration: secs,
        ..opts.clone()
    };
    let stats = crate::load::run(&run, crate::workloads::boxed(Healthz { host }));
    accept.abort();
    rt.shutdown_background();
    let stats = stats?;
    Ok(stats.first().map_or(0.0, |s| s.rps))
}
