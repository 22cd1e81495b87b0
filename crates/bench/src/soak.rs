//! `--soak-minutes N`: the mixed load (logins, validations and API-key exchanges at once) for N
//! minutes on one server, one measured window per minute, with the server's resident memory,
//! open file descriptors and database connections sampled every second (docs/benchmarks.md,
//! "Soak"). The first `--soak-warmup-minutes` run the same load unmeasured by the targets.
//! Targets: RSS, descriptors and database connections flat after that warm-up (the last
//! minute's peak ≤ 1.10 × the first measured minute's), and each class's p99 in the last minute
//! within 1.5 × its p99 in the very first minute of load.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;

use crate::load::{self, ClassStats, LoadOpts, Rng, Workload};
use crate::server::{Server, rss_kib};
use crate::workloads as wl;

/// How much RSS, descriptors and database connections may grow after the warm-up.
const FLAT: f64 = 1.10;
/// How much a class's p99 may grow from the first minute to the last.
const P99_GROWTH: f64 = 1.5;
const MINUTE: Duration = Duration::from_secs(60);

/// Logins on the first connections (enough to keep the hashing pool busy, as in `mixed`), API
/// key exchanges on a quarter of the rest, validations on the others.
pub struct SoakLoad {
    pub login: wl::Login,
    pub exchange: wl::ApiKeyExchange,
    pub validate: wl::CheckAdmin,
    pub login_conns: usize,
    pub exchange_conns: usize,
}

impl Workload for SoakLoad {
    fn classes(&self) -> Vec<&'static str> {
        vec!["login", "exchange", "checkAdmin"]
    }
    fn request(
        &self,
        conn: usize,
        conns: usize,
        rng: &mut Rng,
    ) -> (usize, http::Request<http_body_util::Full<bytes::Bytes>>) {
        if conn < self.login_conns {
            (0, self.login.request(conn, self.login_conns, rng).1)
        } else if conn < self.login_conns + self.exchange_conns {
            (1, self.exchange.request(conn, conns, rng).1)
        } else {
            (2, self.validate.request(conn, conns, rng).1)
        }
    }
    fn check(&self, class: usize, status: http::StatusCode, body: &[u8]) -> Result<(), String> {
        match class {
            0 => self.login.check(0, status, body),
            1 => self.exchange.check(0, status, body),
            _ => self.validate.check(0, status, body),
        }
    }
}

/// Where the server's database connections are counted.
pub enum DbProbe {
    /// Descriptors of the server open on these files (the database, its -wal and -shm).
    Sqlite(std::path::PathBuf),
    /// `pg_stat_activity` rows of the database, read through `admin_url`.
    Postgres { admin_url: String, database: String },
}

/// The database of a PostgreSQL URL (`…/name?…`).
pub fn db_name(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    base.rsplit('/').next().unwrap_or_default().to_owned()
}

/// One second's sample of the server.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss_kib: u64,
    fds: u64,
    db: u64,
}

fn open_fds(pid: u32) -> (u64, Vec<std::path::PathBuf>) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, Vec::new());
    };
    let mut n = 0;
    let mut targets = Vec::new();
    for e in dir.flatten() {
        n += 1;
        if let Ok(t) = std::fs::read_link(e.path()) {
            targets.push(t);
        }
    }
    (n, targets)
}

fn pg_count(rt: &tokio::runtime::Runtime, admin_url: &str, database: &str) -> u64 {
    use sqlx::Connection as _;
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(admin_url).await.ok()?;
        let n: i64 = sqlx::query_scalar("select count(*) from pg_stat_activity where datname = $1")
            .bind(database)
            .fetch_one(&mut c)
            .await
            .ok()?;
        let _ = c.close().await;
        Some(n as u64)
    })
    .unwrap_or(0)
}

/// Samples the server every second into the bucket of the minute running, until stopped.
fn sampler(
    pid: u32,
    probe: DbProbe,
    minute: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<Vec<Sample>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok();
        while !stop.load(Ordering::Relaxed) {
            let (fds, targets) = open_fds(pid);
            let db = match (&probe, &rt) {
                (DbProbe::Sqlite(db), _) => {
                    let name = db.to_string_lossy().into_owned();
                    targets
                        .iter()
                        .filter(|t| t.to_string_lossy().starts_with(&name))
                        .count() as u64
                }
                (
                    DbProbe::Postgres {
                        admin_url,
                        database,
                    },
                    Some(rt),
                ) => pg_count(rt, admin_url, database),
                (DbProbe::Postgres { .. }, None) => 0,
            };
            let s = Sample {
                rss_kib: rss_kib(pid).unwrap_or(0),
                fds,
                db,
            };
            let m = minute.load(Ordering::Relaxed);
            if let Ok(mut p) = peaks.lock()
                && let Some(peak) = p.get_mut(m)
            {
                peak.rss_kib = peak.rss_kib.max(s.rss_kib);
                peak.fds = peak.fds.max(s.fds);
                peak.db = peak.db.max(s.db);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    })
}

/// One measured minute.
struct Minute {
    classes: Vec<ClassStats>,
    peak: Sample,
}

pub struct SoakSpec<'a> {
    /// Measured minutes, after `warmup_minutes` of the same load.
    pub minutes: u64,
    pub warmup_minutes: u64,
    pub opts: LoadOpts,
    pub host: HeaderValue,
    pub tokens: &'a [String],
    pub users: u64,
    pub login_conns: usize,
    pub probe: DbProbe,
    pub store: &'static str,
}

/// Runs the soak and prints its table; `Ok(false)` when any request failed.
pub fn run(server: &Server, spec: SoakSpec<'_>) -> anyhow::Result<bool> {
    let conns = spec.opts.connections;
    let lc = spec.login_conns.min(conns.saturating_sub(2)).max(1);
    let ec = ((conns - lc) / 4).max(1);
    let w: Arc<dyn Workload> = Arc::new(SoakLoad {
        login: wl::Login {
            host: spec.host.clone(),
            users: spec.users,
        },
        exchange: wl::ApiKeyExchange::uniform(spec.host.clone(), spec.users),
        validate: wl::CheckAdmin::new(spec.host.clone(), spec.tokens),
        login_conns: lc,
        exchange_conns: ec,
    });
    let warmup = spec.warmup_minutes as usize;
    let minutes = warmup + spec.minutes.max(1) as usize;
    let minute = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let peaks = Arc::new(Mutex::new(vec![Sample::default(); minutes]));
    let probe_name = match &spec.probe {
        DbProbe::Sqlite(_) => "descriptors on the SQLite files",
        DbProbe::Postgres { .. } => "pg_stat_activity rows",
    };
    let handle = sampler(
        server.pid,
        spec.probe,
        minute.clone(),
        stop.clone(),
        peaks.clone(),
    );
    eprintln!(
        "soak: {minutes} min on {} ({warmup} of warm-up; {lc} login, {ec} exchange, {} \
         checkAdmin connections)…",
        spec.store,
        conns - lc - ec
    );
    let mut out = Vec::new();
    let mut result = Ok(());
    for m in 0..minutes {
        minute.store(m, Ordering::Relaxed);
        // Only the first window has a warm-up; the next ones follow at once.
        let opts = LoadOpts {
            warmup: if m == 0 {
                spec.opts.warmup
            } else {
                Duration::ZERO
            },
            duration: MINUTE,
            ..spec.opts.clone()
        };
        match load::run(&opts, w.clone()) {
            Ok(classes) => {
                let c = &classes;
                eprintln!(
                    "  minute {}: p99 login {:.1} ms, exchange {:.2} ms, checkAdmin {:.2} ms",
                    m + 1,
                    c[0].p99_ms,
                    c[1].p99_ms,
                    c[2].p99_ms
                );
                out.push(classes);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();
    result?;
    let peaks = peaks.lock().map(|p| p.clone()).unwrap_or_default();
    let rows: Vec<Minute> = out
        .into_iter()
        .zip(peaks)
        .map(|(classes, peak)| Minute { classes, peak })
        .collect();
    Ok(print(&rows, warmup, spec.store, probe_name))
}

/// `last ≤ factor × first`, as a check line.
fn growth(what: &str, first: f64, last: f64, factor: f64, unit: &str) -> (String, bool) {
    let ratio = if first > 0.0 { last / first } else { 1.0 };
    let pass = last <= first * factor;
    (
        format!(
            "| {what} | {first:.1}{unit} | {last:.1}{unit} | {ratio:.2}× | ≤{factor}× | {} |",
            if pass { "PASS" } else { "FAIL" }
        ),
        pass,
    )
}

fn print(rows: &[Minute], warmup: usize, store: &str, probe: &str) -> bool {
    println!(
        "\nsoak on {store}: {} one-minute windows, the first {warmup} of them warm-up (w); RSS, \
         descriptors and DB connections are each minute's peak of 1 s samples (DB connections: \
         {probe})\n",
        rows.len()
    );
    println!(
        "| minute | login/s | exchange/s | checkAdmin/s | login p99 ms | exchange p99 ms | \
         checkAdmin p99 ms | errors | RSS MB | fds | DB conns |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut errors = 0;
    for (i, m) in rows.iter().enumerate() {
        let c = &m.classes;
        let e: u64 = c.iter().map(|s| s.errors).sum();
        errors += e;
        println!(
            "| {}{} | {:.1} | {:.0} | {:.0} | {:.1} | {:.2} | {:.2} | {e} | {:.1} | {} | {} |",
            i + 1,
            if i < warmup { " (w)" } else { "" },
            c[0].rps,
            c[1].rps,
            c[2].rps,
            c[0].p99_ms,
            c[1].p99_ms,
            c[2].p99_ms,
            m.peak.rss_kib as f64 / 1024.0,
            m.peak.fds,
            m.peak.db
        );
    }
    for c in rows
        .iter()
        .flat_map(|m| &m.classes)
        .filter(|c| c.errors > 0)
    {
        eprintln!(
            "  ! {}: {} errors, e.g. {:?}",
            c.name, c.errors, c.first_errors
        );
    }
    if let (Some(first), Some(measured), Some(last)) = (rows.first(), rows.get(warmup), rows.last())
    {
        println!(
            "\n| target (resources: minute {} → {}; p99: minute 1 → {}) | from | to | ratio | \
             target | result |",
            warmup + 1,
            rows.len(),
            rows.len()
        );
        println!("|---|---|---|---|---|---|");
        let mb = |kib: u64| kib as f64 / 1024.0;
        let mut lines: Vec<(String, bool)> = [
            (
                "RSS",
                mb(measured.peak.rss_kib),
                mb(last.peak.rss_kib),
                " MB",
            ),
            (
                "open descriptors",
                measured.peak.fds as f64,
                last.peak.fds as f64,
                "",
            ),
            (
                "DB connections",
                measured.peak.db as f64,
                last.peak.db as f64,
                "",
            ),
        ]
        .into_iter()
        .map(|(what, a, b, unit)| growth(what, a, b, FLAT, unit))
        .collect();
        for (a, b) in first.classes.iter().zip(&last.classes) {
            let what = format!("{} p99", a.name);
            lines.push(growth(&what, a.p99_ms, b.p99_ms, P99_GROWTH, " ms"));
        }
        for (line, _) in &lines {
            println!("{line}");
        }
    }
    println!("\nerrors: {errors}");
    errors == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_name_is_the_last_path_segment() {
        assert_eq!(
            db_name("postgres://u:p@h:5432/bench_1?sslmode=disable"),
            "bench_1"
        );
        assert_eq!(db_name("postgres://h/x"), "x");
    }

    #[test]
    fn growth_checks_compare_the_last_with_the_first() {
        assert!(growth("RSS", 100.0, 110.0, FLAT, "").1);
        assert!(!growth("RSS", 100.0, 110.5, FLAT, "").1);
        assert!(growth("p99", 2.0, 3.0, P99_GROWTH, "").1);
        assert!(!growth("p99", 2.0, 3.1, P99_GROWTH, "").1);
        assert!(growth("none", 0.0, 0.0, FLAT, "").0.contains("PASS"));
    }

    #[test]
    fn the_soak_load_splits_connections_into_three_classes() {
        let host = HeaderValue::from_static("127.0.0.1:1");
        let w = SoakLoad {
            login: wl::Login {
                host: host.clone(),
                users: 100,
            },
            exchange: wl::ApiKeyExchange::uniform(host.clone(), 100),
            validate: wl::CheckAdmin::new(host, &["t".to_owned()]),
            login_conns: 3,
            exchange_conns: 2,
        };
        let mut rng = Rng::new(1);
        let classes: Vec<usize> = (0..8).map(|c| w.request(c, 8, &mut rng).0).collect();
        assert_eq!(classes, [0, 0, 0, 1, 1, 2, 2, 2]);
    }
}
