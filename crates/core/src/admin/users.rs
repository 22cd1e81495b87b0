//! Users: creation, listing, updates, deactivation, forced password resets, sessions, unlock.

use super::*;
use crate::use_cases;

/// Random bytes in a reset code: 160 bits, 27 base64url characters.
const RESET_CODE_BYTES: usize = 20;

impl Admin {
    pub async fn create_user(&self, spec: NewUserSpec) -> AdminResult<User> {
        let email = clean(&spec.email);
        if !is_valid_email(&email) {
            return Err(AdminError::Invalid(format!(
                "{email:?} is not an email address"
            )));
        }
        let display_name = match spec.display_name {
            Some(n) => clean(&n),
            None => email
                .split_once('@')
                .map(|(l, _)| l.to_owned())
                .unwrap_or_default(),
        };
        check_name("display name", &display_name)?;
        if let Some(existing) = self
            .store
            .get_user_by_email(&normalize_email(&email))
            .await?
        {
            return Err(AdminError::Conflict(format!(
                "a user with email {:?} already exists (id {})",
                existing.email, existing.id
            )));
        }
        let password_hash = match spec.password {
            Some(p) => {
                self.policy.check(&p, Some(&email))?;
                Some(self.hash_password(p).await?)
            }
            None => None,
        };
        let with_password = password_hash.is_some();
        let new = NewUser {
            email: email.clone(),
            display_name,
            avatar_url: None,
            password_hash,
            validated_at: spec.validated.then(now),
            super_admin: spec.super_admin,
        };
        let user = self
            .audited(
                AuditAction::UserCreate,
                None,
                json!({ "email": email, "super_admin": spec.super_admin, "with_password": with_password }),
                self.store.create_user(new),
            )
            .await?;
        Ok(user)
    }

    pub async fn list_users(&self, offset: u64, limit: u32) -> AdminResult<Vec<User>> {
        Ok(self.store.list_users(offset, limit).await?)
    }

    pub async fn show_user(&self, reference: &str) -> AdminResult<UserDetail> {
        let user = self.find_user(reference).await?;
        let memberships = self.store.list_user_memberships(user.id, true).await?;
        let memberships = self.member_views(memberships).await?;
        let workspace_grants = self.store.list_user_workspace_grants(user.id).await?;
        let identities = self.store.list_user_identities(user.id).await?;
        let throttle = self
            .store
            .throttle_get(&normalize_email(&user.email))
            .await?;
        Ok(UserDetail {
            user: UserView::from(&user),
            memberships,
            workspace_grants,
            identities,
            failed_logins: throttle.as_ref().map(|t| t.failures).unwrap_or(0),
            locked_until: throttle.and_then(|t| t.locked_until),
        })
    }

    pub async fn update_user(&self, reference: &str, patch: UserPatchSpec) -> AdminResult<User> {
        let user = self.find_user(reference).await?;
        let display_name = match patch.display_name {
            Some(n) => {
                let n = clean(&n);
                check_name("display name", &n)?;
                Some(n)
            }
            None => None,
        };
        let update = UserUpdate {
            display_name,
            avatar_url: patch.avatar_url.clone(),
            validated_at: patch.validated.map(|v| v.then(now)),
            super_admin: patch.super_admin,
            ..UserUpdate::default()
        };
        if update == UserUpdate::default() {
            return Err(AdminError::Invalid("nothing to update".into()));
        }
        let detail = json!({
            "display_name": update.display_name,
            "avatar_url": update.avatar_url,
            "super_admin": update.super_admin,
            "validated": patch.validated,
        });
        self.audited(
            AuditAction::UserUpdate,
            Some(user.id.to_string()),
            detail,
            self.store.update_user(user.id, update),
        )
        .await
    }

    /// Deactivates the user everywhere and revokes every session and credential.
    pub async fn deactivate_user(&self, reference: &str) -> AdminResult<DeactivationReport> {
        let user = self.find_user(reference).await?;
        let detail = json!({ "email": user.email });
        let d = use_cases::deactivate_user(&self.use_case(), user.id, detail).await?;
        Ok(DeactivationReport {
            user_id: user.id,
            sessions_revoked: d.sessions_revoked,
            credentials_revoked: d.credentials_revoked,
        })
    }

    pub async fn reactivate_user(&self, reference: &str) -> AdminResult<User> {
        let user = self.find_user(reference).await?;
        let detail = json!({ "email": user.email });
        use_cases::reactivate_user(&self.use_case(), user.id, detail).await?;
        self.find_user(&user.id.to_string()).await
    }

    /// Forces a password reset: in one transaction the user is flagged (password login is
    /// refused), every session ends, with `revoke_credentials` every API key and persistent
    /// token is revoked, and a new one-time code replaces any earlier one. Only the code's
    /// SHA-256 is stored; the code is returned once, for the admin to hand over, and the user
    /// redeems it with a new password (`POST /account/v1/password/reset-required`). Any lockout
    /// of the email is cleared, so the user can redeem it.
    pub async fn require_password_reset(
        &self,
        reference: &str,
        revoke_credentials: bool,
    ) -> AdminResult<PasswordReset> {
        let user = self.find_user(reference).await?;
        if self.reset_code_secs <= 0 {
            return Err(AdminError::Invalid(
                "core.passwords.reset_code_secs must be positive".into(),
            ));
        }
        let at = now();
        let expires_at = at + chrono::Duration::seconds(self.reset_code_secs);
        let code = Zeroizing::new(crate::crypto::random_token(RESET_CODE_BYTES));
        let hash = crate::crypto::sha256(code.as_bytes());
        let d = self
            .audited(
                AuditAction::UserRequirePasswordReset,
                Some(user.id.to_string()),
                json!({
                    "email": user.email,
                    "revoke_credentials": revoke_credentials,
                    "code_expires_at": expires_at,
                }),
                self.store.require_password_reset(
                    user.id,
                    &hash,
                    expires_at,
                    revoke_credentials,
                    at,
                ),
            )
            .await?;
        self.store
            .throttle_reset(&normalize_email(&user.email))
            .await?;
        Ok(PasswordReset {
            user: self.find_user(&user.id.to_string()).await?,
            code,
            expires_at,
            sessions_revoked: d.sessions_revoked,
            credentials_revoked: d.credentials_revoked,
        })
    }

    /// Ends every live session of a user. Returns the user id and how many ended.
    pub async fn end_sessions(&self, reference: &str) -> AdminResult<(UserId, u64)> {
        let user = self.find_user(reference).await?;
        let n = use_cases::end_user_sessions(&self.use_case(), user.id, None).await?;
        Ok((user.id, n))
    }

    pub async fn list_sessions(&self, reference: &str) -> AdminResult<Vec<Session>> {
        let user = self.find_user(reference).await?;
        Ok(self.store.list_user_sessions(user.id, false, now()).await?)
    }

    /// Clears the brute-force throttle for a login email (a user reference or any address).
    /// Returns the normalised key that was reset.
    pub async fn unlock(&self, reference: &str) -> AdminResult<String> {
        let key = match self.find_user(reference).await {
            Ok(u) => normalize_email(&u.email),
            Err(AdminError::NotFound(_)) if is_valid_email(reference) => normalize_email(reference),
            Err(e) => return Err(e),
        };
        use_cases::unlock_login(&self.use_case(), &key).await?;
        Ok(key)
    }
}
