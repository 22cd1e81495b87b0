//! The second-factor primitives: RFC 6238 TOTP (SHA-1, 6 digits, 30 s, ±1 step) over `totp-rs`,
//! its `otpauth://` URI and QR code (SVG, made here, no script), and recovery codes. No state:
//! the single use of a code is the store's atomic step update (docs/design/mfa.md).

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use crate::crypto;

/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "Portcullis";
/// 160-bit secrets (RFC 4226 §4 recommends 160).
pub const SECRET_BYTES: usize = 20;
/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// How many recovery codes a user holds.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes per recovery code: 96 bits, far above the 80 a fast hash needs.
const RECOVERY_CODE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("totp: {0}")]
    Totp(String),
    #[error("qr code: {0}")]
    Qr(String),
}

/// A fresh random secret.
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(crypto::random_bytes::<SECRET_BYTES>().to_vec())
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        // `:` separates issuer and account in the label; an email has none, but be safe.
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| TotpError::Totp(e.to_string()))
}

/// The time step a code is valid for at `unix_secs` (the current step ±1), or `None`. The
/// comparison is constant-time (`totp-rs`).
pub fn check(secret: &[u8], code: &str, unix_secs: u64) -> Result<Option<u64>, TotpError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret, "")?.check(code, unix_secs))
}

/// The code of `unix_secs` (tests and the bench compute theirs with their own TOTP library).
pub fn code_at(secret: &[u8], unix_secs: u64) -> Result<String, TotpError> {
    Ok(totp(secret, "")?.generate(unix_secs).to_string())
}

/// The `otpauth://totp/…` URI an authenticator app imports.
pub fn otpauth_uri(secret: &[u8], account: &str) -> Result<String, TotpError> {
    totp(secret, account)?
        .to_url()
        .map_err(|e| TotpError::Totp(e.to_string()))
}

/// The URI as a QR code: a standalone SVG document (no script, no external reference).
pub fn qr_svg(uri: &str) -> Result<String, TotpError> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| TotpError::Qr(e.to_string()))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Fresh recovery codes as shown to the user: 24 hex digits in groups of four.
pub fn new_recovery_codes() -> Vec<Zeroizing<String>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw = hex::encode(crypto::random_bytes::<RECOVERY_CODE_BYTES>());
            let groups: Vec<&str> = raw
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            Zeroizing::new(groups.join("-"))
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of the code without separators, lowercase
/// (a fast hash suffices for 96 random bits). `None` for what cannot be one of ours.
pub fn recovery_code_hash(code: &str) -> Option<[u8; 32]> {
    let norm: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let ours = norm.len() == RECOVERY_CODE_BYTES * 2 && norm.bytes().all(|b| b.is_ascii_hexdigit());
    ours.then(|| crypto::sha256(norm.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 seed, truncated to 6 digits.
        let seed = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(seed, t).unwrap(), code, "t={t}");
            assert_eq!(check(seed, code, t).unwrap(), Some(t / STEP_SECS));
        }
    }

    #[test]
    fn window_is_one_step_each_side() {
        let s = new_secret();
        let t = 1_700_000_000;
        let code = code_at(&s, t).unwrap();
        assert_eq!(
            check(&s, &code, t + STEP_SECS).unwrap(),
            Some(t / STEP_SECS)
        );
        assert_eq!(
            check(&s, &code, t - STEP_SECS).unwrap(),
            Some(t / STEP_SECS)
        );
        assert_eq!(check(&s, &code, t + 2 * STEP_SECS).unwrap(), None);
        assert_eq!(check(&s, "12345", t).unwrap(), None);
        assert_eq!(check(&s, "abcdef", t).unwrap(), None);
    }

    #[test]
    fn uri_and_qr() {
        let s = new_secret();
        let uri = otpauth_uri(&s, "ann@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Portcullis:ann%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Portcullis"), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalised() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let hashes: std::collections::BTreeSet<_> = codes
            .iter()
            .map(|c| recovery_code_hash(c).unwrap())
            .collect();
        assert_eq!(hashes.len(), RECOVERY_CODES);
        let c = &codes[0];
        assert_eq!(
            recovery_code_hash(&c.to_uppercase().replace('-', " ")),
            recovery_code_hash(c)
        );
        assert_eq!(recovery_code_hash("not-a-code"), None);
    }
}
