//! `--peer-token-url`: the `client-credentials` load against another server's token endpoint
//! (scripts/bench-peers points it at npm oidc-provider), with the same generator, connections
//! and answer check as the row, so the two rates compare.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http::{HeaderValue, Uri};

use crate::args::{self, Args};
use crate::load::{self, LoadOpts};
use crate::oidc_seed::Client;
use crate::workloads as wl;

/// Runs the load and prints one line with the peer's rate; `false` when any request failed.
pub fn run(args: &Args, url: &str, client: &str) -> anyhow::Result<bool> {
    let uri: Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("--peer-token-url must be plain http://IP:PORT/PATH");
    }
    let authority = uri.authority().context("--peer-token-url has no host")?;
    let addr: SocketAddr = authority
        .as_str()
        .parse()
        .with_context(|| format!("{authority} is not IP:PORT"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let (id, secret) = client
        .split_once(':')
        .context("--peer-client must be ID:SECRET")?;
    let basic = Client {
        id: id.to_owned(),
        secret: secret.to_owned(),
    }
    .basic();
    let (_, client_cpus) = args::plan_cpus(args)?;
    let opts = LoadOpts {
        addr,
        connections: args.connections,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
        client_cpus,
    };
    let host = HeaderValue::from_str(authority.as_str())?;
    let w = wl::boxed(wl::ClientCredentials::new(host, path, &basic));
    let stats = load::run(&opts, w)?;
    let s = stats.first().context("no statistics")?;
    println!(
        "peer client-credentials: {:.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
        s.rps, s.p50_ms, s.p99_ms, s.errors
    );
    for e in &s.first_errors {
        eprintln!("  error: {e}");
    }
    Ok(s.errors == 0)
}
