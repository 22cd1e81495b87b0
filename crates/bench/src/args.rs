//! The command line: flags, the scenario filter and the CPU plan.

use std::path::PathBuf;

use anyhow::bail;
use clap::Parser;
use clap::builder::PossibleValuesParser;

/// The scenarios `--only` selects, in the order they run.
pub const SCENARIOS: [&str; 11] = [
    "healthz",
    "login-password",
    "login-totp",
    "validate",
    "apikey-exchange",
    "userinfo",
    "token",
    "client-credentials",
    "team-token",
    "mixed",
    "scale",
];

/// Load harness for Portcullis: real paths over HTTP/1.1, compared in one run with the raw
/// argon2id and Ed25519 ceilings measured on the server's cores.
#[derive(Debug, Parser)]
#[command(name = "portcullis-bench", version)]
pub struct Args {
    /// The release server binary (it is not built here).
    #[arg(long, default_value = "target/release/portcullis")]
    pub server: PathBuf,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Unmeasured seconds before each scenario's window.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Keep-alive connections for the request/response scenarios.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Connections for the login scenarios [default: 4 per server core].
    #[arg(long)]
    pub login_connections: Option<usize>,
    /// Use PostgreSQL: an admin URL (e.g. postgres://postgres@127.0.0.1:5432/postgres); a fresh
    /// database is created next to it and dropped at the end. Default: a temporary SQLite store.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Bulk users (and API keys) in the baseline store.
    #[arg(long, default_value_t = 1000)]
    pub users: u64,
    /// Users (and API keys) in the store for the scale scenario.
    #[arg(long, default_value_t = 1_000_000)]
    pub scale_users: u64,
    /// Users enrolled with TOTP for `login-totp` (bulk users past `--scale-users`, so no other
    /// scenario logs them in); each signs in at most once per 30 s step.
    #[arg(long, default_value_t = 600)]
    pub totp_users: u64,
    /// Admin users seeded through the CLI; their tokens drive the validate and team-token rows.
    #[arg(long, default_value_t = 16)]
    pub admins: usize,
    /// CPUs for the server (`taskset -c` list, e.g. `0` or `0-3`) [default: the first half].
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// CPUs for the load generator threads, one thread each [default: the second half].
    #[arg(long)]
    pub client_cpus: Option<String>,
    /// Do not pin anything.
    #[arg(long)]
    pub no_pin: bool,
    /// The server's log level (`[log] level`); the default `info` writes one access line per request.
    #[arg(long, default_value = "info")]
    pub server_log_level: String,
    /// The server's `[core.read_cache] entries` (0 = off) [default: the server's default].
    /// With 0, `scale` compares the store paths themselves at 1k and at 1M.
    #[arg(long)]
    pub read_cache_entries: Option<usize>,
    /// The server's `[core.passwords] hash_share_percent` (0 = the hashing threads' nice value
    /// alone) [default: the server's default].
    #[arg(long)]
    pub hash_share_percent: Option<u8>,
    /// Seconds per ceiling measurement.
    #[arg(long, default_value_t = 5)]
    pub ceiling_secs: u64,
    /// Only these scenarios (comma-separated); `token` is both refresh rows (EdDSA and RS256 ID
    /// tokens).
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(SCENARIOS))]
    pub only: Vec<String>,
    /// Keep the temporary directory (config, store, server log) and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Soak instead of the scenarios: the mixed load (logins, validations, API-key exchanges)
    /// for this many minutes, with the server's RSS, descriptors, database connections and p99
    /// per minute (no ceilings, no other scenario).
    #[arg(long)]
    pub soak_minutes: Option<u64>,
    /// Minutes of the soak's load before its measured minutes: the bounded memory a steady
    /// load fills (SQLite's page caches, connection buffers, the read cache) fills here. They
    /// are shown in the table; the RSS, descriptor and connection targets start after them.
    #[arg(long, default_value_t = 3)]
    pub soak_warmup_minutes: u64,
    /// Drive only the client-credentials load, at another server's token endpoint
    /// (`http://127.0.0.1:PORT/PATH`, e.g. npm oidc-provider for scripts/bench-peers), and print
    /// its rate; no server is started. Uses --duration, --warmup, --connections, --client-cpus.
    #[arg(long, requires = "peer_client")]
    pub peer_token_url: Option<String>,
    /// The peer's client for --peer-token-url: `ID:SECRET` (sent as client_secret_basic).
    #[arg(long)]
    pub peer_client: Option<String>,
}

impl Args {
    pub fn wants(&self, scenario: &str) -> bool {
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

pub fn cpu_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// (server CPUs, client CPUs); empty = unpinned.
pub fn plan_cpus(args: &Args) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_the_scenarios_and_refuses_others() {
        let a = Args::try_parse_from(["portcullis-bench", "--only", "healthz,token,userinfo"])
            .expect("known scenarios");
        assert!(a.wants("token") && a.wants("userinfo") && a.wants("healthz"));
        assert!(!a.wants("validate"));
        let all = Args::try_parse_from(["portcullis-bench"]).expect("no filter");
        assert!(SCENARIOS.iter().all(|s| all.wants(s)));
        let err = Args::try_parse_from(["portcullis-bench", "--only", "tokens"])
            .expect_err("an unknown scenario");
        assert!(err.to_string().contains("userinfo"), "{err}");
    }
}
