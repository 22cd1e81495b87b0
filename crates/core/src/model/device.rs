//! The device authorization grant's record (RFC 8628; docs/design/oidc-provider.md, "Device
//! flow"): one row per device authorization request, found by the hash of its device code (the
//! polling client) or of its user code (the person at the `/device` page).

use super::*;

/// What the person at the `/device` page decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceDecision {
    Approved(DeviceApproval),
    Denied,
}

/// Who approved, and how they had signed in: what the tokens will carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceApproval {
    pub user_id: UserId,
    pub org_id: OrgId,
    /// The browser sign-in the approval was given in (the grant session's parent, `sid`).
    pub browser_session: SessionId,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub acr: String,
}

/// A device authorization request. Both codes are stored only as hashes: the device code as its
/// SHA-256 (256 random bits), the user code as an HMAC under a key derived from the master key
/// (its 20^8 space is small enough to search a plain hash of).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCode {
    /// Hex SHA-256 of the device code.
    pub device_code_hash: String,
    /// Hex HMAC-SHA256 of the normalised user code.
    pub user_code_hash: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The polling interval the client must keep; grows by 5 s with every `slow_down`.
    pub interval_secs: i64,
    /// How many polls were recorded (the compare-and-set guard of the next one).
    pub polls: i64,
    pub last_polled_at: Option<Timestamp>,
    pub decision: Option<DeviceDecision>,
    pub decided_at: Option<Timestamp>,
    /// Set by the one token request that redeemed the approval.
    pub consumed_at: Option<Timestamp>,
    /// The session that redemption started (a replay ends it).
    pub grant_session: Option<SessionId>,
}

impl DeviceCode {
    /// Still waiting for the person: neither decided nor expired.
    pub fn is_pending(&self, now: Timestamp) -> bool {
        self.decision.is_none() && self.expires_at > now
    }
}

/// Redeeming an approved device code at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRedemption {
    /// First use: the code is now consumed.
    Redeemed(DeviceCode),
    /// Consumed before: a replay.
    AlreadyUsed(DeviceCode),
    /// Unknown, or not (or no longer) approved.
    NotApproved,
}
