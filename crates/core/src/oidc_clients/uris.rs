//! Redirect URI rules (RFC 9700 §2.1, RFC 8252 §7–8): registered URIs are exact strings,
//! matched exactly, with one relaxation: the port of a loopback IP literal.

use url::Url;

use super::invalid;
use crate::error::CoreResult;
use crate::model::OAuthClient;

pub const MAX_URIS: usize = 32;
pub const MAX_URI_LEN: usize = 2000;

/// The literal loopback hosts plain http may name (RFC 8252 §8.3).
const LOOPBACK_HTTP: &[&str] = &["http://127.0.0.1", "http://[::1]", "http://localhost"];
/// The loopback IP literals whose port the client picks at run time (RFC 8252 §7.3).
const LOOPBACK_IP: &[&str] = &["http://127.0.0.1", "http://[::1]"];

/// Checks each URI of a list; `native` (a public client) may also use a private-use scheme.
pub(super) fn check_list(field: &str, uris: &[String], native: bool) -> CoreResult<()> {
    if uris.len() > MAX_URIS {
        return Err(invalid(format!("{field}: at most {MAX_URIS}")));
    }
    for (i, u) in uris.iter().enumerate() {
        if uris[..i].contains(u) {
            return Err(invalid(format!("{field}: {u:?} is given twice")));
        }
        check_uri(field, u, native)?;
    }
    Ok(())
}

/// `backchannel_logout_uri`: https, or http on a loopback host (OpenID Back-Channel Logout §2.2).
pub(super) fn check_backchannel(u: &str) -> CoreResult<()> {
    check_uri("backchannel_logout_uri", u, false)
}

fn check_uri(field: &str, raw: &str, native: bool) -> CoreResult<()> {
    let bad = |why: &str| Err(invalid(format!("{field}: {raw:?} {why}")));
    if raw.is_empty() || raw.len() > MAX_URI_LEN {
        return bad(&format!("must be 1 to {MAX_URI_LEN} bytes"));
    }
    // The URL parser would drop some of these silently, and matching is on the exact string.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    if raw.contains('*') {
        return bad("must not contain a wildcard: URIs are matched exactly");
    }
    if raw.contains('#') {
        return bad("must not have a fragment");
    }
    let Ok(url) = Url::parse(raw) else {
        return bad("is not an absolute URL");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry user information");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback_http(raw) => Ok(()),
        "http" => bad("may use http only on a loopback host (127.0.0.1, [::1], localhost)"),
        s if is_private_use_scheme(s) && native => Ok(()),
        s if is_private_use_scheme(s) => bad(&format!(
            "uses the private-use scheme {s:?}, which only a public (native) client may register"
        )),
        s => bad(&format!(
            "uses the scheme {s:?}: use https, http on a loopback host, or for a native \
             public client a reverse-domain private-use scheme such as com.example.app"
        )),
    }
}

/// RFC 8252 §7.1: a reverse-domain-name scheme, e.g. `com.example.app`: dot-separated,
/// non-empty labels, at least two.
fn is_private_use_scheme(scheme: &str) -> bool {
    scheme.contains('.') && scheme.split('.').all(|label| !label.is_empty())
}

/// The host is literally a loopback one: `http://HOST` then a port, a path, a query or nothing.
fn loopback_http(raw: &str) -> bool {
    LOOPBACK_HTTP.iter().any(|prefix| {
        raw.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/', '?']))
    })
}

/// For `http://127.0.0.1[:port]REST` or `http://[::1][:port]REST` (a valid port, REST empty or
/// starting with `/` or `?`): the host prefix and REST, i.e. the URI without its port.
fn without_loopback_port(uri: &str) -> Option<(&'static str, &str)> {
    let prefix = LOOPBACK_IP.iter().find(|p| uri.starts_with(**p))?;
    let after = &uri[prefix.len()..];
    let rest = match after.strip_prefix(':') {
        Some(port_and_rest) => {
            let end = port_and_rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(port_and_rest.len());
            port_and_rest[..end].parse::<u16>().ok()?;
            &port_and_rest[end..]
        }
        None => after,
    };
    (rest.is_empty() || rest.starts_with(['/', '?'])).then_some((*prefix, rest))
}

/// The registered URI `presented` matches, if any: the same string, or, for a registered
/// loopback IP literal (`http://127.0.0.1/…`, `http://[::1]/…`), the same string but for the
/// port, which a native app picks when it starts listening (RFC 8252 §7.3). Nothing else is
/// relaxed: not `localhost`, not the path, not the query, not letter case.
pub fn match_redirect_uri<'a>(client: &'a OAuthClient, presented: &str) -> Option<&'a str> {
    match_uri(&client.redirect_uris, presented)
}

/// The same rule for the URIs a client may be sent to after logout.
pub fn match_post_logout_redirect_uri<'a>(
    client: &'a OAuthClient,
    presented: &str,
) -> Option<&'a str> {
    match_uri(&client.post_logout_redirect_uris, presented)
}

fn match_uri<'a>(registered: &'a [String], presented: &str) -> Option<&'a str> {
    if let Some(r) = registered.iter().find(|r| r.as_str() == presented) {
        return Some(r);
    }
    let wanted = without_loopback_port(presented)?;
    registered
        .iter()
        .find(|r| without_loopback_port(r) == Some(wanted))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_recognised_only_when_well_formed() {
        assert_eq!(
            without_loopback_port("http://127.0.0.1:8080/cb?x=1"),
            Some(("http://127.0.0.1", "/cb?x=1"))
        );
        assert_eq!(
            without_loopback_port("http://[::1]/cb"),
            Some(("http://[::1]", "/cb"))
        );
        assert_eq!(
            without_loopback_port("http://127.0.0.1"),
            Some(("http://127.0.0.1", ""))
        );
        for no in [
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://127.0.0.1:80@evil.com/cb",
            "https://127.0.0.1:80/cb",
            "http://localhost:80/cb",
        ] {
            assert_eq!(without_loopback_port(no), None, "{no}");
        }
    }

    #[test]
    fn private_use_schemes_are_reverse_domains() {
        assert!(is_private_use_scheme("com.example.app"));
        assert!(!is_private_use_scheme("myapp"));
        assert!(!is_private_use_scheme("com..app"));
        assert!(!is_private_use_scheme("com.example."));
    }
}
