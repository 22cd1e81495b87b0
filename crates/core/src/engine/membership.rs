//! The caller's user and memberships, through the read cache; the org-admin check.

use super::*;

impl Engine {
    /// The caller's membership in its session org, which must hold ADMIN.
    pub async fn require_org_admin(&self, p: &Principal) -> CoreResult<Membership> {
        self.membership(p.user, p.org)
            .await?
            .filter(Membership::is_admin)
            .ok_or(CoreError::PermissionDenied("not an admin of the org"))
    }

    /// A membership row, through the read cache.
    pub async fn membership(&self, user: UserId, org: OrgId) -> CoreResult<Option<Membership>> {
        if let Some(m) = self.cache.membership(user, org) {
            return Ok(m);
        }
        let stamp = self.cache.epoch(user);
        let m = self.store.get_membership(user, org).await?;
        self.cache.put_membership(user, org, m.clone(), stamp);
        Ok(m)
    }

    /// The user behind a validated caller (the proxied user on a proxy session), through the
    /// read cache. Its password hash is not included.
    pub async fn current_user(&self, p: &Principal) -> CoreResult<User> {
        self.cached_user(p.user)
            .await?
            .ok_or(CoreError::InvalidToken("unknown user"))
    }

    /// A user's profile through the read cache, without the password hash; `None` when unknown.
    pub async fn cached_user(&self, id: UserId) -> CoreResult<Option<User>> {
        if let Some(u) = self.cache.user(id) {
            return Ok(Some(u));
        }
        let stamp = self.cache.epoch(id);
        let Some(mut user) = self.store.get_user(id).await? else {
            return Ok(None);
        };
        user.password_hash = None;
        self.cache.put_user(user.clone(), stamp);
        Ok(Some(user))
    }

    pub async fn is_org_admin(&self, p: &Principal) -> CoreResult<bool> {
        match self.require_org_admin(p).await {
            Ok(_) => Ok(true),
            Err(CoreError::PermissionDenied(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
