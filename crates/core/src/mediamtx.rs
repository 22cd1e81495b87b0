//! MediaMTX tokens (NOMINAL.md §5, §7 getJwks/generateMediaMtxToken): RS256 JWTs carrying the
//! claim `mediamtx_permissions`, valid for 2 h (never past the calling token or credential),
//! verifiable with the published JWKS.
//!
//! One MediaMTX instance serves every tenant, so what a token may name is scoped
//! ([`Engine::check_mediamtx_permissions`]): stream paths lie under the caller's org
//! (`<org uuid>/…`); guests may only read and play back; `api`, `metrics` and `pprof` act on
//! the whole instance and are for super-admins signed in themselves (no credential).
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

use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::{MembershipKind, Timestamp, UserId};
use crate::tokens::Principal;

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

    /// A 2 h RS256 token for `user` with the given permissions, ending at `not_after` if that
    /// is sooner. Unknown actions are refused; scoping is the caller's job
    /// ([`Engine::check_mediamtx_permissions`]).
    pub fn token(
        &self,
        user: UserId,
        permissions: &[MediaMtxPermission],
        not_after: Option<Timestamp>,
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
        let cap = now + chrono::Duration::seconds(MEDIAMTX_TOKEN_SECS);
        let exp = not_after.map_or(cap, |n| n.min(cap));
        if exp <= now {
            return Err(CoreError::TokenExpired);
        }
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

/// Actions that act on the whole MediaMTX instance, every tenant's streams included.
const INSTANCE_ACTIONS: [&str; 3] = ["api", "metrics", "pprof"];
/// Actions a guest may hold.
const GUEST_ACTIONS: [&str; 2] = ["read", "playback"];

impl Engine {
    /// Checks that the caller may hold every permission, and returns when the MediaMTX token
    /// must end: with the calling token or credential, whichever is sooner than 2 h.
    pub async fn check_mediamtx_permissions(
        &self,
        p: &Principal,
        permissions: &[MediaMtxPermission],
    ) -> CoreResult<Option<Timestamp>> {
        if let Some(bad) = permissions
            .iter()
            .find(|p| !MEDIAMTX_ACTIONS.contains(&p.action.as_str()))
        {
            return Err(CoreError::InvalidArgument(format!(
                "unknown MediaMTX action {:?}",
                bad.action
            )));
        }
        let prefix = format!("{}/", p.org.0);
        for perm in permissions {
            if INSTANCE_ACTIONS.contains(&perm.action.as_str()) {
                continue;
            }
            // MediaMTX reads an empty path as "every path" and `~` as a regular expression.
            let path = perm.path.as_str();
            let inside = path == prefix.trim_end_matches('/')
                || (path.starts_with(&prefix)
                    && path.len() > prefix.len()
                    && !path
                        .split('/')
                        .any(|seg| seg.is_empty() || seg == "." || seg == ".."));
            if !inside {
                return Err(CoreError::InvalidArgument(format!(
                    "MediaMTX path {path:?} must be {org} or lie under {prefix}",
                    org = p.org.0
                )));
            }
        }
        if permissions
            .iter()
            .any(|p| INSTANCE_ACTIONS.contains(&p.action.as_str()))
        {
            self.require_super_admin(p).await?;
        }
        let m = self
            .membership(p.user, p.org)
            .await?
            .filter(|m| m.is_active())
            .ok_or(CoreError::PermissionDenied(
                "not an active member of the org",
            ))?;
        if m.kind == MembershipKind::Guest
            && let Some(bad) = permissions.iter().find(|p| {
                !GUEST_ACTIONS.contains(&p.action.as_str())
                    && !INSTANCE_ACTIONS.contains(&p.action.as_str())
            })
        {
            return Err(CoreError::PermissionDenied(match bad.action.as_str() {
                "publish" => "a guest may not publish",
                _ => "a guest may only read and play back",
            }));
        }
        Ok(p.expires_at)
    }
}
