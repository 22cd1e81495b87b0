//! Conjure service errors (NOMINAL.md §10).
//!
//! Every non-2xx answer except 405 is a [`ConjureError`] rendered as
//! `{"errorCode","errorName","errorInstanceId","parameters"}` with
//! `Content-Type: application/json`. `parameters` holds string values only;
//! list/set arguments are compact JSON-array strings; unsafe arguments are
//! never included.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Conjure error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 403
    PermissionDenied,
    /// 400
    InvalidArgument,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 413
    RequestEntityTooLarge,
    /// 500
    FailedPrecondition,
    /// 500
    Internal,
    /// 500
    Timeout,
    /// 400
    CustomClient,
    /// 500
    CustomServer,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::PermissionDenied,
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RequestEntityTooLarge,
        ErrorCode::FailedPrecondition,
        ErrorCode::Internal,
        ErrorCode::Timeout,
        ErrorCode::CustomClient,
        ErrorCode::CustomServer,
    ];

    /// The wire name, e.g. `INVALID_ARGUMENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RequestEntityTooLarge => "REQUEST_ENTITY_TOO_LARGE",
            ErrorCode::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::CustomClient => "CUSTOM_CLIENT",
            ErrorCode::CustomServer => "CUSTOM_SERVER",
        }
    }

    /// Parses a wire name.
    pub fn from_wire(s: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status of the code (§10 table).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidArgument | ErrorCode::CustomClient => StatusCode::BAD_REQUEST,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::FailedPrecondition
            | ErrorCode::Internal
            | ErrorCode::Timeout
            | ErrorCode::CustomServer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Conjure service error.
///
/// Build one with a named constructor (one per errorName of §10), optionally
/// add a [`detail`](ConjureError::with_detail) that is logged but never sent,
/// and return it from a handler: it implements [`IntoResponse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} ({code})")]
pub struct ConjureError {
    code: ErrorCode,
    name: Cow<'static, str>,
    params: BTreeMap<String, String>,
    detail: Option<String>,
}

/// Handler result type.
pub type ConjureResult<T> = Result<T, ConjureError>;

/// Renders a list/set argument as a compact JSON array of strings.
fn json_string_array<I>(items: I) -> String
where
    I: IntoIterator,
    I::Item: fmt::Display,
{
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".to_owned())
}

impl ConjureError {
    /// A custom error. Prefer the named constructors.
    pub fn new(code: ErrorCode, name: impl Into<Cow<'static, str>>) -> Self {
        ConjureError {
            code,
            name: name.into(),
            params: BTreeMap::new(),
            detail: None,
        }
    }

    /// Adds a safe parameter, written as its `Display` form.
    pub fn with_param(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.params.insert(key.into(), value.to_string());
        self
    }

    /// Adds a list/set parameter, written as a compact JSON-array string.
    pub fn with_list_param<I>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        self.params.insert(key.into(), json_string_array(values));
        self
    }

    /// Attaches a diagnostic that is logged with the instance id but never
    /// sent to the client.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error name, `Namespace:Name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The safe parameters.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    /// The logged-only diagnostic.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The wire body with the given instance id.
    pub fn to_body(&self, error_instance_id: uuid::Uuid) -> SerializableError {
        SerializableError {
            error_code: self.code.as_str().to_owned(),
            error_name: self.name.to_string(),
            error_instance_id: error_instance_id.hyphenated().to_string(),
            parameters: self.params.clone(),
        }
    }

    // ------------------------------------------------------------ Default

    /// `Default:InvalidArgument` (400): malformed requests and other 400s.
    pub fn invalid_argument() -> Self {
        Self::new(ErrorCode::InvalidArgument, "Default:InvalidArgument")
    }

    /// `Default:PermissionDenied` (403): missing or non-Bearer `Authorization`.
    pub fn permission_denied() -> Self {
        Self::new(ErrorCode::PermissionDenied, "Default:PermissionDenied")
    }

    /// `Default:NotFound` (404): unknown route; MediaMTX disabled.
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Default:NotFound")
    }

    /// `Default:RequestEntityTooLarge` (413): body over 1 MiB.
    pub fn request_entity_too_large() -> Self {
        Self::new(
            ErrorCode::RequestEntityTooLarge,
            "Default:RequestEntityTooLarge",
        )
    }

    /// `Default:Internal` (500): unexpected failures; no details leaked.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "Default:Internal")
    }

    /// `Default:Unavailable`: the body of a 503 (the surface sets the status and
    /// `Retry-After`) while the database cannot serve; a Portcullis extension, not in the IR.
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::CustomServer, "Default:Unavailable")
    }

    // ------------------------------------------------------------ Authorization

    /// `Authorization:ApiKeyNotFound` (404).
    pub fn authorization_api_key_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Authorization:ApiKeyNotFound")
    }

    /// `Authorization:InvalidJwtAudience{audience}` (403).
    pub fn authorization_invalid_jwt_audience(audience: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authorization:InvalidJwtAudience",
        )
        .with_param("audience", audience)
    }

    /// `Authorization:InvalidJwtExpired` (403).
    pub fn authorization_invalid_jwt_expired() -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authorization:InvalidJwtExpired",
        )
    }

    /// `Authorization:InvalidJwtFormat` (403).
    pub fn authorization_invalid_jwt_format() -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authorization:InvalidJwtFormat",
        )
    }

    /// `Authorization:InvalidJwtIssuer{issuer}` (403).
    pub fn authorization_invalid_jwt_issuer(issuer: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authorization:InvalidJwtIssuer",
        )
        .with_param("issuer", issuer)
    }

    /// `Authorization:MissingClaims{missingClaims}` (400); the list is written
    /// as a JSON-array string, e.g. `"[\"email\"]"`.
    pub fn authorization_missing_claims<I>(missing_claims: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        Self::new(ErrorCode::InvalidArgument, "Authorization:MissingClaims")
            .with_list_param("missingClaims", missing_claims)
    }

    /// `Authorization:NoMembership` (403).
    pub fn authorization_no_membership() -> Self {
        Self::new(ErrorCode::PermissionDenied, "Authorization:NoMembership")
    }

    /// `Authorization:NotAuthorized` (403).
    pub fn authorization_not_authorized() -> Self {
        Self::new(ErrorCode::PermissionDenied, "Authorization:NotAuthorized")
    }

    /// `Authorization:NotAuthorizedAdmin{rid}` (403); `rid` is the org RID.
    pub fn authorization_not_authorized_admin(rid: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authorization:NotAuthorizedAdmin",
        )
        .with_param("rid", rid)
    }

    /// `Authorization:RegisterResourceConflict{resource, requestedWorkspace}` (409).
    pub fn authorization_register_resource_conflict(
        resource: impl fmt::Display,
        requested_workspace: impl fmt::Display,
    ) -> Self {
        Self::new(
            ErrorCode::Conflict,
            "Authorization:RegisterResourceConflict",
        )
        .with_param("resource", resource)
        .with_param("requestedWorkspace", requested_workspace)
    }

    /// `Authorization:SandboxTokenUnavailable` (403).
    pub fn authorization_sandbox_token_unavailable() -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authorization:SandboxTokenUnavailable",
        )
    }

    /// `Authorization:WorkspaceNotFound{workspace}` (404).
    pub fn authorization_workspace_not_found(workspace: impl fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, "Authorization:WorkspaceNotFound")
            .with_param("workspace", workspace)
    }

    /// `Authorization:ApiKeyLimitExceeded{allowedLimit}` (400): a Portcullis extension, not in
    /// the IR. The user already holds `[core.credentials] max_api_keys_per_user` live keys.
    pub fn authorization_api_key_limit_exceeded(allowed_limit: u32) -> Self {
        Self::new(
            ErrorCode::InvalidArgument,
            "Authorization:ApiKeyLimitExceeded",
        )
        .with_param("allowedLimit", allowed_limit)
        .with_detail(format!(
            "at most {allowed_limit} live API keys per user; revoke one to create another"
        ))
    }

    // ------------------------------------------------------------ Authentication

    /// `Authentication:NotAuthorizedAdmin{rid}` (403); `rid` is the org RID.
    pub fn authentication_not_authorized_admin(rid: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            "Authentication:NotAuthorizedAdmin",
        )
        .with_param("rid", rid)
    }

    /// `Authentication:OrgLoginActivityLimitExceeded{requestedLimit, allowedLimit}` (400).
    pub fn authentication_org_login_activity_limit_exceeded(
        requested_limit: i32,
        allowed_limit: i32,
    ) -> Self {
        Self::new(
            ErrorCode::InvalidArgument,
            "Authentication:OrgLoginActivityLimitExceeded",
        )
        .with_param("requestedLimit", requested_limit)
        .with_param("allowedLimit", allowed_limit)
    }

    /// `Authentication:OrgNotFound` (404).
    pub fn authentication_org_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Authentication:OrgNotFound")
    }

    /// `Authentication:SearchUsersLimitExceeded{requestedLimit, allowedLimit}` (400).
    pub fn authentication_search_users_limit_exceeded(
        requested_limit: i32,
        allowed_limit: i32,
    ) -> Self {
        Self::new(
            ErrorCode::InvalidArgument,
            "Authentication:SearchUsersLimitExceeded",
        )
        .with_param("requestedLimit", requested_limit)
        .with_param("allowedLimit", allowed_limit)
    }

    /// `Authentication:UserNotFound` (404).
    pub fn authentication_user_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Authentication:UserNotFound")
    }

    /// `Authentication:MultipleUsersForSameEmail` (500). Its only argument,
    /// `email`, is unsafe and therefore never sent.
    pub fn authentication_multiple_users_for_same_email() -> Self {
        Self::new(
            ErrorCode::FailedPrecondition,
            "Authentication:MultipleUsersForSameEmail",
        )
    }

    /// `Authentication:NotAuthorized` (403). Not emitted by this server (§10).
    pub fn authentication_not_authorized() -> Self {
        Self::new(ErrorCode::PermissionDenied, "Authentication:NotAuthorized")
    }

    // ------------------------------------------------------------ Security

    /// `Security:WorkspaceNotFound{workspaceRid}` (404).
    pub fn security_workspace_not_found(workspace_rid: impl fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, "Security:WorkspaceNotFound")
            .with_param("workspaceRid", workspace_rid)
    }

    /// `Security:WorkspaceNotSpecified` (400).
    pub fn security_workspace_not_specified() -> Self {
        Self::new(ErrorCode::InvalidArgument, "Security:WorkspaceNotSpecified")
    }

    /// `Security:ForbiddenCrossWorkspaceOperation{workspaces}` (400); the set
    /// is written as a JSON-array string.
    pub fn security_forbidden_cross_workspace_operation<I>(workspaces: I) -> Self
    where
        I: IntoIterator,
        I::Item: fmt::Display,
    {
        Self::new(
            ErrorCode::InvalidArgument,
            "Security:ForbiddenCrossWorkspaceOperation",
        )
        .with_list_param("workspaces", workspaces)
    }
}

/// The wire body of an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SerializableError {
    /// e.g. `PERMISSION_DENIED`.
    pub error_code: String,
    /// e.g. `Authorization:NotAuthorized`.
    pub error_name: String,
    /// A fresh v4 uuid per response.
    pub error_instance_id: String,
    /// Safe parameters, string values only.
    pub parameters: BTreeMap<String, String>,
}

impl IntoResponse for ConjureError {
    fn into_response(self) -> Response {
        let instance_id = uuid::Uuid::new_v4();
        let status = self.status();
        let detail = self.detail.as_deref().unwrap_or("");
        if status.is_server_error() {
            tracing::error!(
                error_instance_id = %instance_id,
                error_name = %self.name,
                error_code = %self.code,
                parameters = ?self.params,
                detail,
                "conjure service error"
            );
        } else {
            tracing::info!(
                error_instance_id = %instance_id,
                error_name = %self.name,
                error_code = %self.code,
                parameters = ?self.params,
                detail,
                "conjure client error"
            );
        }
        let body = serde_json::to_vec(&self.to_body(instance_id)).unwrap_or_else(|_| {
            // Unreachable in practice: the body is strings only.
            br#"{"errorCode":"INTERNAL","errorName":"Default:Internal","errorInstanceId":"00000000-0000-0000-0000-000000000000","parameters":{}}"#.to_vec()
        });
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

impl From<crate::wire::RidError> for ConjureError {
    fn from(e: crate::wire::RidError) -> Self {
        ConjureError::invalid_argument().with_detail(e.to_string())
    }
}

/// Fallback handler for unknown routes: 404 `Default:NotFound`.
pub async fn not_found_fallback() -> ConjureError {
    ConjureError::not_found()
}
