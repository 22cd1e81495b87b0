//! `admin allowlist` and `admin audit`.

use clap::Subcommand;

use super::*;

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

pub(super) async fn allowlist(
    admin: &Admin,
    json: bool,
    cmd: &AllowlistCommand,
) -> anyhow::Result<()> {
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

pub(super) async fn audit(admin: &Admin, json: bool, cmd: &AuditCommand) -> anyhow::Result<()> {
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
