//! The CA itself: creation, reload, tampering, rotation and races.

use super::*;

/// Loads the ed25519 CA from `store` under a fresh master key, which must fail.
async fn reload_with_a_wrong_master_key(store: &KeyStore) -> CertError {
    CertificateAuthority::load_or_create(store, &MasterKey::generate(), &cfg("ed25519"), now())
        .await
        .expect_err("wrong master key")
}

#[tokio::test]
async fn ca_certificate_has_the_promised_shape() {
    for (alg, expected) in [
        ("ed25519", CaAlgorithm::Ed25519),
        ("p256", CaAlgorithm::P256),
    ] {
        let now = now();
        let store = KeyStore::default();
        let master = MasterKey::generate();
        let ca = CertificateAuthority::load_or_create(&store, &master, &cfg(alg), now)
            .await
            .expect("CA");
        assert_eq!(ca.algorithm(), expected);
        let der = pem_der(ca.ca_certificate_pem());
        let (_, cert) = X509Certificate::from_der(&der).expect("cert");
        cert.verify_signature(None).expect("self-signed");
        let cns: Vec<_> = cert
            .subject()
            .iter_common_name()
            .map(|a| a.as_str().expect("cn"))
            .collect();
        assert_eq!(cns, vec!["Test Portcullis CA"]);
        assert_eq!(cert.subject().as_raw(), cert.issuer().as_raw());
        let bc = cert
            .basic_constraints()
            .expect("bc")
            .expect("bc present")
            .value;
        assert!(bc.ca);
        assert_eq!(bc.path_len_constraint, Some(0));
        let ku = cert.key_usage().expect("ku").expect("ku present").value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert!(!ku.digital_signature());
        let years = (cert.validity().not_after.timestamp() - now.timestamp()) / (365 * 86400);
        assert_eq!(years, 10);
        // Stored as promised.
        let keys = store.keys.lock().expect("lock").clone();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].purpose, KeyPurpose::CertificateAuthority);
        assert_eq!(keys[0].kid, ca.kid());
        assert_eq!(keys[0].algorithm, alg);
        assert_eq!(keys[0].public, ca.ca_certificate_pem().as_bytes());
        assert!(
            master
                .open(keys[0].kid.as_bytes(), &keys[0].sealed_private)
                .is_ok()
        );
        assert!(master.open(b"other-kid", &keys[0].sealed_private).is_err());
    }
}

#[tokio::test]
async fn load_or_create_twice_returns_the_same_ca() {
    let (store, master, first) = new_ca("ed25519").await;
    // Even with another algorithm configured, the stored CA is kept.
    let second = CertificateAuthority::load_or_create(&store, &master, &cfg("p256"), now())
        .await
        .expect("reload");
    assert_eq!(first.kid(), second.kid());
    assert_eq!(first.ca_certificate_pem(), second.ca_certificate_pem());
    assert_eq!(second.algorithm(), CaAlgorithm::Ed25519);
    assert_eq!(store.keys.lock().expect("lock").len(), 1);
    // The reloaded key signs certificates that verify against the first instance's certificate.
    let csr = rcgen_csr(&rcgen::PKCS_ED25519);
    let who = subject();
    let now = now();
    let cert = second
        .sign_csr(&csr, &who, now + Duration::hours(2), now)
        .expect("signed");
    check_issued(&first, &csr, &cert, &who, now, now + Duration::hours(2));
}

#[tokio::test]
async fn wrong_master_key_fails_clearly() {
    let (store, _master, first) = new_ca("ed25519").await;
    let err = reload_with_a_wrong_master_key(&store).await;
    match &err {
        CertError::Unseal { kid } => assert_eq!(kid, first.kid()),
        other => panic!("expected Unseal, got {other:?}"),
    }
    assert!(err.to_string().contains("wrong master key"), "{err}");
    // Nothing was replaced.
    assert_eq!(store.keys.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn unknown_algorithm_is_a_config_error() {
    let store = KeyStore::default();
    let err =
        CertificateAuthority::load_or_create(&store, &MasterKey::generate(), &cfg("rsa"), now())
            .await
            .expect_err("bad config");
    assert!(matches!(err, CertError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn swapped_certificate_is_detected() {
    let (store, master, _ca) = new_ca("ed25519").await;
    let (_s2, _m2, other) = new_ca("ed25519").await;
    store.keys.lock().expect("lock")[0].public = other.ca_certificate_pem().as_bytes().to_vec();
    let err = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), now())
        .await
        .expect_err("mismatch");
    assert!(matches!(err, CertError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn expired_ca_is_replaced_and_retired() {
    let store = KeyStore::default();
    let master = MasterKey::generate();
    let long_ago = now() - Duration::days(3660);
    let old = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), long_ago)
        .await
        .expect("old CA");
    let new = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), now())
        .await
        .expect("new CA");
    assert_ne!(old.kid(), new.kid());
    let keys = store.keys.lock().expect("lock").clone();
    assert_eq!(keys.len(), 2);
    let old_rec = keys.iter().find(|k| k.kid == old.kid()).expect("old");
    assert!(old_rec.retired_at.is_some());
    let new_rec = keys.iter().find(|k| k.kid == new.kid()).expect("new");
    assert!(new_rec.retired_at.is_none());
}

#[tokio::test]
async fn expired_ca_with_wrong_master_key_is_not_replaced() {
    let store = KeyStore::default();
    let master = MasterKey::generate();
    let long_ago = now() - Duration::days(3660);
    CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), long_ago)
        .await
        .expect("old CA");
    let err = reload_with_a_wrong_master_key(&store).await;
    assert!(matches!(err, CertError::Unseal { .. }), "{err:?}");
    let keys = store.keys.lock().expect("lock").clone();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].retired_at.is_none());
}

#[tokio::test]
async fn concurrently_created_cas_converge_on_the_oldest() {
    // Two processes raced on an empty store: two active CA keys.
    let store = KeyStore::default();
    let master = MasterKey::generate();
    let t0 = now();
    let a = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), t0)
        .await
        .expect("a");
    let other_store = KeyStore::default();
    let b = CertificateAuthority::load_or_create(
        &other_store,
        &master,
        &cfg("ed25519"),
        t0 + Duration::seconds(1),
    )
    .await
    .expect("b");
    let b_rec = other_store.keys.lock().expect("lock")[0].clone();
    store.keys.lock().expect("lock").push(b_rec);

    let loaded = CertificateAuthority::load_or_create(&store, &master, &cfg("ed25519"), now())
        .await
        .expect("loaded");
    assert_eq!(loaded.kid(), a.kid());
    let keys = store.keys.lock().expect("lock").clone();
    let b_after = keys.iter().find(|k| k.kid == b.kid()).expect("b");
    assert!(b_after.retired_at.is_some());
}

#[test]
fn the_ca_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<CertificateAuthority>();
}
