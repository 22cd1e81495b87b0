//! Opaque, tamper-evident page tokens: an offset bound to the listing it belongs to (the
//! endpoint, the org, the query), MACed with a key derived from the master key. A forged,
//! altered or foreign token fails to open, so it cannot leak another listing's rows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed or foreign page token")]
pub struct BadPageToken;

impl PageTokens {
    pub fn new(key: [u8; 32]) -> Self {
        PageTokens { key }
    }

    fn mac(&self, scope: &str, offset: u64) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(&offset.to_be_bytes());
        mac
    }

    /// `scope` names the listing: e.g. `"users|<org>|<query fingerprint>"`.
    pub fn seal(&self, scope: &str, offset: u64) -> String {
        let tag = self.mac(scope, offset).finalize().into_bytes();
        let mut raw = offset.to_be_bytes().to_vec();
        raw.extend_from_slice(&tag[..16]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn open(&self, scope: &str, token: &str) -> Result<u64, BadPageToken> {
        if token.len() > 64 {
            return Err(BadPageToken);
        }
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadPageToken)?;
        if raw.len() != 24 {
            return Err(BadPageToken);
        }
        let (off, tag) = raw.split_at(8);
        let offset = u64::from_be_bytes(off.try_into().map_err(|_| BadPageToken)?);
        self.mac(scope, offset)
            .verify_truncated_left(tag)
            .map_err(|_| BadPageToken)?;
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let p = PageTokens::new([7; 32]);
        let t = p.seal("users|org-a", 200);
        assert_eq!(p.open("users|org-a", &t), Ok(200));
        assert_eq!(p.open("users|org-b", &t), Err(BadPageToken));
        assert_eq!(
            PageTokens::new([8; 32]).open("users|org-a", &t),
            Err(BadPageToken)
        );
        let mut forged = t.clone().into_bytes();
        forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            p.open("users|org-a", std::str::from_utf8(&forged).unwrap()),
            Err(BadPageToken)
        );
        assert_eq!(p.open("users|org-a", "!!!"), Err(BadPageToken));
        assert_eq!(p.open("users|org-a", ""), Err(BadPageToken));
    }
}
