//! The core's error vocabulary. Each surface maps these to its own wire errors
//! (Parsable `SystemException` codes, Nominal Conjure error names).

use std::time::Duration;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Wrong password, unknown email, locked or deactivated account, password login disabled:
    /// one answer for all, so accounts cannot be enumerated.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// No credential where one is needed.
    #[error("authentication required")]
    Unauthenticated,
    /// A token or credential that is malformed, forged, revoked or of the wrong kind.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// A genuine token past its expiry.
    #[error("token expired")]
    TokenExpired,
    /// The caller is known but lacks the role or membership needed.
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    /// A credential (or a token minted from one) tried a credential-only-forbidden action.
    #[error("a credential cannot {0}")]
    CredentialNotAllowed(&'static str),
    /// The org (team) is disabled.
    #[error("the org is disabled")]
    OrgDisabled,
    /// The user has no org the request could act in.
    #[error("no membership")]
    NoMembership,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A per-account quota is full (e.g. live API keys per user).
    #[error("limit exceeded: at most {limit} {what}")]
    LimitExceeded { what: &'static str, limit: u32 },
    /// A multi-factor rule refused the request (docs/design/mfa.md).
    #[error("{0}")]
    Mfa(MfaRefusal),
    /// Throttled; retry after the given delay.
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A bug or an unexpected failure; the message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

/// Why a multi-factor rule refused a request. Each surface maps every case to its own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MfaRefusal {
    /// The password was right, but this account signs in with a second factor, which this
    /// API cannot ask for: the client must use web sign-in.
    #[error("this account signs in with a second factor: use web sign-in")]
    SecondFactorRequired,
    /// The password was right, but the account must enrol a second factor first, which only
    /// web sign-in can do.
    #[error("this account must enrol a second factor: use web sign-in")]
    EnrolmentRequired,
    /// Adding or removing a factor needs a password or factor check within the last minutes.
    #[error("re-authenticate first: confirm your password or a second factor")]
    RecentAuthenticationRequired,
    /// A wrong, replayed or spent code (or a locked account): one answer for all.
    #[error("the code is not valid")]
    InvalidCode,
    /// The org policy refuses this kind of factor (`passkeys_only` refuses TOTP).
    #[error("the organisation allows passkeys only")]
    KindNotAllowed,
    /// Creating a credential needs a session signed in with a second factor.
    #[error("this needs a session signed in with a second factor")]
    SessionWithoutSecondFactor,
}

impl CoreError {
    /// The database could not serve the request (unreachable, read-only, timed out): a
    /// transient fault that surfaces answer with their "unavailable, retry" error rather than
    /// an internal error.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CoreError::Store(StoreError::Unavailable(_)))
    }
}

impl From<crate::password::HashError> for CoreError {
    fn from(e: crate::password::HashError) -> Self {
        match e {
            // A full hashing queue is load, not a fault: the API's "slow down" answer.
            crate::password::HashError::Busy => CoreError::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            e => CoreError::Internal(e.to_string()),
        }
    }
}

impl From<crate::keys::KeyError> for CoreError {
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            // Keep a store fault what it is, so an outage reads as one.
            crate::keys::KeyError::Store(e) => CoreError::Store(e),
            e => CoreError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyError;

    #[test]
    fn only_an_unavailable_store_is_unavailable() {
        assert!(CoreError::Store(StoreError::Unavailable("down".into())).is_unavailable());
        assert!(!CoreError::Store(StoreError::Corrupt("row".into())).is_unavailable());
        assert!(!CoreError::Internal("bug".into()).is_unavailable());
        assert!(
            !CoreError::RateLimited {
                retry_after: Duration::from_secs(1)
            }
            .is_unavailable()
        );
    }

    #[test]
    fn a_key_ring_that_cannot_reach_the_store_reports_the_store() {
        let e = CoreError::from(KeyError::Store(StoreError::Unavailable("down".into())));
        assert!(e.is_unavailable(), "{e:?}");
        let e = CoreError::from(KeyError::Malformed("kid".into()));
        assert!(matches!(e, CoreError::Internal(_)), "{e:?}");
    }
}
