//! The parsers of upstream answers without the HTTP around them, for the fuzz targets (`fuzz/`);
//! not an API. Each runs the same code the live path runs on a provider's answer.

use serde_json::Value;

use crate::config::ProviderConfig;
use crate::error::FederationError;
use crate::jwt::{self, TokenUse};
use crate::provider::{Discovery, KeySet};
use crate::{UpstreamIdentity, check_introspection, identity_from_claims};

/// Every algorithm a JWKS key may be picked for.
pub const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn json(body: &[u8]) -> Result<Value, FederationError> {
    serde_json::from_slice(body).map_err(|_| FederationError::Malformed("not JSON"))
}

/// A discovery document as `ProviderRuntime::discovery` reads it.
pub fn discovery(cfg: &ProviderConfig, body: &[u8]) -> Result<Discovery, String> {
    let v = json(body).map_err(|e| e.to_string())?;
    Discovery::from_document(cfg, &v)
}

/// The keys of a JWKS (their `kid` and the algorithms of [`ALGORITHMS`] each may verify).
pub type JwksKeys = Vec<(Option<String>, Vec<&'static str>)>;

/// A JWKS as the key cache reads it: per key kept, what `keys_for` would hand to the verifier;
/// and whether any key would be offered for `HS256` or `none` (it must not).
pub fn jwks(body: &[u8]) -> Result<(JwksKeys, bool), String> {
    let v = json(body).map_err(|e| e.to_string())?;
    let set = KeySet::parse(&v)?;
    let symmetric =
        !set.candidates(None, "HS256").is_empty() || !set.candidates(None, "none").is_empty();
    let keys = set
        .keys
        .iter()
        .map(|k| {
            let fits = ALGORITHMS
                .into_iter()
                .filter(|alg| {
                    set.candidates(k.kid.as_deref(), alg)
                        .iter()
                        .any(|c| std::sync::Arc::ptr_eq(c, k))
                })
                .collect();
            (k.kid.clone(), fits)
        })
        .collect();
    Ok((keys, symmetric))
}

/// A token endpoint answer after an authorization code: its ID token's header and claims as
/// `redeem_code` checks them once the signature is good (the signature itself is
/// `jsonwebtoken`'s, over keys from [`jwks`]), then the identity it maps to.
pub fn token_response(
    cfg: &ProviderConfig,
    body: &[u8],
    now: i64,
) -> Result<UpstreamIdentity, FederationError> {
    let v = json(body)?;
    let id_token = v
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or(FederationError::Malformed(
            "the token response has no id_token",
        ))?;
    let parsed = jwt::parse(id_token)?;
    if jwt::str_claim(&parsed.payload, "iss") != Some(cfg.issuer.as_str()) {
        return Err(FederationError::Malformed("foreign iss"));
    }
    jwt::check_claims(cfg, &parsed.header, &parsed.payload, TokenUse::Id, now)?;
    Ok(identity_from_claims(cfg, &parsed.payload))
}

/// A presented upstream JWT's claims for each use (ID token, access token, logout hint).
pub fn jwt_claims(
    cfg: &ProviderConfig,
    token: &str,
    use_: u8,
    now: i64,
) -> Result<UpstreamIdentity, FederationError> {
    let use_ = match use_ % 3 {
        0 => TokenUse::Id,
        1 => TokenUse::Access,
        _ => TokenUse::Logout,
    };
    let parsed = jwt::parse(token)?;
    jwt::check_claims(cfg, &parsed.header, &parsed.payload, use_, now)?;
    Ok(identity_from_claims(cfg, &parsed.payload))
}

/// An RFC 7662 introspection answer as `verify_access_token` checks it for an opaque token.
pub fn introspection(
    cfg: &ProviderConfig,
    body: &[u8],
    now: i64,
) -> Result<UpstreamIdentity, FederationError> {
    let info = match json(body)? {
        Value::Object(m) => m,
        _ => return Err(FederationError::Malformed("not a JSON object")),
    };
    check_introspection(cfg, &info, now)?;
    Ok(identity_from_claims(cfg, &info))
}
