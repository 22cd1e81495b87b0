//! Users, their external identities and the brute-force state of a login key.

use super::*;

/// Lower-cased, trimmed form of an email: the key for uniqueness and lookups.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A syntactic check that rejects what is clearly not an address; deliverability is not judged.
pub fn is_valid_email(email: &str) -> bool {
    let email = email.trim();
    if email.len() > 320 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !domain.contains('@')
                && domain.contains('.')
        }
        None => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    /// As given by the user or admin; matched case-insensitively.
    pub email: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// A PHC string; `None` means password login is disabled for this account.
    pub password_hash: Option<String>,
    pub validated_at: Option<Timestamp>,
    pub super_admin: bool,
    pub deactivated: bool,
    /// Set by an admin: the next password login must be followed by a change.
    pub password_reset_required: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub password_hash: Option<String>,
    pub validated_at: Option<Timestamp>,
    pub super_admin: bool,
}

/// Patch for a user; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub password_hash: Option<Option<String>>,
    pub validated_at: Option<Option<Timestamp>>,
    pub super_admin: Option<bool>,
    pub password_reset_required: Option<bool>,
}

/// Links an upstream identity (issuer, subject) to a user. Never by email alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
    pub user_id: UserId,
    pub provider_alias: String,
    pub created_at: Timestamp,
}

/// Brute-force state for one login key (the normalised email, known or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: i32,
    pub next_attempt_at: Timestamp,
    pub locked_until: Option<Timestamp>,
}
