//! Accounts of upstream (federated) identities: finding the account an identity is linked to,
//! linking an existing account by email, provisioning a new one, and syncing memberships from
//! the provider's claims. The federation crate decides what the provider allows; these use cases
//! write, refresh the revocation view and audit. Also the reads its org selection needs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditAction, AuditContext};
use crate::engine::Engine;
use crate::error::CoreResult;
use crate::model::*;
use crate::store::StoreError;
use crate::use_cases;

/// An upstream identity as audits name it.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// The provider's alias.
    pub provider: &'a str,
    pub subject: &'a str,
}

/// The memberships an identity's claims grant, per org, and the orgs whose memberships the
/// provider manages (a membership there that the claims no longer grant is removed).
#[derive(Debug, Clone, Default)]
pub struct ClaimedMemberships {
    pub desired: BTreeMap<OrgId, (BTreeSet<Role>, MembershipKind)>,
    pub managed: BTreeSet<OrgId>,
}

/// Where the link of an upstream identity leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkedAccount {
    Unlinked,
    Linked(User),
    /// Linked to an account that no longer exists.
    Orphaned,
}

/// Linking an upstream identity to the account of its email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailLink {
    /// No account has the email.
    NoAccount,
    /// An account has it, but may not be linked: the provider may not, or it is a super-admin.
    Refused,
    Linked(User),
    /// A concurrent first login of the same identity linked it first.
    LostRace,
}

impl Engine {
    /// The account an upstream identity is linked to.
    pub async fn linked_account(&self, issuer: &str, subject: &str) -> CoreResult<LinkedAccount> {
        let Some(link) = self.store().find_external_identity(issuer, subject).await? else {
            return Ok(LinkedAccount::Unlinked);
        };
        Ok(match self.store().get_user(link.user_id).await? {
            Some(user) => LinkedAccount::Linked(user),
            None => LinkedAccount::Orphaned,
        })
    }

    /// Links `identity` to the account with `email` when `may_link` (the provider's policy for
    /// a verified email it serves). A super-admin is never linked: an upstream account must not
    /// become one. Audited as `federation.link`.
    pub async fn link_by_email(
        &self,
        identity: ExternalIdentity,
        email: &str,
        may_link: bool,
        ctx: &AuditContext,
    ) -> CoreResult<EmailLink> {
        let Some(existing) = self.store().get_user_by_email(email).await? else {
            return Ok(EmailLink::NoAccount);
        };
        if !may_link || existing.super_admin {
            return Ok(EmailLink::Refused);
        }
        let upstream = (identity.provider_alias.clone(), identity.subject.clone());
        let link = ExternalIdentity {
            user_id: existing.id,
            ..identity
        };
        match self.store().link_external_identity(link).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(EmailLink::LostRace),
            Err(e) => return Err(e.into()),
        }
        let upstream = Upstream {
            provider: &upstream.0,
            subject: &upstream.1,
        };
        self.audit_upstream(
            ctx,
            existing.id,
            AuditAction::FederationLink,
            upstream,
            json!({}),
        )
        .await;
        Ok(EmailLink::Linked(existing))
    }

    /// Creates the account of an upstream identity with its link and memberships, in one write.
    /// `None`: a concurrent first login of the same identity won. Audited as
    /// `federation.provision`.
    pub async fn provision_federated_user(
        &self,
        new_user: NewUser,
        identity: ExternalIdentity,
        memberships: Vec<(OrgId, BTreeSet<Role>, MembershipKind)>,
        ctx: &AuditContext,
    ) -> CoreResult<Option<User>> {
        let upstream = (identity.provider_alias.clone(), identity.subject.clone());
        match self
            .store()
            .provision_federated_user(new_user, identity, memberships)
            .await
        {
            Ok(user) => {
                let upstream = Upstream {
                    provider: &upstream.0,
                    subject: &upstream.1,
                };
                self.audit_upstream(
                    ctx,
                    user.id,
                    AuditAction::FederationProvision,
                    upstream,
                    json!({}),
                )
                .await;
                Ok(Some(user))
            }
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds or updates the memberships the claims grant, and removes memberships in managed
    /// orgs that the claims no longer grant. New memberships obey the email allow-list. The
    /// revocation view learns the changes at once; audited as `federation.sync`.
    pub async fn sync_claimed_memberships(
        &self,
        user: &User,
        claimed: &ClaimedMemberships,
        upstream: Upstream<'_>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        // Decide first (the allow-list is read outside the unit, which holds the write lock),
        // then write every change of this sync in one unit.
        let store = self.store();
        let current = store.list_user_memberships(user.id, false).await?;
        let now = Utc::now();
        let mut upserts = Vec::new();
        let mut changed = Vec::new();
        for (org_id, (roles, kind)) in &claimed.desired {
            let cur = current
                .iter()
                .find(|m| m.org_id == *org_id && m.removed_at.is_none());
            let op = match cur {
                Some(m) if m.roles == *roles && m.kind == *kind => continue,
                Some(_) => "update",
                None if self.is_email_allowed(&user.email, Some(*org_id)).await? => "add",
                None => continue,
            };
            upserts.push((*org_id, roles.clone(), *kind));
            changed.push(json!({"org": org_id, "op": op}));
        }
        let removals: Vec<OrgId> = current
            .iter()
            .filter(|m| {
                m.removed_at.is_none()
                    && claimed.managed.contains(&m.org_id)
                    && !claimed.desired.contains_key(&m.org_id)
            })
            .map(|m| m.org_id)
            .collect();
        changed.extend(
            removals
                .iter()
                .map(|org| json!({"org": org, "op": "remove"})),
        );
        if !changed.is_empty() {
            let mut tx = store.begin_write().await?;
            for (org, roles, kind) in upserts {
                tx.upsert_membership(user.id, org, roles, kind).await?;
            }
            for org in removals {
                use_cases::remove_membership_in(tx.as_mut(), user.id, org, now).await?;
            }
            tx.commit().await?;
        }
        if !changed.is_empty() {
            // This process applies its own membership changes at once (a removal refuses the
            // org's tokens here now), not a feed poll later.
            self.revocations()
                .refresh_user(store.as_ref(), user.id, now)
                .await?;
            self.audit_upstream(
                ctx,
                user.id,
                AuditAction::FederationSync,
                upstream,
                json!({ "changes": changed }),
            )
            .await;
        }
        Ok(())
    }

    /// An org by id or name (a provider's configuration may name it either way).
    pub async fn find_org(&self, reference: &str) -> CoreResult<Option<Org>> {
        let reference = reference.trim();
        if let Ok(id) = reference.parse::<OrgId>()
            && let Some(o) = self.store().get_org(id).await?
        {
            return Ok(Some(o));
        }
        Ok(self.store().get_org_by_name(reference).await?)
    }

    /// An org by id.
    pub async fn org(&self, id: OrgId) -> CoreResult<Option<Org>> {
        Ok(self.store().get_org(id).await?)
    }

    /// A workspace by id.
    pub async fn workspace(&self, id: WorkspaceId) -> CoreResult<Option<Workspace>> {
        Ok(self.store().get_workspace(id).await?)
    }

    /// A user's memberships (removed ones excluded), straight from the store.
    pub async fn user_memberships(&self, user: UserId) -> CoreResult<Vec<Membership>> {
        Ok(self.store().list_user_memberships(user, false).await?)
    }

    /// A user's membership in one org, straight from the store.
    pub async fn stored_membership(
        &self,
        user: UserId,
        org: OrgId,
    ) -> CoreResult<Option<Membership>> {
        Ok(self.store().get_membership(user, org).await?)
    }

    /// The workspaces granted to a user.
    pub async fn workspace_grants(&self, user: UserId) -> CoreResult<Vec<WorkspaceGrant>> {
        Ok(self.store().list_user_workspace_grants(user).await?)
    }

    async fn audit_upstream(
        &self,
        ctx: &AuditContext,
        user: UserId,
        action: AuditAction,
        upstream: Upstream<'_>,
        mut detail: serde_json::Value,
    ) {
        if let Some(o) = detail.as_object_mut() {
            o.insert("provider".into(), json!(upstream.provider));
            o.insert("subject".into(), json!(upstream.subject));
        }
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(user),
                action,
                Some(user.to_string()),
                AuditOutcome::Success,
                detail,
            )
            .await;
    }
}
