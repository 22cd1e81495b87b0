//! `portcullis admin …`: the operator's CLI over [`portcullis_core::admin::Admin`].

use std::collections::BTreeSet;
use std::io::BufRead as _;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use portcullis_core::admin::{
    Admin, AdminError, MemberView, NewUserSpec, OrgPatchSpec, UserPatchSpec, UserView, parse_roles,
};
use portcullis_core::keys::KeyRing;
use portcullis_core::{
    AllowlistKind, AuditFilter, AuditOutcome, MembershipKind, Org, Region, Role, WorkspaceAccess,
};
use portcullis_server::config::Config;
use serde::Serialize;
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

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys, oldest first, with their retirement time.
    List,
    /// Add a new signing key; the current one retires but keeps verifying the tokens it signed
    /// until they expire. Running servers pick the new key up without a restart.
    Rotate,
    /// Emergency: revoke a key. It verifies nothing from then on, on every running server
    /// within a second (through the revocation feed); if it signs now, a new key takes over.
    Revoke { kid: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin the account has no password (SSO only) until
    /// the user sets one.
    Create {
        /// Email address; unique in any letter case.
        #[arg(long)]
        email: String,
        /// Display name [default: the email's local part].
        #[arg(long)]
        name: Option<String>,
        /// Make the user a super-admin.
        #[arg(long)]
        super_admin: bool,
        /// Mark the email as verified.
        #[arg(long)]
        validated: bool,
        /// Read an initial password from the first line of stdin (checked against the policy).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, ordered by email.
    List {
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show a user with memberships, workspace grants, linked identities and lockout state.
    Show { user: String },
    /// Change a user's profile or flags.
    Update {
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "clear_avatar_url")]
        avatar_url: Option<String>,
        #[arg(long)]
        clear_avatar_url: bool,
        /// true or false.
        #[arg(long, value_name = "BOOL")]
        super_admin: Option<bool>,
        /// true (verified now) or false.
        #[arg(long, value_name = "BOOL")]
        validated: Option<bool>,
    },
    /// Deactivate everywhere, revoking every session and credential.
    Deactivate { user: String },
    /// Undo a deactivation (revoked sessions and credentials stay revoked).
    Reactivate { user: String },
    /// Block password login, end every session and print a one-time reset code (shown once,
    /// valid for core.passwords.reset_code_secs) that the user redeems with a new password at
    /// POST /account/v1/password/reset-required.
    ForcePasswordReset {
        user: String,
        /// Also revoke every API key and persistent token of the user.
        #[arg(long)]
        revoke_credentials: bool,
    },
    /// End every session of the user (tokens of those sessions stop working at once).
    EndSessions { user: String },
    /// List the user's live sessions.
    Sessions { user: String },
    /// Clear failed-login throttling and any lockout for a user or login email.
    Unlock { user: String },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an org.
    Create {
        /// Unique, stable name.
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Region id [default: the configured core.region.id]; must exist.
        #[arg(long)]
        region: Option<String>,
    },
    /// List orgs.
    List,
    /// Show an org with its members and workspaces.
    Show { org: String },
    /// Change an org.
    Update {
        org: String,
        #[arg(long, conflicts_with = "clear_display_name")]
        display_name: Option<String>,
        #[arg(long)]
        clear_display_name: bool,
        #[arg(long)]
        region: Option<String>,
        /// WORKSPACE (id or ORG/SLUG) of this org.
        #[arg(long, conflicts_with = "clear_default_workspace")]
        default_workspace: Option<String>,
        #[arg(long)]
        clear_default_workspace: bool,
    },
    /// Disable an org.
    Disable { org: String },
    /// Re-enable a disabled org.
    Enable { org: String },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a user to an org.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: String,
        /// Comma-separated: ADMIN, AUTHOR, JOBCREATOR, EXECUTOR, PARSABLE_ADMIN.
        #[arg(long, default_value = "")]
        roles: String,
        /// member or guest.
        #[arg(long, default_value = "member")]
        kind: MembershipKind,
    },
    /// Change the roles or kind of a membership.
    Update {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: String,
        /// Comma-separated roles; replaces the current set.
        #[arg(long)]
        roles: Option<String>,
        /// member or guest.
        #[arg(long)]
        kind: Option<MembershipKind>,
    },
    /// Remove a user from an org, revoking their sessions and credentials there.
    Remove {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: String,
    },
    /// Deactivate a user in one org only.
    Deactivate {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: String,
    },
    /// Reactivate a user in one org.
    Reactivate {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user: String,
    },
    /// List the members of an org, or the memberships of a user.
    List {
        #[arg(long, required_unless_present = "user", conflicts_with = "user")]
        org: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        include_removed: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegionCommand {
    /// Create or replace a region.
    Upsert {
        id: String,
        /// API host (Parsable `apiHost`).
        #[arg(long)]
        api_host: String,
        /// Signature host [default: the API host].
        #[arg(long)]
        sig_host: Option<String>,
        /// Static host [default: the API host].
        #[arg(long)]
        static_host: Option<String>,
    },
    /// List regions.
    List,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace in an org.
    Create {
        #[arg(long)]
        org: String,
        /// Lower-case letters and digits in dash-separated groups, unique in the org.
        slug: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List an org's workspaces.
    List {
        #[arg(long)]
        org: String,
    },
    /// Grant a member of the workspace's org access to it.
    Grant {
        workspace: String,
        #[arg(long)]
        user: String,
        /// full or guest.
        #[arg(long, default_value = "full")]
        access: WorkspaceAccess,
    },
    /// Revoke a user's grant on a workspace.
    Revoke {
        workspace: String,
        #[arg(long)]
        user: String,
    },
    /// List a user's workspace grants.
    Grants {
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AllowlistCommand {
    /// Allow a domain or an address (deployment-wide, or for one org with --org).
    Add {
        /// domain or address.
        kind: AllowlistKind,
        value: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Remove an entry.
    Remove {
        /// domain or address.
        kind: AllowlistKind,
        value: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// List entries (all, or one org's).
    List {
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first.
    List {
        /// Only events by this actor (user id or email).
        #[arg(long)]
        by: Option<String>,
        /// Only this action, e.g. user.create.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        target: Option<String>,
        /// success, failure or denied.
        #[arg(long)]
        outcome: Option<AuditOutcome>,
        /// RFC 3339 time, e.g. 2026-01-31T00:00:00Z.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
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

fn user_line(u: &UserView) -> String {
    let mut flags = Vec::new();
    if u.super_admin {
        flags.push("super-admin");
    }
    if u.deactivated {
        flags.push("deactivated");
    }
    if u.password_reset_required {
        flags.push("password-reset-required");
    }
    if !u.has_password {
        flags.push("no-password");
    }
    format!(
        "{}  {}  {:?}  {}",
        u.id,
        u.email,
        u.display_name,
        flags.join(",")
    )
}

fn org_line(o: &Org) -> String {
    format!(
        "{}  {}  region={}{}",
        o.id,
        o.name,
        o.region_id,
        if o.disabled { "  disabled" } else { "" }
    )
}

fn member_line(m: &MemberView) -> String {
    let roles: Vec<&str> = m.membership.roles.iter().map(|r| r.as_str()).collect();
    let mut state = String::new();
    if m.membership.deactivated {
        state.push_str("  deactivated");
    }
    if m.membership.removed_at.is_some() {
        state.push_str("  removed");
    }
    format!(
        "{}  {}  {}  roles={}{}",
        m.org_name,
        m.email,
        m.membership.kind.as_str(),
        roles.join(","),
        state
    )
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
        AdminCommand::Keys(cmd) => keys(cfg, &admin, json, cmd).await,
        AdminCommand::Settings(cmd) => crate::team_cli::settings(&admin, json, cmd).await,
        AdminCommand::JobPermissions(cmd) => {
            crate::team_cli::job_permissions(&admin, &cfg.core, json, cmd).await
        }
    }
}

#[derive(Serialize)]
struct KeyView {
    kid: String,
    algorithm: String,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

async fn keys(cfg: &Config, admin: &Admin, json: bool, cmd: &KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List => {
            let keys: Vec<KeyView> = admin
                .signing_keys()
                .await?
                .into_iter()
                .map(|k| KeyView {
                    kid: k.kid,
                    algorithm: k.algorithm,
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                    revoked_at: k.revoked_at,
                })
                .collect();
            emit(json, &keys, || {
                keys.iter()
                    .map(|k| match k.retired_at {
                        _ if k.revoked_at.is_some() => format!(
                            "{}  {}  created {}  REVOKED {}",
                            k.kid,
                            k.algorithm,
                            k.created_at,
                            k.revoked_at.unwrap_or(k.created_at)
                        ),
                        Some(r) => format!(
                            "{}  {}  created {}  retired {}",
                            k.kid, k.algorithm, k.created_at, r
                        ),
                        None => format!(
                            "{}  {}  created {}  (signing)",
                            k.kid, k.algorithm, k.created_at
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        KeysCommand::Rotate => {
            let ring = open_ring(cfg, admin, "before rotating keys").await?;
            let r = admin
                .rotate_signing_key(&ring)
                .await
                .context("rotation failed")?;
            emit(json, &r, || {
                format!("new signing key {} (retired {})", r.kid, r.retired)
            })
        }
        KeysCommand::Revoke { kid } => {
            let ring = open_ring(cfg, admin, "first").await?;
            let r = match admin.revoke_signing_key(&ring, kid).await {
                Err(AdminError::NotFound(_)) => {
                    bail!("no signing key {kid:?} (see `admin keys list`)")
                }
                r => r.context("revocation failed")?,
            };
            emit(json, &r, || {
                format!(
                    "revoked signing key {}{}; signing with {}",
                    r.kid,
                    if r.already_revoked {
                        " (already revoked)"
                    } else {
                        ""
                    },
                    r.signing_kid
                )
            })
        }
    }
}

/// The signing key ring, opened with the master key of a server that has started once.
async fn open_ring(cfg: &Config, admin: &Admin, when: &str) -> anyhow::Result<KeyRing> {
    let master = match crate::keyfile::plan(&cfg.server.key_file())? {
        crate::keyfile::KeyPlan::Env(k) | crate::keyfile::KeyPlan::File(k, _) => k,
        crate::keyfile::KeyPlan::Create(..) => {
            bail!("no master key: start the server once (or set PORTCULLIS_MASTER_KEY) {when}")
        }
    };
    KeyRing::load_or_create(
        admin.store().as_ref(),
        master,
        cfg.core.tokens.max_signed_lifetime(),
        Utc::now(),
    )
    .await
    .context("cannot open the signing keys")
}

async fn user(
    admin: &Admin,
    json: bool,
    cmd: &UserCommand,
    password: Option<Zeroizing<String>>,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            email,
            name,
            super_admin,
            validated,
            password_stdin: _,
        } => {
            let u = admin
                .create_user(NewUserSpec {
                    email: email.clone(),
                    display_name: name.clone(),
                    super_admin: *super_admin,
                    validated: *validated,
                    password,
                })
                .await?;
            let v = UserView::from(&u);
            emit(json, &v, || format!("created user {}", user_line(&v)))
        }
        UserCommand::List { offset, limit } => {
            let users: Vec<UserView> = admin
                .list_users(*offset, *limit)
                .await?
                .iter()
                .map(UserView::from)
                .collect();
            emit(json, &users, || {
                users.iter().map(|u| user_line(u) + "\n").collect()
            })
        }
        UserCommand::Show { user } => {
            let d = admin.show_user(user).await?;
            emit(json, &d, || {
                let mut s = user_line(&d.user) + "\n";
                for m in &d.memberships {
                    s += &format!("  member of {}\n", member_line(m));
                }
                for g in &d.workspace_grants {
                    s += &format!("  workspace {} ({:?})\n", g.workspace_id, g.access);
                }
                for i in &d.identities {
                    s += &format!(
                        "  identity {} {} via {}\n",
                        i.issuer, i.subject, i.provider_alias
                    );
                }
                if d.failed_logins > 0 || d.locked_until.is_some() {
                    s += &format!(
                        "  failed logins: {}{}\n",
                        d.failed_logins,
                        d.locked_until
                            .map(|t| format!(", locked until {t}"))
                            .unwrap_or_default()
                    );
                }
                s
            })
        }
        UserCommand::Update {
            user,
            name,
            avatar_url,
            clear_avatar_url,
            super_admin,
            validated,
        } => {
            let avatar = if *clear_avatar_url {
                Some(None)
            } else {
                avatar_url.clone().map(Some)
            };
            let u = admin
                .update_user(
                    user,
                    UserPatchSpec {
                        display_name: name.clone(),
                        avatar_url: avatar,
                        super_admin: *super_admin,
                        validated: *validated,
                    },
                )
                .await?;
            let v = UserView::from(&u);
            emit(json, &v, || format!("updated user {}", user_line(&v)))
        }
        UserCommand::Deactivate { user } => {
            let r = admin.deactivate_user(user).await?;
            emit(json, &r, || {
                format!(
                    "deactivated {}: {} sessions and {} credentials revoked",
                    r.user_id, r.sessions_revoked, r.credentials_revoked
                )
            })
        }
        UserCommand::Reactivate { user } => {
            let v = UserView::from(&admin.reactivate_user(user).await?);
            emit(json, &v, || format!("reactivated {}", user_line(&v)))
        }
        UserCommand::ForcePasswordReset {
            user,
            revoke_credentials,
        } => {
            let r = admin
                .require_password_reset(user, *revoke_credentials)
                .await?;
            #[derive(Serialize)]
            struct Reset<'a> {
                #[serde(flatten)]
                user: UserView,
                reset_code: &'a str,
                reset_code_expires_at: DateTime<Utc>,
                sessions_revoked: u64,
                credentials_revoked: u64,
            }
            let v = Reset {
                user: UserView::from(&r.user),
                reset_code: r.code.as_str(),
                reset_code_expires_at: r.expires_at,
                sessions_revoked: r.sessions_revoked,
                credentials_revoked: r.credentials_revoked,
            };
            emit(json, &v, || {
                format!(
                    "password reset required for {}\n{} session(s) and {} credential(s) revoked\n\
                     one-time reset code (shown only now, valid until {}): {}",
                    user_line(&v.user),
                    v.sessions_revoked,
                    v.credentials_revoked,
                    v.reset_code_expires_at,
                    v.reset_code
                )
            })
        }
        UserCommand::EndSessions { user } => {
            let (id, n) = admin.end_sessions(user).await?;
            #[derive(Serialize)]
            struct Ended {
                user_id: String,
                sessions_ended: u64,
            }
            let r = Ended {
                user_id: id.to_string(),
                sessions_ended: n,
            };
            emit(json, &r, || {
                format!("ended {} session(s) of {}", r.sessions_ended, r.user_id)
            })
        }
        UserCommand::Sessions { user } => {
            let sessions = admin.list_sessions(user).await?;
            emit(json, &sessions, || {
                sessions
                    .iter()
                    .map(|s| {
                        format!(
                            "{}  org {}  {}  expires {}",
                            s.id,
                            s.org_id,
                            s.kind.as_str(),
                            s.expires_at
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        UserCommand::Unlock { user } => {
            let key = admin.unlock(user).await?;
            emit(json, &serde_json::json!({ "unlocked": key }), || {
                format!("unlocked {key}")
            })
        }
    }
}

async fn org(admin: &Admin, json: bool, cmd: &OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create {
            name,
            display_name,
            region,
        } => {
            let o = admin
                .create_org(name, display_name.clone(), region.clone())
                .await?;
            emit(json, &o, || format!("created org {}", org_line(&o)))
        }
        OrgCommand::List => {
            let orgs = admin.list_orgs().await?;
            emit(json, &orgs, || {
                orgs.iter().map(|o| org_line(o) + "\n").collect()
            })
        }
        OrgCommand::Show { org } => {
            let d = admin.show_org(org).await?;
            emit(json, &d, || {
                let mut s = org_line(&d.org) + "\n";
                for m in &d.members {
                    s += &format!("  {}\n", member_line(m));
                }
                for w in &d.workspaces {
                    s += &format!("  workspace {} {}\n", w.id, w.slug);
                }
                s
            })
        }
        OrgCommand::Update {
            org,
            display_name,
            clear_display_name,
            region,
            default_workspace,
            clear_default_workspace,
        } => {
            let patch = OrgPatchSpec {
                display_name: if *clear_display_name {
                    Some(None)
                } else {
                    display_name.clone().map(Some)
                },
                region: region.clone(),
                default_workspace: if *clear_default_workspace {
                    Some(None)
                } else {
                    default_workspace.clone().map(Some)
                },
            };
            let o = admin.update_org(org, patch).await?;
            emit(json, &o, || format!("updated org {}", org_line(&o)))
        }
        OrgCommand::Disable { org } => {
            let o = admin.set_org_disabled(org, true).await?;
            emit(json, &o, || format!("disabled org {}", org_line(&o)))
        }
        OrgCommand::Enable { org } => {
            let o = admin.set_org_disabled(org, false).await?;
            emit(json, &o, || format!("enabled org {}", org_line(&o)))
        }
    }
}

fn roles_arg(s: &str) -> anyhow::Result<BTreeSet<Role>> {
    Ok(parse_roles(s)?)
}

async fn member(admin: &Admin, json: bool, cmd: &MemberCommand) -> anyhow::Result<()> {
    match cmd {
        MemberCommand::Add {
            org,
            user,
            roles,
            kind,
        } => {
            let roles = roles_arg(roles)?;
            let m = admin.add_member(user, org, roles, *kind).await?;
            emit(json, &m, || {
                format!("added {user} to {org} as {}", m.kind.as_str())
            })
        }
        MemberCommand::Update {
            org,
            user,
            roles,
            kind,
        } => {
            let roles = roles.as_deref().map(roles_arg).transpose()?;
            let m = admin.update_member(user, org, roles, *kind).await?;
            emit(json, &m, || format!("updated {user} in {org}"))
        }
        MemberCommand::Remove { org, user } => {
            let r = admin.remove_member(user, org).await?;
            emit(json, &r, || {
                format!(
                    "removed {user} from {org}: {} sessions and {} credentials revoked",
                    r.sessions_revoked, r.credentials_revoked
                )
            })
        }
        MemberCommand::Deactivate { org, user } => {
            admin.set_member_deactivated(user, org, true).await?;
            emit(json, &serde_json::json!({ "deactivated": true }), || {
                format!("deactivated {user} in {org}")
            })
        }
        MemberCommand::Reactivate { org, user } => {
            admin.set_member_deactivated(user, org, false).await?;
            emit(json, &serde_json::json!({ "deactivated": false }), || {
                format!("reactivated {user} in {org}")
            })
        }
        MemberCommand::List {
            org,
            user,
            include_removed,
        } => {
            let members = match (org, user) {
                (Some(o), _) => admin.list_org_members(o, *include_removed).await?,
                (None, Some(u)) => admin.list_user_memberships(u, *include_removed).await?,
                (None, None) => bail!("give --org or --user"),
            };
            emit(json, &members, || {
                members.iter().map(|m| member_line(m) + "\n").collect()
            })
        }
    }
}

async fn region(admin: &Admin, json: bool, cmd: &RegionCommand) -> anyhow::Result<()> {
    match cmd {
        RegionCommand::Upsert {
            id,
            api_host,
            sig_host,
            static_host,
        } => {
            let r = admin
                .upsert_region(Region {
                    id: id.clone(),
                    api_host: api_host.clone(),
                    sig_host: sig_host.clone().unwrap_or_else(|| api_host.clone()),
                    static_host: static_host.clone().unwrap_or_else(|| api_host.clone()),
                })
                .await?;
            emit(json, &r, || format!("region {} saved", r.id))
        }
        RegionCommand::List => {
            let rs = admin.list_regions().await?;
            emit(json, &rs, || {
                rs.iter()
                    .map(|r| {
                        format!(
                            "{}  api={} sig={} static={}\n",
                            r.id, r.api_host, r.sig_host, r.static_host
                        )
                    })
                    .collect()
            })
        }
    }
}

async fn workspace(admin: &Admin, json: bool, cmd: &WorkspaceCommand) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCommand::Create {
            org,
            slug,
            display_name,
        } => {
            let w = admin
                .create_workspace(org, slug, display_name.clone())
                .await?;
            emit(json, &w, || {
                format!("created workspace {} {}", w.id, w.slug)
            })
        }
        WorkspaceCommand::List { org } => {
            let ws = admin.list_workspaces(org).await?;
            emit(json, &ws, || {
                ws.iter()
                    .map(|w| {
                        format!(
                            "{}  {}  {}\n",
                            w.id,
                            w.slug,
                            w.display_name.as_deref().unwrap_or("")
                        )
                    })
                    .collect()
            })
        }
        WorkspaceCommand::Grant {
            workspace,
            user,
            access,
        } => {
            let g = admin.grant_workspace(workspace, user, *access).await?;
            emit(json, &g, || {
                format!("granted {user} {access:?} access to {workspace}")
            })
        }
        WorkspaceCommand::Revoke { workspace, user } => {
            admin.revoke_workspace(workspace, user).await?;
            emit(json, &serde_json::json!({ "revoked": true }), || {
                format!("revoked {user}'s grant on {workspace}")
            })
        }
        WorkspaceCommand::Grants { user } => {
            let gs = admin.list_workspace_grants(user).await?;
            emit(json, &gs, || {
                gs.iter()
                    .map(|g| format!("{}  {:?}\n", g.workspace_id, g.access))
                    .collect()
            })
        }
    }
}

async fn allowlist(admin: &Admin, json: bool, cmd: &AllowlistCommand) -> anyhow::Result<()> {
    let scope = |org: &Option<String>| org.clone().unwrap_or_else(|| "the deployment".into());
    match cmd {
        AllowlistCommand::Add { kind, value, org } => {
            let e = admin.allowlist_add(org.as_deref(), *kind, value).await?;
            emit(json, &e, || {
                format!("allowed {} for {}", e.value, scope(org))
            })
        }
        AllowlistCommand::Remove { kind, value, org } => {
            admin.allowlist_remove(org.as_deref(), *kind, value).await?;
            emit(json, &serde_json::json!({ "removed": true }), || {
                format!("removed {value} for {}", scope(org))
            })
        }
        AllowlistCommand::List { org } => {
            let es = admin.allowlist_list(org.as_deref()).await?;
            emit(json, &es, || {
                es.iter()
                    .map(|e| {
                        format!(
                            "{}  {:?}  {}\n",
                            e.org_id
                                .map(|o| o.to_string())
                                .unwrap_or_else(|| "*".into()),
                            e.kind,
                            e.value
                        )
                    })
                    .collect()
            })
        }
    }
}

async fn audit(admin: &Admin, json: bool, cmd: &AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        by,
        action,
        target,
        outcome,
        since,
        until,
        limit,
    } = cmd;
    let actor = match by {
        Some(u) => Some(admin.find_user(u).await?.id),
        None => None,
    };
    let filter = AuditFilter {
        actor,
        action: action.clone(),
        target: target.clone(),
        outcome: *outcome,
        since: *since,
        until: *until,
        limit: *limit,
    };
    let events = admin.list_audit(&filter).await?;
    emit(json, &events, || {
        events
            .iter()
            .map(|e| {
                format!(
                    "{}  {}  {}  {}  {}  {}\n",
                    e.at.to_rfc3339(),
                    e.action,
                    e.outcome.as_str(),
                    e.actor.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
                    e.target.as_deref().unwrap_or("-"),
                    e.detail
                )
            })
            .collect()
    })
}
