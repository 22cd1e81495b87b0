//! Client certificates for logins: whether one may be asked for and signing the CSR.

use super::*;

/// Why an impersonation session gets no client certificate.
const PROXY_CERTIFICATE: &str = "a proxy (impersonation) login cannot get a client certificate";

impl Engine {
    /// Whether a login may ask for a client certificate, checked before the login starts so
    /// that a refusal leaves nothing behind. An impersonation (proxy) login may not: the
    /// certificate would carry the target's identity, outlive the audited proxy session and
    /// prove nothing of who holds it. Without signing a CSR is ignored, so nothing is refused.
    pub fn check_certificate_request(&self, proxied: bool, csr: bool) -> CoreResult<()> {
        if self.ca.is_some() && proxied && csr {
            return Err(CoreError::PermissionDenied(PROXY_CERTIFICATE));
        }
        Ok(())
    }

    /// Signs a PEM CSR for `user`: subject and SAN are the user's, the CSR's key is kept, and the
    /// validity is min(configured, the token's remaining lifetime). `None` when signing is off.
    /// `proxied`: the session is an impersonation, which gets no certificate (see
    /// [`Engine::check_certificate_request`]).
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
