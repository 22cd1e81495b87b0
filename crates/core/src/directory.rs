//! The user directory of one org (NOMINAL.md §7 AuthenticationServiceV2, §8): profiles,
//! settings, user search, batch look-ups, preregistration and login activity. Every call is
//! scoped to the session org: users outside it are invisible.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::json;

use crate::audit::AuditAction;
use crate::audit::AuditContext;
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::invitations::INVITATION_DAYS;
use crate::model::*;
use crate::store::{PreregisterTerms, Preregistered, UserQuery, UserSort};
use crate::tokens::Principal;

/// Most emails one preregistration call accepts.
pub const MAX_PREREGISTER: usize = 1000;

/// The outcome of checking admin rights over several orgs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgsAdminCheck {
    Ok,
    /// An org that does not exist (or is not visible to the caller as an org).
    UnknownOrg,
    /// The first org (in the given order) where the caller is not an admin.
    NotAdmin(OrgId),
}

fn check_display_name(name: &str) -> CoreResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(CoreError::InvalidArgument(
            "displayName must be 1 to 256 characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// What preregistration answers for an invited account: the user the request would have
/// created, with a fresh id that names no account, so the answer matches a new account's.
fn unrevealing_view(asked: NewUser, at: Timestamp) -> User {
    User {
        id: UserId::new(),
        email: asked.email,
        display_name: asked.display_name,
        avatar_url: asked.avatar_url,
        password_hash: None,
        validated_at: asked.validated_at,
        super_admin: false,
        deactivated: false,
        password_reset_required: false,
        created_at: at,
        updated_at: at,
    }
}

/// The part of an email before `@`: the display name of a user who has none.
pub fn default_display_name(email: &str) -> String {
    email
        .trim()
        .rsplit_once('@')
        .map_or(email.trim(), |(local, _)| local)
        .to_owned()
}

impl Engine {
    /// The caller's user record.
    pub async fn my_user(&self, p: &Principal) -> CoreResult<User> {
        self.store()
            .get_user(p.user)
            .await?
            .ok_or(CoreError::InvalidToken("unknown user"))
    }

    /// Sets the caller's display name (1–256 characters after trimming).
    pub async fn update_my_display_name(
        &self,
        p: &Principal,
        name: &str,
        ctx: &AuditContext,
    ) -> CoreResult<User> {
        let name = check_display_name(name)?;
        let user = self
            .store()
            .update_user(
                p.user,
                UserUpdate {
                    display_name: Some(name),
                    ..UserUpdate::default()
                },
            )
            .await?;
        self.revocations().bump_user(p.user);
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(p.user),
                AuditAction::ProfileUpdate,
                Some(p.user.to_string()),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(user)
    }

    /// A settings document of the Nominal namespace; `None` when never set.
    pub async fn nominal_settings(
        &self,
        scope: SettingsScope,
    ) -> CoreResult<Option<serde_json::Value>> {
        Ok(self
            .store()
            .get_settings(scope, SettingsNamespace::Nominal)
            .await?)
    }

    /// Replaces the caller's Nominal user settings.
    pub async fn put_my_settings(&self, p: &Principal, doc: serde_json::Value) -> CoreResult<()> {
        self.store()
            .put_settings(SettingsScope::User(p.user), SettingsNamespace::Nominal, doc)
            .await?;
        Ok(())
    }

    /// Replaces the session org's Nominal settings; admins only.
    pub async fn put_org_settings(
        &self,
        p: &Principal,
        doc: serde_json::Value,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_org_admin(p).await?;
        self.store()
            .put_settings(SettingsScope::Org(p.org), SettingsNamespace::Nominal, doc)
            .await?;
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(p.user),
                AuditAction::OrgSettingsUpdate,
                Some(p.org.to_string()),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(())
    }

    /// Members and guests of the session org matching the query. Returns one page and whether
    /// more rows follow.
    pub async fn search_org_users(
        &self,
        p: &Principal,
        query: &UserQuery,
        sort: UserSort,
        offset: u64,
        limit: u32,
    ) -> CoreResult<Page<User>> {
        let mut rows = self
            .store()
            .search_org_users(p.org, query, sort, offset, limit.saturating_add(1))
            .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(Page {
            items: rows.into_iter().map(|(u, _)| u).collect(),
            has_more,
        })
    }

    /// The requested users that are members or guests of the session org; others are left out.
    pub async fn org_users(&self, p: &Principal, ids: &[UserId]) -> CoreResult<Vec<User>> {
        let mut visible = Vec::new();
        for &id in ids.iter().collect::<BTreeSet<_>>() {
            if self
                .store()
                .get_membership(id, p.org)
                .await?
                .is_some_and(|m| m.removed_at.is_none())
            {
                visible.push(id);
            }
        }
        if visible.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store().get_users(&visible).await?)
    }

    /// One user of the session org, or `NotFound("user")`.
    pub async fn org_user(&self, p: &Principal, id: UserId) -> CoreResult<User> {
        self.org_users(p, &[id])
            .await?
            .into_iter()
            .next()
            .ok_or(CoreError::NotFound("user"))
    }

    /// Preregisters the emails in the session org: an email not yet taken gets a new account,
    /// a member of the org; an account that exists outside the org gets a pending invitation
    /// instead (accepted at its next sign-in, see [`crate::invitations`]). The answer lists
    /// both alike: an invited account appears as the new account its email would have given (a
    /// fresh id, the email as sent, the default name, no avatar, this call's time), never with
    /// its real profile, so it does not tell whether the email had an account. Accounts already
    /// in the org are left out. Every email must pass the allow-list for the org (else 400,
    /// nothing written). Admins only; at most [`MAX_PREREGISTER`] emails.
    pub async fn preregister_users(
        &self,
        p: &Principal,
        emails: &[String],
        ctx: &AuditContext,
    ) -> CoreResult<Vec<User>> {
        self.require_org_admin(p).await?;
        if emails.len() > MAX_PREREGISTER {
            return Err(CoreError::InvalidArgument(format!(
                "at most {MAX_PREREGISTER} emails per call"
            )));
        }
        let mut seen = BTreeSet::new();
        let mut new = Vec::new();
        for e in emails {
            let email = e.trim();
            if !is_valid_email(email) {
                return Err(CoreError::InvalidArgument("an email is malformed".into()));
            }
            if !seen.insert(normalize_email(email)) {
                continue;
            }
            // Depends on the configuration only, never on whether the account exists.
            if !self.is_email_allowed(email, Some(p.org)).await? {
                return Err(CoreError::InvalidArgument(format!(
                    "{email} is not on the email allow-list"
                )));
            }
            new.push(NewUser {
                email: email.to_owned(),
                display_name: default_display_name(email),
                avatar_url: None,
                password_hash: None,
                validated_at: None,
                super_admin: false,
            });
        }
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let terms = PreregisterTerms {
            roles: BTreeSet::new(),
            kind: MembershipKind::Member,
            invited_by: Some(p.user),
            expires_at: Utc::now() + chrono::Duration::days(INVITATION_DAYS),
        };
        let outcomes = self
            .store()
            .preregister_users(p.org, new.clone(), &terms)
            .await?;
        let mut answer = Vec::new();
        let mut invited = 0usize;
        for (asked, outcome) in new.into_iter().zip(outcomes) {
            match outcome {
                Preregistered::Created(user) => answer.push(user),
                Preregistered::Invited(inv) => {
                    invited += 1;
                    self.audit()
                        .log(
                            ctx,
                            inv.created_at,
                            Some(p.user),
                            AuditAction::OrgInvitationCreate,
                            Some(inv.user_id.to_string()),
                            AuditOutcome::Success,
                            json!({"org": p.org, "expiresAt": inv.expires_at}),
                        )
                        .await;
                    answer.push(unrevealing_view(asked, inv.created_at));
                }
                Preregistered::AlreadyInOrg => {}
            }
        }
        self.audit()
            .log(
                ctx,
                Utc::now(),
                Some(p.user),
                AuditAction::UsersPreregister,
                Some(p.org.to_string()),
                AuditOutcome::Success,
                json!({"created": answer.len() - invited, "invited": invited}),
            )
            .await;
        Ok(answer)
    }

    /// Checks that every org exists and the caller is an admin of each (and may act there).
    pub async fn check_admin_of_orgs(
        &self,
        p: &Principal,
        orgs: &[OrgId],
    ) -> CoreResult<OrgsAdminCheck> {
        for &org in orgs {
            if self.store().get_org(org).await?.is_none() {
                return Ok(OrgsAdminCheck::UnknownOrg);
            }
        }
        for &org in orgs {
            // A credential or team token is an admin of its own org at most (`authz.rs`).
            let admin = self
                .acting_membership(p, org)
                .await?
                .is_some_and(|m| m.is_admin());
            if !admin {
                return Ok(OrgsAdminCheck::NotAdmin(org));
            }
        }
        Ok(OrgsAdminCheck::Ok)
    }

    /// Login activity of the members of `orgs` (the caller must be an admin of each; check with
    /// [`Engine::check_admin_of_orgs`] first).
    pub async fn login_activity(
        &self,
        orgs: &[OrgId],
        descending: bool,
        offset: u64,
        limit: u32,
    ) -> CoreResult<Page<Membership>> {
        // Org switches made here are coalesced (`last_login.rs`): store them first.
        self.flush_last_logins().await?;
        let mut rows = self
            .store()
            .org_login_activity(orgs, descending, offset, limit.saturating_add(1))
            .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(Page {
            items: rows,
            has_more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(default_display_name("ada@example.com"), "ada");
        assert!(check_display_name("   ").is_err());
        assert_eq!(check_display_name("  Ada ").unwrap(), "Ada");
        assert!(check_display_name(&"x".repeat(257)).is_err());
        assert!(check_display_name(&"é".repeat(256)).is_ok());
    }
}
