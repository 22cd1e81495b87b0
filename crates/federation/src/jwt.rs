//! Upstream JWT validation (OIDC Core §3.1.3.7, ASVS V9): parse, pick the provider by `iss`,
//! algorithm allowlist, signature against the provider's JWKS, then `aud`/`azp`, `exp`, `nbf`,
//! `iat` with bounded leeway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::config::ProviderConfig;
use crate::error::FederationError;
use crate::provider::ProviderRuntime;

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

pub(crate) type Claims = Map<String, Value>;

/// What the token is presented as; decides the audience and expiry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenUse {
    /// An ID token: `aud` must contain an accepted client id; several audiences need `azp`.
    Id,
    /// An access token: `aud`, `azp` or `client_id` must name an accepted client id.
    Access,
    /// An ID token presented for logout: signature and issuer only, `exp` ignored.
    Logout,
}

/// The unverified parts of a compact JWS.
pub(crate) struct Parsed {
    pub header: Claims,
    pub payload: Claims,
}

fn b64_json(part: &str) -> Option<Claims> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Splits and decodes a compact JWS without trusting anything in it.
pub(crate) fn parse(token: &str) -> Result<Parsed, FederationError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(FederationError::Malformed("not a JWT"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FederationError::Malformed("not a compact JWS"));
    };
    let header = b64_json(h).ok_or(FederationError::Malformed("undecodable header"))?;
    let payload = b64_json(p).ok_or(FederationError::Malformed("undecodable payload"))?;
    Ok(Parsed { header, payload })
}

pub(crate) fn str_claim<'a>(c: &'a Claims, name: &str) -> Option<&'a str> {
    c.get(name).and_then(Value::as_str)
}

/// A NumericDate claim as whole seconds. `Err` when present but not a number.
fn time_claim(c: &Claims, name: &str) -> Result<Option<i64>, FederationError> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|f| Some(f.floor() as i64))
            .ok_or(FederationError::Malformed("a time claim is not a number")),
    }
}

/// `aud` as a list (a string or an array of strings).
pub(crate) fn audiences(c: &Claims) -> Result<Vec<String>, FederationError> {
    match c.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(FederationError::Malformed("aud is not a string list")),
        Some(_) => Err(FederationError::Malformed("aud is not a string list")),
    }
}

fn algorithm(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Verifies the signature of `token` with the provider's keys. The caller has already matched
/// the provider by `iss`.
pub(crate) async fn verify_signature(
    rt: &ProviderRuntime,
    token: &str,
    parsed: &Parsed,
) -> Result<(), FederationError> {
    let alg_name = str_claim(&parsed.header, "alg").unwrap_or("");
    if !rt.cfg.algorithm_allowed(alg_name) {
        return Err(FederationError::DisallowedAlgorithm(alg_name.to_owned()));
    }
    let alg = algorithm(alg_name)
        .ok_or_else(|| FederationError::DisallowedAlgorithm(alg_name.to_owned()))?;
    if parsed.header.contains_key("crit") {
        // No critical extension is understood (RFC 7515 §4.1.11).
        return Err(FederationError::Malformed("unsupported crit header"));
    }
    let kid = str_claim(&parsed.header, "kid");
    let keys = rt.keys_for(kid, alg_name).await?;
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    for k in keys {
        if jsonwebtoken::decode::<Value>(token.trim(), &k.key, &v).is_ok() {
            return Ok(());
        }
    }
    Err(FederationError::BadSignature)
}

/// The claim checks that follow a good signature.
pub(crate) fn check_claims(
    cfg: &ProviderConfig,
    header: &Claims,
    c: &Claims,
    use_: TokenUse,
    now: i64,
) -> Result<(), FederationError> {
    let leeway = cfg.leeway() as i64;
    let accepted = |a: &str| cfg.client_ids.iter().any(|c| c == a);
    let auds = audiences(c)?;
    match use_ {
        TokenUse::Id => {
            // A JWT access token (RFC 9068) is not an ID token.
            if str_claim(header, "typ").is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
                return Err(FederationError::Malformed(
                    "an access token is not an ID token",
                ));
            }
            if !auds.iter().any(|a| accepted(a)) {
                return Err(FederationError::BadAudience {
                    audience: auds.join(" "),
                });
            }
            let azp = str_claim(c, "azp");
            if (auds.len() > 1 && azp.is_none()) || azp.is_some_and(|a| !accepted(a)) {
                return Err(FederationError::BadAudience {
                    audience: azp.unwrap_or("").to_owned(),
                });
            }
        }
        TokenUse::Access => {
            let ok = auds.iter().any(|a| accepted(a))
                || str_claim(c, "azp").is_some_and(accepted)
                || str_claim(c, "client_id").is_some_and(accepted);
            if !ok {
                return Err(FederationError::BadAudience {
                    audience: auds.join(" "),
                });
            }
        }
        // Logout reads only the issuer; the signature has been checked.
        TokenUse::Logout => {}
    }
    if str_claim(c, "sub").is_none_or(str::is_empty) {
        return Err(FederationError::Malformed("no sub"));
    }
    if use_ != TokenUse::Logout {
        let exp = time_claim(c, "exp")?.ok_or(FederationError::Malformed("no exp"))?;
        // A NumericDate near i64::MAX (a huge float saturates there) must not overflow.
        if now > exp.saturating_add(leeway) {
            return Err(FederationError::Expired);
        }
        if time_claim(c, "nbf")?.is_some_and(|nbf| nbf > now + leeway) {
            return Err(FederationError::NotYetValid);
        }
        if time_claim(c, "iat")?.is_some_and(|iat| iat > now + leeway) {
            return Err(FederationError::NotYetValid);
        }
    }
    Ok(())
}

/// The token's `exp`, when present.
pub(crate) fn expiry(c: &Claims) -> Option<i64> {
    time_claim(c, "exp").ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> ProviderConfig {
        ProviderConfig::new(
            "t",
            "https://idp.example",
            vec!["app".into(), "other".into()],
        )
    }

    fn obj(v: Value) -> Claims {
        match v {
            Value::Object(m) => m,
            _ => Claims::new(),
        }
    }

    #[test]
    fn audience_rules() {
        let c = cfg();
        let h = Claims::new();
        let now = 1_000_000;
        let ok = obj(json!({"sub":"s","aud":"app","exp":now+10}));
        assert!(check_claims(&c, &h, &ok, TokenUse::Id, now).is_ok());
        let wrong = obj(json!({"sub":"s","aud":"nope","exp":now+10}));
        assert!(matches!(
            check_claims(&c, &h, &wrong, TokenUse::Id, now),
            Err(FederationError::BadAudience { .. })
        ));
        let multi = obj(json!({"sub":"s","aud":["app","x"],"exp":now+10}));
        assert!(matches!(
            check_claims(&c, &h, &multi, TokenUse::Id, now),
            Err(FederationError::BadAudience { .. })
        ));
        let multi_azp = obj(json!({"sub":"s","aud":["app","x"],"azp":"app","exp":now+10}));
        assert!(check_claims(&c, &h, &multi_azp, TokenUse::Id, now).is_ok());
        let bad_azp = obj(json!({"sub":"s","aud":["app","x"],"azp":"x","exp":now+10}));
        assert!(check_claims(&c, &h, &bad_azp, TokenUse::Id, now).is_err());
        let at = obj(json!({"sub":"s","aud":"urn:api","client_id":"app","exp":now+10}));
        assert!(check_claims(&c, &h, &at, TokenUse::Access, now).is_ok());
        assert!(check_claims(&c, &h, &at, TokenUse::Id, now).is_err());
    }

    #[test]
    fn time_rules_with_bounded_leeway() {
        let mut c = cfg();
        c.leeway_secs = 600; // clamped to 60
        let h = Claims::new();
        let now = 1_000_000;
        let t = |exp: i64| obj(json!({"sub":"s","aud":"app","exp":exp}));
        assert!(check_claims(&c, &h, &t(now - 59), TokenUse::Id, now).is_ok());
        assert!(matches!(
            check_claims(&c, &h, &t(now - 61), TokenUse::Id, now),
            Err(FederationError::Expired)
        ));
        assert!(check_claims(&c, &h, &t(now - 10_000), TokenUse::Logout, now).is_ok());
        let nbf = obj(json!({"sub":"s","aud":"app","exp":now+100,"nbf":now+61}));
        assert!(matches!(
            check_claims(&c, &h, &nbf, TokenUse::Id, now),
            Err(FederationError::NotYetValid)
        ));
        let noexp = obj(json!({"sub":"s","aud":"app"}));
        assert!(check_claims(&c, &h, &noexp, TokenUse::Id, now).is_err());
        let typ = obj(json!({"typ":"at+jwt"}));
        assert!(check_claims(&c, &typ, &t(now + 5), TokenUse::Id, now).is_err());
    }

    /// Found by the `upstream_answers` fuzz target: `exp` as a huge number saturated to
    /// i64::MAX and `exp + leeway` overflowed (a panic in debug builds).
    #[test]
    fn huge_time_claims_do_not_overflow() {
        let c = cfg();
        let h = Claims::new();
        let now = 1_000_000;
        for exp in [json!(1.8e22), json!(i64::MAX), json!(9.3e18)] {
            let far = obj(json!({"sub":"s","aud":"app","exp":exp}));
            assert!(check_claims(&c, &h, &far, TokenUse::Id, now).is_ok());
        }
        let past = obj(json!({"sub":"s","aud":"app","exp":-1.8e22}));
        assert!(matches!(
            check_claims(&c, &h, &past, TokenUse::Id, now),
            Err(FederationError::Expired)
        ));
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(parse("").is_err());
        assert!(parse("a.b").is_err());
        assert!(parse("a.b.c.d").is_err());
        assert!(parse("!!.??.x").is_err());
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        let parsed = parse(&format!("{h}.{p}.")).unwrap();
        assert_eq!(str_claim(&parsed.header, "alg"), Some("none"));
    }
}
