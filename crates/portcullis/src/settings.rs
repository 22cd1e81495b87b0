//! Loading the configuration: defaults < file < environment < flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use portcullis_server::config::{self, Config};

use crate::Cli;

/// Builds the effective configuration and validates it. Reads only; writes nothing.
pub fn load(cli: &Cli, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
    let path = cli.config.clone().or_else(|| {
        std::env::var(config::ENV_CONFIG)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from)
    });
    let mut cfg = match &path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    cfg.apply_env(|k| std::env::var(k).ok())?;
    if let Some(d) = &cli.data_dir {
        cfg.server.data_dir = d.clone();
    }
    if let Some(u) = &cli.database_url {
        cfg.server.database_url = Some(u.clone()).filter(|u| !u.trim().is_empty());
    }
    if let Some(f) = cli.log_format {
        cfg.log.format = f;
    }
    if let Some(l) = &cli.log_level {
        cfg.log.level = l.clone();
    }
    if let Some(l) = listen {
        cfg.server.listen = l;
    }
    cfg.validate()?;
    Ok(cfg)
}

pub fn init_logging(cfg: &Config) -> anyhow::Result<portcullis_server::LogGuard> {
    portcullis_server::init_tracing(&cfg.log).context("logging")
}

/// For the admin CLI: warnings and errors only, unless the operator asked for more.
pub fn init_logging_quiet(cfg: &Config) -> anyhow::Result<portcullis_server::LogGuard> {
    let mut log = cfg.log.clone();
    if std::env::var(config::ENV_LOG_LEVEL).is_err() && log.level == "info" {
        log.level = "warn".into();
    }
    portcullis_server::init_tracing(&log).context("logging")
}

/// Prints the effective configuration with every secret redacted.
pub fn print(cfg: &Config, json: bool) -> anyhow::Result<()> {
    let shown = cfg.redacted();
    let text = if json {
        serde_json::to_string_pretty(&shown)?
    } else {
        toml::to_string_pretty(&shown)?
    };
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_documents_the_defaults() {
        let text = include_str!("../../../portcullis.example.toml");
        let cfg = Config::from_toml_str(text, "portcullis.example.toml").unwrap();
        assert_eq!(cfg, Config::default());
    }

    /// The example's comment on the allow-list says what the core does with empty lists
    /// (`is_email_allowed`: nothing listed, nobody allowed; NOMINAL.md §6).
    #[test]
    fn example_config_says_an_empty_allow_list_allows_nobody() {
        let text = include_str!("../../../portcullis.example.toml");
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("allowed_email_domains"))
            .unwrap();
        let comment = lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(comment.contains("no address is allowed"), "{comment}");
        assert!(!comment.contains("any address"), "{comment}");
    }
}
