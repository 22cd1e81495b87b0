//! Multi-factor administration (docs/design/mfa.md): a user's factors (list, reset) and an
//! org's policy.

use super::*;
use crate::factors::MfaOverview;

/// What an MFA reset removed and ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MfaReset {
    pub factors_removed: u64,
    pub sessions_ended: u64,
}

impl Admin {
    /// The user's confirmed factors (never a secret), recovery codes left, the policy of their
    /// orgs and what their next sign-in needs.
    pub async fn user_mfa(&self, reference: &str) -> AdminResult<(User, MfaOverview)> {
        let user = self.find_user(reference).await?;
        let state = self.store.mfa_state(user.id).await?;
        let overview = MfaOverview::of(&state, user.super_admin);
        Ok((user, overview))
    }

    /// Deletes every factor, recovery code and stopped sign-in of the user and ends every
    /// session, in one unit with its audit record (`factor.reset`). The user's next sign-in
    /// starts over: enrolment where a policy requires a factor.
    pub async fn reset_user_mfa(&self, reference: &str) -> AdminResult<(User, MfaReset)> {
        let user = self.find_user(reference).await?;
        let now = now();
        let id = user.id;
        let reset = self
            .use_case()
            .in_unit(
                AuditAction::FactorReset,
                Some(id.to_string()),
                json!({ "email": user.email }),
                move |tx| {
                    Box::pin(async move {
                        let factors_removed = tx.delete_user_factors(id).await?;
                        let sessions_ended = tx.revoke_user_sessions(id, None, now).await?;
                        Ok(MfaReset {
                            factors_removed,
                            sessions_ended,
                        })
                    })
                },
                |r| json!({ "factors": r.factors_removed, "sessions": r.sessions_ended }),
            )
            .await?;
        Ok((user, reset))
    }

    /// Changes the org's policy: `mode` and/or `passkeys_only` (the other keeps its value).
    /// Audited `org.mfa_policy` with the previous values.
    pub async fn set_org_mfa_policy(
        &self,
        reference: &str,
        mode: Option<MfaMode>,
        passkeys_only: Option<bool>,
    ) -> AdminResult<(Org, MfaPolicy)> {
        if mode.is_none() && passkeys_only.is_none() {
            return Err(AdminError::Invalid("nothing to update".into()));
        }
        let org = self.find_org(reference).await?;
        let before = self.store.get_org_mfa_policy(org.id).await?;
        let policy = MfaPolicy {
            mode: mode.unwrap_or(before.mode),
            passkeys_only: passkeys_only.unwrap_or(before.passkeys_only),
        };
        let detail = json!({
            "mfa": policy.mode.as_str(),
            "passkeys_only": policy.passkeys_only,
            "before": {"mfa": before.mode.as_str(), "passkeys_only": before.passkeys_only},
        });
        self.audited(
            AuditAction::OrgMfaPolicy,
            Some(org.id.to_string()),
            detail,
            self.store.set_org_mfa_policy(org.id, policy, now()),
        )
        .await?;
        Ok((org, policy))
    }

    pub async fn org_mfa_policy(&self, reference: &str) -> AdminResult<MfaPolicy> {
        let org = self.find_org(reference).await?;
        Ok(self.store.get_org_mfa_policy(org.id).await?)
    }
}
