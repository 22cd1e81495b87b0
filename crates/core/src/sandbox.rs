//! Sandbox tokens (NOMINAL.md §5, §7 InternalSandboxTokenService): a token for a configured
//! sandbox user in the sandbox org, behind a shared secret. Disabled unless configured; every
//! failure looks the same to the caller.

use chrono::Utc;

use crate::audit::AuditContext;
pub use crate::config::SandboxConfig;
use crate::crypto;
use crate::engine::{Engine, IssuedToken, OrgChoice};
use crate::error::{CoreError, CoreResult};
use crate::model::*;

/// Longest (and default) sandbox token lifetime.
pub const MAX_SANDBOX_TTL_SECS: i64 = 3600;

/// Which sandbox user a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxUser {
    Primary,
    Secondary,
}

/// A sandbox token and the workspace of its user.
#[derive(Debug, Clone)]
pub struct SandboxGrant {
    pub token: IssuedToken,
    pub workspace: Workspace,
}

const UNAVAILABLE: CoreError = CoreError::PermissionDenied("sandbox token unavailable");

/// The lifetime for a requested TTL: absent → 3600, above 3600 → 3600, ≤ 0 → refused.
pub fn sandbox_ttl(requested: Option<i64>) -> Option<i64> {
    match requested {
        None => Some(MAX_SANDBOX_TTL_SECS),
        Some(t) if t <= 0 => None,
        Some(t) => Some(t.min(MAX_SANDBOX_TTL_SECS)),
    }
}

impl Engine {
    /// Issues a sandbox token. Every refusal (not configured, wrong or missing secret, bad TTL,
    /// unknown user or org, no workspace) is `PermissionDenied("sandbox token unavailable")`;
    /// only store failures differ.
    pub async fn issue_sandbox_token(
        &self,
        presented_secret: Option<&str>,
        which: SandboxUser,
        requested_ttl_secs: Option<i64>,
        ctx: &AuditContext,
    ) -> CoreResult<SandboxGrant> {
        let cfg = &self.config().sandbox;
        let (Some(secret), Some(org_ref), Some(primary)) = (
            cfg.shared_secret.as_deref().filter(|s| !s.is_empty()),
            cfg.org.as_deref(),
            cfg.primary_user.as_deref(),
        ) else {
            return Err(UNAVAILABLE);
        };
        // Hash both sides so that the comparison's time depends on neither length.
        let presented = crypto::sha256(presented_secret.unwrap_or("").as_bytes());
        let expected = crypto::sha256(secret.as_bytes());
        if presented_secret.is_none() || !crypto::constant_time_eq(&presented, &expected) {
            return Err(UNAVAILABLE);
        }
        let ttl = sandbox_ttl(requested_ttl_secs).ok_or(UNAVAILABLE)?;
        let email = match which {
            SandboxUser::Primary => primary,
            SandboxUser::Secondary => cfg.secondary_user.as_deref().ok_or(UNAVAILABLE)?,
        };
        let org = match org_ref.parse::<OrgId>() {
            Ok(id) => self.store().get_org(id).await?,
            Err(_) => self.store().get_org_by_name(org_ref).await?,
        }
        .ok_or(UNAVAILABLE)?;
        let user = self
            .store()
            .get_user_by_email(email)
            .await?
            .filter(|u| !u.deactivated)
            .ok_or(UNAVAILABLE)?;
        let workspace = self
            .session_default_workspace(user.id, org.id)
            .await?
            .ok_or(UNAVAILABLE)?;
        let now = Utc::now();
        let token = self
            .issue_access_token(
                &user,
                OrgChoice::Specific(org.id),
                vec!["sandbox".into()],
                Some(now + chrono::Duration::seconds(ttl)),
                ctx,
            )
            .await
            .map_err(|e| match e {
                CoreError::Store(_) | CoreError::Internal(_) => e,
                _ => UNAVAILABLE,
            })?;
        Ok(SandboxGrant { token, workspace })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rules() {
        assert_eq!(sandbox_ttl(None), Some(3600));
        assert_eq!(sandbox_ttl(Some(1)), Some(1));
        assert_eq!(sandbox_ttl(Some(3600)), Some(3600));
        assert_eq!(sandbox_ttl(Some(100_000)), Some(3600));
        assert_eq!(sandbox_ttl(Some(0)), None);
        assert_eq!(sandbox_ttl(Some(-5)), None);
    }
}
