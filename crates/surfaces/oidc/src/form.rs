//! Form bodies and client credentials as OAuth sends them: `application/x-www-form-urlencoded`
//! with no parameter repeated (RFC 6749 §3.1, §3.2), and `Authorization: Basic` with the
//! form-encoded client id and secret (§2.3.1).

use std::collections::BTreeMap;

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};
use portcullis_core::oidc::{ClientAuthRequest, OAuthError};
use portcullis_edge::read_body;

use super::MAX_FORM_BYTES;

/// A parsed form: one value per name.
#[derive(Debug, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses a query string or form body; a repeated parameter is `invalid_request`.
    pub(crate) fn parse(raw: &[u8]) -> Result<Params, OAuthError> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is repeated"
                )));
            }
        }
        Ok(Params(map))
    }

    /// Reads and parses a form body (bounded; must be form-encoded).
    pub(crate) async fn from_body(headers: &HeaderMap, body: Body) -> Result<Params, OAuthError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !form {
            return Err(OAuthError::invalid_request(
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        let bytes = read_body(headers, body, MAX_FORM_BYTES)
            .await
            .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
        Params::parse(&bytes)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn owned(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }

    pub(crate) fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

/// The client credentials of a token, introspection or revocation request.
pub(crate) fn client_auth(
    headers: &HeaderMap,
    p: &Params,
) -> Result<ClientAuthRequest, OAuthError> {
    Ok(ClientAuthRequest {
        basic: basic_credentials(headers)?,
        client_id: p.owned("client_id"),
        client_secret: p.owned("client_secret"),
        client_assertion_type: p.owned("client_assertion_type"),
        client_assertion: p.owned("client_assertion"),
    })
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`; `None` without one.
/// Other schemes (a bearer) are not client credentials and are ignored here.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let text = value.to_str().map_err(|_| bad())?.trim();
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let id = unescape(id);
    if id.is_empty() {
        return Err(bad());
    }
    Ok(Some((id, unescape(secret))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse(b"a=1&b=2").is_ok());
        let e = Params::parse(b"a=1&a=2").unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_credentials(&h).unwrap(), None);
        // id "my app", secret "p:w+d" form-encoded, then base64.
        let raw = STANDARD.encode("my+app:p%3Aw%2Bd");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&h).unwrap(),
            Some(("my app".to_string(), "p:w+d".to_string()))
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&h).unwrap_err().code, "invalid_client");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(basic_credentials(&h).unwrap(), None);
    }
}
