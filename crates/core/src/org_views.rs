//! Team-level views of a user for the Parsable surface (PARSABLE.md §7, §8): what a
//! `LoginResult` says about the user's teams (roles, regions, job permissions, settings,
//! memberships), the session periods, team selection, proxy-target checks, persistent-token
//! listings and login certificates. The surface only maps these types onto the wire.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

pub use crate::engine::{AuthPeriods, LoginData, OrgOption, OrgView, WARNING_LEAD_SECS};
use crate::engine::{Engine, IssuedToken, LoginGrant};
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::read_cache::OrgBundle;
use crate::store::CredentialWithPeople;

/// At most this many user ids per persistent-token listing.
pub const MAX_META_USER_IDS: usize = 1000;

/// Which teams a result covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgScope {
    /// Every team where the user is an active member (session and persistent tokens).
    AllActive,
    /// Only this team (a team token).
    Only(OrgId),
}

/// Reads a stored Parsable settings document; a malformed one counts as empty (and is logged)
/// rather than blocking every login of the team.
pub(crate) fn parse_settings(doc: Option<serde_json::Value>, whose: &str) -> SettingsMap {
    match doc {
        None => SettingsMap::new(),
        Some(v) => serde_json::from_value(v).unwrap_or_else(|e| {
            tracing::warn!(whose, error = %e, "ignoring a malformed parsable settings document");
            SettingsMap::new()
        }),
    }
}

/// The union of the role table's permissions over `roles`; the org's stored table overrides
/// the configured one per role.
pub fn job_permissions(
    config: &crate::config::CoreConfig,
    org_table: &BTreeMap<Role, JobPermissions>,
    roles: &BTreeSet<Role>,
) -> JobPermissions {
    roles.iter().fold(JobPermissions::default(), |acc, role| {
        let p = org_table
            .get(role)
            .copied()
            .unwrap_or_else(|| config.job_permissions_for(*role));
        acc.union(p)
    })
}

impl Engine {
    /// Active memberships of the user in enabled orgs, ordered by org id.
    pub async fn active_orgs(&self, user: UserId) -> CoreResult<Vec<(Org, Membership)>> {
        let mut out = Vec::new();
        for m in self.store().list_user_memberships(user, false).await? {
            if !m.is_active() {
                continue;
            }
            if let Some(org) = self.store().get_org(m.org_id).await?
                && !org.disabled
            {
                out.push((org, m));
            }
        }
        out.sort_by_key(|(o, _)| o.id);
        Ok(out)
    }

    /// The teams a team-select login offers, sorted by name (then id).
    pub async fn org_options(&self, user: UserId) -> CoreResult<Vec<OrgOption>> {
        let mut choices: Vec<OrgOption> = self
            .active_orgs(user)
            .await?
            .into_iter()
            .map(|(org, _)| OrgOption {
                name: org.display_name.clone().unwrap_or_else(|| org.name.clone()),
                org: org.id,
            })
            .collect();
        choices.sort_by(|a, b| a.name.cmp(&b.name).then(a.org.cmp(&b.org)));
        Ok(choices)
    }

    /// The per-team views of a user for `scope`. A team token's one team comes from the read
    /// cache (when warm, its result costs no store read); the views of every team (logins,
    /// refreshes) are read from the store.
    pub async fn org_views(&self, user: &User, scope: OrgScope) -> CoreResult<Vec<OrgView>> {
        let (orgs, user_settings) = match scope {
            OrgScope::Only(org) => (
                self.active_org_bundle(user.id, org).await?,
                self.cached_user_settings(user.id).await?,
            ),
            OrgScope::AllActive => (
                self.stored_org_bundles(user.id).await?,
                parse_settings(
                    self.store()
                        .get_settings(SettingsScope::User(user.id), SettingsNamespace::Parsable)
                        .await?,
                    "user",
                ),
            ),
        };
        Ok(orgs
            .into_iter()
            .map(|(b, membership)| OrgView {
                job_permissions: job_permissions(self.config(), &b.job_table, &membership.roles),
                roles: membership.roles.iter().copied().collect(),
                settings: merge_settings(&b.settings, &user_settings),
                priorities: b.priorities,
                region: b.region,
                org: b.org,
                membership,
            })
            .collect())
    }

    /// The user's active membership in `org` with the org's rows, through the read cache; empty
    /// when the user is not an active member or the org is disabled.
    async fn active_org_bundle(
        &self,
        user: UserId,
        org: OrgId,
    ) -> CoreResult<Vec<(OrgBundle, Membership)>> {
        let Some(m) = self
            .membership(user, org)
            .await?
            .filter(Membership::is_active)
        else {
            return Ok(Vec::new());
        };
        Ok(self
            .org_bundle(org)
            .await?
            .filter(|b| !b.org.disabled)
            .map(|b| (b, m))
            .into_iter()
            .collect())
    }

    /// Every active membership of the user in an enabled org, with the org's rows, read from
    /// the store.
    async fn stored_org_bundles(&self, user: UserId) -> CoreResult<Vec<(OrgBundle, Membership)>> {
        let mut out = Vec::new();
        for (org, membership) in self.active_orgs(user).await? {
            out.push((self.stored_org_bundle(org).await?, membership));
        }
        Ok(out)
    }

    /// The user's Parsable settings, through the read cache.
    async fn cached_user_settings(&self, user: UserId) -> CoreResult<SettingsMap> {
        if let Some(s) = self.read_cache().user_settings(user) {
            return Ok(s);
        }
        let stamp = self.read_cache().epoch(user);
        let doc = self
            .store()
            .get_settings(SettingsScope::User(user), SettingsNamespace::Parsable)
            .await?;
        let settings = parse_settings(doc, "user");
        self.read_cache()
            .put_user_settings(user, settings.clone(), stamp);
        Ok(settings)
    }

    /// An org with its region, permission table, settings and priorities, through the read
    /// cache; `None` for an unknown org (never cached).
    async fn org_bundle(&self, org: OrgId) -> CoreResult<Option<OrgBundle>> {
        if let Some(b) = self.read_cache().org(org) {
            return Ok(Some(b));
        }
        let stamp = self.read_cache().org_epoch(org);
        let Some(row) = self.store().get_org(org).await? else {
            return Ok(None);
        };
        let bundle = self.stored_org_bundle(row).await?;
        self.read_cache().put_org(bundle.clone(), stamp);
        Ok(Some(bundle))
    }

    /// The rows hanging off `org`, read from the store.
    async fn stored_org_bundle(&self, org: Org) -> CoreResult<OrgBundle> {
        Ok(OrgBundle {
            region: self.store().get_region(&org.region_id).await?,
            job_table: self.store().get_job_permissions(org.id).await?,
            settings: crate::org_settings::parse_stored_settings(
                self.store().get_org_settings(org.id).await?,
                org.id,
            ),
            priorities: self.store().get_org_priorities(org.id).await?,
            org,
        })
    }

    /// Assembles the login data for a token of `user`.
    #[allow(clippy::too_many_arguments)]
    pub async fn login_data(
        &self,
        user: User,
        scope: OrgScope,
        token: String,
        session_id: String,
        expires_at: Option<Timestamp>,
        proxy_admin_email: Option<String>,
        now: Timestamp,
    ) -> CoreResult<LoginData> {
        let orgs = self.org_views(&user, scope).await?;
        let regions = orgs
            .iter()
            .filter_map(|t| t.region.clone())
            .map(|r| (r.id.clone(), r))
            .collect();
        Ok(LoginData {
            token,
            session_id,
            user,
            proxy_admin_email,
            orgs,
            regions,
            preferred_region_id: self.config().region.id.clone(),
            periods: AuthPeriods::for_expiry(expires_at, now),
            expires_at,
            ca_certificate: self
                .certificate_authority()
                .map(|ca| ca.ca_certificate_pem().to_string()),
            user_certificate: None,
        })
    }

    /// Login data for a freshly started session (all teams).
    pub async fn login_data_for_grant(&self, grant: &LoginGrant) -> CoreResult<LoginData> {
        self.login_data(
            grant.user.clone(),
            OrgScope::AllActive,
            grant.token.token.clone(),
            grant.session.id.0.clone(),
            Some(grant.token.expires_at),
            grant.proxy_admin.as_ref().map(|a| a.email.clone()),
            Utc::now(),
        )
        .await
    }

    /// Login data recomputed for a validated token (`refresh`, `loginWithToken`): same token,
    /// session and expiry; current roles, permissions and settings.
    pub async fn login_data_for_principal(
        &self,
        p: &Principal,
        token: &str,
    ) -> CoreResult<LoginData> {
        let user = self
            .store()
            .get_user(p.user)
            .await?
            .filter(|u| !u.deactivated)
            .ok_or(CoreError::InvalidToken("unknown user"))?;
        let (scope, session_id) = match &p.via {
            Via::Session {
                session,
                org_scoped,
            } => (
                if *org_scoped {
                    OrgScope::Only(p.org)
                } else {
                    OrgScope::AllActive
                },
                session.0.clone(),
            ),
            Via::MintedFromCredential { session, .. } => (OrgScope::AllActive, session.0.clone()),
            Via::Credential { credential } => (OrgScope::AllActive, credential.to_string()),
        };
        let proxy = self.proxy_admin_email(p).await?;
        self.login_data(
            user,
            scope,
            token.trim().to_string(),
            session_id,
            p.expires_at,
            proxy,
            Utc::now(),
        )
        .await
    }

    /// Login data for a team token just issued from `p` (one team, same session).
    pub async fn login_data_for_org_token(
        &self,
        p: &Principal,
        issued: &IssuedToken,
    ) -> CoreResult<LoginData> {
        let user = self.current_user(p).await?;
        let session_id = p.session().map(|s| s.0.clone()).unwrap_or_default();
        let proxy = self.proxy_admin_email(p).await?;
        self.login_data(
            user,
            OrgScope::Only(issued.org),
            issued.token.clone(),
            session_id,
            Some(issued.expires_at),
            proxy,
            Utc::now(),
        )
        .await
    }

    /// Login data of a persistent token just created: the target's teams; the session id is
    /// the credential id.
    pub async fn login_data_for_persistent(
        &self,
        cred: &Credential,
        secret: &str,
    ) -> CoreResult<LoginData> {
        let user = self
            .store()
            .get_user(cred.user_id)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        self.login_data(
            user,
            OrgScope::AllActive,
            secret.to_string(),
            cred.id.to_string(),
            cred.expires_at,
            None,
            Utc::now(),
        )
        .await
    }

    /// The email of the super-admin behind a proxy session.
    pub async fn proxy_admin_email(&self, p: &Principal) -> CoreResult<Option<String>> {
        match p.actor {
            None => Ok(None),
            Some(a) => Ok(self.cached_user(a).await?.map(|u| u.email)),
        }
    }

    /// Persistent-token records of `users` in `org` (PARSABLE.md §8
    /// fetchPersistentAuthTokensMeta): super-admins, or ADMIN/PARSABLE_ADMIN of the team.
    /// Only credentials issued in `org` are listed. Duplicates are dropped; the store skips
    /// users who never were members.
    pub async fn persistent_tokens_meta(
        &self,
        p: &Principal,
        org: OrgId,
        users: &[UserId],
    ) -> CoreResult<Vec<CredentialWithPeople>> {
        if users.len() > MAX_META_USER_IDS {
            return Err(CoreError::InvalidArgument(format!(
                "at most {MAX_META_USER_IDS} userIds per call"
            )));
        }
        self.store()
            .get_org(org)
            .await?
            .ok_or(CoreError::NotFound("team"))?;
        let caller = self.active_caller(p).await?;
        // The org-binding rule (`authz.rs`): a credential or team token lists its own org only.
        if !p.acts_as_super_admin(&caller) {
            let admin = self
                .acting_membership(p, org)
                .await?
                .filter(Membership::is_active)
                .is_some_and(|m| {
                    m.roles.contains(&Role::Admin) || m.roles.contains(&Role::ParsableAdmin)
                });
            if !admin {
                return Err(CoreError::PermissionDenied(
                    "super-admin or team admin required",
                ));
            }
        }
        let unique: Vec<UserId> = users
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .store()
            .persistent_credentials_for(org, &unique)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CoreConfig;
    use serde_json::json;

    fn t(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    #[test]
    fn periods_follow_remaining_lifetime() {
        let p = AuthPeriods::for_expiry(Some(t(30 * 86_400)), t(0));
        assert_eq!(p.expiry, 30 * 86_400);
        assert_eq!(p.lockout, 30 * 86_400);
        assert_eq!(p.warning, 27 * 86_400);
        assert_eq!(p.dump, 0);
    }

    #[test]
    fn periods_short_and_expired() {
        let p = AuthPeriods::for_expiry(Some(t(3600)), t(0));
        assert_eq!((p.warning, p.lockout, p.expiry), (0, 3600, 3600));
        let p = AuthPeriods::for_expiry(Some(t(-5)), t(0));
        assert_eq!(p, AuthPeriods::default());
        assert_eq!(AuthPeriods::for_expiry(None, t(0)), AuthPeriods::default());
    }

    #[test]
    fn job_permissions_union_and_override() {
        let cfg = CoreConfig::default();
        let none = BTreeMap::new();
        let exec: BTreeSet<Role> = [Role::Executor].into();
        assert_eq!(
            job_permissions(&cfg, &none, &exec),
            JobPermissions::job_and_steps()
        );
        let both: BTreeSet<Role> = [Role::Executor, Role::Admin].into();
        assert_eq!(job_permissions(&cfg, &none, &both), JobPermissions::all());
        assert_eq!(
            job_permissions(&cfg, &none, &BTreeSet::new()),
            JobPermissions::default()
        );
        let mut table = BTreeMap::new();
        let only_title = JobPermissions {
            edit_title: true,
            ..JobPermissions::default()
        };
        table.insert(Role::Admin, only_title);
        let admin: BTreeSet<Role> = [Role::Admin].into();
        assert_eq!(job_permissions(&cfg, &table, &admin), only_title);
        // The override applies to its role only; other roles keep the configured table.
        assert_eq!(
            job_permissions(&cfg, &table, &both),
            only_title.union(JobPermissions::job_and_steps())
        );
        let mut cfg2 = CoreConfig::default();
        cfg2.job_permissions.insert(Role::Executor, only_title);
        assert_eq!(job_permissions(&cfg2, &none, &exec), only_title);
    }

    #[test]
    fn settings_documents_parse_leniently() {
        let doc =
            json!({"a": {"type": "bool", "value": true}, "b": {"type": "text", "value": "x"}});
        let m = parse_settings(Some(doc), "org");
        assert_eq!(m.get("a"), Some(&SettingValue::Bool(true)));
        assert_eq!(m.get("b"), Some(&SettingValue::Text("x".into())));
        assert!(parse_settings(Some(json!([1, 2])), "org").is_empty());
        assert!(parse_settings(None, "org").is_empty());
    }
}
