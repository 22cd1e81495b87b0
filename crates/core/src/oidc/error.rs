//! OAuth errors as the protocol names them (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6,
//! RFC 7009, RFC 7662): a code the client acts on and a description for people.

use crate::error::CoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
}

macro_rules! codes {
    ($($fn_name:ident => $code:literal),+ $(,)?) => {
        impl OAuthError {
            $(pub fn $fn_name(description: impl Into<String>) -> Self {
                OAuthError { code: $code, description: description.into() }
            })+
        }
    };
}

codes!(
    invalid_request => "invalid_request",
    invalid_client => "invalid_client",
    invalid_grant => "invalid_grant",
    unauthorized_client => "unauthorized_client",
    unsupported_grant_type => "unsupported_grant_type",
    unsupported_response_type => "unsupported_response_type",
    unsupported_token_type => "unsupported_token_type",
    invalid_scope => "invalid_scope",
    // RFC 8707 §2 / RFC 8693 §2.2.2: the requested audience or resource is not allowed.
    invalid_target => "invalid_target",
    access_denied => "access_denied",
    login_required => "login_required",
    consent_required => "consent_required",
    account_selection_required => "account_selection_required",
    // OpenID Connect Core 1.0 errata / RFC 9470: the requested `acr` cannot be met.
    unmet_authentication_requirements => "unmet_authentication_requirements",
    request_not_supported => "request_not_supported",
    request_uri_not_supported => "request_uri_not_supported",
    server_error => "server_error",
    temporarily_unavailable => "temporarily_unavailable",
    invalid_token => "invalid_token",
    insufficient_scope => "insufficient_scope",
    // RFC 7591 §3.2.2: dynamic client registration.
    invalid_redirect_uri => "invalid_redirect_uri",
    invalid_client_metadata => "invalid_client_metadata",
    invalid_software_statement => "invalid_software_statement",
);

impl OAuthError {
    /// The HTTP status of this error at the token, introspection and revocation endpoints.
    pub fn status(&self) -> u16 {
        match self.code {
            "invalid_client" | "invalid_token" => 401,
            "insufficient_scope" => 403,
            "server_error" => 500,
            // At the token endpoint this is throttling (a locked client, a busy hash pool).
            "temporarily_unavailable" => 429,
            _ => 400,
        }
    }
}

impl From<CoreError> for OAuthError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::RateLimited { .. } => {
                OAuthError::temporarily_unavailable("too many requests; retry later")
            }
            CoreError::InvalidToken(_) | CoreError::TokenExpired => {
                OAuthError::invalid_grant("the grant is invalid, expired or revoked")
            }
            CoreError::OrgDisabled | CoreError::NoMembership | CoreError::PermissionDenied(_) => {
                OAuthError::access_denied("the user may not sign in to this application")
            }
            other => {
                tracing::error!(error = %other, "OpenID provider failure");
                OAuthError::server_error("the server could not complete the request")
            }
        }
    }
}
