//! `portcullis-bench`: starts a release `portcullis` server on a fresh store, seeds it, drives
//! HTTP/1.1 keep-alive load through the public wire surfaces, measures the raw crypto ceilings
//! on the same cores, and prints one table. See docs/benchmarks.md.
#![forbid(unsafe_code)]

mod args;
mod ceilings;
mod config_file;
mod load;
mod oidc_seed;
mod peer;
mod report;
mod run;
mod scenarios;
mod seed;
mod seed_api;
mod server;
mod soak;
mod totp_load;
mod workloads;
mod zipf;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;

use crate::args::Args;

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
    if let (Some(url), Some(client)) = (&args.peer_token_url, &args.peer_client) {
        return peer::run(args, url, client);
    }
    let bin = std::fs::canonicalize(&args.server).with_context(|| {
        format!(
            "no server binary at {} (build it: cargo build --release -p portcullis)",
            args.server.display()
        )
    })?;
    let (server_cpus, client_cpus) = args::plan_cpus(args)?;
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
    let result = run::run_all(
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
