//! Certificate authority: CA creation and reload, CSR verification and issued certificates.

mod certs_ca;
mod certs_issue;
mod certs_refuse;
mod key_store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use portcullis_core::certs::{CaAlgorithm, CertError, CertSubject, CertificateAuthority, CsrError};
use portcullis_core::config::CertificatesConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::store::*;
use portcullis_core::*;
use rcgen::PublicKeyData;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
    SignatureAlgorithm,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use key_store::KeyStore;

// ---- fixtures (made with OpenSSL 3; rcgen on ring cannot generate RSA keys) -------------------

/// RSA-2048, SHA-256; asks for CN=admin, O=Evil Corp, SAN email:boss@evil.example +
/// DNS:evil.example, basicConstraints CA:TRUE and EKU serverAuth+codeSigning.
const RSA2048_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIIC1jCCAb4CAQAwJDEOMAwGA1UEAwwFYWRtaW4xEjAQBgNVBAoMCUV2aWwgQ29y
cDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKwVH36+YQE5qoHW1H/v
MwjxFl8eyr+VvGyjMCfI31yvaweFZIF1QEv5z7AH4Gih0AKxX5PjIexTPkLKQDWU
E6BDRjpvX3cCsggn+Lw08xsiEbxHCGrHLzuUtw65Ikxyrt/0KDvRozmCXSKREAYv
SK4FRGBZxp9x0ZxxaJCLFIejV8H8JsoxcELQMfxUCUR3tIOcFEzYnaSUAN/U/lEi
LubQJgZxTXwx6aef0gH8WksPv/bybqmPKGvV82ZniVgNlSDw6EmDmYyqaT2WvPw0
ftl3jL/udeRqhzyNbQwfTOpUVfEO080fA1q8E9LpMr5QjYAbBjA/d0zocCz3/6/4
MW0CAwEAAaBtMGsGCSqGSIb3DQEJDjFeMFwwKgYDVR0RBCMwIYERYm9zc0Bldmls
LmV4YW1wbGWCDGV2aWwuZXhhbXBsZTAPBgNVHRMBAf8EBTADAQH/MB0GA1UdJQQW
MBQGCCsGAQUFBwMBBggrBgEFBQcDAzANBgkqhkiG9w0BAQsFAAOCAQEAXS8mL3h3
qSNjqe/VEgo5UzNoLXDnUIqziddcNJ4FSpFBRzL5pAPW7axZrgnRoxx2hFbBLpUB
mysEFX0sxhpGhLOzkoU2v3SYAphp5nFL5eD58WJzn/sEyFKPdwXHMeyDH9w1fB/d
3nxtGLo/wfPw8cnjzw+WJ4mnErgy6ISvulF4IlAIlJORHwuhPgQJtMwaVWuyIHYB
iYhpZbXU8OjiIyM9mHnhAJG71Nyj2Z+tQwmM4r4i/OeYbYZkuOMkqzOi85vaP8UC
59HV2e5/n/m8w9V1olN3nKbr4UZSAS4/91xC89MRMjzyFTWoQJBGhZtFljshCfaQ
xtsPF/AVza4TgQ==
-----END CERTIFICATE REQUEST-----";
/// RSA-1024, SHA-256 (valid self-signature, key too small).
const RSA1024_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIIBTjCBuAIBADAPMQ0wCwYDVQQDDAR3ZWFrMIGfMA0GCSqGSIb3DQEBAQUAA4GN
ADCBiQKBgQDeB1ta4vD9BsnAvD0igGlBf3nYOSnJfhTEL6pM+yfZhJzQqCZnrpcQ
tTUTGhWk9BOJ9Ss9VcVEc1SrL+fb4JSAZ5OXv2i3ZXS0Fuvda7iKkEZmqlflQhzq
lX0I34ElkIpcJVwWC8BaS+S6VkfnjNMxDaIr4zQ9ke7jGhBB4fol4wIDAQABoAAw
DQYJKoZIhvcNAQELBQADgYEACQ8f4KbXVHDsU4B/4jlCYKeOCE/K3tu4QhFB0e1R
0LsCrWOimjMuueL8buG8GFRgFcyQTI6ZhwQlCHdrK7eG7caCAQPnNcUgpn9lt1tT
kWbFhx40gVnHzAphvLbBO0TfTOYZiBMrYVbbiG+RpnVDGig9RpZTXXyunLfWD8Xo
ncQ=
-----END CERTIFICATE REQUEST-----";
/// ECDSA on secp256k1, SHA-256.
const SECP256K1_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIHEMGwCAQAwDTELMAkGA1UEAwwCazEwVjAQBgcqhkjOPQIBBgUrgQQACgNCAAQj
MnM4+nREnZrQyx0giH8QD52R55ksQ3GVQpc4emrG+1KabisM/gpjcCn8W35Q99zn
0A9/iD+MPnV0KJvJ80E3oAAwCgYIKoZIzj0EAwIDSAAwRQIgTbyx2V3W4P6lovEX
hiARaI4Oq4IwhxsDKZlk19fnL54CIQCW1w6FJw6HuOxYrO1CdIe2ItaMKIEY+gc8
WvuMME39Hw==
-----END CERTIFICATE REQUEST-----";
/// Ed448.
const ED448_CSR: &str = r"-----BEGIN CERTIFICATE REQUEST-----
MIHaMFwCAQAwEDEOMAwGA1UEAwwFZWQ0NDgwQzAFBgMrZXEDOgAvt4TXre/TL8gh
V3+kA56EOxHjaMsFoa546spsH/PBZWTG74ZY+nRRWIkRzOXnZLcKMS5NZu8p2gCg
ADAFBgMrZXEDcwBmqQjSXkNIAIKJ2dd79mZdxTbWILFnU7ZGMn65A+hqbvNzbiq6
WMnKimq3uG1k7eDhJK4VISsK8gDZuSMvKIfOIC7EPEPSKxMPNd1OwsyQJdBBz3f2
cploLSGtN01q1tN5AUVW6gjCa4rVx3wXuV7gPgA=
-----END CERTIFICATE REQUEST-----";

// ---- helpers ------------------------------------------------------------------------------------

fn now() -> Timestamp {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now")
}

fn cfg(alg: &str) -> CertificatesConfig {
    CertificatesConfig {
        ca_algorithm: alg.into(),
        ca_common_name: "Test Portcullis CA".into(),
        ..CertificatesConfig::default()
    }
}

async fn new_ca(alg: &str) -> (KeyStore, MasterKey, CertificateAuthority) {
    let store = KeyStore::default();
    let master = MasterKey::generate();
    let ca = CertificateAuthority::load_or_create(&store, &master, &cfg(alg), now())
        .await
        .expect("CA");
    (store, master, ca)
}

fn subject() -> CertSubject {
    CertSubject {
        user_id: UserId::new(),
        email: "Alice@Example.com".into(),
    }
}

/// A CSR that asks for much more than it will get.
fn rcgen_csr(alg: &'static SignatureAlgorithm) -> String {
    let key = KeyPair::generate_for(alg).expect("key");
    let mut params = CertificateParams::new(vec!["evil.example".to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "admin");
    params.subject_alt_names.push(SanType::Rfc822Name(
        "boss@evil.example".try_into().expect("ia5"),
    ));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::CodeSigning,
    ];
    params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

fn pem_der(pem: &str) -> Vec<u8> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
    p.contents
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn csr_spki(csr_pem: &str) -> Vec<u8> {
    let der = pem_der(csr_pem);
    let (_, csr) = X509CertificationRequest::from_der(&der).expect("csr");
    csr.certification_request_info.subject_pki.raw.to_vec()
}

/// Checks everything the CA guarantees about an issued certificate.
fn check_issued(
    ca: &CertificateAuthority,
    csr_pem: &str,
    cert_pem: &str,
    who: &CertSubject,
    now: Timestamp,
    not_after: Timestamp,
) {
    let ca_der = pem_der(ca.ca_certificate_pem());
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).expect("ca cert");
    let der = pem_der(cert_pem);
    let (rest, cert) = X509Certificate::from_der(&der).expect("issued cert");
    assert!(rest.is_empty());

    // The CSR's key, exactly.
    assert_eq!(cert.public_key().raw, csr_spki(csr_pem).as_slice());
    // Signed by the CA.
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signature verifies with the CA key");
    assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
    // Another key of the same algorithm does not verify it (the check above can fail).
    let other_alg = match ca.algorithm() {
        CaAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        CaAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    };
    let other_spki = KeyPair::generate_for(other_alg)
        .expect("key")
        .subject_public_key_info();
    let (_, other_spki) = SubjectPublicKeyInfo::from_der(&other_spki).expect("spki");
    assert!(cert.verify_signature(Some(&other_spki)).is_err());

    // Subject: CN = user uuid only.
    let cns: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|a| a.as_str().expect("cn").to_string())
        .collect();
    assert_eq!(cns, vec![who.user_id.to_string()]);
    assert_eq!(
        cert.subject().iter().count(),
        1,
        "only the CN in the subject"
    );
    // SAN = the user's email only.
    let san = cert
        .subject_alternative_name()
        .expect("san")
        .expect("san present");
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::RFC822Name("Alice@Example.com")]
    );
    // EKU clientAuth only.
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth);
    assert!(
        !eku.server_auth
            && !eku.code_signing
            && !eku.any
            && !eku.email_protection
            && !eku.time_stamping
            && !eku.ocsp_signing
            && eku.other.is_empty()
    );
    // KU digitalSignature only.
    let ku = cert.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.digital_signature());
    assert_eq!(ku.flags, 1);
    // Not a CA.
    let bc = cert.basic_constraints().expect("bc").expect("bc present");
    assert!(!bc.value.ca);
    assert!(bc.critical);
    // AKI = the CA's SKI.
    let ca_ski = ca_cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .expect("CA SKI");
    let aki = cert
        .iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .expect("AKI");
    assert_eq!(aki, ca_ski);
    // Nothing else asked for by the CSR slipped in.
    for ext in cert.extensions() {
        assert!(
            matches!(
                ext.parsed_extension(),
                ParsedExtension::SubjectAlternativeName(_)
                    | ParsedExtension::KeyUsage(_)
                    | ParsedExtension::ExtendedKeyUsage(_)
                    | ParsedExtension::BasicConstraints(_)
                    | ParsedExtension::AuthorityKeyIdentifier(_)
                    | ParsedExtension::SubjectKeyIdentifier(_)
            ),
            "unexpected extension {}",
            ext.oid
        );
    }
    // Validity.
    assert_eq!(
        cert.validity().not_before.timestamp(),
        (now - Duration::minutes(1)).timestamp()
    );
    assert_eq!(cert.validity().not_after.timestamp(), not_after.timestamp());
    // A positive serial of at least 64 bits.
    let serial = cert.raw_serial();
    assert!(serial.len() >= 8, "serial {} bytes", serial.len());
    assert_eq!(serial[0] & 0x80, 0);
    assert_eq!(cert.version().0, 2);
}

async fn sign_and_check(ca_alg: &str, csr_pem: &str) {
    let (_store, _master, ca) = new_ca(ca_alg).await;
    let who = subject();
    let now = now();
    let not_after = now + Duration::hours(5);
    let cert = ca.sign_csr(csr_pem, &who, not_after, now).expect("signed");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    check_issued(&ca, csr_pem, &cert, &who, now, not_after);
}
