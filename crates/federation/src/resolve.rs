//! Upstream identity → Portcullis user: an existing (issuer, subject) link; else a link to an
//! existing account by verified email where the provider allows it; else just-in-time
//! provisioning gated by the email allow-list; else `NoAccount`. Group → membership sync.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use portcullis_core::audit::{AuditAction, AuditContext};
use portcullis_core::federated_accounts::{ClaimedMemberships, EmailLink, LinkedAccount, Upstream};
use portcullis_core::{
    AuditOutcome, ExternalIdentity, MembershipKind, NewUser, Org, OrgId, Role, User,
};
use serde_json::json;

use crate::config::ProviderConfig;
use crate::error::FederationError;
use crate::{Federation, UpstreamIdentity};

/// Desired memberships, per org.
type Desired = BTreeMap<OrgId, (Org, BTreeSet<Role>, MembershipKind)>;

fn merge(d: &mut Desired, org: Org, roles: &BTreeSet<Role>, kind: MembershipKind) {
    let e = d
        .entry(org.id)
        .or_insert_with(|| (org, BTreeSet::new(), MembershipKind::Guest));
    e.1.extend(roles.iter().copied());
    if kind == MembershipKind::Member {
        e.2 = MembershipKind::Member;
    }
}

/// The part of an email before the last `@` (the whole string when there is none).
fn local_part(email: &str) -> String {
    email
        .rsplit_once('@')
        .map_or(email, |(local, _)| local)
        .to_owned()
}

impl Federation {
    /// An org by uuid or name.
    pub(crate) async fn find_org(&self, r: &str) -> Result<Option<Org>, FederationError> {
        Ok(self.engine.find_org(r).await?)
    }

    /// Whether the provider may log users into this org.
    pub(crate) fn org_allowed(cfg: &ProviderConfig, org: &Org) -> bool {
        cfg.allowed_orgs.is_empty()
            || cfg.allowed_orgs.iter().any(|a| {
                let a = a.trim();
                a == org.name || a.parse::<OrgId>().is_ok_and(|id| id == org.id)
            })
    }

    /// The email rule (NOMINAL §6), the core's: syntactically valid, and the domain or the
    /// whole address is on the deployment allow-list, or on the org's list when `org` is given.
    pub async fn email_allowed(
        &self,
        email: &str,
        org: Option<OrgId>,
    ) -> Result<bool, FederationError> {
        Ok(self.engine.is_email_allowed(email, org).await?)
    }

    /// Memberships the identity's claims grant (group table and org/role claims), limited to
    /// the provider's allowed, enabled orgs. Also returns the orgs the group table manages.
    async fn claimed_memberships(
        &self,
        cfg: &ProviderConfig,
        id: &UpstreamIdentity,
    ) -> Result<(Desired, BTreeSet<OrgId>), FederationError> {
        let mut desired = Desired::new();
        let mut managed = BTreeSet::new();
        let mut orgs_cache: BTreeMap<String, Option<Org>> = BTreeMap::new();
        let groups: BTreeSet<&str> = id.groups.iter().flatten().map(String::as_str).collect();
        for gm in &cfg.group_mappings {
            let org = match orgs_cache.get(&gm.org) {
                Some(o) => o.clone(),
                None => {
                    let o = self.find_org(&gm.org).await?;
                    if o.is_none() {
                        tracing::warn!(provider = %cfg.alias, org = %gm.org, "group mapping names an unknown org");
                    }
                    orgs_cache.insert(gm.org.clone(), o.clone());
                    o
                }
            };
            let Some(org) = org.filter(|o| Self::org_allowed(cfg, o)) else {
                continue;
            };
            managed.insert(org.id);
            if groups.contains(gm.group.as_str()) && !org.disabled {
                merge(&mut desired, org, &gm.roles, gm.kind);
            }
        }
        // The org claim names orgs directly: only within an explicit allow-list (validate()
        // requires one; checked here too so no registry path can skip it).
        if !id.orgs.is_empty() && !cfg.allowed_orgs.is_empty() {
            let roles: BTreeSet<Role> = id.roles.iter().filter_map(|r| r.parse().ok()).collect();
            for o in &id.orgs {
                if let Some(org) = self.find_org(o).await?
                    && Self::org_allowed(cfg, &org)
                    && !org.disabled
                {
                    merge(&mut desired, org, &roles, MembershipKind::Member);
                }
            }
        }
        Ok((desired, managed))
    }

    /// Maps a verified identity to a user: link, provision or deny. Memberships are synced from
    /// groups when the provider says so. A deactivated account is `NoAccount`.
    pub async fn resolve_user(
        &self,
        id: &UpstreamIdentity,
        ctx: &AuditContext,
    ) -> Result<User, FederationError> {
        let rt = self.by_alias(&id.provider)?;
        let cfg = &rt.cfg;
        if id.issuer != cfg.issuer || id.subject.is_empty() {
            return Err(FederationError::Malformed(
                "identity does not match its provider",
            ));
        }
        match self.engine.linked_account(&id.issuer, &id.subject).await? {
            LinkedAccount::Linked(user) => return self.finish(cfg, id, user, ctx).await,
            LinkedAccount::Orphaned => {
                return Err(FederationError::NoAccount(
                    "the linked account no longer exists",
                ));
            }
            LinkedAccount::Unlinked => {}
        }
        let Some(email) = id.email.clone() else {
            return Err(FederationError::MissingClaims(vec!["email".into()]));
        };
        let identity = ExternalIdentity {
            issuer: id.issuer.clone(),
            subject: id.subject.clone(),
            user_id: portcullis_core::UserId::new(),
            provider_alias: cfg.alias.clone(),
            created_at: Utc::now(),
        };
        // Linking needs the provider's policy and a verified email in a domain the provider
        // serves (the core never links a super-admin).
        let may_link = cfg.link_verified_email && id.email_verified && cfg.serves_email(&email);
        match self
            .engine
            .link_by_email(identity.clone(), &email, may_link, ctx)
            .await?
        {
            EmailLink::NoAccount => {}
            EmailLink::Refused => {
                self.deny(
                    ctx,
                    id,
                    "email belongs to an account this provider may not link",
                )
                .await;
                return Err(FederationError::NoAccount(
                    "an account with this email exists and may not be linked",
                ));
            }
            EmailLink::Linked(existing) => return self.finish(cfg, id, existing, ctx).await,
            EmailLink::LostRace => return self.relink(cfg, id, ctx).await,
        }
        if !cfg.jit_provisioning {
            self.deny(ctx, id, "no account and just-in-time provisioning is off")
                .await;
            return Err(FederationError::NoAccount("no account for this identity"));
        }
        if cfg.claims.require_email_verified && !id.email_verified {
            self.deny(ctx, id, "email not verified").await;
            return Err(FederationError::NoAccount("the email is not verified"));
        }
        let (mut desired, _) = self.claimed_memberships(cfg, id).await?;
        for j in &cfg.jit_orgs {
            match self.find_org(&j.org).await? {
                Some(org) if Self::org_allowed(cfg, &org) && !org.disabled => {
                    merge(&mut desired, org, &j.roles, j.kind)
                }
                Some(_) => {}
                None => {
                    tracing::warn!(provider = %cfg.alias, org = %j.org, "jit_orgs names an unknown org")
                }
            }
        }
        let mut memberships = Vec::new();
        for (org_id, (_, roles, kind)) in desired {
            if self.email_allowed(&email, Some(org_id)).await? {
                memberships.push((org_id, roles, kind));
            }
        }
        if memberships.is_empty() {
            self.deny(ctx, id, "the email allow-list denies provisioning")
                .await;
            return Err(FederationError::NoAccount(
                "the email allow-list denies provisioning",
            ));
        }
        let now = Utc::now();
        let new_user = NewUser {
            email: email.clone(),
            // NOMINAL §8: the `name` claim, else the email's local part.
            display_name: id.name.clone().unwrap_or_else(|| local_part(&email)),
            avatar_url: id.picture.clone(),
            password_hash: None,
            validated_at: id.email_verified.then_some(now),
            super_admin: false,
        };
        match self
            .engine
            .provision_federated_user(new_user, identity, memberships, ctx)
            .await?
        {
            Some(user) => Ok(user),
            // A concurrent first login of the same identity won the race.
            None => self.relink(cfg, id, ctx).await,
        }
    }

    async fn relink(
        &self,
        cfg: &ProviderConfig,
        id: &UpstreamIdentity,
        ctx: &AuditContext,
    ) -> Result<User, FederationError> {
        let user = match self.engine.linked_account(&id.issuer, &id.subject).await? {
            LinkedAccount::Linked(user) => user,
            LinkedAccount::Unlinked => {
                return Err(FederationError::NoAccount(
                    "an account with this email exists and may not be linked",
                ));
            }
            LinkedAccount::Orphaned => {
                return Err(FederationError::NoAccount(
                    "the linked account no longer exists",
                ));
            }
        };
        self.finish(cfg, id, user, ctx).await
    }

    async fn finish(
        &self,
        cfg: &ProviderConfig,
        id: &UpstreamIdentity,
        user: User,
        ctx: &AuditContext,
    ) -> Result<User, FederationError> {
        if user.deactivated {
            self.deny(ctx, id, "account deactivated").await;
            return Err(FederationError::NoAccount("the account is deactivated"));
        }
        // A sign-in: pending invitations join before the provider's rules pick the org.
        self.engine.accept_invitations(&user, ctx).await?;
        if cfg.sync_memberships && id.groups.is_some() && !cfg.group_mappings.is_empty() {
            self.sync_memberships(cfg, id, &user, ctx).await?;
        }
        Ok(user)
    }

    /// Syncs memberships from the groups (the core's use case): what they grant is added or
    /// updated, what the group table manages and they no longer grant is removed.
    async fn sync_memberships(
        &self,
        cfg: &ProviderConfig,
        id: &UpstreamIdentity,
        user: &User,
        ctx: &AuditContext,
    ) -> Result<(), FederationError> {
        let (desired, managed) = self.claimed_memberships(cfg, id).await?;
        let claimed = ClaimedMemberships {
            desired: desired
                .into_iter()
                .map(|(org, (_, roles, kind))| (org, (roles, kind)))
                .collect(),
            managed,
        };
        let upstream = Upstream {
            provider: &id.provider,
            subject: &id.subject,
        };
        self.engine
            .sync_claimed_memberships(user, &claimed, upstream, ctx)
            .await?;
        Ok(())
    }

    async fn deny(&self, ctx: &AuditContext, id: &UpstreamIdentity, reason: &str) {
        tracing::info!(provider = %id.provider, reason, "federated login denied");
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                None,
                AuditAction::FederationLogin,
                Some(format!("{}#{}", id.issuer, id.subject)),
                AuditOutcome::Denied,
                json!({"provider": id.provider, "reason": reason}),
            )
            .await;
    }
}
