//! Which addresses a metadata document may be fetched from: public unicast only. Anything
//! that reaches this server's own network (private, loopback, link-local, carrier-grade NAT,
//! unique-local), a broadcast or multicast group, or no host at all is refused, including the
//! same addresses written inside an IPv6 one (IPv4-mapped, IPv4-compatible, NAT64, 6to4).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether a fetch must not connect to `ip` (unless the operator allowed private addresses).
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    a.is_unspecified()            // 0.0.0.0
        || o0 == 0                // 0.0.0.0/8: "this network"
        || a.is_private()         // 10/8, 172.16/12, 192.168/16
        || a.is_loopback()        // 127/8
        || a.is_link_local()      // 169.254/16 (cloud metadata services live here)
        || a.is_multicast()       // 224/4
        || a.is_broadcast()
        || a.is_documentation()
        || (o0 == 100 && (64..128).contains(&o1)) // 100.64/10: carrier-grade NAT
        || (o0 == 192 && o1 == 0 && o2 == 0)      // 192.0.0/24: protocol assignments
        || (o0 == 198 && (18..20).contains(&o1))  // 198.18/15: benchmarking
        || o0 >= 240 // 240/4: reserved
}

fn forbidden_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return forbidden_v4(v4); // ::ffff:a.b.c.d
    }
    let s = a.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0; 6] && !a.is_unspecified() && !a.is_loopback() {
        return forbidden_v4(embedded(s[6], s[7])); // ::a.b.c.d (IPv4-compatible)
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(s[6], s[7])); // 64:ff9b::/96 (NAT64)
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded(s[1], s[2])); // 2002::/16 (6to4)
    }
    a.is_unspecified()                      // ::
        || a.is_loopback()                  // ::1
        || a.is_multicast()                 // ff00::/8
        || (s[0] & 0xfe00) == 0xfc00        // fc00::/7: unique local
        || (s[0] & 0xffc0) == 0xfe80        // fe80::/10: link-local
        || (s[0] & 0xffc0) == 0xfec0        // fec0::/10: site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0)    // 2001::/32: Teredo (tunnels to anywhere)
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32: documentation
        || (s[0] == 0x100 && s[1..4] == [0; 3]) // 100::/64: discard
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden_address(s.parse().unwrap())
    }

    #[test]
    fn private_loopback_link_local_and_special_ipv4_are_refused() {
        for a in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "240.0.0.1",
        ] {
            assert!(forbidden(a), "{a} must be refused");
        }
    }

    #[test]
    fn public_ipv4_is_allowed_including_neighbours_of_private_ranges() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "11.0.0.1",
            "169.253.0.1",
        ] {
            assert!(!forbidden(a), "{a} must be allowed");
        }
    }

    #[test]
    fn special_ipv6_is_refused() {
        for a in [
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0::1",
            "100::1",
        ] {
            assert!(forbidden(a), "{a} must be refused");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_ipv4() {
        for a in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:c0a8:0101::1",
        ] {
            assert!(forbidden(a), "{a} must be refused");
        }
        for a in ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:0808:0808::1"] {
            assert!(!forbidden(a), "{a} must be allowed");
        }
    }

    #[test]
    fn public_ipv6_is_allowed() {
        for a in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "fbff::1",
            "fe00::1",
        ] {
            assert!(!forbidden(a), "{a} must be allowed");
        }
    }
}
