//! `portcullis`: the Portcullis authentication server and its admin CLI.
#![forbid(unsafe_code)]

mod admin_cli;
mod idp_cli;
mod keyfile;
mod openapi;
mod serve;
mod settings;
mod team_cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc, with background threads purging freed pages after its decay time: glibc's
/// per-thread arenas kept freed memory under the multi-threaded runtime, so RSS grew for
/// minutes under a steady load (docs/design/memory.md).
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Portcullis: one identity core serving Parsable's Thrift auth API (`POST /api/auth`) and
/// Nominal's Conjure auth API (`/api/...`).
///
/// Configuration comes from built-in defaults, then the TOML file given with --config (or
/// PORTCULLIS_CONFIG), then PORTCULLIS_* environment variables, then flags. Without any of
/// them, `portcullis serve` listens on 127.0.0.1:8080 with an embedded SQLite store in
/// ./portcullis-data/.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, propagate_version = true)]
pub struct Cli {
    /// TOML configuration file (see portcullis.example.toml). [env: PORTCULLIS_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and the master key file.
    /// [env: PORTCULLIS_DATA_DIR] [default: ./portcullis-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database: a SQLite path or sqlite: URL, or a postgres:// URL.
    /// [env: PORTCULLIS_DATABASE_URL] [default: <data-dir>/portcullis.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format: pretty or json. [env: PORTCULLIS_LOG_FORMAT]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<portcullis_server::LogFormat>,
    /// Log filter, e.g. `info` or `debug,sqlx=warn`; RUST_LOG wins. [env: PORTCULLIS_LOG_LEVEL]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server: migrate the store, bootstrap an empty one, serve until SIGTERM/SIGINT.
    Serve {
        /// Address to listen on. [env: PORTCULLIS_LISTEN] [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration (defaults < file < environment < flags) and exit.
    Config {
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
        /// Address to listen on, as `serve --listen` would take it.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Manage users, orgs, memberships, regions, workspaces, the email allow-list and audit.
    Admin(Box<admin_cli::AdminArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve { listen } => {
            let config = settings::load(&cli, *listen)?;
            serve::serve(config).await
        }
        Command::Migrate => {
            let config = settings::load(&cli, None)?;
            let _log = settings::init_logging(&config)?;
            let store = serve::open_store(&config).await?;
            tracing::info!(backend = store.backend(), "migrations applied");
            eprintln!("migrations applied ({})", store.backend());
            store.close().await;
            Ok(())
        }
        Command::Config { json, listen } => {
            let config = settings::load(&cli, *listen)?;
            settings::print(&config, *json)
        }
        Command::Admin(args) => {
            let config = settings::load(&cli, None)?;
            let _log = settings::init_logging_quiet(&config)?;
            admin_cli::run(&config, args).await
        }
    }
}
