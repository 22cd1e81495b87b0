//! MediaMTX tokens (NOMINAL.md §5, §7 getJwks/generateMediaMtxToken): RS256 JWTs carrying the
//! claim `mediamtx_permissions`, valid for 2 h (never past the calling token or credential),
//! verifiable with the published JWKS.
//!
//! Verified offline (MediaMTX `authMethod: jwt`), a token lives until its `exp` whatever happens
//! to the session. Verified through Portcullis (MediaMTX `authMethod: http`, the callback
//! [`Engine::authorize_mediamtx`]), it ends with its session: each token names the session
//! (`sid`) or credential (`cid`), org and impersonator it was minted for, and the callback checks
//! them against the revocation view like any access token.
//!
//! One MediaMTX instance serves every tenant, so what a token may name is scoped
//! ([`Engine::check_mediamtx_permissions`]): stream paths lie under the caller's org
//! (`<org uuid>/…`); guests may only read and play back; `api`, `metrics` and `pprof` act on
//! the whole instance and are for super-admins signed in themselves (no credential).
//!
//! The key is a configured PEM file (PKCS#8 or PKCS#1). Without one, an RSA-2048 key is
//! generated when the signer is built; it lives in memory only, so tokens stop verifying after
//! a restart and processes sharing a store publish different keys — configure a file for that.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

pub use crate::config::MediaMtxConfig;
use crate::engine::Engine;
use crate::error::{CoreError, CoreResult};
use crate::model::{CredentialId, MembershipKind, OrgId, SessionId, Timestamp, UserId};
use crate::tokens::{Principal, Via};

/// Lifetime of a MediaMTX token.
pub const MEDIAMTX_TOKEN_SECS: i64 = 2 * 3600;

/// The actions MediaMTX knows.
pub const MEDIAMTX_ACTIONS: [&str; 6] = ["publish", "read", "playback", "api", "metrics", "pprof"];

/// Refuses a permission list naming an action MediaMTX does not know.
fn refuse_unknown_actions(permissions: &[MediaMtxPermission]) -> CoreResult<()> {
    match permissions
        .iter()
        .find(|p| !MEDIAMTX_ACTIONS.contains(&p.action.as_str()))
    {
        Some(bad) => Err(CoreError::InvalidArgument(format!(
            "unknown MediaMTX action {:?}",
            bad.action
        ))),
        None => Ok(()),
    }
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

/// The claims of a MediaMTX token. `org`, `sid`, `cid` and `act` let the callback find what
/// would revoke it; offline verifiers ignore them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaMtxClaims {
    pub iss: String,
    pub sub: uuid::Uuid,
    pub org: uuid::Uuid,
    /// The session of the calling token (absent for a credential secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The credential behind the calling token or secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<uuid::Uuid>,
    /// The impersonating super-admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<uuid::Uuid>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub mediamtx_permissions: Vec<MediaMtxPermission>,
}

impl MediaMtxClaims {
    /// The caller the token was minted for, as token validation sees one.
    fn principal(&self) -> CoreResult<Principal> {
        let via = match (self.cid, &self.sid) {
            (Some(c), Some(s)) => Via::MintedFromCredential {
                credential: CredentialId(c),
                session: SessionId(s.clone()),
            },
            (Some(c), None) => Via::Credential {
                credential: CredentialId(c),
            },
            (None, Some(s)) => Via::Session {
                session: SessionId(s.clone()),
                org_scoped: false,
            },
            (None, None) => return Err(CoreError::InvalidToken("no session or credential")),
        };
        Ok(Principal {
            user: UserId(self.sub),
            org: OrgId(self.org),
            guest: false,
            via,
            actor: self.act.map(UserId),
            amr: Vec::new(),
            expires_at: chrono::DateTime::from_timestamp(self.exp, 0),
            issued_at: chrono::DateTime::from_timestamp(self.iat, 0),
        })
    }

    /// Whether a permission covers `action` on `path`, as MediaMTX's own JWT check reads them
    /// (paths are exact: no empty path or regular expression is ever issued). Instance-wide
    /// actions carry no path.
    pub fn allows(&self, action: &str, path: &str) -> bool {
        self.mediamtx_permissions
            .iter()
            .any(|p| p.action == action && (INSTANCE_ACTIONS.contains(&action) || p.path == path))
    }
}

/// Signs MediaMTX tokens.
pub struct MediaMtxSigner {
    jwk: RsaJwk,
    key: EncodingKey,
    verify_key: DecodingKey,
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
        let (n, e) = (URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e));
        let verify_key =
            DecodingKey::from_rsa_components(&n, &e).map_err(|e| internal("public key", e))?;
        Ok(MediaMtxSigner {
            jwk: RsaJwk { kid, n, e },
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            verify_key,
            issuer: issuer.to_owned(),
        })
    }

    pub fn jwks(&self) -> Vec<RsaJwk> {
        vec![self.jwk.clone()]
    }

    /// A 2 h RS256 token for `p` with the given permissions, ending at `not_after` if that is
    /// sooner; `iat` is the issue second (see `RevocationView::issue_second`). Unknown actions
    /// are refused; scoping is the caller's job ([`Engine::mediamtx_token`]).
    pub fn token(
        &self,
        p: &Principal,
        permissions: &[MediaMtxPermission],
        not_after: Option<Timestamp>,
        iat: i64,
    ) -> CoreResult<(String, chrono::DateTime<Utc>)> {
        refuse_unknown_actions(permissions)?;
        let now = Utc::now();
        let cap = now + chrono::Duration::seconds(MEDIAMTX_TOKEN_SECS);
        let exp = not_after.map_or(cap, |n| n.min(cap));
        if exp <= now {
            return Err(CoreError::TokenExpired);
        }
        let sid = match &p.via {
            Via::Session { session, .. } | Via::MintedFromCredential { session, .. } => {
                Some(session.0.clone())
            }
            Via::Credential { .. } => None,
        };
        let claims = MediaMtxClaims {
            iss: self.issuer.clone(),
            sub: p.user.0,
            org: p.org.0,
            sid,
            cid: p.credential().map(|c| c.0),
            act: p.actor.map(|a| a.0),
            iat,
            exp: exp.timestamp(),
            jti: crate::crypto::random_token(16),
            mediamtx_permissions: permissions.to_vec(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.jwk.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| internal("sign", e))?;
        Ok((token, exp))
    }

    /// Checks a token's signature (RS256 with this key only), issuer and expiry.
    pub fn verify(&self, token: &str, leeway_secs: u64) -> CoreResult<MediaMtxClaims> {
        const BAD: CoreError = CoreError::InvalidToken("not a valid MediaMTX token");
        if token.len() > 8192 {
            return Err(BAD);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| BAD)?;
        if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(&self.jwk.kid) {
            return Err(BAD);
        }
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.validate_aud = false;
        v.leeway = leeway_secs;
        match jsonwebtoken::decode::<MediaMtxClaims>(token, &self.verify_key, &v) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(CoreError::TokenExpired)
            }
            Err(_) => Err(BAD),
        }
    }
}

/// Actions that act on the whole MediaMTX instance, every tenant's streams included.
const INSTANCE_ACTIONS: [&str; 3] = ["api", "metrics", "pprof"];
/// Actions a guest may hold.
const GUEST_ACTIONS: [&str; 2] = ["read", "playback"];

impl Engine {
    /// A MediaMTX token for the caller: the permissions are checked
    /// ([`Engine::check_mediamtx_permissions`]), and the token ends with the calling token or
    /// credential if that is sooner than 2 h.
    pub async fn mediamtx_token(
        &self,
        signer: &MediaMtxSigner,
        p: &Principal,
        permissions: &[MediaMtxPermission],
    ) -> CoreResult<(String, Timestamp)> {
        let not_after = self.check_mediamtx_permissions(p, permissions).await?;
        let iat = self.revocations().issue_second(p.user, p.org, Utc::now());
        signer.token(p, permissions, not_after, iat)
    }

    /// The MediaMTX auth callback: whether `token` allows `action` on `path` now. The token must
    /// be genuine and unexpired, name the action and path, and its session or credential, user,
    /// membership, org and impersonator must all still be live, exactly as for the access token
    /// it was minted with (logout, removal, deactivation and idle timeout end it). A use counts
    /// as a use of the session.
    pub async fn authorize_mediamtx(
        &self,
        signer: &MediaMtxSigner,
        token: &str,
        action: &str,
        path: &str,
    ) -> CoreResult<()> {
        let claims = signer.verify(token.trim(), self.config().tokens.leeway_secs)?;
        if !claims.allows(action, path) {
            return Err(CoreError::PermissionDenied(
                "the MediaMTX token does not cover this action and path",
            ));
        }
        let p = claims.principal()?;
        self.access_tokens().check_revocation(&p)?;
        self.check_idle(&p, Utc::now()).await
    }

    /// Checks that the caller may hold every permission, and returns when the MediaMTX token
    /// must end: with the calling token or credential, whichever is sooner than 2 h.
    pub async fn check_mediamtx_permissions(
        &self,
        p: &Principal,
        permissions: &[MediaMtxPermission],
    ) -> CoreResult<Option<Timestamp>> {
        refuse_unknown_actions(permissions)?;
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
