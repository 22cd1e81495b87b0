//! Refusing: CSRs and subjects the CA will not sign.

use super::*;

async fn refuse(csr: &str) -> CsrError {
    let (_s, _m, ca) = new_ca("ed25519").await;
    let now = now();
    ca.sign_csr(csr, &subject(), now + Duration::hours(1), now)
        .expect_err("must be refused")
}

#[tokio::test]
async fn garbage_is_malformed() {
    for csr in [
        "",
        "hello",
        "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 !!!\n-----END CERTIFICATE REQUEST-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----\n",
    ] {
        let err = refuse(csr).await;
        assert!(matches!(err, CsrError::Malformed(_)), "{csr:?}: {err:?}");
        assert!(
            err.to_string()
                .starts_with("malformed certificate signing request")
        );
    }
}

#[tokio::test]
async fn truncated_pem_is_malformed() {
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    // Without its END line.
    let no_end = &csr[..csr.find("-----END").expect("end")];
    assert!(matches!(refuse(no_end).await, CsrError::Malformed(_)));
    // With the body cut short (whole base64 quads, so only the DER is truncated).
    let der = pem_der(&csr);
    let cut = to_pem("CERTIFICATE REQUEST", &der[..der.len() / 2]);
    let err = refuse(&cut).await;
    assert!(matches!(err, CsrError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn other_pem_blocks_are_malformed() {
    let (_s, _m, ca) = new_ca("ed25519").await;
    let err = refuse(ca.ca_certificate_pem()).await;
    assert!(matches!(err, CsrError::Malformed(_)), "{err:?}");
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let two = format!("{csr}{csr}");
    assert!(matches!(refuse(&two).await, CsrError::Malformed(_)));
    let mut trailing = pem_der(&csr);
    trailing.push(0);
    let trailing = to_pem("CERTIFICATE REQUEST", &trailing);
    assert!(matches!(refuse(&trailing).await, CsrError::Malformed(_)));
}

fn flip_last_byte(csr_pem: &str) -> String {
    let mut der = pem_der(csr_pem);
    let last = der.len() - 1;
    der[last] ^= 0x01;
    to_pem("CERTIFICATE REQUEST", &der)
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    for csr in [
        rcgen_csr(&rcgen::PKCS_ED25519),
        rcgen_csr(&rcgen::PKCS_ECDSA_P256_SHA256),
        RSA2048_CSR.to_string(),
    ] {
        let err = refuse(&flip_last_byte(&csr)).await;
        assert!(matches!(err, CsrError::BadSignature(_)), "{err:?}");
    }
}

#[tokio::test]
async fn tampered_request_body_is_refused() {
    // Replace the requested CN "admin" with "admix": the signature no longer covers the data.
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let mut der = pem_der(&csr);
    let at = der.windows(5).position(|w| w == b"admin").expect("cn");
    der[at + 4] = b'x';
    let err = refuse(&to_pem("CERTIFICATE REQUEST", &der)).await;
    assert!(matches!(err, CsrError::BadSignature(_)), "{err:?}");
}

#[tokio::test]
async fn unsupported_keys_are_refused() {
    for (name, csr, needle) in [
        ("rsa1024", RSA1024_CSR, "1024-bit RSA"),
        ("secp256k1", SECP256K1_CSR, "curve"),
        ("ed448", ED448_CSR, "key algorithm"),
    ] {
        let err = refuse(csr).await;
        match &err {
            CsrError::UnsupportedKey(msg) => assert!(msg.contains(needle), "{name}: {msg}"),
            other => panic!("{name}: expected UnsupportedKey, got {other:?}"),
        }
        assert!(err.to_string().contains("accepted: Ed25519"), "{err}");
    }
}
