//! The one table.

use crate::ceilings::Ceilings;
use crate::load::ClassStats;

/// A target check: what it demands, the measured value, and the verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub target: &'static str,
    /// Shown as SKIP instead of PASS/FAIL.
    pub skip: bool,
    /// A ratio shown for information, with no verdict (—).
    pub info: bool,
    pub value: String,
    pub pass: bool,
}

impl Check {
    pub fn new(target: &'static str, value: String, pass: bool) -> Check {
        Check {
            target,
            skip: target == "skipped",
            info: false,
            value,
            pass,
        }
    }

    /// A ratio that must be at least `min`.
    pub fn at_least(target: &'static str, ratio: f64, min: f64) -> Check {
        Check::new(target, format!("{ratio:.2}"), ratio >= min)
    }

    /// A figure without a target (e.g. a ratio to another row), shown with no verdict.
    pub fn info(what: &'static str, value: String) -> Check {
        Check {
            info: true,
            ..Check::new(what, value, true)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub conns: Option<usize>,
    pub stats: Option<ClassStats>,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: u64,
    /// Server CPU use during the run, in cores.
    pub server_cpu: Option<f64>,
    /// Store round trips (statements, BEGIN/COMMIT, connection checks) per request answered.
    pub round_trips: Option<f64>,
    pub ceiling: Option<(&'static str, f64)>,
    pub checks: Vec<Check>,
    pub note: Option<String>,
}

impl Row {
    pub fn new(
        name: &str,
        conns: usize,
        stats: &ClassStats,
        rss_before_kib: u64,
        rss_after_kib: u64,
        server_cpu: f64,
    ) -> Row {
        Row {
            name: name.to_owned(),
            conns: Some(conns),
            stats: Some(stats.clone()),
            rss_before_kib: Some(rss_before_kib),
            rss_after_kib,
            server_cpu: Some(server_cpu),
            round_trips: None,
            ceiling: None,
            checks: Vec::new(),
            note: None,
        }
    }

    /// A memory-only row.
    pub fn memory(name: &str, rss_kib: u64, check: Option<Check>) -> Row {
        Row {
            name: name.to_owned(),
            conns: None,
            stats: None,
            rss_before_kib: None,
            rss_after_kib: rss_kib,
            server_cpu: None,
            round_trips: None,
            ceiling: None,
            checks: check.into_iter().collect(),
            note: None,
        }
    }

    /// A scenario that could not run against this server build.
    pub fn skipped(name: &str, why: &str) -> Row {
        Row {
            name: name.to_owned(),
            conns: None,
            stats: None,
            rss_before_kib: None,
            rss_after_kib: 0,
            server_cpu: None,
            round_trips: None,
            ceiling: None,
            checks: vec![Check::new("skipped", why.to_owned(), false)],
            note: Some("SKIP".into()),
        }
    }

    /// Store round trips per request, when the server reports them.
    pub fn trips(mut self, per_request: Option<f64>) -> Row {
        self.round_trips = per_request;
        self
    }

    pub fn ceiling(mut self, name: &'static str, ratio: f64) -> Row {
        self.ceiling = Some((name, ratio));
        self
    }

    pub fn check(mut self, c: Check) -> Row {
        self.checks.push(c);
        self
    }

    pub fn note(mut self, n: String) -> Row {
        self.note = Some(n);
        self
    }
}

#[derive(Debug, Clone)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total: String,
    pub load: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".into());
        let load = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            mem_total,
            load,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Setup {
    pub machine: Machine,
    pub server_cpus: String,
    pub client_cpus: String,
    pub store: String,
    pub duration: u64,
    pub warmup: u64,
    pub users: u64,
    pub log_level: String,
}

pub fn human_count(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn mb(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Prints the table on stdout; returns false when any scenario had errors.
pub fn print(setup: &Setup, c: &Ceilings, rows: &[Row]) -> bool {
    let m = &setup.machine;
    println!();
    println!(
        "machine: {} × {} (nproc {}), {} RAM, load average at end {}",
        m.nproc, m.cpu_model, m.nproc, m.mem_total, m.load
    );
    println!(
        "server CPUs [{}] (taskset), load generator CPUs [{}]; store {}; {} s measured after {} s warm-up per scenario; {} bulk users/keys; server log level {}",
        setup.server_cpus,
        setup.client_cpus,
        setup.store,
        setup.duration,
        setup.warmup,
        human_count(setup.users),
        setup.log_level
    );
    println!(
        "ceilings ({} thread(s), one per server CPU): argon2id m=19456 t=2 p=1 {:.1} verifications/s; Ed25519 {:.0} verifications/s, {:.0} signatures/s",
        c.threads, c.argon2, c.ed25519_verify, c.ed25519_sign
    );
    if let Some(bare) = c.bare_http {
        println!(
            "loopback HTTP ceiling: a bare hyper server (no application) on the server CPUs answers {bare:.0} req/s to the same generator"
        );
    }
    println!();
    let header = [
        "scenario",
        "conns",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "RSS MB",
        "srv CPU",
        "trips/req",
        "vs ceiling",
        "target",
        "value",
        "result",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    let mut all_ok = true;
    for r in rows {
        let (rps, p50, p90, p99, errs) = match &r.stats {
            Some(s) => {
                if s.errors > 0 {
                    all_ok = false;
                }
                (
                    format!("{:.1}", s.rps),
                    format!("{:.2}", s.p50_ms),
                    format!("{:.2}", s.p90_ms),
                    format!("{:.2}", s.p99_ms),
                    s.errors.to_string(),
                )
            }
            None => Default::default(),
        };
        let rss = match r.rss_before_kib {
            Some(b) => format!("{}→{}", mb(b), mb(r.rss_after_kib)),
            None if r.rss_after_kib == 0 => String::new(),
            None => mb(r.rss_after_kib),
        };
        let ceiling = r
            .ceiling
            .map(|(n, x)| format!("{x:.3}×{n}"))
            .unwrap_or_default();
        let mut first = true;
        let checks: Vec<Option<&Check>> = if r.checks.is_empty() {
            vec![None]
        } else {
            r.checks.iter().map(Some).collect()
        };
        for ch in checks {
            let (target, value, result) = match ch {
                Some(ch) => (
                    ch.target.to_string(),
                    ch.value.clone(),
                    if ch.skip {
                        "SKIP"
                    } else if ch.info {
                        "—"
                    } else if ch.pass {
                        "PASS"
                    } else {
                        "FAIL"
                    }
                    .to_string(),
                ),
                None => (
                    r.note.clone().unwrap_or_default(),
                    String::new(),
                    "—".into(),
                ),
            };
            let result = if r.stats.as_ref().is_some_and(|s| s.errors > 0) {
                "FAIL (errors)".to_string()
            } else {
                result
            };
            if first {
                table.push(vec![
                    r.name.clone(),
                    r.conns.map(|c| c.to_string()).unwrap_or_default(),
                    rps.clone(),
                    p50.clone(),
                    p90.clone(),
                    p99.clone(),
                    errs.clone(),
                    rss.clone(),
                    r.server_cpu.map(|c| format!("{c:.2}")).unwrap_or_default(),
                    r.round_trips.map(|t| format!("{t:.2}")).unwrap_or_default(),
                    ceiling.clone(),
                    target,
                    value,
                    result,
                ]);
                first = false;
            } else {
                let mut row = vec![String::new(); 11];
                row.extend([target, value, result]);
                table.push(row);
            }
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, row) in table.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths[i] - cell.chars().count();
                // Names and targets left-aligned, numbers right-aligned.
                if i == 0 || i >= 9 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        println!("| {} |", line.join(" | "));
        if n == 0 {
            let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("|-{}-|", sep.join("-|-"));
        }
    }
    println!();
    if !all_ok {
        println!("some scenarios had errors: exit status 1");
    }
    all_ok
}
