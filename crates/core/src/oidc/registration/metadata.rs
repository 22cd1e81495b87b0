//! RFC 7591 §2 client metadata, as a self-registered client or a Client ID Metadata Document
//! sends it: which members are accepted, their rules, and the [`ClientSpec`] they become.
//! The registry's own rules (`ClientSpec::validate`) then apply on top, so a self-registered
//! client is never more than an operator could register, and always less: public or
//! confidential third-party, never first-party, never `introspect_any`, never bound to an org,
//! no offline grant, no back-channel URI, no private-use redirect scheme.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use url::Url;

use super::super::error::OAuthError;
use crate::error::CoreError;
use crate::model::{ClientKind, GrantType, IdTokenAlg, OAuthClient, Timestamp, TokenEndpointAuth};
use crate::oidc_clients::{ClientSpec, OidcConfig};

/// Where the metadata comes from: they differ in defaults and in what they may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `POST /register` or an RFC 7592 update.
    Registration,
    /// A Client ID Metadata Document: always a public client (it cannot hold a secret).
    Document,
}

/// Members this server understands but refuses: each would make it fetch or call a URL the
/// client chose (server-side request forgery), or trust a statement it cannot verify.
const REFUSED: &[(&str, &str)] = &[
    (
        "jwks_uri",
        "jwks_uri is not supported: send the public keys in jwks",
    ),
    (
        "backchannel_logout_uri",
        "backchannel_logout_uri is not offered to self-registered clients",
    ),
    (
        "frontchannel_logout_uri",
        "front-channel logout is not supported",
    ),
    (
        "sector_identifier_uri",
        "sector_identifier_uri is not supported (subjects are public)",
    ),
    ("request_uris", "request objects are not supported"),
    ("initiate_login_uri", "initiate_login_uri is not supported"),
];

const MAX_URL: usize = 2000;
const MAX_CONTACTS: usize = 10;
const MAX_TEXT: usize = 200;

/// Metadata accepted: the spec to validate, and the metadata as this server will answer it.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub spec: ClientSpec,
    pub metadata: Map<String, Value>,
}

fn meta(m: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(m)
}

fn redirect(m: impl Into<String>) -> OAuthError {
    OAuthError::invalid_redirect_uri(m)
}

fn string<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, OAuthError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(meta(format!("{key} must be a string"))),
    }
}

fn strings(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| meta(format!("{key} must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(meta(format!("{key} must be an array of strings"))),
    }
}

/// A loopback host written literally (RFC 8252 §7.3, §8.3).
fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
}

/// https, or http on a loopback host for a native client; nothing else (no private-use
/// scheme: any app can claim one, and nobody vetted this client).
fn check_redirect(raw: &str, native: bool) -> Result<(), OAuthError> {
    if raw.contains('#') {
        return Err(redirect(format!("{raw:?} must not have a fragment")));
    }
    let url = Url::parse(raw).map_err(|_| redirect(format!("{raw:?} is not an absolute URL")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if native && is_loopback(&url) => Ok(()),
        "http" if is_loopback(&url) => Err(redirect(format!(
            "{raw:?}: http on a loopback host is for native clients \
             (application_type native, or token_endpoint_auth_method none)"
        ))),
        _ => Err(redirect(format!(
            "{raw:?} must use https, or http on 127.0.0.1, [::1] or localhost for a native client"
        ))),
    }
}

/// `client_uri`, `logo_uri`, `policy_uri`, `tos_uri`: https only (the consent page may show
/// or link them).
fn check_https_url(key: &str, raw: &str) -> Result<(), OAuthError> {
    let url = Url::parse(raw).map_err(|_| meta(format!("{key} is not an absolute URL")))?;
    if url.scheme() != "https" || raw.len() > MAX_URL {
        return Err(meta(format!(
            "{key} must be an https URL of at most {MAX_URL} bytes"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(meta(format!("{key} must not carry user information")));
    }
    Ok(())
}

fn check_text(key: &str, s: &str) -> Result<(), OAuthError> {
    if s.chars().count() > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(meta(format!(
            "{key} must be at most {MAX_TEXT} characters without control characters"
        )));
    }
    Ok(())
}

fn grant_types(raw: Option<Vec<String>>) -> Result<BTreeSet<GrantType>, OAuthError> {
    let raw = raw.unwrap_or_else(|| vec!["authorization_code".into()]);
    let mut out = BTreeSet::new();
    for g in raw {
        match g.as_str() {
            "authorization_code" => out.insert(GrantType::AuthorizationCode),
            "refresh_token" => out.insert(GrantType::RefreshToken),
            "client_credentials" => {
                return Err(meta(
                    "client_credentials is not available to self-registered clients: a \
                     service account is registered by an operator",
                ));
            }
            other => return Err(meta(format!("grant type {other:?} is not supported"))),
        };
    }
    if !out.contains(&GrantType::AuthorizationCode) {
        return Err(meta("grant_types must include authorization_code"));
    }
    Ok(out)
}

fn scopes(raw: Option<&str>, allowed: &[String]) -> Result<BTreeSet<String>, OAuthError> {
    let mut out: BTreeSet<String> = match raw {
        None => allowed.iter().cloned().collect(),
        Some(s) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    };
    if let Some(s) = out.iter().find(|s| !allowed.contains(s)) {
        return Err(meta(format!(
            "scope {s:?} is not offered to self-registered clients; choose from {}",
            allowed.join(" ")
        )));
    }
    // This is an OpenID provider: every client may ask for openid.
    out.insert("openid".into());
    Ok(out)
}

fn auth_method(raw: Option<&str>, source: Source) -> Result<TokenEndpointAuth, OAuthError> {
    let Some(raw) = raw else {
        return Ok(match source {
            Source::Registration => TokenEndpointAuth::ClientSecretBasic, // RFC 7591 §2
            Source::Document => TokenEndpointAuth::None,
        });
    };
    let method: TokenEndpointAuth = raw.parse().map_err(|_| {
        meta(format!(
            "token_endpoint_auth_method {raw:?} is not supported"
        ))
    })?;
    if source == Source::Document && method != TokenEndpointAuth::None {
        return Err(meta(
            "a client identified by a metadata document is public: \
             token_endpoint_auth_method must be none",
        ));
    }
    Ok(method)
}

/// Checks the metadata members and builds the spec of a low-trust client.
pub(crate) fn accept(
    body: &Map<String, Value>,
    allowed_scopes: &[String],
    source: Source,
) -> Result<Accepted, OAuthError> {
    if let Some((_, why)) = REFUSED.iter().find(|(k, _)| body.contains_key(*k)) {
        return Err(meta(*why));
    }
    if body.contains_key("software_statement") {
        return Err(OAuthError::invalid_software_statement(
            "software statements are not supported",
        ));
    }
    if source == Source::Document
        && (body.contains_key("client_secret") || body.contains_key("client_secret_expires_at"))
    {
        return Err(meta("a metadata document must not carry a client secret"));
    }
    let mut out = Map::new();
    let auth = auth_method(string(body, "token_endpoint_auth_method")?, source)?;
    out.insert("token_endpoint_auth_method".into(), json!(auth.as_str()));
    let application_type = string(body, "application_type")?.unwrap_or("web");
    if !matches!(application_type, "web" | "native") {
        return Err(meta("application_type must be web or native"));
    }
    out.insert("application_type".into(), json!(application_type));
    let native = application_type == "native" || auth == TokenEndpointAuth::None;

    let redirect_uris = strings(body, "redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(redirect("redirect_uris: at least one is required"));
    }
    for u in &redirect_uris {
        check_redirect(u, native)?;
    }
    out.insert("redirect_uris".into(), json!(redirect_uris));
    let post_logout = strings(body, "post_logout_redirect_uris")?.unwrap_or_default();
    for u in &post_logout {
        check_redirect(u, native)
            .map_err(|e| meta(format!("post_logout_redirect_uris: {}", e.description)))?;
    }
    if !post_logout.is_empty() {
        out.insert("post_logout_redirect_uris".into(), json!(post_logout));
    }

    let grants = grant_types(strings(body, "grant_types")?)?;
    out.insert(
        "grant_types".into(),
        json!(grants.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
    );
    let response_types = strings(body, "response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.is_empty() || response_types.iter().any(|r| r != "code") {
        return Err(meta("response_types: only code is supported"));
    }
    out.insert("response_types".into(), json!(["code"]));

    let scope = scopes(string(body, "scope")?, allowed_scopes)?;
    out.insert(
        "scope".into(),
        json!(
            scope
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );

    let name = match string(body, "client_name")?
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(n) => n.to_owned(),
        // Users must see something on the consent page: where the client lives.
        None => Url::parse(&redirect_uris[0])
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "Unnamed application".into()),
    };
    check_text("client_name", &name)?;
    out.insert("client_name".into(), json!(name));
    for key in ["client_uri", "logo_uri", "policy_uri", "tos_uri"] {
        if let Some(u) = string(body, key)? {
            check_https_url(key, u)?;
            out.insert(key.into(), json!(u));
        }
    }
    if let Some(contacts) = strings(body, "contacts")? {
        if contacts.len() > MAX_CONTACTS {
            return Err(meta(format!("contacts: at most {MAX_CONTACTS}")));
        }
        for c in &contacts {
            check_text("contacts", c)?;
        }
        out.insert("contacts".into(), json!(contacts));
    }
    for key in ["software_id", "software_version"] {
        if let Some(s) = string(body, key)? {
            check_text(key, s)?;
            out.insert(key.into(), json!(s));
        }
    }
    let id_token_alg = match string(body, "id_token_signed_response_alg")? {
        None => IdTokenAlg::Rs256,
        Some(a) => a.parse().map_err(|_| {
            meta(format!(
                "id_token_signed_response_alg {a:?} is not supported (RS256, ES256, EdDSA)"
            ))
        })?,
    };
    out.insert(
        "id_token_signed_response_alg".into(),
        json!(id_token_alg.as_str()),
    );
    let jwks = match body.get("jwks") {
        None | Some(Value::Null) => None,
        Some(j) => {
            out.insert("jwks".into(), j.clone());
            Some(j.clone())
        }
    };
    let kind = if auth == TokenEndpointAuth::None {
        ClientKind::Public
    } else {
        ClientKind::Confidential
    };
    let spec = ClientSpec {
        client_id: None,
        name,
        kind,
        token_endpoint_auth: Some(auth),
        jwks,
        redirect_uris,
        post_logout_redirect_uris: post_logout,
        grant_types: Some(grants),
        scopes: Some(scope),
        org_id: None,
        first_party: false,
        id_token_alg: Some(id_token_alg),
        access_token_secs: None,
        refresh_token_secs: None,
        allow_offline: false,
        introspect_any: false,
        backchannel_logout_uri: None,
        // Registered clients never exchange tokens (an operator grants that).
        token_exchange_audiences: Vec::new(),
    };
    Ok(Accepted {
        spec,
        metadata: out,
    })
}

impl Accepted {
    /// The client, through the registry's own rules (a refusal there names its field).
    pub(crate) fn client(
        self,
        cfg: &OidcConfig,
        now: Timestamp,
    ) -> Result<OAuthClient, OAuthError> {
        self.spec.validate(cfg, now).map_err(|e| match e {
            CoreError::InvalidArgument(m) if m.starts_with("redirect_uris") => redirect(m),
            CoreError::InvalidArgument(m) => meta(m),
            other => OAuthError::from(other),
        })
    }
}
