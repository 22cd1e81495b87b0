//! The org-binding rule, in one place (docs/design/credentials.md): a credential (API key,
//! persistent token), a token minted from one, or a team token acts only inside the org it was
//! minted for, and never with super-admin powers; an impersonation has none either. Every
//! org-scoped admin check and every super-admin check goes through here.

use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::{Membership, OrgId, User};
use crate::tokens::{Principal, Via};

impl Principal {
    /// Bound to `self.org`: a credential, a token minted from one, or a team token.
    pub fn is_org_bound(&self) -> bool {
        self.is_credential_based()
            || matches!(
                self.via,
                Via::Session {
                    org_scoped: true,
                    ..
                }
            )
    }

    /// Whether the caller may act in `org` at all (its rights there still come from its
    /// membership).
    pub fn may_act_in(&self, org: OrgId) -> bool {
        !self.is_org_bound() || self.org == org
    }

    /// Super-admin powers need the super-admin's own, org-wide sign-in: not a credential, a
    /// team token or an impersonation.
    pub fn may_use_super_admin_powers(&self) -> bool {
        !self.is_org_bound() && self.actor.is_none()
    }

    /// Whether the caller acts as a super-admin: `caller` (its account, loaded) is an active
    /// super-admin and the principal may use those powers.
    pub fn acts_as_super_admin(&self, caller: &User) -> bool {
        caller.id == self.user
            && caller.super_admin
            && !caller.deactivated
            && self.may_use_super_admin_powers()
    }

    /// [`Principal::may_use_super_admin_powers`] as an error, for the super-admin-only calls;
    /// `what` completes "a credential cannot …".
    pub fn check_super_admin_powers(&self, what: &'static str) -> CoreResult<()> {
        if self.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed(what));
        }
        if self.actor.is_some() {
            return Err(CoreError::PermissionDenied(
                "an impersonation session has no super-admin rights",
            ));
        }
        if self.is_org_bound() {
            return Err(CoreError::PermissionDenied(
                "a team token has no super-admin rights",
            ));
        }
        Ok(())
    }
}

impl Engine {
    /// The caller's account, which must exist and be active.
    pub async fn active_caller(&self, p: &Principal) -> CoreResult<User> {
        self.store()
            .get_user(p.user)
            .await?
            .filter(|u| !u.deactivated)
            .ok_or(CoreError::InvalidToken("unknown user"))
    }

    /// The caller's membership of `org` for an admin decision; `None` when the caller may not
    /// act in `org` (a bound caller elsewhere) or is no member.
    pub async fn acting_membership(
        &self,
        p: &Principal,
        org: OrgId,
    ) -> CoreResult<Option<Membership>> {
        if !p.may_act_in(org) {
            return Ok(None);
        }
        Ok(self.store().get_membership(p.user, org).await?)
    }
}
