//! Small cryptographic helpers: randomness, hashing, constant-time comparison and sealing of
//! private keys under the master key (XChaCha20-Poly1305).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// `n` random bytes from the OS generator, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&*buf)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The 256-bit key that seals private keys at rest.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the master key must be 32 bytes, given as 64 hex digits or base64url (43 characters)")]
    Malformed,
    #[error("a sealed key could not be opened: wrong master key or corrupted data")]
    Unseal,
}

impl MasterKey {
    pub fn generate() -> Self {
        MasterKey(Zeroizing::new(random_bytes::<32>()))
    }

    /// Accepts 64 hex digits or unpadded/padded base64url.
    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| MasterKeyError::Malformed)?
        } else {
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| MasterKeyError::Malformed)?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|_| MasterKeyError::Malformed)?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }

    /// The form written to the key file.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.0))
    }

    /// A subkey for another purpose (HMAC-SHA256 keyed by the master key over `label`).
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&*self.0).expect("HMAC accepts any key length");
        mac.update(label);
        mac.finalize().into_bytes().into()
    }

    /// A key of its own for another purpose, derived like [`MasterKey::derive`].
    pub fn subkey(&self, label: &[u8]) -> MasterKey {
        MasterKey(Zeroizing::new(self.derive(label)))
    }

    /// Seals `plaintext`, binding it to `context` (e.g. the key id) so sealed blobs cannot be
    /// swapped between rows. Output: 24-byte nonce followed by the ciphertext.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let nonce_bytes = random_bytes::<24>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let mut out = nonce_bytes.to_vec();
        // Encryption with a fresh nonce and in-memory buffers cannot fail.
        if let Ok(ct) = cipher.encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad: context,
            },
        ) {
            out.extend_from_slice(&ct);
        }
        out
    }

    pub fn open(
        &self,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
        if sealed.len() < 24 + 16 {
            return Err(MasterKeyError::Unseal);
        }
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let (nonce, ct) = sealed.split_at(24);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| MasterKeyError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_context() {
        let k = MasterKey::generate();
        let sealed = k.seal(b"kid-1", b"secret");
        assert_eq!(&*k.open(b"kid-1", &sealed).unwrap(), b"secret");
        assert!(k.open(b"kid-2", &sealed).is_err());
        let other = MasterKey::generate();
        assert!(other.open(b"kid-1", &sealed).is_err());
    }

    #[test]
    fn master_key_text_round_trips() {
        let k = MasterKey::generate();
        let parsed = MasterKey::parse(&k.to_text()).unwrap();
        assert_eq!(*parsed.0, *k.0);
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn random_tokens_differ_and_have_expected_length() {
        let a = random_token(16);
        let b = random_token(16);
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
    }
}
