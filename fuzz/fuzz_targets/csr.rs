//! CSR parsing and the signing policy (`CertificateAuthority::sign_csr`) with an in-memory CA.
//!
//! Selector byte, then: even: the rest is the PEM text as sent; odd: the rest is DER, wrapped
//! in a `CERTIFICATE REQUEST` PEM block (the parser behind the PEM layer).
//!
//! Invariants: a refusal repeats identically; an issued certificate parses, carries exactly
//! the request's public key, the chosen subject (CN = user id, SAN = email) and nothing the
//! request asked for, is not a CA, is for client authentication only, lies within the asked
//! validity and the CA's, and verifies under the CA's key.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use portcullis_core::certs::{CaAlgorithm, CertSubject, CertificateAuthority, generate};
use portcullis_core::crypto::MasterKey;
use portcullis_core::model::UserId;
use x509_parser::prelude::*;

static CA: LazyLock<CertificateAuthority> = LazyLock::new(|| {
    let master = MasterKey::parse(&"22".repeat(32)).expect("a master key");
    let record = generate(&master, CaAlgorithm::Ed25519, "Fuzz CA", chrono::Utc::now())
        .expect("a CA record");
    CertificateAuthority::from_record(&record, &master).expect("the CA loads")
});

fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes()).ok()?;
    Some(p.contents)
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = portcullis_fuzz::selector(data) else {
        return;
    };
    let pem = if sel & 1 == 0 {
        match std::str::from_utf8(rest) {
            Ok(s) => s.to_owned(),
            Err(_) => return,
        }
    } else {
        let b64 = STANDARD.encode(rest);
        let mut pem = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE REQUEST-----\n");
        pem
    };
    let subject = CertSubject {
        user_id: UserId(uuid_of(sel)),
        email: "ann@example.com".into(),
    };
    let now = chrono::Utc::now();
    let not_after = now + chrono::Duration::hours(12);
    let issued = match CA.sign_csr(&pem, &subject, not_after, now) {
        Ok(c) => c,
        Err(e) => {
            let again = CA.sign_csr(&pem, &subject, not_after, now);
            assert_eq!(again.map_err(|e| e.to_string()), Err(e.to_string()));
            return;
        }
    };
    let csr_der = pem_der(&pem).expect("an accepted CSR is PEM");
    let (_, csr) = X509CertificationRequest::from_der(&csr_der).expect("an accepted CSR parses");
    let cert_der = pem_der(&issued).expect("the certificate is PEM");
    let (rest, cert) = X509Certificate::from_der(&cert_der).expect("the certificate parses");
    assert!(rest.is_empty());
    assert_eq!(
        cert.public_key().raw,
        csr.certification_request_info.subject_pki.raw,
        "the certificate must carry exactly the request's key"
    );
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .filter_map(|c| c.as_str().ok())
        .collect();
    assert_eq!(cn, vec![subject.user_id.to_string().as_str()]);
    assert_eq!(
        cert.subject().iter().count(),
        1,
        "only the CN is in the subject"
    );
    let san = cert
        .subject_alternative_name()
        .expect("one SAN extension")
        .expect("a SAN");
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::RFC822Name("ann@example.com")]
    );
    assert!(!cert.is_ca());
    let eku = cert.extended_key_usage().expect("one EKU").expect("an EKU");
    assert!(eku.value.client_auth && !eku.value.server_auth && !eku.value.code_signing);
    assert!(cert.validity().not_after.timestamp() <= not_after.timestamp());
    assert!(cert.validity().not_after.timestamp() <= CA.not_after().timestamp());
    assert!(cert.validity().not_before.timestamp() <= now.timestamp());
    let ca_der = pem_der(CA.ca_certificate_pem()).expect("the CA is PEM");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("the CA parses");
    assert_eq!(cert.issuer(), ca.subject());
    cert.verify_signature(Some(ca.public_key()))
        .expect("signed by the CA");
});

fn uuid_of(b: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([b; 16])
}
