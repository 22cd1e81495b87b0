//! Initial access tokens (RFC 7591 §3): what an operator hands out so that someone may
//! register clients when `core.oidc.registration.mode = "initial_token"`. Each is 256 random
//! bits, shown once, stored as its SHA-256, and may expire, be limited to a number of
//! registrations, and be revoked.

use super::*;
use crate::crypto;

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;
/// The longest a token may live: an operator asking for more wants a deployment secret.
const MAX_EXPIRES_SECS: i64 = 366 * 24 * 3600;

/// A token as the operator sees it: never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialTokenView {
    pub id: Uuid,
    pub label: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<Timestamp>,
    /// Revoked, expired or used up: `false`.
    pub usable: bool,
}

impl InitialTokenView {
    fn new(t: &InitialAccessToken, now: Timestamp) -> Self {
        InitialTokenView {
            id: t.id,
            label: t.label.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            max_uses: t.max_uses,
            uses: t.uses,
            revoked_at: t.revoked_at,
            usable: t.is_usable(now),
        }
    }
}

/// A new token with its plaintext: the one time it is shown.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedInitialToken {
    #[serde(flatten)]
    pub view: InitialTokenView,
    #[serde(serialize_with = "reveal_token")]
    pub token: Zeroizing<String>,
}

fn reveal_token<S: serde::Serializer>(t: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t)
}

impl std::fmt::Debug for IssuedInitialToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInitialToken")
            .field("view", &self.view)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Admin {
    /// Mints a token: `expires_in_secs` (1 s to a year; none: it never expires) and
    /// `max_uses` (at least 1; none: any number of registrations).
    pub async fn create_initial_token(
        &self,
        label: &str,
        expires_in_secs: Option<i64>,
        max_uses: Option<i64>,
    ) -> AdminResult<IssuedInitialToken> {
        let label = clean(label);
        if label.chars().count() > 200 || label.chars().any(char::is_control) {
            return Err(AdminError::Invalid(
                "label must be at most 200 characters without control characters".into(),
            ));
        }
        if expires_in_secs.is_some_and(|s| !(1..=MAX_EXPIRES_SECS).contains(&s)) {
            return Err(AdminError::Invalid(format!(
                "expires must be from 1 second to {MAX_EXPIRES_SECS} seconds"
            )));
        }
        if max_uses.is_some_and(|n| n < 1) {
            return Err(AdminError::Invalid("uses must be at least 1".into()));
        }
        let now = now();
        let token = Zeroizing::new(crypto::random_token(TOKEN_BYTES));
        let record = InitialAccessToken {
            id: Uuid::new_v4(),
            token_hash: hex::encode(crypto::sha256(token.as_bytes())),
            label,
            created_at: now,
            expires_at: expires_in_secs.map(|s| now + chrono::TimeDelta::seconds(s)),
            max_uses,
            uses: 0,
            revoked_at: None,
        };
        let view = InitialTokenView::new(&record, now);
        self.audited(
            AuditAction::InitialTokenCreate,
            Some(record.id.to_string()),
            json!({ "label": record.label, "expires_at": record.expires_at, "max_uses": max_uses }),
            self.store.create_initial_access_token(record.clone()),
        )
        .await?;
        Ok(IssuedInitialToken { view, token })
    }

    /// Every token, newest first.
    pub async fn list_initial_tokens(&self) -> AdminResult<Vec<InitialTokenView>> {
        let now = now();
        Ok(self
            .store
            .list_initial_access_tokens()
            .await?
            .iter()
            .map(|t| InitialTokenView::new(t, now))
            .collect())
    }

    /// Revokes a token at once: registrations already made with it stay.
    pub async fn revoke_initial_token(&self, id: &str) -> AdminResult<()> {
        let id = Uuid::from_str(id.trim())
            .map_err(|_| AdminError::Invalid(format!("{id:?} is not a token id")))?;
        let found = self
            .audited(
                AuditAction::InitialTokenRevoke,
                Some(id.to_string()),
                json!({}),
                self.store.revoke_initial_access_token(id, now()),
            )
            .await?;
        if found {
            Ok(())
        } else {
            Err(AdminError::NotFound(format!(
                "unknown initial access token {id}"
            )))
        }
    }
}
