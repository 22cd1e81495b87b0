//! The client's address: the TCP peer, or — only when the peer is a trusted proxy — the
//! nearest untrusted hop named in the one forwarding header the proxies are configured to set
//! (`X-Forwarded-For` by default, or RFC 7239 `Forwarded`).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::request_id::RequestId;

/// The client address of a request, put into the request extensions by the shared middleware.
/// Handlers take it as an extractor (`ClientIp(ip): ClientIp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address the server's middleware put in the extensions; `None` without one.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<IpAddr> {
        extensions.get::<ClientIp>().map(|c| c.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// Where a request came from, for audit events and per-IP limits: the client IP (none when
/// unknown) and the request id, from the shared middleware's extensions.
#[derive(Debug, Clone)]
pub struct Origin {
    pub audit: portcullis_core::audit::AuditContext,
    pub ip: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = ClientIp::from_extensions(&parts.extensions).filter(|ip| !ip.is_unspecified());
        let request_id = RequestId::from_extensions(&parts.extensions).map(|r| r.0);
        Ok(Origin {
            audit: portcullis_core::audit::AuditContext {
                ip: ip.map(|i| i.to_string()),
                request_id,
            },
            ip,
        })
    }
}

/// Which forwarding header names the client (Keycloak's `proxy-headers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ProxyHeader {
    /// `X-Forwarded-For`, what nginx, HAProxy and most load balancers append.
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

impl FromStr for ProxyHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            other => Err(format!(
                "unknown proxy header {other:?} (expected x-forwarded-for or forwarded)"
            )),
        }
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>, ProxyHeader);

impl TrustedProxies {
    /// Proxies that set `X-Forwarded-For`.
    pub fn new(cidrs: Vec<Cidr>) -> Self {
        TrustedProxies(cidrs, ProxyHeader::default())
    }

    /// Reads `header` (only) from the proxies.
    pub fn with_header(self, header: ProxyHeader) -> Self {
        TrustedProxies(self.0, header)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address for a request from `peer` carrying `headers`.
    ///
    /// Walks the forwarding chain from the right (the hop nearest to us): while the current hop
    /// is trusted, step to the address it names. The first untrusted address is the client. A
    /// malformed or obfuscated entry stops the walk at the last trusted hop, so a client cannot
    /// inject an address by sending garbage. Only the configured header is read: a proxy
    /// appends to its own header and passes the other one through as the client sent it.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let hops = match self.1 {
            ProxyHeader::XForwardedFor => x_forwarded_for_hops(headers),
            ProxyHeader::Forwarded => forwarded_hops(headers).unwrap_or_default(),
        };
        let mut current = peer;
        for hop in hops.iter().rev() {
            match parse_node(hop) {
                Some(ip) => {
                    current = ip.to_canonical();
                    if !self.contains(current) {
                        return current;
                    }
                }
                None => return current,
            }
        }
        current
    }
}

/// The `for=` values of every `Forwarded` header, left to right; `None` when there is no
/// such header. An element without `for=` yields an empty (invalid) hop.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<String>> {
    let values: Vec<&http::HeaderValue> = headers.get_all(http::header::FORWARDED).iter().collect();
    if values.is_empty() {
        return None;
    }
    let mut hops = Vec::new();
    for value in values {
        let Ok(text) = value.to_str() else {
            hops.push(String::new());
            continue;
        };
        for element in split_outside_quotes(text, ',') {
            let mut found = String::new();
            for pair in split_outside_quotes(element, ';') {
                if let Some((k, v)) = pair.split_once('=')
                    && k.trim().eq_ignore_ascii_case("for")
                {
                    found = v.trim().trim_matches('"').to_owned();
                }
            }
            hops.push(found);
        }
    }
    Some(hops)
}

fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<String> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(text) => hops.extend(text.split(',').map(|s| s.trim().to_owned())),
            Err(_) => hops.push(String::new()),
        }
    }
    hops
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One node: `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80` or `::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse().ok();
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    node.parse::<SocketAddr>().ok().map(|sa| sa.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(t.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        // No proxies configured at all.
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_peer_xff_rightmost_untrusted_wins() {
        let t = proxies(&["10.0.0.0/8"]);
        // The client spoofed 6.6.6.6; our proxy appended the real address 1.2.3.4.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("1.2.3.4"));
        // Several headers are one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("1.2.3.4"));
        // Ports are tolerated.
        let h = headers(&[("x-forwarded-for", "1.2.3.4:5555")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("1.2.3.4"));
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        let t = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            t.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn all_trusted_chain_yields_leftmost() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.7")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.9.9.9"));
    }

    #[test]
    fn garbage_stops_at_last_trusted_hop() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4, not-an-ip")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 10.0.0.5, bogus, 10.0.0.6")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.6"));
    }

    #[test]
    fn client_sent_forwarded_never_beats_the_proxys_xff() {
        // The default proxy (nginx) appends to X-Forwarded-For and passes the client's own
        // Forwarded header through untouched.
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "203.0.113.5"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.5"));
        // Forwarded alone from a client is not believed either: the proxy is the client.
        let h = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // And a proxy configured for Forwarded ignores a client's X-Forwarded-For.
        let t = t.with_header(ProxyHeader::Forwarded);
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=203.0.113.5"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.5"));
        let h = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_header_is_parsed() {
        let t = proxies(&["10.0.0.0/8", "fd00::/8"]).with_header(ProxyHeader::Forwarded);
        let h = headers(&[
            (
                "forwarded",
                "for=198.51.100.17;proto=https, for=\"[2001:db8::1]:4711\";by=10.0.0.1",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[("forwarded", "For=\"198.51.100.17:80\"")]);
        assert_eq!(t.client_ip(ip("fd00::2"), &h), ip("198.51.100.17"));
        // Obfuscated or unknown identifiers stop the walk.
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers(&[("forwarded", "for=_hidden, for=10.0.0.3")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.3"));
    }

    #[test]
    fn ipv4_mapped_peer_is_canonical() {
        let t = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(t.client_ip(ip("::ffff:127.0.0.1"), &h), ip("1.2.3.4"));
        assert_eq!(
            TrustedProxies::default().client_ip(ip("::ffff:8.8.8.8"), &h),
            ip("8.8.8.8")
        );
    }

    #[test]
    fn node_forms() {
        assert_eq!(parse_node("1.2.3.4"), Some(ip("1.2.3.4")));
        assert_eq!(parse_node("1.2.3.4:80"), Some(ip("1.2.3.4")));
        assert_eq!(parse_node("[::1]:80"), Some(ip("::1")));
        assert_eq!(parse_node("[::1]"), Some(ip("::1")));
        assert_eq!(parse_node("::1"), Some(ip("::1")));
        assert_eq!(parse_node("unknown"), None);
        assert_eq!(parse_node(""), None);
    }
}
