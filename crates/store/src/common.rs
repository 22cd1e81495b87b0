//! Backend-independent helpers: error mapping, enum and JSON encodings, LIKE escaping.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use portcullis_core::model::*;
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::error::ErrorKind;

/// How many values one `IN (...)` list carries at most; longer lists are split.
pub(crate) const IN_CHUNK: usize = 500;

/// What `list_audit` returns when the filter's limit is 0.
pub(crate) const DEFAULT_AUDIT_LIMIT: u32 = 100;

/// The wall clock, truncated to the microsecond precision both backends store.
pub(crate) fn now() -> Timestamp {
    micros(Utc::now())
}

/// Truncates to whole microseconds.
pub(crate) fn micros(t: Timestamp) -> Timestamp {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Unique rules: (PostgreSQL constraint name, SQLite message fragment, message for callers).
const UNIQUE_RULES: &[(&str, &str, &str)] = &[
    (
        "users_email_norm_key",
        "users.email_norm",
        "email already in use",
    ),
    ("users_pkey", "users.id", "user id already exists"),
    ("orgs_name_key", "orgs.name", "org name already in use"),
    ("orgs_pkey", "orgs.id", "org id already exists"),
    (
        "workspaces_org_slug_key",
        "workspaces.org_id, workspaces.slug",
        "workspace slug already in use in this org",
    ),
    (
        "workspaces_pkey",
        "workspaces.id",
        "workspace id already exists",
    ),
    (
        "credentials_secret_hash_key",
        "credentials.secret_hash",
        "credential secret already in use",
    ),
    (
        "credentials_pkey",
        "credentials.id",
        "credential id already exists",
    ),
    (
        "external_identities_pkey",
        "external_identities.issuer",
        "external identity already linked",
    ),
    ("sessions_pkey", "sessions.id", "session id already exists"),
    ("keys_pkey", "keys.kid", "key id already exists"),
    (
        "oauth_clients_pkey",
        "oauth_clients.client_id",
        "oauth client id already exists",
    ),
    (
        "oauth_client_secrets_pkey",
        "oauth_client_secrets.client_id",
        "client secret already exists",
    ),
    (
        "oauth_codes_pkey",
        "oauth_codes.code_hash",
        "authorization code already exists",
    ),
    (
        "oauth_refresh_tokens_pkey",
        "oauth_refresh_tokens.token_hash",
        "refresh token already exists",
    ),
    (
        "oauth_device_codes_user_code_hash_key",
        "oauth_device_codes.user_code_hash",
        "device user code already in use",
    ),
    (
        "oauth_device_codes_pkey",
        "oauth_device_codes.device_code_hash",
        "device code already exists",
    ),
    (
        "audit_events_id_key",
        "audit_events.id",
        "audit event id already exists",
    ),
];

/// Maps a driver error to the port's error type.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) => {
            let msg = d.message().to_string();
            match d.kind() {
                ErrorKind::UniqueViolation => {
                    let constraint = d.constraint().unwrap_or_default();
                    let rule = UNIQUE_RULES
                        .iter()
                        .find(|(pg, lite, _)| constraint == *pg || msg.contains(lite))
                        .map(|(_, _, text)| (*text).to_string());
                    StoreError::Conflict(rule.unwrap_or_else(|| format!("duplicate row ({msg})")))
                }
                ErrorKind::ForeignKeyViolation => {
                    StoreError::NotFound(format!("unknown referenced row ({msg})"))
                }
                _ => {
                    tracing::warn!(error = %msg, "database error");
                    StoreError::Unavailable(msg)
                }
            }
        }
        sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt(e.to_string()),
        e => {
            tracing::warn!(error = %e, "database unavailable");
            StoreError::Unavailable(e.to_string())
        }
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn not_found(what: &str) -> StoreError {
    StoreError::NotFound(what.to_string())
}

/// An org column: `OrgId::NONE` (no org) is stored as NULL.
pub(crate) fn org_col(org: OrgId) -> Option<uuid::Uuid> {
    (!org.is_none()).then_some(org.0)
}

pub(crate) fn org_from_col(col: Option<uuid::Uuid>) -> OrgId {
    col.map_or(OrgId::NONE, OrgId)
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// ---- enum encodings -----------------------------------------------------------------------

pub(crate) fn roles_to_text(roles: &BTreeSet<Role>) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn roles_from_text(s: &str) -> StoreResult<BTreeSet<Role>> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| Role::from_str(p).map_err(corrupt))
        .collect()
}

pub(crate) fn parse<T: FromStr<Err = String>>(s: &str) -> StoreResult<T> {
    T::from_str(s).map_err(corrupt)
}

pub(crate) fn session_kind_from(s: &str) -> StoreResult<SessionKind> {
    match s {
        "login" => Ok(SessionKind::Login),
        "proxy" => Ok(SessionKind::Proxy),
        other => Err(corrupt(format!("unknown session kind {other:?}"))),
    }
}

pub(crate) fn access_to_text(a: WorkspaceAccess) -> &'static str {
    match a {
        WorkspaceAccess::Full => "full",
        WorkspaceAccess::Guest => "guest",
    }
}

pub(crate) fn allowlist_kind_to_text(k: AllowlistKind) -> &'static str {
    match k {
        AllowlistKind::Domain => "domain",
        AllowlistKind::Address => "address",
    }
}

/// The `org_scope` column: the org id, or the nil uuid for a deployment-wide entry.
pub(crate) fn allowlist_scope(org: Option<OrgId>) -> uuid::Uuid {
    org.map_or(uuid::Uuid::nil(), |o| o.0)
}

pub(crate) fn allowlist_org(scope: uuid::Uuid) -> Option<OrgId> {
    (!scope.is_nil()).then_some(OrgId(scope))
}

pub(crate) fn settings_scope(scope: SettingsScope) -> (&'static str, uuid::Uuid) {
    match scope {
        SettingsScope::Org(o) => ("org", o.0),
        SettingsScope::User(u) => ("user", u.0),
    }
}

// ---- revocation events --------------------------------------------------------------------

pub(crate) fn event_columns(ev: &RevocationEvent) -> (&'static str, String) {
    match ev {
        RevocationEvent::Session(id) => ("session", id.0.clone()),
        RevocationEvent::Credential(id) => ("credential", id.to_string()),
        RevocationEvent::User(id) => ("user", id.to_string()),
        RevocationEvent::Org(id) => ("org", id.to_string()),
        RevocationEvent::Key(kid) => ("key", kid.clone()),
        RevocationEvent::Client(id) => ("client", id.clone()),
    }
}

pub(crate) fn event_from_columns(kind: &str, subject: String) -> StoreResult<RevocationEvent> {
    let bad = |e: uuid::Error| corrupt(format!("revocation event subject {subject:?}: {e}"));
    match kind {
        "session" => Ok(RevocationEvent::Session(SessionId(subject))),
        "credential" => Ok(RevocationEvent::Credential(
            CredentialId::from_str(&subject).map_err(bad)?,
        )),
        "user" => Ok(RevocationEvent::User(
            UserId::from_str(&subject).map_err(bad)?,
        )),
        "org" => Ok(RevocationEvent::Org(
            OrgId::from_str(&subject).map_err(bad)?,
        )),
        "key" => Ok(RevocationEvent::Key(subject)),
        "client" => Ok(RevocationEvent::Client(subject)),
        other => Err(corrupt(format!("unknown revocation event kind {other:?}"))),
    }
}

// ---- JSON ---------------------------------------------------------------------------------

pub(crate) fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| corrupt(format!("unencodable JSON: {e}")))
}

pub(crate) fn json_parse<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("stored JSON: {e}")))
}

// ---- search -------------------------------------------------------------------------------

/// A `LIKE` pattern matching `text` as a substring, case-folded like the `*_norm` columns,
/// with the wildcards `%` and `_` and the escape character `\` taken literally.
pub(crate) fn like_substring(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The display-name key searched and sorted on.
pub(crate) fn name_key(display_name: &str) -> String {
    display_name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escapes_wildcards() {
        assert_eq!(like_substring("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn roles_round_trip() {
        let roles: BTreeSet<Role> = [Role::Executor, Role::Admin].into_iter().collect();
        let text = roles_to_text(&roles);
        assert_eq!(text, "ADMIN,EXECUTOR");
        assert_eq!(roles_from_text(&text).ok(), Some(roles));
        assert_eq!(roles_from_text("").ok(), Some(BTreeSet::new()));
    }

    #[test]
    fn events_round_trip() {
        for ev in [
            RevocationEvent::Session(SessionId("abc".into())),
            RevocationEvent::Credential(CredentialId::new()),
            RevocationEvent::User(UserId::new()),
            RevocationEvent::Org(OrgId::new()),
            RevocationEvent::Key("ed25519-abc".into()),
            RevocationEvent::Client("my-app".into()),
        ] {
            let (k, s) = event_columns(&ev);
            assert_eq!(event_from_columns(k, s).ok(), Some(ev));
        }
    }
}
