//! `admin workspace`: workspaces and per-user grants.

use clap::Subcommand;

use super::*;

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

pub(super) async fn workspace(
    admin: &Admin,
    json: bool,
    cmd: &WorkspaceCommand,
) -> anyhow::Result<()> {
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
