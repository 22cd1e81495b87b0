//! `portcullis admin settings …` and `portcullis admin job-permissions …`: a team's Parsable
//! settings, priority list and job-permission overrides (what LoginResult fields 8 and 9 show).

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use portcullis_core::admin::Admin;
use portcullis_core::config::CoreConfig;
use portcullis_core::org_settings::{
    OrgSettingsView, job_permission_flags, job_permissions_from_flags, parse_job_permissions,
};
use portcullis_core::{JobPermissions, Role, SettingValue};
use serde_json::{Value, json};

use crate::admin_cli::emit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SettingKind {
    Bool,
    Text,
    Option,
    StringList,
    ReferenceList,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the team's settings and priority list.
    List { org: String },
    /// Show one setting.
    Get { org: String, key: String },
    /// Set one setting. VALUE is `true`/`false` for bool, the text for text and option, a JSON
    /// array of strings for string-list, and a JSON array of {"id", "kind"?, "label"?} for
    /// reference-list (kind user/team/workspace must name an existing one).
    Set {
        org: String,
        key: String,
        #[arg(long = "type", value_enum)]
        kind: SettingKind,
        #[arg(long)]
        value: String,
    },
    /// Remove one setting.
    Clear { org: String, key: String },
    /// Replace the priority list: a JSON array of {"priority", "title", "id"?, "archivedAt"?}
    /// (a missing id gets a new UUID).
    SetPriorities { org: String, priorities: String },
    /// Remove the priority list (LoginResult then leaves `priorities` out).
    ClearPriorities { org: String },
}

#[derive(Debug, Subcommand)]
pub enum JobPermissionsCommand {
    /// The team's overrides by role.
    List { org: String },
    /// The permissions a role gets in the team: its override, else the configured table.
    Get { org: String, role: Role },
    /// Override a role's permissions in the team with exactly the given flags.
    Set {
        org: String,
        role: Role,
        /// Comma-separated flags to grant, e.g. editTitle,complete (see `--help` of get).
        #[arg(
            long,
            conflicts_with = "flags_json",
            required_unless_present = "flags_json"
        )]
        allow: Option<String>,
        /// A JSON object of flag: bool (flags left out are false).
        #[arg(long)]
        flags_json: Option<String>,
    },
    /// Remove a role's override (the configured table applies again).
    Clear { org: String, role: Role },
}

fn setting_json(kind: SettingKind, value: &str) -> anyhow::Result<Value> {
    let (tag, v) = match kind {
        SettingKind::Bool => (
            "bool",
            Value::Bool(
                value
                    .trim()
                    .parse()
                    .context("a bool setting takes true or false")?,
            ),
        ),
        SettingKind::Text => ("text", Value::String(value.to_owned())),
        SettingKind::Option => ("option", Value::String(value.to_owned())),
        SettingKind::StringList => (
            "stringList",
            serde_json::from_str(value).context("a string-list value is a JSON array")?,
        ),
        SettingKind::ReferenceList => (
            "referenceList",
            serde_json::from_str(value).context("a reference-list value is a JSON array")?,
        ),
    };
    Ok(json!({"type": tag, "value": v}))
}

fn setting_line(key: &str, v: &SettingValue) -> String {
    let shown = serde_json::to_value(v)
        .ok()
        .and_then(|j| j.get("value").cloned())
        .unwrap_or(Value::Null);
    let kind = match v {
        SettingValue::Bool(_) => "bool",
        SettingValue::Text(_) => "text",
        SettingValue::Option(_) => "option",
        SettingValue::StringList(_) => "string-list",
        SettingValue::ReferenceList(_) => "reference-list",
    };
    format!("{key}  {kind}  {shown}\n")
}

fn settings_text(v: &OrgSettingsView) -> String {
    let mut out: String = v.settings.iter().map(|(k, s)| setting_line(k, s)).collect();
    match &v.priorities {
        None => out.push_str("priorities: not configured\n"),
        Some(ps) => {
            out.push_str("priorities:\n");
            for p in ps {
                out.push_str(&format!(
                    "  {}  {}  {}{}\n",
                    p.priority,
                    p.title,
                    p.id,
                    if p.archived_at > 0 {
                        "  (archived)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    out
}

pub async fn settings(admin: &Admin, json: bool, cmd: &SettingsCommand) -> anyhow::Result<()> {
    match cmd {
        SettingsCommand::List { org } => {
            let v = admin.org_settings(org).await?;
            emit(json, &v, || settings_text(&v))
        }
        SettingsCommand::Get { org, key } => {
            let v = admin.org_setting(org, key).await?;
            emit(json, &v, || setting_line(key, &v))
        }
        SettingsCommand::Set {
            org,
            key,
            kind,
            value,
        } => {
            let doc = setting_json(*kind, value)?;
            let v = admin
                .update_org_settings(org, &[(key.clone(), Some(doc))])
                .await?;
            emit(json, &v, || format!("set {key} for {org}"))
        }
        SettingsCommand::Clear { org, key } => {
            let v = admin
                .update_org_settings(org, &[(key.clone(), None)])
                .await?;
            emit(json, &v, || format!("cleared {key} for {org}"))
        }
        SettingsCommand::SetPriorities { org, priorities } => {
            let doc: Value =
                serde_json::from_str(priorities).context("priorities must be a JSON array")?;
            let v = admin.set_org_priorities(org, Some(&doc)).await?;
            emit(json, &v, || settings_text(&v))
        }
        SettingsCommand::ClearPriorities { org } => {
            let v = admin.set_org_priorities(org, None).await?;
            emit(json, &v, || format!("cleared the priority list of {org}"))
        }
    }
}

fn perms_text(p: &JobPermissions) -> String {
    let granted: Vec<String> = match serde_json::to_value(p) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .filter(|(_, v)| v == &Value::Bool(true))
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    };
    if granted.is_empty() {
        "(none)".into()
    } else {
        granted.join(",")
    }
}

pub async fn job_permissions(
    admin: &Admin,
    core: &CoreConfig,
    json: bool,
    cmd: &JobPermissionsCommand,
) -> anyhow::Result<()> {
    match cmd {
        JobPermissionsCommand::List { org } => {
            let v = admin.org_job_permissions(org).await?;
            emit(json, &v, || {
                if v.overrides.is_empty() {
                    return "no overrides: the configured table applies".into();
                }
                v.overrides
                    .iter()
                    .map(|(r, p)| format!("{r}  {}\n", perms_text(p)))
                    .collect()
            })
        }
        JobPermissionsCommand::Get { org, role } => {
            let v = admin.org_job_permissions(org).await?;
            let (source, perms) = match v.overrides.get(role.as_str()) {
                Some(p) => ("org", *p),
                None => ("config", core.job_permissions_for(*role)),
            };
            let out = json!({"role": role.as_str(), "source": source, "permissions": perms});
            emit(json, &out, || {
                format!(
                    "{}  {}  (from {source})\nflags: {}",
                    role.as_str(),
                    perms_text(&perms),
                    job_permission_flags().join(",")
                )
            })
        }
        JobPermissionsCommand::Set {
            org,
            role,
            allow,
            flags_json,
        } => {
            let perms = match (allow, flags_json) {
                (Some(a), _) => job_permissions_from_flags(a)?,
                (None, Some(j)) => {
                    let v: Value = serde_json::from_str(j).context("--flags-json")?;
                    parse_job_permissions(&v)?
                }
                (None, None) => anyhow::bail!("give --allow or --flags-json"),
            };
            let v = admin
                .set_org_job_permissions(org, role.as_str(), Some(perms))
                .await?;
            emit(json, &v, || {
                format!("{} in {org}: {}", role.as_str(), perms_text(&perms))
            })
        }
        JobPermissionsCommand::Clear { org, role } => {
            let v = admin
                .set_org_job_permissions(org, role.as_str(), None)
                .await?;
            emit(json, &v, || {
                format!("cleared the {} override in {org}", role.as_str())
            })
        }
    }
}
