//! Device flow user codes (RFC 8628 §6.1): 8 letters from 20 consonants that are hard to
//! confuse and spell no words (no vowels, no `Y`), shown as `XXXX-XXXX`, typed in any case with
//! or without dashes and spaces. They are kept only as an HMAC under a key derived from the
//! master key: 20^8 ≈ 2.6·10^10 codes is few enough to search a plain hash of.

use crate::crypto::{self, MasterKey};

/// RFC 8628 §6.1's example alphabet: consonants only.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (entropy 8 · log2(20) ≈ 34.6 bits).
pub const USER_CODE_LEN: usize = 8;
/// Typed input longer than this is not a user code (bounds the work on garbage).
const MAX_TYPED: usize = 64;

/// A fresh user code, normalised (8 letters, no dash). Uniform: bytes ≥ 240 are drawn again,
/// so every letter is equally likely.
pub fn generate() -> String {
    let mut out = String::with_capacity(USER_CODE_LEN);
    while out.len() < USER_CODE_LEN {
        for b in crypto::random_bytes::<16>() {
            if b < 240 && out.len() < USER_CODE_LEN {
                out.push(USER_CODE_ALPHABET[usize::from(b) % 20] as char);
            }
        }
    }
    out
}

/// `BCDFGHJK` → `BCDF-GHJK`, as shown to people.
pub fn display(normalised: &str) -> String {
    let (a, b) = normalised.split_at(normalised.len().min(USER_CODE_LEN / 2));
    format!("{a}-{b}")
}

/// What a person typed, as a normalised code: case folded, dashes and white space dropped;
/// `None` unless exactly 8 letters of the alphabet remain.
pub fn normalise(typed: &str) -> Option<String> {
    if typed.len() > MAX_TYPED {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The keyed hash a user code is stored and found by.
#[derive(Debug, Clone)]
pub(super) struct UserCodeKey(MasterKey);

impl UserCodeKey {
    pub(super) fn of(engine: &crate::engine::Engine) -> Self {
        UserCodeKey(engine.oidc_seal().subkey(b"oidc device user code"))
    }

    /// Hex HMAC-SHA256 of the normalised code.
    pub(super) fn hash(&self, normalised: &str) -> String {
        hex::encode(self.0.derive(normalised.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_use_the_alphabet_and_differ() {
        let codes: Vec<String> = (0..200).map(|_| generate()).collect();
        for c in &codes {
            assert_eq!(c.len(), USER_CODE_LEN);
            assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{c}");
            assert_eq!(normalise(c).as_deref(), Some(c.as_str()));
        }
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), codes.len());
        // Every letter shows up: the draw covers the whole alphabet.
        let seen: std::collections::BTreeSet<u8> = codes.iter().flat_map(|c| c.bytes()).collect();
        assert_eq!(seen.len(), USER_CODE_ALPHABET.len());
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        for typed in [
            "BCDF-GHJK",
            "bcdf-ghjk",
            " bcdf ghjk ",
            "BcDfGhJk",
            "B-C-D-F-G-H-J-K",
        ] {
            assert_eq!(normalise(typed).as_deref(), Some("BCDFGHJK"), "{typed:?}");
        }
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",  // vowels are not in the alphabet
            "BCDF-GHJ1",  // nor digits
            "BCDF_GHJK",  // nor other separators
            "ＢCDF-GHJK", // nor look-alike letters
        ] {
            assert_eq!(normalise(bad), None, "{bad:?}");
        }
        assert_eq!(normalise(&"-".repeat(100)), None);
    }

    #[test]
    fn the_hash_is_keyed() {
        let a = UserCodeKey(MasterKey::generate());
        let b = UserCodeKey(MasterKey::generate());
        assert_eq!(a.hash("BCDFGHJK"), a.hash("BCDFGHJK"));
        assert_ne!(a.hash("BCDFGHJK"), b.hash("BCDFGHJK"));
        assert_ne!(a.hash("BCDFGHJK"), a.hash("BCDFGHJL"));
        let plain = hex::encode(crypto::sha256(b"BCDFGHJK"));
        assert_ne!(a.hash("BCDFGHJK"), plain);
    }
}
