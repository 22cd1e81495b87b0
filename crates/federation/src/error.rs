//! Federation failures, precise enough for both APIs' error tables. Messages never contain a
//! token; `ProviderUnavailable` names the provider and what failed.

use portcullis_core::CoreError;
use portcullis_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The provider registry is misconfigured.
    #[error("federation configuration: {0}")]
    Config(String),
    /// Not a decodable JWT (or a claim of the wrong type).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `iss` names no configured provider (or not the one the caller named).
    #[error("unknown issuer {issuer}")]
    UnknownIssuer { issuer: String },
    /// The named provider alias is not configured.
    #[error("unknown identity provider {0}")]
    UnknownProvider(String),
    /// `alg` is outside the allowlist (`none`, HS*, or not allowed for this provider).
    #[error("signature algorithm {0:?} is not accepted")]
    DisallowedAlgorithm(String),
    /// No published key verifies the signature.
    #[error("bad token signature")]
    BadSignature,
    /// `aud` (or `azp`) names no accepted client id.
    #[error("token audience {audience} is not accepted")]
    BadAudience { audience: String },
    /// A genuine token past its `exp` (plus leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` lies in the future (beyond leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// Claims the flow needs are absent (e.g. `["email"]`).
    #[error("missing claims: {}", .0.join(", "))]
    MissingClaims(Vec<String>),
    /// A genuine identity with no account: no link, linking not allowed, JIT off, or the email
    /// allow-list denies provisioning.
    #[error("no account for this identity: {0}")]
    NoAccount(&'static str),
    /// Discovery, JWKS or userinfo could not be fetched (down, timeout, bad answer).
    #[error("identity provider unavailable: {0}")]
    ProviderUnavailable(String),
    /// The userinfo endpoint refused the access token.
    #[error("the identity provider rejected the access token")]
    UserinfoRejected,
    /// Introspection (RFC 7662) reports the access token inactive: unknown, revoked, expired,
    /// or not an access token.
    #[error("the identity provider reports the access token inactive")]
    TokenInactive,
    /// An opaque access token from a provider without introspection credentials that has not
    /// opted into `opaque_tokens_via_userinfo`: nothing can tell which client it was minted for.
    #[error("opaque access tokens of provider {0} cannot be verified (no introspection)")]
    OpaqueTokenUnverifiable(String),
    /// Userinfo's `sub` differs from the ID token's.
    #[error("userinfo subject does not match the ID token")]
    UserinfoMismatch,
    /// Nominal org selection: the workspace RID names no workspace.
    #[error("workspace {0} not found")]
    WorkspaceNotFound(String),
    /// No org can be chosen for the user.
    #[error("no membership")]
    NoMembership,
    /// The user is deactivated in the chosen org, or the org is disabled or not allowed.
    #[error("not authorized: {0}")]
    NotAuthorized(&'static str),
    /// A request argument is invalid (e.g. `orgRid` disagreeing with `workspaceRid`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl FederationError {
    /// The failure is about the presented token (forged, foreign, expired…), as opposed to the
    /// account, the provider's availability or an internal fault.
    pub fn is_token_failure(&self) -> bool {
        matches!(
            self,
            FederationError::Malformed(_)
                | FederationError::UnknownIssuer { .. }
                | FederationError::UnknownProvider(_)
                | FederationError::DisallowedAlgorithm(_)
                | FederationError::BadSignature
                | FederationError::BadAudience { .. }
                | FederationError::Expired
                | FederationError::NotYetValid
                | FederationError::UserinfoRejected
                | FederationError::TokenInactive
                | FederationError::OpaqueTokenUnverifiable(_)
                | FederationError::UserinfoMismatch
        )
    }
}

/// For surfaces that already map [`CoreError`]: token failures become `InvalidToken` /
/// `TokenExpired`, `NoAccount` becomes `Unauthenticated` (Parsable 401), org failures the
/// matching core errors, and an unreachable provider `Internal`.
impl From<FederationError> for CoreError {
    fn from(e: FederationError) -> Self {
        match e {
            FederationError::Expired => CoreError::TokenExpired,
            FederationError::Malformed(_) => CoreError::InvalidToken("malformed upstream token"),
            FederationError::UnknownIssuer { .. } | FederationError::UnknownProvider(_) => {
                CoreError::InvalidToken("unknown identity provider")
            }
            FederationError::DisallowedAlgorithm(_)
            | FederationError::BadSignature
            | FederationError::BadAudience { .. }
            | FederationError::NotYetValid
            | FederationError::UserinfoRejected
            | FederationError::TokenInactive
            | FederationError::OpaqueTokenUnverifiable(_)
            | FederationError::UserinfoMismatch => {
                CoreError::InvalidToken("upstream token rejected")
            }
            FederationError::MissingClaims(c) => {
                CoreError::InvalidArgument(format!("missing claims: {}", c.join(", ")))
            }
            FederationError::NoAccount(_) => CoreError::Unauthenticated,
            FederationError::WorkspaceNotFound(_) => CoreError::NotFound("workspace"),
            FederationError::NoMembership => CoreError::NoMembership,
            FederationError::NotAuthorized(m) => CoreError::PermissionDenied(m),
            FederationError::InvalidArgument(m) => CoreError::InvalidArgument(m),
            FederationError::Core(c) => c,
            FederationError::Store(s) => CoreError::Store(s),
            FederationError::Config(m) | FederationError::ProviderUnavailable(m) => {
                CoreError::Internal(m)
            }
        }
    }
}
