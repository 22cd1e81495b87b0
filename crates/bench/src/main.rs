//! `portcullis-bench`: starts a release `portcullis` server on a fresh store, seeds it, drives
//! HTTP/1.1 keep-alive load through the public wire surfaces, measures the raw crypto ceilings
//! on the same cores, and prints one table. See docs/benchmarks.md.
#![forbid(unsafe_code)]

mod ceilings;
mod load;
mod report;
mod seed;
mod server;
mod workloads;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::load::{ClassStats, LoadOpts, Workload};
use crate::report::{Check, Row};
use crate::server::{Server, ServerSpec, admin_cli};
use crate::workloads as wl;

/// Load harness for Portcullis: real paths over HTTP/1.1, compared in one run with the raw
/// argon2id and Ed25519 ceilings measured on the server's cores.
#[derive(Debug, Parser)]
#[command(name = "portcullis-bench", version)]
struct Args {
    /// The release server binary (it is not built here).
    #[arg(long, default_value = "target/release/portcullis")]
    server: PathBuf,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds before each scenario's window.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Keep-alive connections for the request/response scenarios.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Connections for the login scenarios [default: 4 per server core].
    #[arg(long)]
    login_connections: Option<usize>,
    /// Use PostgreSQL: an admin URL (e.g. postgres://postgres@127.0.0.1:5432/postgres); a fresh
    /// database is created next to it and dropped at the end. Default: a temporary SQLite store.
    #[arg(long)]
    database_url: Option<String>,
    /// Bulk users (and API keys) in the baseline store.
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Users (and API keys) in the store for the scale scenario.
    #[arg(long, default_value_t = 1_000_000)]
    scale_users: u64,
    /// Admin users seeded through the CLI; their tokens drive the validate and team-token rows.
    #[arg(long, default_value_t = 16)]
    admins: usize,
    /// CPUs for the server (`taskset -c` list, e.g. `0` or `0-3`) [default: the first half].
    #[arg(long)]
    server_cpus: Option<String>,
    /// CPUs for the load generator threads, one thread each [default: the second half].
    #[arg(long)]
    client_cpus: Option<String>,
    /// Do not pin anything.
    #[arg(long)]
    no_pin: bool,
    /// The server's log level (`[log] level`); the default `info` writes one access line per request.
    #[arg(long, default_value = "info")]
    server_log_level: String,
    /// The server's `[core.read_cache] entries` (0 = off) [default: the server's default].
    /// With 0, `scale` compares the store paths themselves at 1k and at 1M.
    #[arg(long)]
    read_cache_entries: Option<usize>,
    /// Seconds per ceiling measurement.
    #[arg(long, default_value_t = 5)]
    ceiling_secs: u64,
    /// Only these scenarios (comma-separated): healthz, login-password, validate,
    /// apikey-exchange, team-token, mixed, scale.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Keep the temporary directory (config, store, server log) and print its path.
    #[arg(long)]
    keep: bool,
}

impl Args {
    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

fn parse_cpus(s: &str) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>()?..=b.parse::<usize>()?),
            None => out.push(part.parse()?),
        }
    }
    if out.is_empty() {
        bail!("empty CPU list {s:?}");
    }
    Ok(out)
}

fn cpu_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// (server CPUs, client CPUs); empty = unpinned.
fn plan_cpus(args: &Args) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    if args.no_pin {
        return Ok((Vec::new(), Vec::new()));
    }
    let avail: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let server = match &args.server_cpus {
        Some(s) => parse_cpus(s)?,
        None if avail.len() >= 2 => avail[..avail.len() / 2].to_vec(),
        None => Vec::new(),
    };
    let client = match &args.client_cpus {
        Some(s) => parse_cpus(s)?,
        None if avail.len() >= 2 => avail[avail.len() / 2..].to_vec(),
        None => Vec::new(),
    };
    Ok((server, client))
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn toml_str(s: &str) -> String {
    // A JSON string is a valid TOML basic string for everything we write here.
    serde_json::to_string(s).expect("a string")
}

fn write_config(
    path: &Path,
    addr: SocketAddr,
    data_dir: &Path,
    database_url: Option<&str>,
    log_level: &str,
    read_cache_entries: Option<usize>,
) -> anyhow::Result<()> {
    let p = seed::ARGON2;
    let cache = read_cache_entries
        .map(|n| format!("\n[core.read_cache]\nentries = {n}\n"))
        .unwrap_or_default();
    let db = database_url
        .map(|u| format!("database_url = {}\n", toml_str(u)))
        .unwrap_or_default();
    let text = format!(
        "# Written by portcullis-bench.\n\
         [server]\n\
         listen = \"{addr}\"\n\
         data_dir = {data_dir}\n\
         {db}\n\
         [log]\n\
         format = \"json\"\n\
         level = {level}\n\n\
         [core]\n\
         public_url = \"http://{addr}\"\n\n\
         [core.passwords.argon2]\n\
         memory_kib = {m}\n\
         iterations = {t}\n\
         parallelism = {par}\n\n\
         # All load comes from 127.0.0.1: lift the per-client-IP limit on credential endpoints\n\
         # (default 20/s, burst 50), or every login and key exchange past the burst is refused.\n\
         [core.rate_limit]\n\
         per_ip_per_sec = 1000000000\n\
         burst = 1000000000\n\
         {cache}",
        data_dir = toml_str(&data_dir.display().to_string()),
        level = toml_str(log_level),
        m = p.memory_kib,
        t = p.iterations,
        par = p.parallelism,
    );
    std::fs::write(path, text)?;
    Ok(())
}

/// One request over a fresh connection, for seeding and sanity checks.
async fn api(
    addr: SocketAddr,
    method: Method,
    path: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    if let Some(a) = auth {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    let body = match body {
        Some(v) => {
            b = b.header(http::header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(&v)?)
        }
        None => Bytes::new(),
    };
    let resp = sender.send_request(b.body(Full::new(body))?).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok((status, v))
}

async fn parsable_login(addr: SocketAddr, email: &str, password: &str) -> anyhow::Result<String> {
    let (status, v) = api(
        addr,
        Method::POST,
        "/api/auth",
        None,
        Some(json!({"method": "login", "arguments": {"email": email, "password": password}})),
    )
    .await?;
    v["result"]["success"]["authToken"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "Parsable login of {email} failed (HTTP {status}): {v}\n\
                 (is the Parsable surface wired into `portcullis serve` yet?)"
            )
        })
}

async fn exchange_key(addr: SocketAddr, secret: &str) -> anyhow::Result<()> {
    let (status, v) = api(
        addr,
        Method::POST,
        "/api/api-key-internal/v1/access-token",
        None,
        Some(json!({"apiKeyValue": secret})),
    )
    .await?;
    if status != StatusCode::OK || v["accessToken"].as_str().is_none() {
        bail!("API key exchange failed (HTTP {status}): {v}");
    }
    Ok(())
}

/// What the API seeding produced.
struct Seeded {
    /// Admin session tokens (Parsable `login`), one per admin; empty when the server does not
    /// serve the Parsable surface (yet).
    tokens: Vec<String>,
    /// The admins' two orgs: uuids (Parsable team ids).
    org_ids: Vec<String>,
}

fn org_rid(uuid: &str) -> String {
    format!("ri.authn.local.organization.{uuid}")
}

/// Tokens via Parsable `login`, an API key per admin via Nominal `createApiKey` (each checked
/// by one exchange), and one bulk login and one bulk key exchange as a sanity check of the
/// bulk rows. A server without `/api/auth` (404) gets no tokens: the scenarios that need
/// them are reported as skipped.
async fn seed_through_api(
    addr: SocketAddr,
    admins: usize,
    org_ids: &[String],
) -> anyhow::Result<Seeded> {
    exchange_key(addr, &seed::api_key_secret(1))
        .await
        .context("a bulk-seeded API key cannot be exchanged")?;
    let (status, _) = api(addr, Method::POST, "/api/auth", None, Some(json!({}))).await?;
    if status == StatusCode::NOT_FOUND {
        eprintln!(
            "  ! POST /api/auth answers 404: the Parsable surface is not served by this build; scenarios needing Parsable login are skipped"
        );
        return Ok(Seeded {
            tokens: Vec::new(),
            org_ids: org_ids.to_vec(),
        });
    }
    let mut tokens = Vec::new();
    for a in 1..=admins {
        tokens.push(parsable_login(addr, &admin_email(a), seed::BENCH_PASSWORD).await?);
    }
    for (a, t) in tokens.iter().enumerate() {
        let (status, v) = api(
            addr,
            Method::POST,
            "/api/authorization/v1/api-key",
            Some(format!("Bearer {t}")),
            Some(json!({"apiKeyName": format!("bench-admin-{}", a + 1)})),
        )
        .await?;
        let secret = v["apiKeyValue"]
            .as_str()
            .with_context(|| format!("Nominal createApiKey failed (HTTP {status}): {v}"))?;
        exchange_key(addr, secret).await?;
    }
    parsable_login(addr, &seed::user_email(1), seed::BENCH_PASSWORD)
        .await
        .context("a bulk-seeded user cannot log in")?;
    Ok(Seeded {
        tokens,
        org_ids: org_ids.to_vec(),
    })
}

/// Idle RSS: after the first start (which bootstraps: argon2 hashes the admin password) and
/// after a restart on the seeded store (the steady idle state; the target applies here).
fn idle_rows(bootstrap_kib: u64, idle_kib: u64) -> [Row; 2] {
    let mb = idle_kib as f64 / 1024.0;
    [
        Row::memory(
            "idle RSS (restart, seeded store)",
            idle_kib,
            Some(Check::new("≤30MB", format!("{mb:.1}MB"), mb <= 30.0)),
        ),
        Row::memory("idle RSS (first start, bootstrap)", bootstrap_kib, None),
    ]
}

fn admin_email(a: usize) -> String {
    format!("admin-{a:03}@bench.test")
}

/// Server CPU time (user + system) in seconds, from /proc/<pid>/stat.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The context scenarios run in.
struct Bench {
    opts: LoadOpts,
    rows: Vec<Row>,
}

impl Bench {
    /// Runs one workload and returns its class stats, RSS before/after and server CPU use.
    fn run(
        &mut self,
        server: &Server,
        label: &str,
        conns: usize,
        w: Arc<dyn Workload>,
    ) -> anyhow::Result<(Vec<ClassStats>, u64, u64, f64)> {
        eprintln!("  running {label} ({conns} connections)…");
        let opts = LoadOpts {
            connections: conns,
            ..self.opts.clone()
        };
        let rss0 = server.rss_kib()?;
        let cpu0 = cpu_secs(server.pid);
        let t0 = Instant::now();
        let stats = load::run(&opts, w)?;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = (cpu_secs(server.pid) - cpu0) / wall;
        let rss1 = server.rss_kib()?;
        for s in &stats {
            if s.errors > 0 {
                eprintln!(
                    "  ! {label}/{}: {} errors, e.g. {:?}",
                    s.name, s.errors, s.first_errors
                );
            }
        }
        Ok((stats, rss0, rss1, cpu))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: &Args) -> anyhow::Result<bool> {
    let bin = std::fs::canonicalize(&args.server).with_context(|| {
        format!(
            "no server binary at {} (build it: cargo build --release -p portcullis)",
            args.server.display()
        )
    })?;
    let (server_cpus, client_cpus) = plan_cpus(args)?;
    let dir = tempfile::Builder::new()
        .prefix("portcullis-bench-")
        .tempdir()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    // The store: temporary SQLite, or a fresh PostgreSQL database.
    let pg = match &args.database_url {
        Some(admin_url) => Some((
            admin_url.clone(),
            rt.block_on(seed::create_pg_database(admin_url))?,
        )),
        None => None,
    };
    let result = run_all(
        args,
        &bin,
        dir.path(),
        &server_cpus,
        &client_cpus,
        pg.as_ref().map(|(_, (url, _))| url.as_str()),
        &rt,
    );
    if let Some((admin_url, (_, name))) = &pg
        && let Err(e) = rt.block_on(seed::drop_pg_database(admin_url, name))
    {
        eprintln!("warning: could not drop database {name}: {e:#}");
    }
    if args.keep {
        let kept = dir.keep();
        eprintln!("kept {}", kept.display());
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn run_all(
    args: &Args,
    bin: &Path,
    dir: &Path,
    server_cpus: &[usize],
    client_cpus: &[usize],
    pg_url: Option<&str>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<bool> {
    let port = free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let data_dir = dir.join("data");
    let config = dir.join("portcullis.toml");
    write_config(
        &config,
        addr,
        &data_dir,
        pg_url,
        &args.server_log_level,
        args.read_cache_entries,
    )?;
    let spec = ServerSpec {
        bin: bin.to_owned(),
        config: config.clone(),
        cpus: (!server_cpus.is_empty()).then(|| cpu_list(server_cpus)),
        log: dir.join("server.log"),
        addr,
    };
    let target = match pg_url {
        Some(u) => seed::Target::Postgres(u.to_owned()),
        None => seed::Target::Sqlite(data_dir.join("portcullis.db")),
    };
    let machine = report::Machine::probe();
    let hash_threads = if server_cpus.is_empty() {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        server_cpus.len()
    };
    let login_conns = args.login_connections.unwrap_or(4 * hash_threads);
    eprintln!(
        "portcullis-bench: server {} on CPUs [{}] (taskset -c), load generator on CPUs [{}] \
         (one pinned thread each), store {}",
        bin.display(),
        cpu_list(server_cpus),
        cpu_list(client_cpus),
        if pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    if args.users < args.connections.max(login_conns) as u64 {
        bail!("--users must be at least the number of connections");
    }

    // 1. Ceilings, on the server's cores, before anything else runs.
    eprintln!("measuring ceilings ({} s each)…", args.ceiling_secs);
    let ceil = ceilings::measure(
        seed::ARGON2,
        server_cpus,
        Duration::from_secs(args.ceiling_secs),
    )?;

    // 2. First start on the empty store: bootstrap, idle RSS, stop.
    eprintln!("starting the server on an empty store…");
    let s = spec.start()?;
    std::thread::sleep(Duration::from_secs(1));
    let bootstrap_rss = s.rss_kib()?;
    s.stop()?;

    // 3. Small seeds through the admin CLI: two orgs, admins (ADMIN in both) with passwords.
    let t = Instant::now();
    let mut org_ids = Vec::new();
    for name in ["bench", "bench-2"] {
        let v = admin_cli(bin, &config, &["org", "create", name], None)?;
        let id = v["id"]
            .as_str()
            .or_else(|| v["org"]["id"].as_str())
            .with_context(|| format!("org create printed no id: {v}"))?;
        org_ids.push(id.to_owned());
    }
    for a in 1..=args.admins {
        let email = admin_email(a);
        admin_cli(
            bin,
            &config,
            &[
                "user",
                "create",
                "--email",
                &email,
                "--validated",
                "--password-stdin",
            ],
            Some(seed::BENCH_PASSWORD),
        )?;
        for org in ["bench", "bench-2"] {
            admin_cli(
                bin,
                &config,
                &[
                    "member", "add", "--org", org, "--user", &email, "--roles", "ADMIN",
                ],
                None,
            )?;
        }
    }
    eprintln!(
        "  CLI-seeded 2 orgs and {} admins in {:.1} s",
        args.admins,
        t.elapsed().as_secs_f64()
    );

    // 4. The bulk population (server stopped): login users with one API key each.
    let bench_org: uuid::Uuid = org_ids[0].parse().context("org id is not a uuid")?;
    let phc = seed::ARGON2.phc(seed::BENCH_PASSWORD)?;
    rt.block_on(seed::bulk(&target, bench_org, 1, args.users, &phc))?;

    // 5. The server under test.
    let server = spec.start()?;
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = server.rss_kib()?;
    let host = HeaderValue::from_str(&addr.to_string())?;
    let mut bench = Bench {
        opts: LoadOpts {
            addr,
            connections: args.connections,
            warmup: Duration::from_secs(args.warmup),
            duration: Duration::from_secs(args.duration),
            client_cpus: client_cpus.to_vec(),
        },
        rows: Vec::new(),
    };
    let needs_api = args.only.is_empty() || args.only.iter().any(|s| s != "healthz");
    let seeded = if needs_api {
        Some(rt.block_on(seed_through_api(addr, args.admins, &org_ids))?)
    } else {
        None
    };
    let parsable = seeded.as_ref().is_some_and(|s| !s.tokens.is_empty());
    let skip = |name: &str| Row::skipped(name, "needs Parsable login (POST /api/auth not served)");
    let conns = args.connections;
    let mut healthz_rps = None;
    let mut ceil = ceil;
    if args.wants("healthz") || args.wants("validate") {
        eprintln!("  measuring the bare HTTP ceiling ({conns} connections)…");
        ceil.bare_http = Some(ceilings::bare_http(
            server_cpus,
            &bench.opts,
            Duration::from_secs(args.ceiling_secs),
        )?);
    }

    if args.wants("healthz") {
        let (st, r0, r1, cpu) = bench.run(
            &server,
            "healthz",
            conns,
            wl::boxed(wl::Healthz { host: host.clone() }),
        )?;
        healthz_rps = Some(st[0].rps);
        let mut row = Row::new("healthz", conns, &st[0], r0, r1, cpu);
        if let Some(bare) = ceil.bare_http {
            row = row.note(format!("{:.2}× bare HTTP", st[0].rps / bare));
        }
        bench.rows.push(row);
    }
    let mut login_p50_small = None;
    if !parsable && args.wants("login-password") {
        bench.rows.push(skip("login-password"));
    }
    if parsable && (args.wants("login-password") || args.wants("scale")) {
        let (st, r0, r1, cpu) = bench.run(
            &server,
            "login-password",
            login_conns,
            wl::boxed(wl::Login {
                host: host.clone(),
                users: args.users,
            }),
        )?;
        login_p50_small = Some(st[0].p50_ms);
        let ratio = st[0].rps / ceil.argon2;
        bench.rows.push(
            Row::new("login-password", login_conns, &st[0], r0, r1, cpu)
                .ceiling("argon2", ratio)
                .check(Check::new(
                    "≥0.85×argon2",
                    format!("{ratio:.2}"),
                    ratio >= 0.85,
                )),
        );
    }
    if let Some(seeded) = &seeded {
        if !parsable {
            for name in ["validate", "team-token", "mixed"] {
                if args.wants(name) {
                    bench.rows.push(skip(name));
                }
            }
        }
        if parsable && args.wants("validate") {
            let tokens = &seeded.tokens;
            for (name, w) in [
                (
                    "validate/checkAdmin",
                    wl::boxed(wl::CheckAdmin::new(host.clone(), tokens)),
                ),
                (
                    "validate/getCurrentUser",
                    wl::boxed(wl::GetCurrentUser::new(host.clone(), tokens)),
                ),
            ] {
                let (st, r0, r1, cpu) = bench.run(&server, name, conns, w)?;
                let rps = st[0].rps;
                let ratio = rps / ceil.ed25519_verify;
                let mut row =
                    Row::new(name, conns, &st[0], r0, r1, cpu).ceiling("ed25519-verify", ratio);
                if let Some(h) = healthz_rps {
                    let rel = rps / h;
                    row = row.check(Check::new("≥0.6×healthz", format!("{rel:.2}"), rel >= 0.6));
                }
                row = row.check(Check::new("≥27500/s", format!("{rps:.0}"), rps >= 27_500.0));
                if let Some(bare) = ceil.bare_http {
                    row = row.note(format!("{:.2}× bare HTTP", rps / bare));
                }
                bench.rows.push(row);
            }
        }
        let mut exchange_p50_small = None;
        if args.wants("apikey-exchange") || args.wants("scale") {
            let (st, r0, r1, cpu) = bench.run(
                &server,
                "apikey-exchange",
                conns,
                wl::boxed(wl::ApiKeyExchange {
                    host: host.clone(),
                    keys: args.users,
                }),
            )?;
            exchange_p50_small = Some(st[0].p50_ms);
            let rps = st[0].rps;
            bench.rows.push(
                Row::new("apikey-exchange", conns, &st[0], r0, r1, cpu)
                    .ceiling("ed25519-verify", rps / ceil.ed25519_verify)
                    .check(Check::new("≥21000/s", format!("{rps:.0}"), rps >= 21_000.0)),
            );
        }
        if parsable && args.wants("team-token") {
            let tokens = &seeded.tokens;
            let parsable = wl::boxed(wl::TeamToken {
                host: host.clone(),
                auth: tokens
                    .iter()
                    .map(|t| HeaderValue::from_str(&format!("Token {t}")))
                    .collect::<Result<_, _>>()?,
                team_ids: seeded.org_ids.clone(),
            });
            let nominal = wl::boxed(wl::SetUserOrg {
                host: host.clone(),
                bearer: tokens
                    .iter()
                    .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
                    .collect::<Result<_, _>>()?,
                org_rids: seeded.org_ids.iter().map(|o| org_rid(o)).collect(),
            });
            for (name, w) in [
                ("team-token/createTeamToken", parsable),
                ("team-token/setUserOrg", nominal),
            ] {
                let (st, r0, r1, cpu) = bench.run(&server, name, conns, w)?;
                let ratio = st[0].rps / ceil.ed25519_verify;
                bench.rows.push(
                    Row::new(name, conns, &st[0], r0, r1, cpu).ceiling("ed25519-verify", ratio),
                );
            }
        }
        if parsable && args.wants("mixed") {
            let lc = conns.div_ceil(20).max(hash_threads + 1).min(conns - 1);
            let w = wl::boxed(wl::Mixed {
                login: wl::Login {
                    host: host.clone(),
                    users: args.users,
                },
                validate: wl::CheckAdmin::new(host.clone(), &seeded.tokens),
                login_conns: lc,
            });
            let (st, r0, r1, cpu) = bench.run(&server, "mixed", conns, w)?;
            let login_ratio = st[0].rps / ceil.argon2;
            let share = st[0].ok as f64 / (st[0].ok + st[1].ok).max(1) as f64 * 100.0;
            bench.rows.push(
                Row::new("mixed/login", lc, &st[0], r0, r1, cpu)
                    .ceiling("argon2", login_ratio)
                    .note(format!("{share:.1}% of requests")),
            );
            let p99 = st[1].p99_ms;
            bench.rows.push(
                Row::new("mixed/checkAdmin", conns - lc, &st[1], r0, r1, cpu)
                    .ceiling("ed25519-verify", st[1].rps / ceil.ed25519_verify)
                    .check(Check::new("p99≤10ms", format!("{p99:.1}ms"), p99 <= 10.0)),
            );
        }
        let baseline_rss = server.rss_kib()?;
        if args.wants("scale") {
            server.stop()?;
            eprintln!(
                "scale: bulk-seeding users {}..={}…",
                args.users + 1,
                args.scale_users
            );
            rt.block_on(seed::bulk(
                &target,
                bench_org,
                args.users + 1,
                args.scale_users,
                &phc,
            ))?;
            let server = spec.start()?;
            std::thread::sleep(Duration::from_secs(1));
            let scale_idle = server.rss_kib()?;
            let n = report::human_count(args.scale_users);
            if parsable {
                let (st, r0, r1, cpu) = bench.run(
                    &server,
                    "scale login-password",
                    login_conns,
                    wl::boxed(wl::Login {
                        host: host.clone(),
                        users: args.scale_users,
                    }),
                )?;
                let ratio = st[0].p50_ms / login_p50_small.unwrap_or(f64::NAN);
                bench.rows.push(
                    Row::new(
                        &format!("scale/login-password@{n}"),
                        login_conns,
                        &st[0],
                        r0,
                        r1,
                        cpu,
                    )
                    .ceiling("argon2", st[0].rps / ceil.argon2)
                    .check(Check::new(
                        "p50 ratio≤1.3",
                        format!("{ratio:.2}"),
                        ratio <= 1.3,
                    )),
                );
            } else {
                bench.rows.push(skip(&format!("scale/login-password@{n}")));
            }
            let (st, r0, r1, cpu) = bench.run(
                &server,
                "scale apikey-exchange",
                conns,
                wl::boxed(wl::ApiKeyExchange {
                    host: host.clone(),
                    keys: args.scale_users,
                }),
            )?;
            let ratio = st[0].p50_ms / exchange_p50_small.unwrap_or(f64::NAN);
            let rss_mb = r1 as f64 / 1024.0;
            bench.rows.push(
                Row::new(
                    &format!("scale/apikey-exchange@{n}"),
                    conns,
                    &st[0],
                    r0,
                    r1,
                    cpu,
                )
                .ceiling("ed25519-verify", st[0].rps / ceil.ed25519_verify)
                .check(Check::new(
                    "p50 ratio≤1.3",
                    format!("{ratio:.2}"),
                    ratio <= 1.3,
                ))
                .check(Check::new(
                    "RSS≤150MB",
                    format!("{rss_mb:.0}MB"),
                    rss_mb <= 150.0,
                )),
            );
            bench.rows.push(Row::memory(
                &format!("scale/idle RSS@{n}"),
                scale_idle,
                None,
            ));
            server.stop()?;
        } else {
            server.stop()?;
        }
        bench.rows.extend(idle_rows(bootstrap_rss, idle_rss));
        bench.rows.push(Row::memory(
            &format!(
                "RSS after the {} scenarios",
                report::human_count(args.users)
            ),
            baseline_rss,
            None,
        ));
    } else {
        server.stop()?;
        bench.rows.extend(idle_rows(bootstrap_rss, idle_rss));
    }

    let setup = report::Setup {
        machine,
        server_cpus: cpu_list(server_cpus),
        client_cpus: cpu_list(client_cpus),
        store: if pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
        .into(),
        duration: args.duration,
        warmup: args.warmup,
        users: args.users,
        log_level: args.server_log_level.clone(),
    };
    Ok(report::print(&setup, &ceil, &bench.rows))
}
