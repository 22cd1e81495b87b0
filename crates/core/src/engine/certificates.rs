//! Client certificates for logins: signing the CSR (whether one may be asked for is the
//! login request's rule, `login_request.rs`).

use super::*;

/// Why an impersonation session gets no client certificate.
pub(super) const PROXY_CERTIFICATE: &str =
    "a proxy (impersonation) login cannot get a client certificate";

impl Engine {
    /// Signs a PEM CSR for `user`: subject and SAN are the user's, the CSR's key is kept, and the
    /// validity is min(configured, the token's remaining lifetime). `None` when signing is off.
    /// `proxied`: the session is an impersonation, which gets no certificate (see
    /// [`Engine::login_request`]).
    pub async fn sign_csr(
        &self,
        user: &User,
        csr_pem: &str,
        token_expires_at: Timestamp,
        proxied: bool,
        ctx: &AuditContext,
    ) -> CoreResult<Option<String>> {
        let Some(ca) = &self.ca else { return Ok(None) };
        if proxied {
            return Err(CoreError::PermissionDenied(PROXY_CERTIFICATE));
        }
        let now = Utc::now();
        let not_after = token_expires_at.min(now + secs(self.config.certificates.validity_secs));
        let subject = CertSubject {
            user_id: user.id,
            email: user.email.clone(),
        };
        match ca.sign_csr(csr_pem, &subject, not_after, now) {
            Ok(pem) => {
                self.audit
                    .log(
                        ctx,
                        now,
                        Some(user.id),
                        AuditAction::CertificateSign,
                        Some(user.id.to_string()),
                        AuditOutcome::Success,
                        json!({"not_after": not_after}),
                    )
                    .await;
                Ok(Some(pem))
            }
            Err(
                e @ (CsrError::Malformed(_)
                | CsrError::BadSignature(_)
                | CsrError::UnsupportedKey(_)),
            ) => Err(CoreError::InvalidArgument(format!(
                "certificate signing request: {e}"
            ))),
            Err(CsrError::Issue(msg)) => Err(CoreError::InvalidArgument(format!(
                "cannot issue a certificate: {msg}"
            ))),
        }
    }
}
