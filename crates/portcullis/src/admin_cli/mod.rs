//! `portcullis admin …`: the operator's CLI over [`portcullis_core::admin::Admin`].

use std::collections::BTreeSet;
use std::io::BufRead as _;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

mod allowlist;
mod clients;
mod keys;
mod members;
mod mfa;
mod orgs;
mod users;
mod workspaces;

use allowlist::*;
use clients::*;
use keys::*;
use members::*;
use mfa::*;
use orgs::*;
use portcullis_core::admin::{
    Admin, AdminError, MemberView, NewUserSpec, OrgPatchSpec, UserPatchSpec, UserView, parse_roles,
};
use portcullis_core::keys::SigningKeys;
use portcullis_core::{
    AllowlistKind, AuditFilter, AuditOutcome, IdTokenAlg, MembershipKind, Org, Region, Role,
    WorkspaceAccess,
};
use portcullis_server::config::Config;
use serde::Serialize;
use users::*;
use workspaces::*;
use zeroize::Zeroizing;

use crate::serve::open_store;

#[derive(Debug, Args)]
#[command(
    after_help = "USER is a user id or email (any letter case); ORG is an org id or name; \
                  WORKSPACE is a workspace id or ORG/SLUG."
)]
pub struct AdminArgs {
    /// Print results as JSON on stdout (for scripting).
    #[arg(long, global = true)]
    pub json: bool,
    /// Record this user (id or email) as the operator in audit events.
    #[arg(long, global = true, value_name = "USER")]
    pub actor: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users: create, list, show, update, deactivate, reactivate, force a password reset, unlock.
    #[command(subcommand)]
    User(UserCommand),
    /// Orgs (Parsable teams): create, list, show, update, disable, enable.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Memberships of users in orgs, with roles and kind.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Regions orgs live in.
    #[command(subcommand)]
    Region(RegionCommand),
    /// Workspaces and per-user workspace grants.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// The email allow-list, for the whole deployment or one org.
    #[command(subcommand)]
    Allowlist(AllowlistCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Upstream identity providers (read from the [federation] configuration).
    #[command(subcommand)]
    Idp(crate::idp_cli::IdpCommand),
    /// OpenID Connect clients (relying parties): register, change, rotate secrets, disable.
    // Boxed: its many options would make every command as large.
    #[command(subcommand)]
    Client(Box<ClientCommand>),
    /// Token-signing keys: list them, or rotate to a new one.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A team's Parsable settings and job priority list (LoginResult teamIdToInfo).
    #[command(subcommand)]
    Settings(crate::team_cli::SettingsCommand),
    /// A team's job-permission overrides per role (LoginResult teamIdToJobPermissions).
    #[command(subcommand)]
    JobPermissions(crate::team_cli::JobPermissionsCommand),
}

/// Prints `value` as JSON, or as the given human text.
pub(crate) fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        let text = human();
        if !text.is_empty() {
            println!("{}", text.trim_end());
        }
    }
    Ok(())
}

fn read_password_stdin() -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let pw = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if pw.is_empty() {
        bail!("--password-stdin: no password on stdin");
    }
    Ok(pw)
}

pub async fn run(cfg: &Config, args: &AdminArgs) -> anyhow::Result<()> {
    // Providers come from the configuration: no store needed.
    if let AdminCommand::Idp(cmd) = &args.command {
        return crate::idp_cli::run(cfg, args.json, cmd);
    }
    // Read stdin before touching the store, so a missing password writes nothing.
    let password = match &args.command {
        AdminCommand::User(UserCommand::Create {
            password_stdin: true,
            ..
        }) => Some(read_password_stdin()?),
        _ => None,
    };
    let store = open_store(cfg).await?;
    let result = dispatch(cfg, args, store.clone(), password).await;
    store.close().await;
    result
}

async fn dispatch(
    cfg: &Config,
    args: &AdminArgs,
    store: std::sync::Arc<dyn portcullis_core::store::Store>,
    password: Option<Zeroizing<String>>,
) -> anyhow::Result<()> {
    let mut admin = Admin::new(store, &cfg.core, "cli");
    if let Some(actor) = &args.actor {
        let u = admin.find_user(actor).await.context("--actor")?;
        admin = admin.with_actor(Some(u.id));
    }
    let json = args.json;
    match &args.command {
        AdminCommand::User(cmd) => user(&admin, json, cmd, password).await,
        AdminCommand::Org(cmd) => org(&admin, json, cmd).await,
        AdminCommand::Member(cmd) => member(&admin, json, cmd).await,
        AdminCommand::Region(cmd) => region(&admin, json, cmd).await,
        AdminCommand::Workspace(cmd) => workspace(&admin, json, cmd).await,
        AdminCommand::Allowlist(cmd) => allowlist(&admin, json, cmd).await,
        AdminCommand::Audit(cmd) => audit(&admin, json, cmd).await,
        AdminCommand::Idp(cmd) => crate::idp_cli::run(cfg, json, cmd),
        AdminCommand::Client(cmd) => client(&admin, json, cmd).await,
        AdminCommand::Keys(cmd) => keys(cfg, &admin, json, cmd).await,
        AdminCommand::Settings(cmd) => crate::team_cli::settings(&admin, json, cmd).await,
        AdminCommand::JobPermissions(cmd) => {
            crate::team_cli::job_permissions(&admin, &cfg.core, json, cmd).await
        }
    }
}
