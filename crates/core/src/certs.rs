//! The certificate authority: a CA key made on first start (sealed under the master key in the
//! store) that turns a user's certificate signing request into a short-lived client certificate
//! (Parsable `LoginOptions.certificateSigningRequest`, PARSABLE.md §8).
//!
//! Only the CSR's public key is taken from the request, after its self-signature is verified;
//! every other attribute of the certificate is chosen here. See `docs/design/certificates.md`.

use chrono::Duration;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
    SubjectPublicKeyInfo,
};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use zeroize::Zeroizing;

use crate::crypto::{MasterKey, random_bytes, random_token};
use crate::model::{KeyPurpose, KeyRecord, Timestamp, UserId};
use crate::store::{Store, StoreError};

/// Validity of a newly made CA certificate.
const CA_VALIDITY_DAYS: i64 = 3653;
/// Back-dating of `notBefore`, for clients whose clock is slightly behind.
const BACKDATE_SECS: i64 = 60;
/// A CSR is a few hundred bytes (a few KiB with RSA-8192); anything far larger is refused unread.
const MAX_CSR_PEM_BYTES: usize = 64 * 1024;
const MIN_RSA_BITS: usize = 2048;
/// The largest RSA key `ring` verifies.
const MAX_RSA_BITS: usize = 8192;
const PEM_LABELS: [&str; 2] = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// The algorithm of the CA key, from `CertificatesConfig::ca_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaAlgorithm {
    Ed25519,
    P256,
}

impl CaAlgorithm {
    pub fn parse(s: &str) -> Result<Self, CertError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ed25519" => Ok(CaAlgorithm::Ed25519),
            "p256" | "p-256" | "ecdsa-p256" => Ok(CaAlgorithm::P256),
            other => Err(CertError::Config(format!(
                "unknown certificates.ca_algorithm {other:?} (expected ed25519 or p256)"
            ))),
        }
    }

    /// The name stored in `KeyRecord::algorithm`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaAlgorithm::Ed25519 => "ed25519",
            CaAlgorithm::P256 => "p256",
        }
    }

    fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            CaAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
            CaAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

/// Setting up the CA failed (server side: the server should not start).
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate settings: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sealed CA key does not open: the master key is not the one it was sealed with.
    #[error(
        "the CA private key {kid} could not be unsealed: wrong master key or corrupted data \
         (the master key must be the one the store was created with)"
    )]
    Unseal { kid: String },
    #[error("stored CA key {kid} is unusable: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error("could not generate the CA: {0}")]
    Generate(String),
}

/// A CSR was refused (`Malformed`, `BadSignature`, `UnsupportedKey`: the client's fault, a 400)
/// or the certificate could not be issued (`Issue`: the server's fault).
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    #[error("malformed certificate signing request: {0}")]
    Malformed(String),
    #[error("the certificate signing request's self-signature is invalid: {0}")]
    BadSignature(String),
    #[error(
        "unsupported key in certificate signing request: {0} \
         (accepted: Ed25519, ECDSA P-256 or P-384, RSA 2048 to 8192 bits)"
    )]
    UnsupportedKey(String),
    #[error("the certificate could not be issued: {0}")]
    Issue(String),
}

/// Who a certificate is for; the only subject data that goes into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSubject {
    pub user_id: UserId,
    pub email: String,
}

/// The deployment's certificate authority: its certificate and its (unsealed) signing key.
pub struct CertificateAuthority {
    kid: String,
    algorithm: CaAlgorithm,
    cert_pem: String,
    not_after: Timestamp,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from the store, or makes one on first start (or when the stored CA
    /// certificate has expired, retiring the old one).
    ///
    /// When several CA keys are active (two processes started together on an empty store),
    /// every process picks the oldest (by `created_at`, then kid) and retires the others, so
    /// all processes converge on one CA.
    pub async fn load_or_create(
        store: &dyn Store,
        master: &MasterKey,
        cfg: &crate::config::CertificatesConfig,
        now: Timestamp,
    ) -> Result<CertificateAuthority, CertError> {
        let wanted = CaAlgorithm::parse(&cfg.ca_algorithm)?;

        let mut active = active_sorted(store).await?;
        if let Some(current) = active.first()
            && ca_not_after(current)? <= now
        {
            // Never replace a CA this process cannot open (a wrong master key must fail start-up,
            // not silently mint a new CA sealed under the wrong key).
            Self::from_record(current, master)?;
            tracing::warn!(kid = %current.kid, "the CA certificate has expired; making a new CA");
            for old in &active {
                store.retire_key(&old.kid, now).await?;
            }
            active.clear();
        }

        if active.is_empty() {
            let record = generate(master, wanted, &cfg.ca_common_name, now)?;
            tracing::info!(kid = %record.kid, algorithm = wanted.as_str(), "created the certificate authority");
            store.insert_key(record).await?;
            active = active_sorted(store).await?;
        }

        let Some(chosen) = active.first() else {
            return Err(StoreError::Unavailable(
                "the CA key just stored is not listed by the store".into(),
            )
            .into());
        };
        let ca = Self::from_record(chosen, master)?;
        for other in active.iter().skip(1) {
            tracing::warn!(kid = %other.kid, kept = %chosen.kid, "retiring a concurrently created CA key");
            store.retire_key(&other.kid, now).await?;
        }
        if ca.algorithm != wanted {
            tracing::warn!(
                configured = wanted.as_str(),
                stored = ca.algorithm.as_str(),
                "certificates.ca_algorithm differs from the stored CA; the stored CA is kept"
            );
        }
        Ok(ca)
    }

    /// Rebuilds a CA from its stored record (unsealing the private key).
    pub fn from_record(
        record: &KeyRecord,
        master: &MasterKey,
    ) -> Result<CertificateAuthority, CertError> {
        let corrupt = |reason: String| CertError::Corrupt {
            kid: record.kid.clone(),
            reason,
        };
        let algorithm =
            CaAlgorithm::parse(&record.algorithm).map_err(|e| corrupt(e.to_string()))?;
        let pkcs8 = master
            .open(record.kid.as_bytes(), &record.sealed_private)
            .map_err(|_| CertError::Unseal {
                kid: record.kid.clone(),
            })?;
        let key = KeyPair::try_from(pkcs8.as_slice())
            .map_err(|e| corrupt(format!("private key: {e}")))?;
        if key.algorithm() != algorithm.rcgen() {
            return Err(corrupt(format!(
                "the private key is not {}",
                algorithm.as_str()
            )));
        }

        let cert_pem = String::from_utf8(record.public.clone())
            .map_err(|_| corrupt("the certificate is not UTF-8 PEM".into()))?;
        let der = single_pem(&cert_pem, &["CERTIFICATE"])
            .map_err(|e| corrupt(format!("certificate: {e}")))?;
        let (rest, cert) = x509_parser::certificate::X509Certificate::from_der(&der)
            .map_err(|e| corrupt(format!("certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(corrupt("trailing data after the certificate".into()));
        }
        if cert.tbs_certificate.subject_pki.raw != key.subject_public_key_info().as_slice() {
            return Err(corrupt(
                "the certificate does not match the private key".into(),
            ));
        }
        let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
            .ok_or_else(|| corrupt("certificate notAfter out of range".into()))?;
        let issuer = Issuer::from_ca_cert_der(&der.clone().into(), key)
            .map_err(|e| corrupt(format!("certificate: {e}")))?;

        Ok(CertificateAuthority {
            kid: record.kid.clone(),
            algorithm,
            cert_pem,
            not_after,
            issuer,
        })
    }

    /// The CA certificate (Parsable `mothershipCertificate`).
    pub fn ca_certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The store key id of the CA key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> CaAlgorithm {
        self.algorithm
    }

    /// When the CA certificate expires; issued certificates never outlive it.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// Verifies a PEM CSR and issues a client certificate for `subject` with the CSR's public
    /// key, valid from `now` − 1 minute until `not_after` (clamped to the CA's own expiry).
    /// Everything the CSR asks for besides its key (subject, SANs, extensions) is ignored.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        subject: &CertSubject,
        not_after: Timestamp,
        now: Timestamp,
    ) -> Result<String, CsrError> {
        let spki = verified_csr_key(csr_pem)?;

        let not_after = not_after.min(self.not_after);
        if not_after <= now {
            return Err(CsrError::Issue(format!(
                "the validity would end at {not_after}, not after now ({now})"
            )));
        }
        let email = Ia5String::try_from(subject.email.trim()).map_err(|_| {
            CsrError::Issue("the user's email is not ASCII and cannot be an rfc822Name".into())
        })?;

        let mut params = CertificateParams::default();
        params.serial_number = Some(random_serial());
        params.not_before = to_offset(now - Duration::seconds(BACKDATE_SECS))?;
        params.not_after = to_offset(not_after)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, subject.user_id.to_string());
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::Rfc822Name(email)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;

        let cert = params
            .signed_by(&spki, &self.issuer)
            .map_err(|e| CsrError::Issue(e.to_string()))?;
        Ok(cert.pem())
    }
}

/// Parses a PEM CSR, checks its key type and its self-signature, and returns its public key.
fn verified_csr_key(csr_pem: &str) -> Result<SubjectPublicKeyInfo, CsrError> {
    if csr_pem.len() > MAX_CSR_PEM_BYTES {
        return Err(CsrError::Malformed(format!(
            "larger than {MAX_CSR_PEM_BYTES} bytes"
        )));
    }
    let der = single_pem(csr_pem, &PEM_LABELS).map_err(CsrError::Malformed)?;
    let (rest, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| CsrError::Malformed(format!("not a PKCS#10 request: {e}")))?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed(
            "trailing data after the request".into(),
        ));
    }
    let spki = &csr.certification_request_info.subject_pki;

    check_key(spki)?;

    let sig_alg = &csr.signature_algorithm.algorithm;
    if *sig_alg == OID_PKCS1_SHA1WITHRSA || *sig_alg == OID_SHA1_WITH_RSA {
        return Err(CsrError::BadSignature(
            "SHA-1 signatures are not accepted".into(),
        ));
    }
    csr.verify_signature().map_err(|e| match e {
        x509_parser::error::X509Error::SignatureUnsupportedAlgorithm => CsrError::BadSignature(
            format!("unsupported signature algorithm {sig_alg} for this key"),
        ),
        _ => CsrError::BadSignature("it does not verify with the request's public key".into()),
    })?;

    let key = SubjectPublicKeyInfo::from_der(spki.raw)
        .map_err(|e| CsrError::UnsupportedKey(e.to_string()))?;
    // The certificate must carry exactly the key the request proved possession of.
    if key.subject_public_key_info() != spki.raw {
        return Err(CsrError::UnsupportedKey(
            "non-canonical SubjectPublicKeyInfo encoding".into(),
        ));
    }
    Ok(key)
}

fn check_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<(), CsrError> {
    let alg = &spki.algorithm.algorithm;
    let key = &spki.subject_public_key.data;
    if *alg == OID_SIG_ED25519 {
        if spki.algorithm.parameters.is_some() || key.len() != 32 {
            return Err(CsrError::UnsupportedKey("malformed Ed25519 key".into()));
        }
        Ok(())
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .ok_or_else(|| CsrError::UnsupportedKey("EC key without a named curve".into()))?;
        if curve == OID_EC_P256 || curve == OID_NIST_EC_P384 {
            Ok(())
        } else {
            Err(CsrError::UnsupportedKey(format!("EC key on curve {curve}")))
        }
    } else if *alg == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
            _ => return Err(CsrError::UnsupportedKey("malformed RSA key".into())),
        };
        if (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            Ok(())
        } else {
            Err(CsrError::UnsupportedKey(format!("{bits}-bit RSA key")))
        }
    } else {
        let name = x509_parser::oid_registry::OidRegistry::default()
            .with_all_crypto()
            .get(alg)
            .map(|e| e.sn().to_string())
            .unwrap_or_else(|| alg.to_id_string());
        Err(CsrError::UnsupportedKey(format!("key algorithm {name}")))
    }
}

/// Bit length of a big-endian unsigned integer.
fn modulus_bits(bytes: &[u8]) -> usize {
    let mut it = bytes.iter().skip_while(|b| **b == 0);
    match it.next() {
        Some(first) => (it.count() + 1) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// Decodes exactly one PEM block with one of `labels`.
fn single_pem(text: &str, labels: &[&str]) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if !text.starts_with("-----BEGIN ") {
        return Err("not PEM (no -----BEGIN line)".into());
    }
    let (rest, pem) =
        x509_parser::pem::parse_x509_pem(text.as_bytes()).map_err(|e| format!("bad PEM: {e}"))?;
    if !labels.contains(&pem.label.as_str()) {
        return Err(format!(
            "PEM block is {:?}, expected {:?}",
            pem.label, labels[0]
        ));
    }
    if !rest.iter().all(u8::is_ascii_whitespace) {
        return Err("more than one PEM block".into());
    }
    Ok(pem.contents)
}

async fn active_sorted(store: &dyn Store) -> Result<Vec<KeyRecord>, StoreError> {
    let mut keys: Vec<KeyRecord> = store
        .list_keys(KeyPurpose::CertificateAuthority)
        .await?
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .collect();
    keys.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
    Ok(keys)
}

/// The notAfter of a stored CA certificate (without unsealing the key).
fn ca_not_after(record: &KeyRecord) -> Result<Timestamp, CertError> {
    let corrupt = |reason: String| CertError::Corrupt {
        kid: record.kid.clone(),
        reason,
    };
    let pem = std::str::from_utf8(&record.public)
        .map_err(|_| corrupt("the certificate is not UTF-8 PEM".into()))?;
    let der =
        single_pem(pem, &["CERTIFICATE"]).map_err(|e| corrupt(format!("certificate: {e}")))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der)
        .map_err(|e| corrupt(format!("certificate: {e}")))?;
    chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| corrupt("certificate notAfter out of range".into()))
}

/// Makes a CA key and its self-signed certificate; returns the record to store (the fuzz
/// targets build a CA in memory with it and [`CertificateAuthority::from_record`]).
#[doc(hidden)]
pub fn generate(
    master: &MasterKey,
    algorithm: CaAlgorithm,
    common_name: &str,
    now: Timestamp,
) -> Result<KeyRecord, CertError> {
    let gen_err = |e: rcgen::Error| CertError::Generate(e.to_string());
    let key = KeyPair::generate_for(algorithm.rcgen()).map_err(gen_err)?;

    let mut params = CertificateParams::default();
    params.serial_number = Some(random_serial());
    params.not_before = to_offset(now - Duration::seconds(BACKDATE_SECS))
        .map_err(|e| CertError::Generate(e.to_string()))?;
    params.not_after = to_offset(now + Duration::days(CA_VALIDITY_DAYS))
        .map_err(|e| CertError::Generate(e.to_string()))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name.trim());
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).map_err(gen_err)?;

    let kid = format!("ca-{}", random_token(12));
    let pkcs8 = Zeroizing::new(key.serialize_der());
    Ok(KeyRecord {
        sealed_private: master.seal(kid.as_bytes(), &pkcs8),
        kid,
        purpose: KeyPurpose::CertificateAuthority,
        algorithm: algorithm.as_str().to_string(),
        public: cert.pem().into_bytes(),
        created_at: now,
        retired_at: None,
        revoked_at: None,
    })
}

/// A positive serial of 16 bytes with 126 random bits (RFC 5280: at most 20 bytes; CA/B: ≥ 64
/// random bits).
fn random_serial() -> SerialNumber {
    let mut bytes = random_bytes::<16>();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn to_offset(t: Timestamp) -> Result<time::OffsetDateTime, CsrError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| CsrError::Issue(format!("time {t} out of range: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[0x01]), 1);
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        let mut m = vec![0u8; 257];
        m[1] = 0xc1;
        assert_eq!(modulus_bits(&m), 2048);
        m[1] = 0x7f;
        assert_eq!(modulus_bits(&m), 2047);
    }

    #[test]
    fn ca_algorithm_names() {
        assert_eq!(
            CaAlgorithm::parse("Ed25519").ok(),
            Some(CaAlgorithm::Ed25519)
        );
        assert_eq!(CaAlgorithm::parse(" p256 ").ok(), Some(CaAlgorithm::P256));
        assert!(matches!(
            CaAlgorithm::parse("rsa"),
            Err(CertError::Config(_))
        ));
        for a in [CaAlgorithm::Ed25519, CaAlgorithm::P256] {
            assert_eq!(CaAlgorithm::parse(a.as_str()).ok(), Some(a));
        }
    }

    #[test]
    fn serials_are_positive_16_bytes() {
        for _ in 0..64 {
            let s = random_serial().to_bytes();
            assert_eq!(s.len(), 16);
            assert_eq!(s[0] & 0xc0, 0x40);
        }
    }
}
