//! The client address behind trusted proxies (`TrustedProxies::client_ip`, reading
//! `X-Forwarded-For` or RFC 7239 `Forwarded`) and the CIDR parser of `trusted_proxies`.
//!
//! Input: a selector byte (the peer, and which header is configured), then lines: `f…` is a
//! `Forwarded` value, `c…` a CIDR to parse, anything else an `X-Forwarded-For` value.
//!
//! Invariants: deterministic; an untrusted peer is the client whatever the headers say; only
//! the configured header is read (removing the other changes nothing); the answer is
//! canonical (no IPv4-mapped IPv6); a CIDR that parses prints and parses back to itself and
//! contains its own address.
#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis_edge::{Cidr, ProxyHeader, TrustedProxies};

static PROXIES: LazyLock<Vec<Cidr>> = LazyLock::new(|| {
    ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "192.0.2.0/24"]
        .iter()
        .map(|s| s.parse().expect("a CIDR"))
        .collect()
});

const PEERS: [&str; 6] = [
    "10.1.2.3",
    "127.0.0.1",
    "::1",
    "::ffff:10.0.0.9",
    "203.0.113.7",
    "2001:db8::1",
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = portcullis_fuzz::selector(data) else {
        return;
    };
    let peer: IpAddr = PEERS[usize::from(sel) % PEERS.len()]
        .parse()
        .expect("an address");
    let which = if sel & 0x80 == 0 {
        ProxyHeader::XForwardedFor
    } else {
        ProxyHeader::Forwarded
    };
    let proxies = TrustedProxies::new(PROXIES.clone()).with_header(which);

    let forwarded = HeaderName::from_static("forwarded");
    let xff = HeaderName::from_static("x-forwarded-for");
    let mut headers = HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        match line.split_first() {
            Some((b'f', v)) => {
                if let Ok(v) = HeaderValue::from_bytes(v) {
                    headers.append(forwarded.clone(), v);
                }
            }
            Some((b'c', v)) => check_cidr(v),
            _ => {
                if let Ok(v) = HeaderValue::from_bytes(line) {
                    headers.append(xff.clone(), v);
                }
            }
        }
    }
    let ip = proxies.client_ip(peer, &headers);
    assert_eq!(ip, proxies.client_ip(peer, &headers));
    assert_eq!(ip, ip.to_canonical(), "the client address is not canonical");
    if !proxies.contains(peer) {
        assert_eq!(
            ip,
            peer.to_canonical(),
            "an untrusted peer's headers were believed"
        );
    }
    let mut only = headers.clone();
    only.remove(match which {
        ProxyHeader::XForwardedFor => &forwarded,
        ProxyHeader::Forwarded => &xff,
    });
    assert_eq!(
        proxies.client_ip(peer, &only),
        ip,
        "the other header was read"
    );
});

fn check_cidr(v: &[u8]) {
    let Ok(s) = std::str::from_utf8(v) else {
        return;
    };
    let Ok(c) = s.parse::<Cidr>() else {
        return;
    };
    let printed = c.to_string();
    assert_eq!(printed.parse::<Cidr>(), Ok(c), "{printed}");
    let addr: IpAddr = printed
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .expect("an address");
    assert!(c.contains(addr));
}
