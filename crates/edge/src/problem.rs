//! RFC 9457 problem details, and the mapping of core errors to them.
//!
//! `type` is `about:blank` (so `title` is the status phrase): this API publishes no problem-type
//! documents, and the `code` member is the stable, machine-readable reason.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use portcullis_core::{CoreError, MfaRefusal};
use serde_json::json;

use crate::request_id::RequestId;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The challenge of a 401. `error="invalid_token"` (RFC 6750 §3.1) only when a token was sent
/// and refused, so a client knows to sign in again.
const CHALLENGE: &str = "Bearer realm=\"portcullis\"";
const CHALLENGE_INVALID_TOKEN: &str = "Bearer realm=\"portcullis\", error=\"invalid_token\"";

/// The one detail of every token failure.
const INVALID_TOKEN: &str = "invalid token";

/// A failed request, rendered as `application/problem+json`.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    retry_after: Option<Duration>,
    challenge: &'static str,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
            challenge: CHALLENGE,
        }
    }

    /// A 401 for a malformed, forged, revoked, idle or expired token. The detail never says
    /// which: why a token failed is for the logs, not for whoever holds it.
    pub fn bad_token(code: &'static str) -> Problem {
        Problem {
            challenge: CHALLENGE_INVALID_TOKEN,
            ..Problem::new(StatusCode::UNAUTHORIZED, code, INVALID_TOKEN)
        }
    }

    /// A 503 `unavailable` with `Retry-After: 1`: the database cannot serve now (unreachable,
    /// read-only); the cause is for the logs only.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Problem {
        tracing::warn!(error = %cause, "request failed: the store is unavailable");
        Problem {
            retry_after: Some(Duration::from_secs(1)),
            ..Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "service temporarily unavailable; retry shortly",
            )
        }
    }

    /// The same problem with another detail (a wire-specific wording of a core error).
    pub fn with_detail(self, detail: impl Into<String>) -> Problem {
        Problem {
            detail: detail.into(),
            ..self
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn render(&self, request_id: Option<&str>) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(id) = request_id {
            body["requestId"] = json!(id);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(self.challenge),
            );
        }
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl IntoResponse for Problem {
    /// Rendered without the request id; [`finish`] renders it again with it. Carrying the
    /// problem on the response lets extractor rejections get the id too.
    fn into_response(self) -> Response {
        let mut resp = self.render(None);
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The surface's one middleware: problems get the request id, and no response is cached
/// (session lists name IP addresses).
pub async fn finish(req: Request, next: Next) -> Response {
    let request_id = RequestId::from_extensions(req.extensions());
    let mut resp = next.run(req).await;
    if let (Some(problem), Some(id)) = (resp.extensions().get::<Problem>(), &request_id) {
        resp = problem.render(Some(id.as_str()));
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Problem {
        use StatusCode as S;
        match e {
            CoreError::InvalidCredentials => {
                Problem::new(S::UNAUTHORIZED, "invalid_credentials", e.to_string())
            }
            CoreError::Unauthenticated => {
                Problem::new(S::UNAUTHORIZED, "unauthenticated", e.to_string())
            }
            CoreError::InvalidToken(_) => {
                tracing::debug!(error = %e, "token refused");
                Problem::bad_token("invalid_token")
            }
            CoreError::TokenExpired => Problem::bad_token("token_expired"),
            CoreError::PermissionDenied(_) => {
                Problem::new(S::FORBIDDEN, "forbidden", e.to_string())
            }
            CoreError::CredentialNotAllowed(_) => {
                Problem::new(S::FORBIDDEN, "credential_not_allowed", e.to_string())
            }
            CoreError::OrgDisabled => Problem::new(S::FORBIDDEN, "org_disabled", e.to_string()),
            CoreError::NoMembership => Problem::new(S::FORBIDDEN, "no_membership", e.to_string()),
            CoreError::NotFound(_) => Problem::new(S::NOT_FOUND, "not_found", e.to_string()),
            CoreError::InvalidArgument(m) => Problem::new(S::BAD_REQUEST, "invalid_argument", m),
            CoreError::Conflict(m) => Problem::new(S::CONFLICT, "conflict", m),
            CoreError::LimitExceeded { .. } => {
                Problem::new(S::BAD_REQUEST, "limit_exceeded", e.to_string())
            }
            CoreError::Mfa(refusal) => {
                let (status, code) = mfa_problem(refusal);
                Problem::new(status, code, refusal.to_string())
            }
            CoreError::RateLimited { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    S::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many attempts; retry later",
                )
            },
            e if e.is_unavailable() => Problem::unavailable(&e),
            CoreError::Store(_) | CoreError::Internal(_) => {
                // The cause is for the logs only.
                tracing::error!(error = %e, "account request failed");
                Problem::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

/// The status and stable `code` of each multi-factor refusal (docs/design/mfa.md).
fn mfa_problem(refusal: MfaRefusal) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match refusal {
        MfaRefusal::SecondFactorRequired | MfaRefusal::SessionWithoutSecondFactor => {
            (S::FORBIDDEN, "second_factor_required")
        }
        MfaRefusal::EnrolmentRequired => (S::FORBIDDEN, "enrolment_required"),
        MfaRefusal::RecentAuthenticationRequired => (S::FORBIDDEN, "reauthentication_required"),
        MfaRefusal::InvalidCode => (S::UNAUTHORIZED, "invalid_code"),
        MfaRefusal::KindNotAllowed => (S::FORBIDDEN, "factor_kind_not_allowed"),
    }
}

#[cfg(test)]
mod tests {
    use portcullis_core::store::StoreError;

    use super::*;

    async fn body(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn an_unavailable_store_is_a_503_to_retry_without_its_cause() {
        let cause = StoreError::Unavailable("connection refused to 10.0.0.7:5432".into());
        let resp = Problem::from(CoreError::Store(cause)).render(Some("rq-1"));
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        let body = body(resp).await;
        assert_eq!(body["code"], "unavailable");
        assert_eq!(body["status"], 503);
        assert_eq!(body["requestId"], "rq-1");
        assert!(!body.to_string().contains("10.0.0.7"), "{body}");
    }

    #[tokio::test]
    async fn other_store_faults_stay_internal() {
        let resp = Problem::from(CoreError::Store(StoreError::Corrupt("row".into()))).render(None);
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body(resp).await["code"], "internal");
    }
}
