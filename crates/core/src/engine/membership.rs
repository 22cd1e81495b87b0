//! The caller's user and memberships, through the read cache; the org-admin check; the rows a
//! team token's login result shows, through the read cache too.

use super::*;
use crate::read_cache::OrgBundle;

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

    /// The user's Parsable settings, through the read cache.
    pub(crate) async fn cached_user_settings(&self, user: UserId) -> CoreResult<SettingsMap> {
        if let Some(s) = self.cache.user_settings(user) {
            return Ok(s);
        }
        let stamp = self.cache.epoch(user);
        let doc = self
            .store
            .get_settings(SettingsScope::User(user), SettingsNamespace::Parsable)
            .await?;
        let settings = crate::org_views::parse_settings(doc, "user");
        self.cache.put_user_settings(user, settings.clone(), stamp);
        Ok(settings)
    }

    /// An org with its region, permission table, settings and priorities, through the read
    /// cache; `None` for an unknown org (never cached).
    pub(crate) async fn org_bundle(&self, org: OrgId) -> CoreResult<Option<OrgBundle>> {
        if let Some(b) = self.cache.org(org) {
            return Ok(Some(b));
        }
        let stamp = self.cache.org_epoch(org);
        let Some(row) = self.store.get_org(org).await? else {
            return Ok(None);
        };
        let bundle = self.stored_org_bundle(row).await?;
        self.cache.put_org(bundle.clone(), stamp);
        Ok(Some(bundle))
    }

    /// The rows hanging off `org`, read from the store.
    pub(crate) async fn stored_org_bundle(&self, org: Org) -> CoreResult<OrgBundle> {
        Ok(OrgBundle {
            region: self.store.get_region(&org.region_id).await?,
            job_table: self.store.get_job_permissions(org.id).await?,
            settings: crate::org_settings::parse_stored_settings(
                self.store.get_org_settings(org.id).await?,
                org.id,
            ),
            priorities: self.store.get_org_priorities(org.id).await?,
            org,
        })
    }

    pub async fn is_org_admin(&self, p: &Principal) -> CoreResult<bool> {
        match self.require_org_admin(p).await {
            Ok(_) => Ok(true),
            Err(CoreError::PermissionDenied(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
