//! The authorization request (OIDC Core §3.1.2.1, RFC 7636, RFC 9700): its parameters, their
//! validation in the order that keeps redirects safe, and its sealed form, which carries a
//! pending request through the sign-in, consent and org pages without server-side state.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use crate::crypto::MasterKey;
use crate::model::{GrantType, OAuthClient, OrgId, Timestamp};

/// How long a pending request stays usable while the user signs in and decides.
pub const PENDING_REQUEST_SECS: i64 = 600;
/// Bounds on what a client may send, so a request cannot bloat pages or the seal.
const MAX_STATE: usize = 1024;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 320;
const MAX_ACR_VALUES: usize = 512;
/// The longest seal [`RequestSeal::open`] reads. The bounds above, with the printable text
/// they require (JSON escapes a control character as six bytes), keep every valid request's
/// seal well inside it (test `the_largest_valid_request_seals_and_opens`).
const MAX_SEALED: usize = 16 * 1024;

/// A control character: never in a `state` (RFC 6749 §A.5: visible ASCII and space), a nonce
/// or an ACR value, and each would swell the seal sixfold.
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// The query (or form) parameters of an authorization request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub acr_values: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// What `prompt` asked for (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A validated request. Sealed between pages; `decided_*` record what the pages settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    /// The redirect URI exactly as the client sent it (a loopback one may carry any port).
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Vec<String>,
    /// When the request reached us (unix seconds): `prompt=login` needs a sign-in after it.
    pub received_at: i64,
    /// The user approved the consent page for this request.
    pub consented: bool,
    /// The org the user picked on the org page.
    pub org: Option<OrgId>,
}

/// Why an authorization request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show a page, never redirect (RFC 6749
    /// §4.1.2.1, no open redirector).
    Page(String),
    /// Sent back to the client's validated redirect URI.
    Redirect {
        redirect_uri: String,
        error: OAuthError,
        state: Option<String>,
    },
}

/// The scopes this provider knows.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "orgs", "offline_access"];

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validates the client part (page errors), then everything else (redirect errors).
/// `client` is the registered client named by `client_id`, if any and enabled.
pub fn validate(
    params: &AuthorizeParams,
    client: Option<&OAuthClient>,
    now: Timestamp,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let page = |m: &str| AuthorizeError::Page(m.to_string());
    if non_empty(&params.client_id).is_none() {
        return Err(page("The application did not say who it is (client_id)."));
    }
    let Some(client) = client.filter(|c| !c.is_disabled()) else {
        return Err(page("This application is unknown or disabled."));
    };
    let Some(presented) = non_empty(&params.redirect_uri) else {
        return Err(page(
            "The application did not say where to return (redirect_uri).",
        ));
    };
    if super::clients::match_redirect_uri(client, presented).is_none() {
        return Err(page(
            "The application asked to return to an address it has not registered.",
        ));
    }
    let state = params.state.clone().filter(|s| !s.is_empty());
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: presented.to_string(),
        error,
        state: state.clone().filter(|s| s.len() <= MAX_STATE),
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(fail(OAuthError::invalid_request("state is too long")));
    }
    if state.as_deref().is_some_and(has_control) {
        return Err(fail(OAuthError::invalid_request(
            "state holds a control character",
        )));
    }
    if params.request.is_some() {
        return Err(fail(OAuthError::request_not_supported(
            "request objects are not supported",
        )));
    }
    if params.request_uri.is_some() {
        return Err(fail(OAuthError::request_uri_not_supported(
            "request_uri is not supported",
        )));
    }
    match non_empty(&params.response_type) {
        Some("code") => {}
        None => {
            return Err(fail(OAuthError::invalid_request(
                "response_type is required",
            )));
        }
        Some(_) => {
            return Err(fail(OAuthError::unsupported_response_type(
                "only the authorization code flow (response_type=code) is supported",
            )));
        }
    }
    if let Some(mode) = non_empty(&params.response_mode)
        && mode != "query"
    {
        return Err(fail(OAuthError::invalid_request(
            "only response_mode=query is supported",
        )));
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::unauthorized_client(
            "this client may not use the authorization code flow",
        )));
    }
    let scopes =
        parse_scopes(non_empty(&params.scope).unwrap_or_default(), client).map_err(&fail)?;
    let code_challenge = pkce_challenge(params).map_err(&fail)?;
    let prompt = parse_prompt(non_empty(&params.prompt)).map_err(&fail)?;
    let max_age = match non_empty(&params.max_age) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| fail(OAuthError::invalid_request("max_age must be seconds")))?,
        ),
    };
    let nonce = params.nonce.clone().filter(|n| !n.is_empty());
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(fail(OAuthError::invalid_request("nonce is too long")));
    }
    if nonce.as_deref().is_some_and(has_control) {
        return Err(fail(OAuthError::invalid_request(
            "nonce holds a control character",
        )));
    }
    // Only a hint: one that is too long or not text is ignored, not refused.
    let login_hint = non_empty(&params.login_hint)
        .filter(|h| h.len() <= MAX_HINT && !has_control(h))
        .map(str::to_string);
    let acr_values = non_empty(&params.acr_values).unwrap_or_default();
    if acr_values.len() > MAX_ACR_VALUES {
        return Err(fail(OAuthError::invalid_request("acr_values is too long")));
    }
    if has_control(acr_values) {
        return Err(fail(OAuthError::invalid_request(
            "acr_values holds a control character",
        )));
    }
    let acr_values = acr_values
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: presented.to_string(),
        scopes,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
        acr_values,
        received_at: now.timestamp(),
        consented: false,
        org: None,
    })
}

/// `openid` is required (this is an OpenID provider); every scope must be one this provider
/// knows and the client may ask for. Duplicates are dropped, order kept.
pub fn parse_scopes(raw: &str, client: &OAuthClient) -> Result<Vec<String>, OAuthError> {
    let mut seen = BTreeSet::new();
    let mut scopes = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !SUPPORTED_SCOPES.contains(&s) || !client.scopes.contains(s) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {s:?} is not available to this client"
            )));
        }
        if s == "offline_access" && !client.allow_offline {
            return Err(OAuthError::invalid_scope(
                "this client may not ask for offline access",
            ));
        }
        if seen.insert(s) {
            scopes.push(s.to_string());
        }
    }
    if !seen.contains("openid") {
        return Err(OAuthError::invalid_scope("the openid scope is required"));
    }
    Ok(scopes)
}

/// PKCE is required of every client, S256 only (RFC 9700 §2.1.1; `plain` is refused).
fn pkce_challenge(params: &AuthorizeParams) -> Result<String, OAuthError> {
    let Some(challenge) = non_empty(&params.code_challenge) else {
        return Err(OAuthError::invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ));
    };
    match non_empty(&params.code_challenge_method) {
        Some("S256") => {}
        Some("plain") | None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            ));
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method",
            ));
        }
    }
    // A SHA-256 digest in base64url is exactly 43 characters.
    let decoded = URL_SAFE_NO_PAD.decode(challenge).ok();
    if challenge.len() != 43 || decoded.is_none_or(|d| d.len() != 32) {
        return Err(OAuthError::invalid_request(
            "code_challenge is not a base64url SHA-256 digest",
        ));
    }
    Ok(challenge.to_string())
}

/// RFC 7636 §4.6: does the verifier hash to the challenge? Constant time.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(crate::crypto::sha256(verifier.as_bytes()));
    well_formed && crate::crypto::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut p = Prompt::default();
    for v in raw.unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
        match v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" => p.select_account = true,
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "unknown prompt value {other:?}"
                )));
            }
        }
    }
    if p.none && (p.login || p.consent || p.select_account) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(p)
}

/// Seals and opens pending requests with a key of their own. The seal binds the expiry, so a
/// request cannot be replayed past [`PENDING_REQUEST_SECS`] nor altered.
#[derive(Debug, Clone)]
pub struct RequestSeal {
    key: MasterKey,
}

const SEAL_CONTEXT: &[u8] = b"oidc pending request";

#[derive(Serialize, Deserialize)]
struct Sealed {
    exp: i64,
    req: AuthorizationRequest,
}

impl RequestSeal {
    pub fn new(key: MasterKey) -> Self {
        RequestSeal { key }
    }

    /// The seal of `engine`'s provider: the sign-in page opens pending requests with it.
    pub fn of(engine: &crate::engine::Engine) -> Self {
        RequestSeal::new(engine.oidc_seal().clone())
    }

    pub fn seal(&self, req: &AuthorizationRequest, now: Timestamp) -> String {
        let body = Sealed {
            exp: now.timestamp() + PENDING_REQUEST_SECS,
            req: req.clone(),
        };
        // Serialising plain data cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(self.key.seal(SEAL_CONTEXT, &json))
    }

    /// `None` for a forged, altered or expired seal.
    pub fn open(&self, sealed: &str, now: Timestamp) -> Option<AuthorizationRequest> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let json = self.key.open(SEAL_CONTEXT, &raw).ok()?;
        let body: Sealed = serde_json::from_slice(&json).ok()?;
        (body.exp > now.timestamp()).then_some(body.req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registered client, through the same validation as `portcullis admin client create`.
    fn client(redirect_uri: &str) -> OAuthClient {
        let spec: crate::oidc_clients::ClientSpec = serde_json::from_value(serde_json::json!({
            "clientId": "app",
            "name": "App",
            "kind": "confidential",
            "redirectUris": [redirect_uri],
            "scopes": SUPPORTED_SCOPES,
            "allowOffline": true,
        }))
        .expect("a spec");
        spec.validate(&Default::default(), chrono::Utc::now())
            .expect("a valid client")
    }

    fn params(redirect_uri: &str) -> AuthorizeParams {
        AuthorizeParams {
            client_id: Some("app".into()),
            redirect_uri: Some(redirect_uri.into()),
            response_type: Some("code".into()),
            scope: Some(SUPPORTED_SCOPES.join(" ")),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuKG-_oKOn4".into()),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        }
    }

    /// Found by the `oidc_request` fuzz target: 13 KB of `acr_values` was accepted, and its seal
    /// was then too long to open, so the sign-in could never finish.
    #[test]
    fn the_largest_valid_request_seals_and_opens() {
        let base = "https://app.example/";
        let max_uri = crate::oidc_clients::MAX_URI_LEN;
        let uri = format!("{base}{}", "c".repeat(max_uri - base.len()));
        let client = client(&uri);
        let mut p = params(&uri);
        // Characters JSON escapes, at each field's limit.
        p.state = Some("\"".repeat(MAX_STATE));
        p.nonce = Some("\\".repeat(MAX_NONCE));
        p.login_hint = Some("\"".repeat(MAX_HINT));
        p.acr_values = Some(format!("{} x", "\"".repeat(MAX_ACR_VALUES - 2)));
        let now = chrono::Utc::now();
        let req = validate(&p, Some(&client), now).expect("valid");
        let seal = RequestSeal::new(MasterKey::generate());
        let sealed = seal.seal(&req, now);
        // A quarter of the limit to spare.
        assert!(sealed.len() <= MAX_SEALED * 3 / 4, "{} bytes", sealed.len());
        assert_eq!(seal.open(&sealed, now), Some(req));
    }

    #[test]
    fn oversized_or_control_character_parameters_are_refused() {
        let uri = "https://app.example/cb";
        let client = client(uri);
        let refused = |edit: &dyn Fn(&mut AuthorizeParams)| {
            let mut p = params(uri);
            edit(&mut p);
            match validate(&p, Some(&client), chrono::Utc::now()) {
                Err(AuthorizeError::Redirect { error, .. }) => error,
                other => panic!("expected a redirected error, got {other:?}"),
            }
        };
        for (edit, what) in [
            (
                &(|p: &mut AuthorizeParams| p.acr_values = Some("a ".repeat(300)))
                    as &dyn Fn(&mut AuthorizeParams),
                "acr_values is too long",
            ),
            (
                &|p: &mut AuthorizeParams| p.acr_values = Some("urn:a\0".into()),
                "acr_values holds a control character",
            ),
            (
                &|p: &mut AuthorizeParams| p.state = Some("s\u{1}".into()),
                "state holds a control character",
            ),
            (
                &|p: &mut AuthorizeParams| p.nonce = Some("n\n".into()),
                "nonce holds a control character",
            ),
        ] {
            let e = refused(edit);
            assert_eq!((e.code, e.description.as_str()), ("invalid_request", what));
        }
        // A login hint is only a hint: a bad one is dropped.
        let mut p = params(uri);
        p.login_hint = Some("a\u{7}@example.com".into());
        let req = validate(&p, Some(&client), chrono::Utc::now()).expect("valid");
        assert_eq!(req.login_hint, None);
    }
}
