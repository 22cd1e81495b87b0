//! Stored browser-SSO flow records (the `sso_flows` table; the flow itself is `websso.rs`).

use super::Timestamp;

/// Which step a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoFlowKind {
    /// A start token from `startLogin`.
    Start,
    /// A flow waiting for the provider's callback, keyed by `state`.
    Callback,
}

impl SsoFlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SsoFlowKind::Start => "start",
            SsoFlowKind::Callback => "callback",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "start" => Some(SsoFlowKind::Start),
            "callback" => Some(SsoFlowKind::Callback),
            _ => None,
        }
    }
}

/// One stored flow record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoFlowRecord {
    /// Hex SHA-256 of the start token or of the state.
    pub key_hash: String,
    pub kind: SsoFlowKind,
    /// The provider alias.
    pub provider: String,
    /// The address given to `startLogin`, passed on as `login_hint`.
    pub login_hint: Option<String>,
    /// Callback records: the nonce sent in the authorization request.
    pub nonce: Option<String>,
    /// Callback records: the PKCE code verifier (needed in clear at the token endpoint).
    pub pkce_verifier: Option<String>,
    /// Callback records: hex SHA-256 of the browser-binding cookie value.
    pub binding_hash: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}
