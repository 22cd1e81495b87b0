//! The first-start bootstrap: region, org and super-admin on an empty store.

use super::*;

impl Admin {
    /// On an empty store, creates `region`, an org named `org_name`, and a super-admin with
    /// `email` who is an ADMIN member of it. Without `password` one is generated and returned.
    /// Returns `None` when the store already has users.
    pub async fn bootstrap(
        &self,
        region: Region,
        org_name: &str,
        email: &str,
        password: Option<Zeroizing<String>>,
    ) -> AdminResult<Option<Bootstrapped>> {
        if !self.store.list_users(0, 1).await?.is_empty() {
            return Ok(None);
        }
        let email = clean(email);
        if !is_valid_email(&email) {
            return Err(AdminError::Invalid(format!(
                "bootstrap admin email {email:?} is not an email address"
            )));
        }
        let org_name = clean(org_name);
        check_name("org name", &org_name)?;
        let (password, generated) = match password {
            Some(p) => {
                self.policy.check(&p, Some(&email))?;
                (p, false)
            }
            None => (Zeroizing::new(crate::crypto::random_token(18)), true),
        };
        let hash = self.hash_password(password.clone()).await?;
        let admin = NewUser {
            email: email.clone(),
            display_name: "Administrator".into(),
            avatar_url: None,
            password_hash: Some(hash),
            validated_at: Some(now()),
            super_admin: true,
        };
        let org = NewOrg {
            name: org_name.clone(),
            display_name: Some("Default organization".into()),
            region_id: region.id.clone(),
        };
        let Some((org, user)) = self.store.bootstrap(region, org, admin).await? else {
            return Ok(None);
        };
        self.audit(
            AuditAction::Bootstrap,
            Some(user.id.to_string()),
            AuditOutcome::Success,
            json!({ "email": user.email, "org": org.name, "password_generated": generated }),
        )
        .await?;
        Ok(Some(Bootstrapped {
            org,
            user,
            generated_password: generated.then_some(password),
        }))
    }
}
