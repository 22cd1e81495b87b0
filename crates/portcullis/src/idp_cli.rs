//! `portcullis admin idp …`: the upstream identity providers of `[federation]`. They live in
//! the configuration file, so this reads the effective configuration and never the store.

use anyhow::bail;
use clap::Subcommand;
use portcullis_federation::{ProviderConfig, ProviderKind};
use portcullis_server::config::Config;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// List the configured providers: alias, kind, issuer, client ids.
    List,
    /// Print one provider's effective configuration (defaults filled in).
    Show {
        /// The provider's alias (Parsable `idpAlias`).
        alias: String,
    },
}

#[derive(Serialize)]
struct Row<'a> {
    alias: &'a str,
    kind: ProviderKind,
    issuer: &'a str,
    client_ids: &'a [String],
    jit_provisioning: bool,
    email_domains: &'a [String],
}

pub fn run(cfg: &Config, json: bool, cmd: &IdpCommand) -> anyhow::Result<()> {
    let providers = &cfg.federation.providers;
    match cmd {
        IdpCommand::List => {
            let rows: Vec<Row<'_>> = providers
                .iter()
                .map(|p| Row {
                    alias: &p.alias,
                    kind: p.kind,
                    issuer: &p.issuer,
                    client_ids: &p.client_ids,
                    jit_provisioning: p.jit_provisioning,
                    email_domains: &p.email_domains,
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no identity providers configured ([[federation.providers]])");
            } else {
                for r in &rows {
                    println!(
                        "{}  {}  {}  clients {}{}",
                        r.alias,
                        match r.kind {
                            ProviderKind::Oidc => "oidc",
                            ProviderKind::Okta => "okta",
                        },
                        r.issuer,
                        r.client_ids.join(","),
                        if r.jit_provisioning { "  jit" } else { "" }
                    );
                }
            }
            Ok(())
        }
        IdpCommand::Show { alias } => {
            let Some(p) = providers.iter().find(|p| p.alias == *alias) else {
                bail!("no identity provider with alias {alias:?} in [federation]");
            };
            show(p, json)
        }
    }
}

fn show(p: &ProviderConfig, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
    } else {
        #[derive(Serialize)]
        struct Wrap<'a> {
            federation: Providers<'a>,
        }
        #[derive(Serialize)]
        struct Providers<'a> {
            providers: [&'a ProviderConfig; 1],
        }
        let doc = Wrap {
            federation: Providers { providers: [p] },
        };
        println!("{}", toml::to_string_pretty(&doc)?.trim_end());
    }
    Ok(())
}
