//! Browser SSO relying party (OIDC Core §3.1, RFC 7636): the authorization request (code flow,
//! S256 PKCE, `state`, `nonce`) and the redemption of the code at the token endpoint with
//! client authentication (`client_secret_basic`). The ID token then goes through the same
//! verification as every upstream token (`iss`, signature, `aud`/`azp`, `exp`…), plus `nonce`
//! and the browser client id in `aud`. Flow state is kept by the caller (the core engine).

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ProviderConfig;
use crate::error::FederationError;
use crate::jwt::{self, TokenUse};
use crate::provider::{FetchError, form_encode, read_json};
use crate::{Federation, UpstreamIdentity, identity_from_claims, merge_userinfo};

/// Longest authorization code accepted from the browser.
const MAX_CODE_LEN: usize = 4096;

/// `[federation.providers.browser_sso]`: browser SSO through this provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserSsoConfig {
    /// The client registered for the browser flow; default: the first of `client_ids`. Must be
    /// one of `client_ids`, since the ID token's `aud` is checked against them.
    #[serde(default)]
    pub client_id: Option<String>,
    /// A file holding the client secret, read at each redemption (rotation without restart;
    /// the secret stays out of the configuration file and of `idp show`).
    pub client_secret_file: PathBuf,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}

impl BrowserSsoConfig {
    pub(crate) fn validate(&self, p: &ProviderConfig) -> Result<(), FederationError> {
        let a = &p.alias;
        let bad = |m: String| Err(FederationError::Config(m));
        if let Some(id) = &self.client_id
            && !p.client_ids.iter().any(|c| c == id)
        {
            return bad(format!(
                "provider {a}: browser_sso.client_id must be one of client_ids"
            ));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return bad(format!(
                "provider {a}: browser_sso.scopes must include openid"
            ));
        }
        if self.client_secret_file.as_os_str().is_empty() {
            return bad(format!(
                "provider {a}: browser_sso.client_secret_file must not be empty"
            ));
        }
        Ok(())
    }

    fn client_id<'a>(&'a self, p: &'a ProviderConfig) -> &'a str {
        self.client_id
            .as_deref()
            .or(p.client_ids.first().map(String::as_str))
            .unwrap_or_default()
    }
}

/// The RFC 7636 S256 code challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The per-flow values of an authorization request.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub login_hint: Option<&'a str>,
}

impl Federation {
    /// Whether browser SSO is configured for this provider.
    pub fn browser_sso_enabled(&self, alias: &str) -> bool {
        self.by_alias(alias)
            .is_ok_and(|p| p.cfg.browser_sso.is_some())
    }

    fn browser(
        &self,
        alias: &str,
    ) -> Result<(&crate::provider::ProviderRuntime, &BrowserSsoConfig), FederationError> {
        let rt = self.by_alias(alias)?;
        let b = rt.cfg.browser_sso.as_ref().ok_or_else(|| {
            FederationError::Config(format!("provider {alias} has no browser_sso"))
        })?;
        Ok((rt, b))
    }

    /// The provider's authorization endpoint with the request's parameters (fetches
    /// discovery when not cached).
    pub async fn authorization_url(
        &self,
        alias: &str,
        req: AuthorizationRequest<'_>,
    ) -> Result<String, FederationError> {
        let (rt, b) = self.browser(alias)?;
        let d = rt.discovery().await?;
        let endpoint = d.authorization_endpoint.as_deref().ok_or_else(|| {
            FederationError::ProviderUnavailable(format!(
                "provider {alias} has no authorization_endpoint"
            ))
        })?;
        let mut url = reqwest::Url::parse(endpoint).map_err(|e| {
            FederationError::ProviderUnavailable(format!(
                "authorization_endpoint of provider {alias}: {e}"
            ))
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", b.client_id(&rt.cfg))
                .append_pair("redirect_uri", req.redirect_uri)
                .append_pair("scope", &b.scopes.join(" "))
                .append_pair("state", req.state)
                .append_pair("nonce", req.nonce)
                .append_pair("code_challenge", &pkce_challenge(req.pkce_verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(h) = req.login_hint.filter(|h| !h.is_empty()) {
                q.append_pair("login_hint", h);
            }
        }
        Ok(url.into())
    }

    /// Redeems an authorization code: token endpoint (client_secret_basic, the PKCE verifier,
    /// the same redirect URI), then the ID token's signature and claims, `nonce` (constant
    /// time) and the browser client id in `aud`; userinfo fills missing claims as for
    /// `verify_id_token`.
    pub async fn redeem_code(
        &self,
        alias: &str,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        if code.is_empty() || code.len() > MAX_CODE_LEN {
            return Err(FederationError::Malformed("bad authorization code"));
        }
        let (rt, b) = self.browser(alias)?;
        let cfg = &rt.cfg;
        let d = rt.discovery().await?;
        let endpoint = d.token_endpoint.as_deref().ok_or_else(|| {
            FederationError::ProviderUnavailable(format!("provider {alias} has no token_endpoint"))
        })?;
        let secret = std::fs::read_to_string(&b.client_secret_file).map_err(|e| {
            FederationError::Config(format!(
                "provider {alias}: cannot read browser_sso.client_secret_file: {e}"
            ))
        })?;
        let client_id = b.client_id(cfg);
        let unavailable = |m: String| {
            tracing::warn!(provider = %alias, "token endpoint: {m}");
            FederationError::ProviderUnavailable(format!("token endpoint of provider {alias}: {m}"))
        };
        let resp = rt
            .token_http()
            .post(endpoint)
            .basic_auth(form_encode(client_id), Some(form_encode(secret.trim())))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", pkce_verifier),
            ])
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = resp.status();
        let json = read_json(resp).await.map_err(|e| match e {
            FetchError::NotJson => unavailable(format!("HTTP {status}, not JSON")),
            e => unavailable(e.to_string()),
        })?;
        if status.is_client_error() {
            // invalid_grant & co: a code that is forged, used, expired or not ours.
            let err = json.get("error").and_then(Value::as_str).unwrap_or("?");
            tracing::info!(provider = %alias, error = %err, "authorization code refused");
            return Err(FederationError::Malformed("authorization code refused"));
        }
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        let id_token =
            json.get("id_token")
                .and_then(Value::as_str)
                .ok_or(FederationError::Malformed(
                    "the token response has no id_token",
                ))?;
        let (rt, claims) = self.verify_jwt(id_token, TokenUse::Id, Some(alias)).await?;
        let got = jwt::str_claim(&claims, "nonce").unwrap_or_default();
        if !bool::from(got.as_bytes().ct_eq(nonce.as_bytes())) || nonce.is_empty() {
            return Err(FederationError::Malformed("ID token nonce does not match"));
        }
        if !jwt::audiences(&claims)?.iter().any(|a| a == client_id) {
            return Err(FederationError::BadAudience {
                audience: client_id.to_owned(),
            });
        }
        let mut id = identity_from_claims(&rt.cfg, &claims);
        if let Some(at) = json.get("access_token").and_then(Value::as_str)
            && rt.cfg.use_userinfo
            && d.userinfo_endpoint.is_some()
        {
            let info = rt.userinfo(at).await?;
            if jwt::str_claim(&info, "sub") != Some(id.subject.as_str()) {
                return Err(FederationError::UserinfoMismatch);
            }
            merge_userinfo(&rt.cfg, &mut id, &info);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn client_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c%"), "a+b%3Ac%25");
        assert_eq!(form_encode("plain-id_1.x"), "plain-id_1.x");
    }

    #[test]
    fn config_rules() {
        let mut p = ProviderConfig::new("c", "https://idp", vec!["app".into()]);
        let mut b = BrowserSsoConfig {
            client_id: None,
            client_secret_file: "/s".into(),
            scopes: default_scopes(),
        };
        assert!(b.validate(&p).is_ok());
        assert_eq!(b.client_id(&p), "app");
        b.client_id = Some("other".into());
        assert!(b.validate(&p).is_err());
        p.client_ids.push("other".into());
        assert!(b.validate(&p).is_ok());
        b.scopes = vec!["email".into()];
        assert!(b.validate(&p).is_err());
    }
}
