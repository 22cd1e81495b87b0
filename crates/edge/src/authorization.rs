//! The one `Authorization` parser: `Bearer <t>` or Parsable's `Token <t>`, scheme in any case.
//! It says what it found; each surface maps [`AuthorizationError`] (and a scheme it does not
//! take) to its own wire error.

use std::fmt;

use http::header::{AUTHORIZATION, HeaderName};
use http::{HeaderMap, HeaderValue};

/// The schemes Portcullis accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `Token`, as Parsable clients send it.
    Token,
}

impl Scheme {
    /// The scheme as written in its canonical case.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Token => "Token",
        }
    }
}

/// Why an `Authorization` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationError {
    /// No header.
    Missing,
    /// More than one header.
    Repeated,
    /// The value is not visible ASCII.
    NotAscii,
    /// The value is empty or only whitespace.
    Blank,
    /// A scheme other than `Bearer` or `Token`.
    UnknownScheme,
    /// A known scheme with no credential after it.
    NoCredential(Scheme),
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthorizationError::Missing => "missing Authorization header",
            AuthorizationError::Repeated => "more than one Authorization header",
            AuthorizationError::NotAscii => "non-ASCII Authorization header",
            AuthorizationError::Blank => "empty Authorization header",
            AuthorizationError::UnknownScheme => "unknown Authorization scheme",
            AuthorizationError::NoCredential(_) => "Authorization header without a credential",
        })
    }
}

impl std::error::Error for AuthorizationError {}

/// A parsed `Authorization` value. `Debug` redacts the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    scheme: Scheme,
    credential: String,
    /// The value as sent, for surfaces whose specification wants one exact form.
    raw: String,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("scheme", &self.scheme)
            .field("credential", &"<redacted>")
            .finish()
    }
}

impl Authorization {
    /// The one `Authorization` header of a request: exactly one, or an error.
    pub fn from_headers(headers: &HeaderMap) -> Result<Authorization, AuthorizationError> {
        Authorization::from_named(headers, &AUTHORIZATION)
    }

    /// The same rules for another header of the same form (Parsable's `Idp-Authorization`).
    pub fn from_named(
        headers: &HeaderMap,
        name: &HeaderName,
    ) -> Result<Authorization, AuthorizationError> {
        let mut values = headers.get_all(name).iter();
        let value = values.next().ok_or(AuthorizationError::Missing)?;
        if values.next().is_some() {
            return Err(AuthorizationError::Repeated);
        }
        Authorization::parse(value)
    }

    /// One header value: the scheme (any case), spaces or tabs, the credential (trimmed).
    pub fn parse(value: &HeaderValue) -> Result<Authorization, AuthorizationError> {
        let raw = value.to_str().map_err(|_| AuthorizationError::NotAscii)?;
        let text = raw.trim();
        if text.is_empty() {
            return Err(AuthorizationError::Blank);
        }
        let (scheme, credential) = text.split_once([' ', '\t']).unwrap_or((text, ""));
        let scheme = if scheme.eq_ignore_ascii_case("bearer") {
            Scheme::Bearer
        } else if scheme.eq_ignore_ascii_case("token") {
            Scheme::Token
        } else {
            return Err(AuthorizationError::UnknownScheme);
        };
        let credential = credential.trim();
        if credential.is_empty() {
            return Err(AuthorizationError::NoCredential(scheme));
        }
        Ok(Authorization {
            scheme,
            credential: credential.to_owned(),
            raw: raw.to_owned(),
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The credential (a JWT, an opaque token or an API key value).
    pub fn credential(&self) -> &str {
        &self.credential
    }

    pub fn into_credential(self) -> String {
        self.credential
    }

    /// The credential when the header was written exactly `<Scheme> <credential>`: the
    /// canonical case, one space, and the rest as sent (untrimmed). `None` otherwise.
    pub fn exact(&self, scheme: Scheme) -> Option<&str> {
        let prefix = scheme.as_str();
        let rest = self.raw.strip_prefix(prefix)?.strip_prefix(' ')?;
        (self.scheme == scheme && !rest.is_empty()).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Authorization, AuthorizationError> {
        Authorization::parse(&HeaderValue::from_str(s).unwrap())
    }

    fn cred(s: &str) -> (Scheme, String) {
        let a = p(s).unwrap();
        (a.scheme(), a.into_credential())
    }

    #[test]
    fn both_schemes_in_any_case() {
        assert_eq!(cred("Bearer abc"), (Scheme::Bearer, "abc".into()));
        assert_eq!(cred("bearer   x.y.z "), (Scheme::Bearer, "x.y.z".into()));
        assert_eq!(cred("BEARER\tabc"), (Scheme::Bearer, "abc".into()));
        assert_eq!(cred("Token abc"), (Scheme::Token, "abc".into()));
        assert_eq!(cred("token    abc "), (Scheme::Token, "abc".into()));
        assert_eq!(cred("  TOKEN\tabc"), (Scheme::Token, "abc".into()));
    }

    #[test]
    fn refusals() {
        assert_eq!(p(""), Err(AuthorizationError::Blank));
        assert_eq!(p("   "), Err(AuthorizationError::Blank));
        assert_eq!(
            p("Token"),
            Err(AuthorizationError::NoCredential(Scheme::Token))
        );
        assert_eq!(
            p("Bearer "),
            Err(AuthorizationError::NoCredential(Scheme::Bearer))
        );
        assert_eq!(p("Basic abc"), Err(AuthorizationError::UnknownScheme));
        assert_eq!(p("Tokenabc"), Err(AuthorizationError::UnknownScheme));
        assert_eq!(p("Bearerabc"), Err(AuthorizationError::UnknownScheme));
        let bytes = HeaderValue::from_bytes(&[b'B', 0xff, 0xfe]).unwrap();
        assert_eq!(
            Authorization::parse(&bytes),
            Err(AuthorizationError::NotAscii)
        );
    }

    #[test]
    fn exactly_one_header() {
        let mut h = HeaderMap::new();
        assert_eq!(
            Authorization::from_headers(&h),
            Err(AuthorizationError::Missing)
        );
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(Authorization::from_headers(&h).unwrap().credential(), "a");
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(
            Authorization::from_headers(&h),
            Err(AuthorizationError::Repeated)
        );
        let idp = HeaderName::from_static("idp-authorization");
        assert_eq!(
            Authorization::from_named(&h, &idp),
            Err(AuthorizationError::Missing)
        );
    }

    #[test]
    fn the_exact_form() {
        assert_eq!(p("Bearer abc").unwrap().exact(Scheme::Bearer), Some("abc"));
        assert_eq!(
            p("Bearer abc ").unwrap().exact(Scheme::Bearer),
            Some("abc ")
        );
        assert_eq!(
            p("Bearer  abc").unwrap().exact(Scheme::Bearer),
            Some(" abc")
        );
        assert_eq!(p("bearer abc").unwrap().exact(Scheme::Bearer), None);
        assert_eq!(p("Bearer\tabc").unwrap().exact(Scheme::Bearer), None);
        assert_eq!(p(" Bearer abc").unwrap().exact(Scheme::Bearer), None);
        assert_eq!(p("Token abc").unwrap().exact(Scheme::Bearer), None);
        assert_eq!(p("Token abc").unwrap().exact(Scheme::Token), Some("abc"));
    }

    #[test]
    fn debug_redacts() {
        assert!(!format!("{:?}", p("Bearer s3cret").unwrap()).contains("s3cret"));
    }
}
