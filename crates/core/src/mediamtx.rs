//! MediaMTX tokens (NOMINAL.md §5, §7 getJwks/generateMediaMtxToken): RS256 JWTs carrying the
//! claim `mediamtx_permissions`, valid for 2 h, verifiable with the published JWKS.
//!
//! The key is a configured PEM file (PKCS#8 or PKCS#1). Without one, an RSA-2048 key is
//! generated when the signer is built; it lives in memory only, so tokens stop verifying after
//! a restart and processes sharing a store publish different keys — configure a file for that.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};
use crate::model::UserId;

/// Lifetime of a MediaMTX token.
pub const MEDIAMTX_TOKEN_SECS: i64 = 2 * 3600;

/// The actions MediaMTX knows.
pub const MEDIAMTX_ACTIONS: [&str; 6] = ["publish", "read", "playback", "api", "metrics", "pprof"];

/// `[auth.mediamtx]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaMtxConfig {
    pub enabled: bool,
    /// An RSA private key in PEM (PKCS#8 or PKCS#1). Without it, a key is generated in memory.
    pub private_key_path: Option<PathBuf>,
    /// The `kid`; by default derived from the public key.
    pub key_id: Option<String>,
}

/// One published RSA public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaJwk {
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// One MediaMTX permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaMtxPermission {
    pub action: String,
    pub path: String,
}

#[derive(Serialize)]
struct MediaMtxClaims<'a> {
    iss: &'a str,
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
    mediamtx_permissions: &'a [MediaMtxPermission],
}

/// Signs MediaMTX tokens.
pub struct MediaMtxSigner {
    jwk: RsaJwk,
    key: EncodingKey,
    issuer: String,
}

impl std::fmt::Debug for MediaMtxSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaMtxSigner")
            .field("kid", &self.jwk.kid)
            .finish()
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(format!("mediamtx key: {what}: {e}"))
}

impl MediaMtxSigner {
    /// `None` when MediaMTX is not enabled.
    pub fn from_config(cfg: &MediaMtxConfig, issuer: &str) -> CoreResult<Option<MediaMtxSigner>> {
        if !cfg.enabled {
            return Ok(None);
        }
        let key = match &cfg.private_key_path {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| internal(&format!("cannot read {}", path.display()), e))?;
                Self::parse_pem(&pem)?
            }
            None => {
                tracing::warn!(
                    "mediamtx.private_key_path is not set; using an in-memory key that changes on restart"
                );
                let mut rng = rand_core::OsRng;
                RsaPrivateKey::new(&mut rng, 2048).map_err(|e| internal("generate", e))?
            }
        };
        Self::from_key(&key, cfg.key_id.clone(), issuer).map(Some)
    }

    pub fn parse_pem(pem: &str) -> CoreResult<RsaPrivateKey> {
        RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|e| internal("not an RSA private key in PEM", e))
    }

    pub fn from_key(key: &RsaPrivateKey, kid: Option<String>, issuer: &str) -> CoreResult<Self> {
        let n = key.n().to_bytes_be();
        let e = key.e().to_bytes_be();
        let kid = kid.unwrap_or_else(|| {
            let digest = crate::crypto::sha256(&n);
            URL_SAFE_NO_PAD.encode(&digest[..12])
        });
        let der = key.to_pkcs1_der().map_err(|e| internal("encode", e))?;
        Ok(MediaMtxSigner {
            jwk: RsaJwk {
                kid,
                n: URL_SAFE_NO_PAD.encode(n),
                e: URL_SAFE_NO_PAD.encode(e),
            },
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            issuer: issuer.to_owned(),
        })
    }

    pub fn jwks(&self) -> Vec<RsaJwk> {
        vec![self.jwk.clone()]
    }

    /// A 2 h RS256 token for `user` with the given permissions. Unknown actions are refused.
    pub fn token(
        &self,
        user: UserId,
        permissions: &[MediaMtxPermission],
    ) -> CoreResult<(String, chrono::DateTime<Utc>)> {
        if let Some(bad) = permissions
            .iter()
            .find(|p| !MEDIAMTX_ACTIONS.contains(&p.action.as_str()))
        {
            return Err(CoreError::InvalidArgument(format!(
                "unknown MediaMTX action {:?}",
                bad.action
            )));
        }
        let now = Utc::now();
        let exp = now + chrono::Duration::seconds(MEDIAMTX_TOKEN_SECS);
        let claims = MediaMtxClaims {
            iss: &self.issuer,
            sub: user.to_string(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: crate::crypto::random_token(16),
            mediamtx_permissions: permissions,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.jwk.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| internal("sign", e))?;
        Ok((token, exp))
    }
}
