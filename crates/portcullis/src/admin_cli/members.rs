//! `admin member`: memberships of users in orgs, with roles and kind.

use clap::Subcommand;

use super::*;

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

pub(super) fn member_line(m: &MemberView) -> String {
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

pub(super) fn roles_arg(s: &str) -> anyhow::Result<BTreeSet<Role>> {
    Ok(parse_roles(s)?)
}

pub(super) async fn member(admin: &Admin, json: bool, cmd: &MemberCommand) -> anyhow::Result<()> {
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
