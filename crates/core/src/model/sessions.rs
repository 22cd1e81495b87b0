//! Sessions and the revocation events cached views pick up.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// An ordinary login.
    Login,
    /// A super-admin acting as another user.
    Proxy,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Login => "login",
            SessionKind::Proxy => "proxy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub kind: SessionKind,
    /// RFC 8176 method references, e.g. `pwd`, `fed`.
    pub amr: Vec<String>,
    /// The impersonating super-admin, for proxy sessions.
    pub actor_id: Option<UserId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub idle_timeout_secs: Option<i64>,
    pub last_seen_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Set for the tokens one OpenID client got in one browser sign-in.
    pub grant: Option<SessionGrant>,
}

impl Session {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A change that cached views of revocation state must pick up. Rows are hints: the entity
/// tables stay the truth, and a view reloads the named subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationEvent {
    Session(SessionId),
    Credential(CredentialId),
    /// The user's flags, memberships, sessions or credentials changed.
    User(UserId),
    /// The org was disabled or enabled.
    Org(OrgId),
    /// A signing key was revoked (its kid).
    Key(String),
    /// An OpenID client's settings, secrets or state changed (its id): cached copies go.
    Client(String),
}
