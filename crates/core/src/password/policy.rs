//! The password policy of NIST SP 800-63B: length only, no composition rules, a blocklist of
//! the 10,000 most common passwords, and never the account's own email address.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("the password must have at least {min} characters")]
    TooShort { min: usize },
    #[error("the password must be at most {max} bytes")]
    TooLong { max: usize },
    #[error("the password is one of the 10,000 most common passwords")]
    Common,
    #[error("the password must not be the account's email address")]
    SameAsEmail,
}

/// NIST SP 800-63B policy: a minimum length (8 by default, 15 recommended), at least 64
/// characters allowed, a 1024-byte cap, no composition rules, and a blocklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_chars: usize,
}

pub const MAX_PASSWORD_BYTES: usize = 1024;

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_chars: 8 }
    }
}

fn blocklist() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../data/common-passwords-10k.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

impl PasswordPolicy {
    pub fn check(&self, password: &str, email: Option<&str>) -> Result<(), PasswordRejection> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordRejection::TooLong {
                max: MAX_PASSWORD_BYTES,
            });
        }
        if password.chars().count() < self.min_chars {
            return Err(PasswordRejection::TooShort {
                min: self.min_chars,
            });
        }
        if blocklist().contains(password) || blocklist().contains(password.to_lowercase().as_str())
        {
            return Err(PasswordRejection::Common);
        }
        if let Some(email) = email
            && crate::model::normalize_email(email) == password.trim().to_lowercase()
        {
            return Err(PasswordRejection::SameAsEmail);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("short", None),
            Err(PasswordRejection::TooShort { min: 8 })
        );
        assert_eq!(p.check("password", None), Err(PasswordRejection::Common));
        assert_eq!(p.check("12345678", None), Err(PasswordRejection::Common));
        assert_eq!(p.check("PASSWORD1", None), Err(PasswordRejection::Common));
        assert!(p.check(&"x".repeat(64), None).is_ok());
        assert!(p.check(&"é".repeat(300), None).is_ok());
        assert_eq!(
            p.check(&"y".repeat(1025), None),
            Err(PasswordRejection::TooLong { max: 1024 })
        );
        assert_eq!(
            p.check("Ann@Example.com", Some("ann@example.com")),
            Err(PasswordRejection::SameAsEmail)
        );
        // No composition rules: a long lowercase phrase is fine.
        assert!(p.check("correct horse battery staple", None).is_ok());
        assert_eq!(blocklist().len(), 10_000);
    }
}
