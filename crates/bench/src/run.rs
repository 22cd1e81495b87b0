//! One run: the ceilings, the server's first start, the CLI and bulk seeds, the server under
//! test, then the scenarios (scenarios.rs) and the report.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http::HeaderValue;

use crate::args::{Args, cpu_list};
use crate::load::LoadOpts;
use crate::report::{self, Check, Row};
use crate::scenarios::{Bench, Grow, Scenarios};
use crate::server::{ServerSpec, admin_cli};
use crate::{ceilings, config_file, oidc_seed, seed, seed_api, soak, totp_load};

/// Idle RSS: after the first start (which bootstraps: argon2 hashes the admin password) and
/// after a restart on the seeded store (the steady idle state; the target applies here), and
/// the private part of the latter (docs/design/memory.md, "What RSS counts").
fn idle_rows(bootstrap_kib: u64, idle_kib: u64, idle_private_kib: u64) -> [Row; 3] {
    let mb = idle_kib as f64 / 1024.0;
    [
        Row::memory(
            "idle RSS (restart, seeded store)",
            idle_kib,
            Some(Check::new("≤30MB", format!("{mb:.1}MB"), mb <= 30.0)),
        ),
        Row::memory(
            "idle private RSS (restart; RssAnon)",
            idle_private_kib,
            None,
        ),
        Row::memory("idle RSS (first start, bootstrap)", bootstrap_kib, None),
    ]
}

#[allow(clippy::too_many_arguments)]
pub fn run_all(
    args: &Args,
    bin: &Path,
    dir: &Path,
    server_cpus: &[usize],
    client_cpus: &[usize],
    pg_url: Option<&str>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<bool> {
    let port = config_file::free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let data_dir = dir.join("data");
    let config = dir.join("portcullis.toml");
    config_file::write_config(
        &config,
        addr,
        &data_dir,
        pg_url,
        &args.server_log_level,
        args.read_cache_entries,
        args.hash_share_percent,
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
    let ceil = if args.soak_minutes.is_some() {
        None
    } else {
        eprintln!("measuring ceilings ({} s each)…", args.ceiling_secs);
        Some(ceilings::measure(
            seed::ARGON2,
            server_cpus,
            Duration::from_secs(args.ceiling_secs),
        )?)
    };

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
        let email = seed_api::admin_email(a);
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
    // The soak drives no OpenID scenario: no clients, no grants.
    let wants_oidc = (args.wants("token") || args.wants("userinfo")) && args.soak_minutes.is_none();
    let oidc_clients = if wants_oidc {
        Some(oidc_seed::create_clients(bin, &config)?)
    } else {
        None
    };
    let service_client = if args.wants("client-credentials") && args.soak_minutes.is_none() {
        Some(oidc_seed::create_service_client(bin, &config)?)
    } else {
        None
    };
    eprintln!(
        "  CLI-seeded 2 orgs, {} admins{} in {:.1} s",
        args.admins,
        if wants_oidc {
            " and 2 OpenID clients"
        } else {
            ""
        },
        t.elapsed().as_secs_f64()
    );

    // 4. The bulk population (server stopped): login users with one API key each.
    let bench_org: uuid::Uuid = org_ids[0].parse().context("org id is not a uuid")?;
    let phc = seed::ARGON2.phc(seed::BENCH_PASSWORD)?;
    rt.block_on(seed::bulk(&target, bench_org, 1, args.users, &phc))?;
    // The TOTP users sit past the scale range, so no other scenario signs them in.
    let totp_first = args.scale_users + 1;
    if args.wants("login-totp") {
        let last = args.scale_users + args.totp_users;
        rt.block_on(seed::bulk(&target, bench_org, totp_first, last, &phc))?;
    }

    // 5. The server under test.
    let server = spec.start()?;
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = server.rss_kib()?;
    let idle_private_rss = server.private_rss_kib()?;
    let host = HeaderValue::from_str(&addr.to_string())?;
    let bench = Bench {
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
        Some(rt.block_on(seed_api::seed_through_api(addr, args.admins, &org_ids))?)
    } else {
        None
    };
    let parsable = seeded.as_ref().is_some_and(|s| !s.tokens.is_empty());
    // One grant per connection and client, through the code flow (needs Parsable login).
    let oidc = match oidc_clients {
        Some(clients) if parsable => {
            let t = Instant::now();
            let grants = rt.block_on(oidc_seed::grants(addr, &clients, args.connections))?;
            eprintln!(
                "  {} OpenID grants per client through the code flow in {:.1} s",
                args.connections,
                t.elapsed().as_secs_f64()
            );
            Some((clients, grants))
        }
        _ => None,
    };
    if let Some(minutes) = args.soak_minutes {
        let tokens = seeded
            .as_ref()
            .map(|s| s.tokens.clone())
            .unwrap_or_default();
        if tokens.is_empty() {
            bail!("the soak needs Parsable login (admin session tokens)");
        }
        let probe = match pg_url {
            Some(url) => soak::DbProbe::Postgres {
                database: soak::db_name(url),
                admin_url: args.database_url.clone().unwrap_or_default(),
            },
            None => soak::DbProbe::Sqlite(data_dir.join("portcullis.db")),
        };
        println!(
            "machine: {} × {} (nproc {}), {} RAM, load average at start {}\n\
             server CPUs [{}] (taskset), load generator CPUs [{}]; {} connections; \
             {} bulk users/keys; server log level {}",
            machine.nproc,
            machine.cpu_model,
            machine.nproc,
            machine.mem_total,
            machine.load,
            cpu_list(server_cpus),
            cpu_list(client_cpus),
            args.connections,
            report::human_count(args.users),
            args.server_log_level
        );
        let ok = soak::run(
            &server,
            soak::SoakSpec {
                minutes,
                warmup_minutes: args.soak_warmup_minutes,
                opts: bench.opts.clone(),
                host,
                tokens: &tokens,
                users: args.users,
                login_conns: args.connections.div_ceil(20).max(hash_threads + 1),
                probe,
                store: if pg_url.is_some() {
                    "PostgreSQL"
                } else {
                    "SQLite"
                },
            },
        )?;
        server.stop()?;
        return Ok(ok);
    }
    let conns = args.connections;
    let mut ceil = ceil.context("the ceilings were not measured")?;
    if args.wants("healthz") || args.wants("validate") {
        eprintln!("  measuring the bare HTTP ceiling ({conns} connections)…");
        ceil.bare_http = Some(ceilings::bare_http(
            server_cpus,
            &bench.opts,
            Duration::from_secs(args.ceiling_secs),
        )?);
    }

    let mut run = Scenarios::new(args, bench, ceil, host, login_conns, hash_threads, parsable);
    run.healthz(&server)?;
    run.login_password(&server)?;
    if parsable && args.wants("login-totp") {
        let t = Instant::now();
        let users = rt.block_on(totp_load::enrol(addr, totp_first, args.totp_users))?;
        eprintln!(
            "  {} users enrolled with TOTP in {:.1} s",
            users.len(),
            t.elapsed().as_secs_f64()
        );
        run.login_totp(&server, users)?;
    }
    if let Some(seeded) = &seeded {
        run.skip_token_scenarios();
        run.validate(&server, &seeded.tokens)?;
        run.apikey_exchange(&server)?;
        if let Some((clients, grants)) = &oidc {
            run.oidc(&server, clients, grants)?;
        }
        if let Some(client) = &service_client {
            run.client_credentials(&server, client)?;
        }
        run.org_token(&server, seeded)?;
        run.mixed(&server, &seeded.tokens)?;
        let baseline_rss = server.rss_kib()?;
        server.stop()?;
        if args.wants("scale") {
            run.scale(Grow {
                spec: &spec,
                rt,
                target: &target,
                org: bench_org,
                phc: &phc,
            })?;
        }
        run.bench
            .rows
            .extend(idle_rows(bootstrap_rss, idle_rss, idle_private_rss));
        run.bench.rows.push(Row::memory(
            &format!(
                "RSS after the {} scenarios",
                report::human_count(args.users)
            ),
            baseline_rss,
            None,
        ));
    } else {
        server.stop()?;
        run.bench
            .rows
            .extend(idle_rows(bootstrap_rss, idle_rss, idle_private_rss));
    }
    let (ceil, rows) = (run.ceil, run.bench.rows);

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
    Ok(report::print(&setup, &ceil, &rows))
}
