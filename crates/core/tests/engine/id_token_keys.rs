//! ID-token signing keys (RS256, ES256, EdDSA): signatures checked by paths independent of the
//! engine, rotation, revocation, unknown kids, algorithm confusion and racing first use.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::Jwk};
use portcullis_core::keys::{KeyRing, SIGNING_ALGS};
use portcullis_core::model::IdTokenAlg;
use portcullis_core::tokens::TokenFailure;
use serde_json::{Value, json};

use super::*;

const ALGS: [IdTokenAlg; 3] = [IdTokenAlg::Rs256, IdTokenAlg::Es256, IdTokenAlg::EdDsa];

fn id_claims(exp_in: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": "https://auth.example.test/", "aud": "client-1", "sub": "u-1",
        "iat": now, "exp": now + exp_in, "nonce": "n-0S6_WzA2Mj",
    })
}

async fn sign(e: &Env, alg: IdTokenAlg, claims: &Value) -> String {
    e.engine.sign_jwt(alg, "JWT", claims).await.unwrap()
}

async fn verify(e: &Engine, token: &str) -> Result<Value, TokenFailure> {
    e.verify_own_jwt(token, "JWT", Utc::now(), true).await
}

fn jwk_of(jwks: &Value, kid: &str) -> Option<Value> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .cloned()
}

fn kid(token: &str) -> String {
    parts(token).0["kid"].as_str().unwrap().to_owned()
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// Checks the signature with the RustCrypto verifiers themselves, from the published JWK alone.
fn rustcrypto_verifies(jwk: &Value, token: &str) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let sig = unb64(sig);
    let member = |m: &str| unb64(jwk[m].as_str().unwrap());
    match jwk["kty"].as_str().unwrap() {
        "RSA" => {
            let public = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&member("n")),
                rsa::BigUint::from_bytes_be(&member("e")),
            )
            .unwrap();
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public)
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        }
        "EC" => {
            let point = p256::EncodedPoint::from_affine_coordinates(
                member("x").as_slice().into(),
                member("y").as_slice().into(),
                false,
            );
            let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
            key.verify(signed.as_bytes(), &sig).is_ok()
        }
        "OKP" => {
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(member("x").as_slice().try_into().unwrap())
                    .unwrap();
            let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
            key.verify(signed.as_bytes(), &sig).is_ok()
        }
        other => panic!("unexpected kty {other}"),
    }
}

#[tokio::test]
async fn each_algorithm_signs_what_its_published_key_verifies() {
    let e = env().await;
    let claims = id_claims(300);
    for alg in ALGS {
        let token = sign(&e, alg, &claims).await;
        let (h, p) = parts(&token);
        assert_eq!(h["alg"], alg.as_str());
        assert_eq!(h["typ"], "JWT");
        assert_eq!(p, claims);

        let jwk = jwk_of(&e.engine.jwks(), &kid(&token)).expect("the kid is published");
        assert_eq!(jwk["alg"], alg.as_str());
        assert_eq!(jwk["use"], "sig");
        let kty = match alg {
            IdTokenAlg::Rs256 => "RSA",
            IdTokenAlg::Es256 => "EC",
            IdTokenAlg::EdDsa => "OKP",
        };
        assert_eq!(jwk["kty"], kty);
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                jwk.get(private).is_none(),
                "{alg}: private member {private}"
            );
        }

        // Independently of the engine: jsonwebtoken from the JWK, and the RustCrypto verifier.
        let key =
            DecodingKey::from_jwk(&serde_json::from_value::<Jwk>(jwk.clone()).unwrap()).unwrap();
        let jwt_alg = match alg {
            IdTokenAlg::Rs256 => Algorithm::RS256,
            IdTokenAlg::Es256 => Algorithm::ES256,
            IdTokenAlg::EdDsa => Algorithm::EdDSA,
        };
        let mut v = Validation::new(jwt_alg);
        v.set_audience(&["client-1"]);
        let decoded = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
        assert_eq!(decoded.claims, claims);
        assert!(rustcrypto_verifies(&jwk, &token), "{alg}");
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 4.., "AAAA");
        assert!(
            !rustcrypto_verifies(&jwk, &forged),
            "{alg}: a forgery verifies"
        );

        assert_eq!(verify(&e.engine, &token).await.unwrap(), claims);
        assert!(verify(&e.engine, &forged).await.is_err());
    }
    // The access tokens' key stays the EdDSA ring's.
    let access = e.engine.access_tokens().keys().signing_kid().unwrap();
    assert_eq!(
        e.engine
            .signing_keys()
            .ring(IdTokenAlg::EdDsa)
            .signing_kid(),
        Some(access)
    );
}

#[tokio::test]
async fn rs256_and_es256_keys_are_made_on_first_use_and_sealed() {
    let e = env().await;
    for alg in [IdTokenAlg::Rs256, IdTokenAlg::Es256] {
        let purpose = portcullis_core::keys::key_purpose(alg);
        assert!(e.store.list_keys(purpose).await.unwrap().is_empty());
    }
    assert_eq!(e.engine.jwks()["keys"].as_array().unwrap().len(), 1);
    e.engine
        .signing_keys()
        .ensure_all(e.store.as_ref(), Utc::now())
        .await
        .unwrap();
    let algs: Vec<Value> = e.engine.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].clone())
        .collect();
    assert_eq!(algs, [json!("EdDSA"), json!("RS256"), json!("ES256")]);
    for alg in SIGNING_ALGS {
        let keys = e
            .store
            .list_keys(portcullis_core::keys::key_purpose(alg))
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "{alg}");
        assert_eq!(keys[0].algorithm, alg.as_str());
        // Sealed: another master key cannot open it.
        let wrong = KeyRing::load(
            e.store.as_ref(),
            portcullis_core::crypto::MasterKey::generate(),
            alg,
            chrono::Duration::hours(1),
        )
        .await;
        assert!(wrong.is_err(), "{alg} opened with the wrong master key");
    }
}

#[tokio::test]
async fn logout_tokens_carry_their_own_type() {
    let e = env().await;
    let now = Utc::now();
    let claims = json!({ "iss": "i", "aud": "c", "iat": now.timestamp(), "jti": "j",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} } });
    let token = e
        .engine
        .sign_jwt(IdTokenAlg::Rs256, "logout+jwt", &claims)
        .await
        .unwrap();
    assert_eq!(parts(&token).0["typ"], "logout+jwt");
    // No `exp` is needed when it is not checked; another type is refused.
    let got = e
        .engine
        .verify_own_jwt(&token, "logout+jwt", now, false)
        .await;
    assert_eq!(got.unwrap(), claims);
    assert_eq!(
        e.engine.verify_own_jwt(&token, "JWT", now, false).await,
        Err(TokenFailure::Invalid)
    );
    assert_eq!(
        e.engine
            .verify_own_jwt(&token, "logout+jwt", now, true)
            .await,
        Err(TokenFailure::Invalid),
        "exp is required when checked"
    );
    // An access token is no ID token.
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let access = e.login("ann@example.com").await;
    assert_eq!(verify(&e.engine, &access).await, Err(TokenFailure::Invalid));
}

#[tokio::test]
async fn expiry_is_checked_after_the_signature_and_only_when_asked() {
    let e = env().await;
    let token = sign(&e, IdTokenAlg::Es256, &id_claims(-3600)).await;
    assert_eq!(verify(&e.engine, &token).await, Err(TokenFailure::Expired));
    let now = Utc::now();
    assert!(
        e.engine
            .verify_own_jwt(&token, "JWT", now, false)
            .await
            .is_ok()
    );
    // Within the leeway it still passes.
    let fresh = sign(&e, IdTokenAlg::Es256, &id_claims(-10)).await;
    assert!(verify(&e.engine, &fresh).await.is_ok());
    // A forged expired token is invalid, not expired.
    let (h, mut p) = parts(&token);
    p["sub"] = json!("someone-else");
    let sig = token.rsplit('.').next().unwrap();
    let forged = format!("{}.{}.{}", b64(&h), b64(&p), sig);
    assert_eq!(verify(&e.engine, &forged).await, Err(TokenFailure::Invalid));
}

#[tokio::test]
async fn rotation_keeps_the_old_kid_verifying_until_its_tokens_expired() {
    let e = env().await;
    let eddsa_before = e.engine.access_tokens().keys().signing_kid();
    for alg in [IdTokenAlg::Rs256, IdTokenAlg::Es256] {
        let old = sign(&e, alg, &id_claims(300)).await;
        let r = e.engine.rotate_signing_key_of(alg, &ctx()).await.unwrap();
        assert_eq!(r.alg, alg);
        assert_eq!(r.retired.as_deref(), Some(kid(&old).as_str()));
        let new = sign(&e, alg, &id_claims(300)).await;
        assert_eq!(kid(&new), r.kid, "{alg}: the new key signs");
        assert!(
            verify(&e.engine, &old).await.is_ok(),
            "{alg}: retired verifies"
        );
        assert!(verify(&e.engine, &new).await.is_ok());
        let jwks = e.engine.jwks();
        assert!(jwk_of(&jwks, &kid(&old)).is_some() && jwk_of(&jwks, &r.kid).is_some());

        // Past every token the old key could have signed, it verifies and publishes nothing.
        let later = Utc::now() + chrono::Duration::days(400);
        assert_eq!(
            e.engine.verify_own_jwt(&old, "JWT", later, false).await,
            Err(TokenFailure::UnknownKey)
        );
        let ring = e.engine.signing_keys().ring(alg);
        let published = ring.jwks(later);
        assert_eq!(published["keys"].as_array().unwrap().len(), 1);
        assert_eq!(published["keys"][0]["kid"], r.kid);
    }
    assert_eq!(
        e.engine.access_tokens().keys().signing_kid(),
        eddsa_before,
        "rotating an ID-token key leaves the access tokens' key alone"
    );
    assert_eq!(e.audit_events("keys.rotate").await.len(), 2);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_everywhere_and_leaves_the_jwks() {
    let e = env().await;
    let other = e.second_engine(CoreConfig::default()).await;
    let token = sign(&e, IdTokenAlg::Es256, &id_claims(300)).await;
    let revoked = kid(&token);
    // The other process learns of the first key through its unknown-kid reload.
    assert!(verify(&other, &token).await.is_ok());

    let r = e
        .engine
        .revoke_signing_key_of(&revoked, Some(IdTokenAlg::Es256), &ctx())
        .await
        .unwrap();
    assert_eq!(r.alg, IdTokenAlg::Es256);
    assert!(!r.already_revoked);
    assert_ne!(r.signing_kid.as_deref(), Some(revoked.as_str()));
    assert_eq!(verify(&e.engine, &token).await, Err(TokenFailure::Revoked));
    assert!(jwk_of(&e.engine.jwks(), &revoked).is_none());
    let fresh = sign(&e, IdTokenAlg::Es256, &id_claims(300)).await;
    assert_eq!(Some(kid(&fresh)), r.signing_kid);
    assert!(verify(&e.engine, &fresh).await.is_ok());

    within_a_second("ES256 key revocation", || async {
        verify(&other, &token).await == Err(TokenFailure::Revoked)
            && jwk_of(&other.jwks(), &revoked).is_none()
    })
    .await;
    assert!(verify(&other, &fresh).await.is_ok());
    // Revoked is final; a kid of another algorithm is named as such.
    assert!(!e.engine.revoke_signing_key(&revoked, &ctx()).await.unwrap());
    assert!(matches!(
        e.engine
            .revoke_signing_key_of(&kid(&fresh), Some(IdTokenAlg::Rs256), &ctx())
            .await,
        Err(CoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        e.engine.revoke_signing_key("rs256-nope", &ctx()).await,
        Err(CoreError::NotFound(_))
    ));
    let audits = e.audit_events("keys.revoke").await;
    assert_eq!(audits.len(), 2);
}

#[tokio::test]
async fn unknown_kids_and_foreign_keys_are_refused() {
    let e = env().await;
    let token = sign(&e, IdTokenAlg::Rs256, &id_claims(300)).await;
    let (mut h, p) = parts(&token);
    let sig = token.rsplit('.').next().unwrap();
    h["kid"] = json!("rs256-unknown");
    let renamed = format!("{}.{}.{}", b64(&h), b64(&p), sig);
    assert_eq!(
        verify(&e.engine, &renamed).await,
        Err(TokenFailure::UnknownKey)
    );
    h.as_object_mut().unwrap().remove("kid");
    let kidless = format!("{}.{}.{}", b64(&h), b64(&p), sig);
    assert_eq!(
        verify(&e.engine, &kidless).await,
        Err(TokenFailure::Invalid)
    );
    // A token of another deployment (its own store and keys).
    let elsewhere = env().await;
    let foreign = sign(&elsewhere, IdTokenAlg::Rs256, &id_claims(300)).await;
    assert_eq!(
        verify(&e.engine, &foreign).await,
        Err(TokenFailure::UnknownKey)
    );
    assert_eq!(
        verify(&e.engine, "not.a.jwt").await,
        Err(TokenFailure::Malformed)
    );
}

#[tokio::test]
async fn algorithm_confusion_none_and_hmac_are_refused() {
    let e = env().await;
    let es = sign(&e, IdTokenAlg::Es256, &id_claims(300)).await;
    let rs = sign(&e, IdTokenAlg::Rs256, &id_claims(300)).await;
    let (h, p) = parts(&es);
    let es_sig = es.rsplit('.').next().unwrap();
    let with_alg = |alg: &str, sig: &str| {
        let mut h = h.clone();
        h["alg"] = json!(alg);
        format!("{}.{}.{}", b64(&h), b64(&p), sig)
    };
    // An RS256 header naming the ES256 kid, with the ES256 signature or an RS256 one.
    let rs_sig = rs.rsplit('.').next().unwrap();
    for sig in [es_sig, rs_sig] {
        assert_eq!(
            verify(&e.engine, &with_alg("RS256", sig)).await,
            Err(TokenFailure::Invalid)
        );
    }
    assert_eq!(
        verify(&e.engine, &with_alg("EdDSA", es_sig)).await,
        Err(TokenFailure::Invalid)
    );
    // `none` is not even a header `jsonwebtoken` reads.
    assert_eq!(
        verify(&e.engine, &with_alg("none", "")).await,
        Err(TokenFailure::Malformed)
    );
    // HS256 keyed with the published RSA modulus.
    let n = jwk_of(&e.engine.jwks(), &kid(&rs)).unwrap()["n"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.typ = Some("JWT".into());
    header.kid = Some(kid(&rs));
    let hs = jsonwebtoken::encode(
        &header,
        &p,
        &jsonwebtoken::EncodingKey::from_secret(n.as_bytes()),
    )
    .unwrap();
    assert_eq!(verify(&e.engine, &hs).await, Err(TokenFailure::Invalid));
    // ES384 with the ES256 kid: not on the allowlist.
    assert_eq!(
        verify(&e.engine, &with_alg("ES384", es_sig)).await,
        Err(TokenFailure::Invalid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_use_on_two_processes_at_once_ends_with_valid_keys_on_both() {
    racing_first_use(env().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_use_on_two_processes_at_once_on_postgres() {
    let env = TestEnv::builder().postgres().build().await;
    racing_first_use(Env { env }).await;
}

async fn racing_first_use(e: Env) {
    let other = e.second_engine(CoreConfig::default()).await;
    let claims = id_claims(300);
    // Four signers here and four there, all finding no RS256 key.
    let mut signers = tokio::task::JoinSet::new();
    for engine in [
        &e.engine, &other, &e.engine, &other, &e.engine, &other, &e.engine, &other,
    ] {
        let (engine, claims) = (engine.clone(), claims.clone());
        signers.spawn(async move { engine.sign_jwt(IdTokenAlg::Rs256, "JWT", &claims).await });
    }
    let tokens: Vec<String> = signers
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let stored = e
        .store
        .list_keys(portcullis_core::KeyPurpose::IdTokenRs256)
        .await
        .unwrap();
    // One key per process at most: a process makes its first key once.
    assert!((1..=2).contains(&stored.len()), "{} keys", stored.len());
    for token in &tokens {
        assert!(verify(&e.engine, token).await.is_ok());
        assert!(verify(&other, token).await.is_ok());
    }
    // After a reload both sign with the same, newest key.
    e.engine
        .signing_keys()
        .reload(e.store.as_ref())
        .await
        .unwrap();
    other.signing_keys().reload(e.store.as_ref()).await.unwrap();
    let a = kid(&e
        .engine
        .sign_jwt(IdTokenAlg::Rs256, "JWT", &claims)
        .await
        .unwrap());
    let b = kid(&other
        .sign_jwt(IdTokenAlg::Rs256, "JWT", &claims)
        .await
        .unwrap());
    assert_eq!(a, b);
    assert_eq!(a, stored.last().unwrap().kid);
}
