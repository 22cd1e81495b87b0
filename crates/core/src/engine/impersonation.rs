//! The impersonation policy, in one place: who may log in as whom, and what such a session is.
//! Only a super-admin may impersonate; the super-admin check comes before the target is looked
//! up, so a non-admin learns nothing about other accounts; a super-admin (oneself included) is
//! never a target; every refusal is audited. A proxy session has its own, shorter lifetime and
//! carries `proxy` in its `amr`.

use chrono::Utc;
use serde_json::json;

use super::Engine;
use crate::audit::{AuditAction, AuditContext};
use crate::config::TokensConfig;
use crate::error::{CoreError, CoreResult};
use crate::model::{AuditOutcome, SessionKind, User};

/// The `amr` entry that marks an impersonation session.
pub const AMR_PROXY: &str = "proxy";

/// The kind and lifetime (seconds) of a new session: a proxy session when an admin is behind it.
pub(crate) fn session_kind_and_life(proxy: bool, tokens: &TokensConfig) -> (SessionKind, i64) {
    if proxy {
        (SessionKind::Proxy, tokens.proxy_secs)
    } else {
        (SessionKind::Login, tokens.session_secs)
    }
}

impl Engine {
    /// The user `admin` may log in as (`email`), or a refusal, audited: `admin` is not a
    /// super-admin, or the target is a super-admin or `admin` itself. A missing or deactivated
    /// target is `NotFound`. Every impersonating login (session or team select) asks here.
    pub async fn impersonation_target(
        &self,
        admin: &User,
        email: &str,
        ctx: &AuditContext,
    ) -> CoreResult<User> {
        if !admin.super_admin {
            self.refuse_impersonation(ctx, admin, None, "not a super-admin")
                .await;
            return Err(CoreError::PermissionDenied(
                "only a super-admin may log in as another user",
            ));
        }
        let target = self
            .store()
            .get_user_by_email(email)
            .await?
            .filter(|t| !t.deactivated)
            .ok_or(CoreError::NotFound("user"))?;
        if target.super_admin || target.id == admin.id {
            let target = Some(target.id.to_string());
            self.refuse_impersonation(ctx, admin, target, "target is a super-admin")
                .await;
            return Err(CoreError::PermissionDenied(
                "a super-admin cannot be impersonated",
            ));
        }
        Ok(target)
    }

    async fn refuse_impersonation(
        &self,
        ctx: &AuditContext,
        admin: &User,
        target: Option<String>,
        reason: &str,
    ) {
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(admin.id),
                AuditAction::ImpersonationStart,
                target,
                AuditOutcome::Denied,
                json!({ "reason": reason }),
            )
            .await;
    }
}
