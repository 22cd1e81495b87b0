//! The email rule (NOMINAL.md §6): an email is allowed when it is syntactically valid and its
//! domain (case-insensitively) or the whole address is on the allow-list. The deployment list is
//! `CoreConfig::allowed_email_domains`/`allowed_emails` plus the stored entries without an org;
//! provisioning into an org also accepts that org's stored entries. Whether a user with the email
//! exists is never consulted, so unauthenticated callers learn nothing about accounts.

use crate::engine::Engine;
use crate::error::CoreResult;
use crate::model::{AllowlistEntry, AllowlistKind, OrgId, is_valid_email, normalize_email};

fn clean_domain(d: &str) -> String {
    normalize_email(d).trim_start_matches('@').to_owned()
}

/// Whether `email` (already normalised and valid) matches one entry.
fn matches(email: &str, domain: &str, kind: AllowlistKind, value: &str) -> bool {
    match kind {
        AllowlistKind::Address => normalize_email(value) == email,
        AllowlistKind::Domain => clean_domain(value) == domain,
    }
}

impl Engine {
    /// The email rule. `org`: also accept the entries of that org (provisioning into it).
    pub async fn is_email_allowed(&self, email: &str, org: Option<OrgId>) -> CoreResult<bool> {
        let email = normalize_email(email);
        if !is_valid_email(&email) {
            return Ok(false);
        }
        let Some((_, domain)) = email.rsplit_once('@') else {
            return Ok(false);
        };
        let domain = domain.to_owned();
        let cfg = self.config();
        if cfg
            .allowed_email_domains
            .iter()
            .any(|d| matches(&email, &domain, AllowlistKind::Domain, d))
            || cfg
                .allowed_emails
                .iter()
                .any(|a| matches(&email, &domain, AllowlistKind::Address, a))
        {
            return Ok(true);
        }
        let entries: Vec<AllowlistEntry> = self.store().list_allowlist().await?;
        Ok(entries.iter().any(|e| {
            (e.org_id.is_none() || (org.is_some() && e.org_id == org))
                && matches(&email, &domain, e.kind, &e.value)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_matching() {
        assert!(matches(
            "ada@example.com",
            "example.com",
            AllowlistKind::Domain,
            "@Example.COM"
        ));
        assert!(!matches(
            "ada@sub.example.com",
            "sub.example.com",
            AllowlistKind::Domain,
            "example.com"
        ));
        assert!(matches(
            "ada@example.com",
            "example.com",
            AllowlistKind::Address,
            "Ada@Example.com"
        ));
    }
}
