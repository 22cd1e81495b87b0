//! `CoreError` → `SystemException` (PARSABLE.md §6).

use portcullis_core::store::StoreError;
use portcullis_core::{CoreError, MfaRefusal};

use crate::wire::{ErrorCode, Method, SystemException};

/// The one message for every credential failure, so that nothing tells which part was wrong.
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
const INTERNAL: &str = "Internal server error";
const UNAVAILABLE: &str = "Service temporarily unavailable; retry shortly";

/// A declared error (`err`) before it gets its request id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} {slug}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    /// Stable kebab-case tag.
    pub slug: &'static str,
    /// Plain English, sent as `message` and `localizedMessage`.
    pub message: String,
    /// Detail for the log only (internal faults); never sent.
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, slug: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            slug,
            message: message.into(),
            detail: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BAD_REQUEST, "bad-request", message)
    }

    pub fn missing_token() -> Self {
        Self::new(
            ErrorCode::UNAUTHORIZED,
            "missing-token",
            "Authentication required: send 'Authorization: Token <authToken>'",
        )
    }

    pub fn invalid_token() -> Self {
        Self::new(ErrorCode::INVALID_TOKEN, "invalid-token", "Invalid token")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::NOT_FOUND,
            "not-found",
            format!("Unknown {}", wire_noun(what)),
        )
    }

    /// A multi-factor refusal. A password login of an account that signs in with a second
    /// factor (or must enrol one) is 412 with a slug and message that send the client to web
    /// sign-in (`startLogin` → `webSSO`), distinct from 401 so no client mistakes it for a
    /// wrong password.
    pub fn mfa(refusal: MfaRefusal) -> Self {
        let text = refusal.to_string();
        let mut chars = text.chars();
        let message: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        match refusal {
            MfaRefusal::SecondFactorRequired => Self::new(
                ErrorCode::PRECONDITION_FAILED,
                "second-factor-required",
                message,
            ),
            MfaRefusal::EnrolmentRequired => Self::new(
                ErrorCode::PRECONDITION_FAILED,
                "mfa-enrolment-required",
                message,
            ),
            MfaRefusal::InvalidCode => Self::new(ErrorCode::UNAUTHORIZED, "invalid-code", message),
            MfaRefusal::SessionWithoutSecondFactor
            | MfaRefusal::RecentAuthenticationRequired
            | MfaRefusal::KindNotAllowed => Self::new(
                ErrorCode::INSUFFICIENT_PERMISSIONS,
                "second-factor-required",
                message,
            ),
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::INTERNAL_SERVER_ERROR,
            slug: "internal-error",
            message: INTERNAL.into(),
            detail: Some(detail.into()),
        }
    }

    /// err 503 SERVICE_UNAVAILABLE, as for a rate limit: the database cannot serve now; retry.
    /// The cause goes to the logs only.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::SERVICE_UNAVAILABLE,
            slug: "unavailable",
            message: UNAVAILABLE.into(),
            detail: Some(detail.into()),
        }
    }

    /// Maps a core error for a call of `method`.
    pub fn from_core(e: CoreError, method: Method) -> Self {
        match e {
            CoreError::InvalidCredentials => Self::new(
                ErrorCode::UNAUTHORIZED,
                "invalid-credentials",
                INVALID_CREDENTIALS,
            ),
            CoreError::Unauthenticated => match method {
                // The token is the argument there: missing counts as invalid.
                Method::LoginWithToken => Self::invalid_token(),
                _ => Self::missing_token(),
            },
            CoreError::InvalidToken(_) => Self::invalid_token(),
            CoreError::TokenExpired => {
                Self::new(ErrorCode::TOKEN_EXPIRED, "token-expired", "Token expired")
            }
            CoreError::PermissionDenied(why) => Self::new(
                ErrorCode::INSUFFICIENT_PERMISSIONS,
                "insufficient-permissions",
                format!("Insufficient permissions: {why}"),
            ),
            CoreError::CredentialNotAllowed(what) => match method {
                // A persistent token cannot be exchanged for a team token (§8).
                Method::CreateTeamToken => Self::new(
                    ErrorCode::INVALID_TOKEN,
                    "wrong-token-kind",
                    "A persistent token cannot be exchanged for a team token",
                ),
                _ => Self::new(
                    ErrorCode::INSUFFICIENT_PERMISSIONS,
                    "credential-not-allowed",
                    format!("Insufficient permissions: a persistent token cannot {what}"),
                ),
            },
            CoreError::OrgDisabled => Self::new(
                ErrorCode::FORBIDDEN,
                "team-disabled",
                "The team is disabled",
            ),
            CoreError::NoMembership => match method {
                // The target of createPersistentAuth has no team to act in.
                Method::CreatePersistentAuth => {
                    Self::bad_request("The user is not an active member of any team")
                }
                // A login (or proxy login) for an account that is on no enabled team.
                _ => Self::new(
                    ErrorCode::INSUFFICIENT_PERMISSIONS,
                    "no-team",
                    "The account is not an active member of any team",
                ),
            },
            CoreError::NotFound(what) => Self::not_found(what),
            CoreError::InvalidArgument(m) => Self::bad_request(m),
            CoreError::Conflict(m) => Self::new(ErrorCode::BAD_REQUEST, "conflict", m),
            e @ CoreError::LimitExceeded { .. } => {
                Self::new(ErrorCode::BAD_REQUEST, "limit-exceeded", e.to_string())
            }
            CoreError::Mfa(refusal) => Self::mfa(refusal),
            CoreError::RateLimited { retry_after } => Self::new(
                ErrorCode::SERVICE_UNAVAILABLE,
                "rate-limited",
                format!(
                    "Too many requests; retry in {} s",
                    retry_after.as_secs().max(1)
                ),
            ),
            e @ CoreError::Store(StoreError::Unavailable(_)) => Self::unavailable(e.to_string()),
            CoreError::Store(e) => Self::internal(format!("store: {e}")),
            CoreError::Internal(m) => Self::internal(m),
        }
    }

    /// The wire exception with its request id.
    pub fn into_exception(self, rq_id: String) -> SystemException {
        SystemException {
            error_code: self.code,
            localized_message: self.message.clone(),
            message: self.message,
            slug: self.slug.to_string(),
            rq_id,
            error_key: None,
        }
    }
}

/// Parsable calls orgs "teams".
fn wire_noun(what: &str) -> &str {
    match what {
        "org" => "team",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    fn code(e: CoreError, m: Method) -> i32 {
        ApiError::from_core(e, m).code.0
    }

    #[test]
    fn table_of_section_6() {
        let m = Method::Login;
        assert_eq!(code(CoreError::InvalidCredentials, m), 401);
        assert_eq!(code(CoreError::Unauthenticated, Method::Refresh), 401);
        assert_eq!(
            code(CoreError::Unauthenticated, Method::LoginWithToken),
            497
        );
        assert_eq!(code(CoreError::InvalidToken("x"), m), 497);
        assert_eq!(code(CoreError::TokenExpired, m), 498);
        assert_eq!(code(CoreError::PermissionDenied("x"), m), 476);
        assert_eq!(
            code(
                CoreError::CredentialNotAllowed("x"),
                Method::CreatePersistentAuth
            ),
            476
        );
        assert_eq!(
            code(
                CoreError::CredentialNotAllowed("x"),
                Method::CreateTeamToken
            ),
            497
        );
        assert_eq!(code(CoreError::OrgDisabled, m), 403);
        assert_eq!(code(CoreError::NotFound("org"), m), 404);
        assert_eq!(code(CoreError::InvalidArgument("x".into()), m), 400);
        assert_eq!(
            code(
                CoreError::RateLimited {
                    retry_after: Duration::from_secs(2)
                },
                m
            ),
            503
        );
        assert_eq!(code(CoreError::NoMembership, m), 476);
        assert_eq!(
            code(CoreError::NoMembership, Method::CreatePersistentAuth),
            400
        );
        assert_eq!(
            code(CoreError::Store(StoreError::Unavailable("db".into())), m),
            503
        );
        assert_eq!(
            code(CoreError::Store(StoreError::Corrupt("row".into())), m),
            500
        );
        assert_eq!(code(CoreError::Internal("bug".into()), m), 500);
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let e = ApiError::from_core(CoreError::Internal("secret detail".into()), Method::Login);
        let x = e.into_exception("r1".into());
        assert_eq!(x.message, INTERNAL);
        assert_eq!(x.localized_message, INTERNAL);
        assert_eq!(x.slug, "internal-error");
        assert_eq!(x.rq_id, "r1");
    }

    #[test]
    fn an_unreachable_database_is_unavailable_and_its_cause_is_not_sent() {
        let cause = StoreError::Unavailable("connection refused to 10.0.0.7:5432".into());
        let e = ApiError::from_core(CoreError::Store(cause), Method::Login);
        assert!(e.detail.as_deref().is_some_and(|d| d.contains("10.0.0.7")));
        let x = e.into_exception("r2".into());
        assert_eq!(x.error_code, ErrorCode::SERVICE_UNAVAILABLE);
        assert_eq!(x.slug, "unavailable");
        assert_eq!(x.message, UNAVAILABLE);
        assert!(!x.message.contains("10.0.0.7"));
    }

    #[test]
    fn credential_failures_share_one_message() {
        let x = ApiError::from_core(CoreError::InvalidCredentials, Method::Login)
            .into_exception(String::new());
        assert_eq!(x.message, "Invalid email or password");
        assert_eq!(x.slug, "invalid-credentials");
        assert_eq!(
            ApiError::not_found("org").message,
            "Unknown team",
            "orgs are teams on this surface"
        );
    }
}
