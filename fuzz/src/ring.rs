//! An access-token validator over an in-memory key ring with one fixed Ed25519 key, so seed
//! tokens signed offline (`fuzz/make_seeds.py`) stay valid from run to run.

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use portcullis_core::crypto::MasterKey;
use portcullis_core::keys::{KeyRing, key_purpose};
use portcullis_core::model::{IdTokenAlg, KeyRecord};
use portcullis_core::revocation::RevocationView;
use portcullis_core::tokens::AccessTokens;

pub const ISSUER: &str = "https://portcullis.fuzz";
pub const AUDIENCE: &str = "portcullis";
pub const KID: &str = "eddsa-fuzz";
/// The Ed25519 seed of the ring's only key (also in `make_seeds.py`).
pub const SEED: [u8; 32] = [0x42; 32];
pub const LEEWAY_SECS: u64 = 60;

pub struct Fixture {
    pub tokens: AccessTokens,
    pub signer: SigningKey,
}

pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let master = MasterKey::parse(&"11".repeat(32)).expect("a 32-byte hex master key");
    let signer = SigningKey::from_bytes(&SEED);
    let pkcs8 = signer.to_pkcs8_der().expect("PKCS#8 of an Ed25519 key");
    let now = chrono::Utc::now();
    let record = KeyRecord {
        kid: KID.into(),
        purpose: key_purpose(IdTokenAlg::EdDsa),
        algorithm: IdTokenAlg::EdDsa.as_str().into(),
        sealed_private: master.seal(KID.as_bytes(), pkcs8.as_bytes()),
        public: signer.verifying_key().to_bytes().to_vec(),
        created_at: now,
        retired_at: None,
        revoked_at: None,
    };
    let ring = KeyRing::from_records(
        IdTokenAlg::EdDsa,
        master,
        &[record],
        chrono::Duration::hours(24),
    )
    .expect("the fixed key makes a ring");
    let tokens = AccessTokens::new(
        Arc::new(ring),
        Arc::new(RevocationView::default()),
        ISSUER.into(),
        AUDIENCE.into(),
        LEEWAY_SECS,
        64,
    );
    Fixture { tokens, signer }
});

/// A compact JWS of `header` and `payload` (raw JSON bytes) signed with the fixed key.
pub fn sign(header: &[u8], payload: &[u8]) -> String {
    let mut jws = URL_SAFE_NO_PAD.encode(header);
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let sig = FIXTURE.signer.sign(jws.as_bytes());
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    jws
}

/// Whether `token`'s signature part is exactly the fixed key's signature over its first two
/// parts (Ed25519 is deterministic, so a token the ring accepts must pass this).
pub fn signed_by_fixture(token: &str) -> bool {
    let Some((input, sig)) = token.rsplit_once('.') else {
        return false;
    };
    URL_SAFE_NO_PAD.encode(FIXTURE.signer.sign(input.as_bytes()).to_bytes()) == sig
}
