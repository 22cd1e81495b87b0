//! Workspaces and grants to them.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub org_id: OrgId,
    /// The human id, unique in its org: `[a-z0-9]+(-[a-z0-9]+)*`.
    pub slug: String,
    pub display_name: Option<String>,
    /// Conjure `WorkspaceSymbol` as JSON, kept verbatim.
    pub symbol: Option<serde_json::Value>,
    /// Conjure `WorkspaceSettings` as JSON, kept verbatim.
    pub settings: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub fn is_valid_workspace_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceAccess {
    /// Full member of the workspace.
    Full,
    /// A guest grant.
    Guest,
}

impl FromStr for WorkspaceAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" | "member" => Ok(WorkspaceAccess::Full),
            "guest" => Ok(WorkspaceAccess::Guest),
            other => Err(format!(
                "unknown workspace access {other:?} (expected full or guest)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceGrant {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub access: WorkspaceAccess,
}
