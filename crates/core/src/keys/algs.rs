//! What differs between the three signing algorithms: making a key, reading its sealed private
//! half, signing, and its public JWK. Everything else about a key ring is the same for all.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::{Algorithm, DecodingKey};
use p256::ecdsa::signature::Signer as _;
use rand_core::OsRng;
use rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::KeyError;
use crate::model::{IdTokenAlg, KeyPurpose};

/// RSA modulus size for RS256 keys.
const RSA_BITS: usize = 2048;

/// The store's purpose for the signing keys of `alg`.
pub fn purpose(alg: IdTokenAlg) -> KeyPurpose {
    match alg {
        IdTokenAlg::EdDsa => KeyPurpose::TokenSigning,
        IdTokenAlg::Rs256 => KeyPurpose::IdTokenRs256,
        IdTokenAlg::Es256 => KeyPurpose::IdTokenEs256,
    }
}

pub(crate) fn jwt_algorithm(alg: IdTokenAlg) -> Algorithm {
    match alg {
        IdTokenAlg::EdDsa => Algorithm::EdDSA,
        IdTokenAlg::Rs256 => Algorithm::RS256,
        IdTokenAlg::Es256 => Algorithm::ES256,
    }
}

/// The algorithm a JWS header names, when it is one of ours.
pub(crate) fn from_jwt_algorithm(alg: Algorithm) -> Option<IdTokenAlg> {
    match alg {
        Algorithm::EdDSA => Some(IdTokenAlg::EdDsa),
        Algorithm::RS256 => Some(IdTokenAlg::Rs256),
        Algorithm::ES256 => Some(IdTokenAlg::Es256),
        _ => None,
    }
}

/// Kids carry the algorithm, so one never names a key of another algorithm.
fn kid_prefix(alg: IdTokenAlg) -> &'static str {
    match alg {
        IdTokenAlg::EdDsa => "ed25519",
        IdTokenAlg::Rs256 => "rs256",
        IdTokenAlg::Es256 => "es256",
    }
}

pub(crate) fn new_kid(alg: IdTokenAlg) -> String {
    format!("{}-{}", kid_prefix(alg), crate::crypto::random_token(9))
}

/// A freshly made key: the private half as PKCS#8 DER (wiped on drop) and the public half in
/// its stored form.
pub(crate) struct NewKey {
    pub pkcs8: Zeroizing<Vec<u8>>,
    pub public: Vec<u8>,
}

fn encode_err(e: impl std::fmt::Display) -> KeyError {
    KeyError::Malformed(format!("cannot encode new key: {e}"))
}

pub(crate) fn generate(alg: IdTokenAlg) -> Result<NewKey, KeyError> {
    match alg {
        IdTokenAlg::EdDsa => {
            let mut seed = crate::crypto::random_bytes::<32>();
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            seed.iter_mut().for_each(|b| *b = 0);
            let der = key.to_pkcs8_der().map_err(encode_err)?;
            Ok(NewKey {
                pkcs8: Zeroizing::new(der.as_bytes().to_vec()),
                public: key.verifying_key().to_bytes().to_vec(),
            })
        }
        IdTokenAlg::Rs256 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS).map_err(encode_err)?;
            let der = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).map_err(encode_err)?;
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(encode_err)?;
            Ok(NewKey {
                pkcs8: Zeroizing::new(der.as_bytes().to_vec()),
                public: public.into_vec(),
            })
        }
        IdTokenAlg::Es256 => {
            let key = p256::ecdsa::SigningKey::random(&mut OsRng);
            let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).map_err(encode_err)?;
            Ok(NewKey {
                pkcs8: Zeroizing::new(der.as_bytes().to_vec()),
                public: key
                    .verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            })
        }
    }
}

/// A signing key, parsed once per ring (re)load: re-reading PKCS#8 (and, for Ed25519,
/// re-deriving the public key) on every signature cost as much as the signature itself.
pub(crate) enum PrivateKey {
    EdDsa(Box<ed25519_dalek::SigningKey>),
    Rs256(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
    Es256(Box<p256::ecdsa::SigningKey>),
}

impl PrivateKey {
    /// `None` when `der` is not a PKCS#8 key of `alg`.
    pub(crate) fn from_pkcs8(alg: IdTokenAlg, der: &[u8]) -> Option<PrivateKey> {
        Some(match alg {
            IdTokenAlg::EdDsa => PrivateKey::EdDsa(Box::new(
                ed25519_dalek::SigningKey::from_pkcs8_der(der).ok()?,
            )),
            IdTokenAlg::Rs256 => {
                let key: rsa::RsaPrivateKey =
                    rsa::pkcs8::DecodePrivateKey::from_pkcs8_der(der).ok()?;
                PrivateKey::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(key)))
            }
            IdTokenAlg::Es256 => PrivateKey::Es256(Box::new(
                p256::pkcs8::DecodePrivateKey::from_pkcs8_der(der).ok()?,
            )),
        })
    }

    /// The JWS signature of `message` (RFC 7518 §3: PKCS#1 v1.5 for RS256, `r || s` for
    /// ES256, the 64-byte Ed25519 signature for EdDSA).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            PrivateKey::EdDsa(k) => Ok(k.sign(message).to_bytes().to_vec()),
            // Randomised: the RSA operation is blinded.
            PrivateKey::Rs256(k) => k
                .try_sign_with_rng(&mut OsRng, message)
                .map(|s| s.to_vec())
                .map_err(|e| KeyError::Sign(e.to_string())),
            PrivateKey::Es256(k) => k
                .try_sign(message)
                .map(|s: p256::ecdsa::Signature| s.to_bytes().to_vec())
                .map_err(|e| KeyError::Sign(e.to_string())),
        }
    }
}

/// A stored public half as `jsonwebtoken`'s verifying key and the algorithm's JWK members
/// (`kty`, `crv`, `x`, `y`, `n`, `e`). `None` when it is malformed.
pub(crate) fn public_key(
    alg: IdTokenAlg,
    public: &[u8],
) -> Option<(DecodingKey, Map<String, Value>)> {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let (key, jwk) = match alg {
        IdTokenAlg::EdDsa => {
            if public.len() != 32 {
                return None;
            }
            let x = b64(public);
            let key = DecodingKey::from_ed_components(&x).ok()?;
            (key, json!({ "kty": "OKP", "crv": "Ed25519", "x": x }))
        }
        IdTokenAlg::Rs256 => {
            let rsa = rsa::RsaPublicKey::from_public_key_der(public).ok()?;
            let (n, e) = (b64(&rsa.n().to_bytes_be()), b64(&rsa.e().to_bytes_be()));
            let key = DecodingKey::from_rsa_components(&n, &e).ok()?;
            (key, json!({ "kty": "RSA", "n": n, "e": e }))
        }
        IdTokenAlg::Es256 => {
            let point = p256::ecdsa::VerifyingKey::from_sec1_bytes(public)
                .ok()?
                .to_encoded_point(false);
            let (x, y) = (b64(point.x()?), b64(point.y()?));
            let key = DecodingKey::from_ec_components(&x, &y).ok()?;
            (key, json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }))
        }
    };
    match jwk {
        Value::Object(members) => Some((key, members)),
        _ => None,
    }
}
