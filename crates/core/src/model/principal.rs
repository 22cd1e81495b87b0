//! The authenticated caller, as every surface and use case sees it (docs/design/architecture.md).

use super::{CredentialId, OrgId, SessionId, Timestamp, UserId};

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An access token of a session.
    Session {
        session: SessionId,
        org_scoped: bool,
    },
    /// An access token minted from a credential (`akr`).
    MintedFromCredential {
        credential: CredentialId,
        session: SessionId,
    },
    /// The credential secret itself.
    Credential { credential: CredentialId },
}

/// A validated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    pub org: OrgId,
    pub guest: bool,
    pub via: Via,
    /// The impersonating super-admin, on proxy sessions.
    pub actor: Option<UserId>,
    pub amr: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub issued_at: Option<Timestamp>,
}

impl Principal {
    /// True for a credential or a token minted from one: such callers may not mint
    /// credentials, switch org or impersonate.
    pub fn is_credential_based(&self) -> bool {
        matches!(
            self.via,
            Via::Credential { .. } | Via::MintedFromCredential { .. }
        )
    }

    pub fn session(&self) -> Option<&SessionId> {
        match &self.via {
            Via::Session { session, .. } => Some(session),
            _ => None,
        }
    }

    pub fn credential(&self) -> Option<CredentialId> {
        match &self.via {
            Via::Credential { credential } | Via::MintedFromCredential { credential, .. } => {
                Some(*credential)
            }
            Via::Session { .. } => None,
        }
    }
}
