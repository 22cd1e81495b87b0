//! Issuing: what a signed certificate holds, for each CA and CSR algorithm.

use super::*;

#[tokio::test]
async fn ed25519_csr_is_signed() {
    sign_and_check("ed25519", &rcgen_csr(&rcgen::PKCS_ED25519)).await;
}

#[tokio::test]
async fn p256_csr_is_signed() {
    sign_and_check("ed25519", &rcgen_csr(&rcgen::PKCS_ECDSA_P256_SHA256)).await;
}

#[tokio::test]
async fn p384_csr_is_signed() {
    sign_and_check("ed25519", &rcgen_csr(&rcgen::PKCS_ECDSA_P384_SHA384)).await;
}

#[tokio::test]
async fn rsa2048_csr_is_signed() {
    sign_and_check("ed25519", RSA2048_CSR).await;
}

#[tokio::test]
async fn p256_ca_signs_csrs() {
    sign_and_check("p256", &rcgen_csr(&rcgen::PKCS_ED25519)).await;
    sign_and_check("p256", RSA2048_CSR).await;
}

#[tokio::test]
async fn csr_pem_with_surrounding_whitespace_and_old_label_is_accepted() {
    let (_s, _m, ca) = new_ca("ed25519").await;
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let old = to_pem("NEW CERTIFICATE REQUEST", &pem_der(&csr));
    let now = now();
    ca.sign_csr(
        &format!("\n  {old}\n\n"),
        &subject(),
        now + Duration::hours(1),
        now,
    )
    .expect("signed");
}

#[tokio::test]
async fn serials_differ() {
    let (_s, _m, ca) = new_ca("ed25519").await;
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let now = now();
    let a = ca
        .sign_csr(&csr, &subject(), now + Duration::hours(1), now)
        .expect("a");
    let b = ca
        .sign_csr(&csr, &subject(), now + Duration::hours(1), now)
        .expect("b");
    let (da, db) = (pem_der(&a), pem_der(&b));
    let (_, ca_) = X509Certificate::from_der(&da).expect("a");
    let (_, cb) = X509Certificate::from_der(&db).expect("b");
    assert_ne!(ca_.raw_serial(), cb.raw_serial());
}

#[tokio::test]
async fn validity_is_clamped_to_the_ca_and_must_be_in_the_future() {
    let (_s, _m, ca) = new_ca("ed25519").await;
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let now = now();
    let cert = ca
        .sign_csr(&csr, &subject(), now + Duration::days(365 * 20), now)
        .expect("signed");
    let der = pem_der(&cert);
    let (_, c) = X509Certificate::from_der(&der).expect("cert");
    assert_eq!(
        c.validity().not_after.timestamp(),
        ca.not_after().timestamp()
    );

    for end in [now, now - Duration::seconds(1)] {
        let err = ca
            .sign_csr(&csr, &subject(), end, now)
            .expect_err("no validity left");
        assert!(matches!(err, CsrError::Issue(_)), "{err:?}");
    }
}

#[tokio::test]
async fn non_ascii_email_cannot_be_a_san() {
    let (_s, _m, ca) = new_ca("ed25519").await;
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let now = now();
    let who = CertSubject {
        user_id: UserId::new(),
        email: "jürgen@example.com".into(),
    };
    let err = ca
        .sign_csr(&csr, &who, now + Duration::hours(1), now)
        .expect_err("refused");
    assert!(matches!(err, CsrError::Issue(_)), "{err:?}");
}
