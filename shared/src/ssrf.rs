//! Which addresses a callback may reach (the callback URL is user input: SSRF).
//!
//! A callback must never reach the service's own network: loopback, private ranges, link
//! local (169.254/16 holds cloud metadata endpoints), CGNAT, multicast, documentation and
//! reserved ranges, and the IPv6 equivalents — including IPv6 forms that embed an IPv4
//! address (IPv4-mapped, IPv4-compatible, NAT64, 6to4), which would otherwise smuggle a
//! private IPv4 address past a v4-only check. The check runs at registration (for IP
//! literals and `localhost`) and at every delivery on every resolved address, and the
//! delivery connects only to the vetted address.
//!
//! Loopback may be allowed by an explicit operator setting (tests, the demo, self-hosting
//! next to the receiver); nothing else can be.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedRange {
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    Reserved,
    UniqueLocal,
    ProtocolAssignments,
}

impl std::fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            BlockedRange::Loopback => "loopback",
            BlockedRange::Private => "private (RFC 1918)",
            BlockedRange::LinkLocal => "link-local (cloud metadata)",
            BlockedRange::SharedCgnat => "shared address space (CGNAT)",
            BlockedRange::Unspecified => "unspecified",
            BlockedRange::Multicast => "multicast",
            BlockedRange::Broadcast => "broadcast",
            BlockedRange::Documentation => "documentation",
            BlockedRange::Benchmarking => "benchmarking",
            BlockedRange::Reserved => "reserved",
            BlockedRange::UniqueLocal => "unique local (fc00::/7)",
            BlockedRange::ProtocolAssignments => "IETF protocol assignments",
        };
        f.write_str(text)
    }
}

/// The callback address policy of a deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Allow 127.0.0.0/8, ::1 and `localhost` (operator setting, default false).
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// `Err(range)` when a callback must not connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), BlockedRange> {
        match classify(ip) {
            None => Ok(()),
            Some(BlockedRange::Loopback) if self.allow_loopback => Ok(()),
            Some(range) => Err(range),
        }
    }

    /// Registration-time check of a URL host: IP literals and `localhost` names are judged
    /// now; any other name is accepted (it may not resolve yet; delivery resolves and
    /// checks every address).
    pub fn check_host(&self, host: &url::Host<&str>) -> Result<(), BlockedRange> {
        match host {
            url::Host::Ipv4(ip) => self.check(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.check(IpAddr::V6(*ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    self.check(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The blocked range `ip` falls in, if any.
pub fn classify(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    use BlockedRange::*;
    let table: &[([u8; 4], u32, BlockedRange)] = &[
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedCgnat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, ProtocolAssignments),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, range)| *range)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

/// An IPv4 address embedded in an IPv6 one by a translation scheme, if any.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
    if in_v6(ip, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96)
        || (in_v6(ip, Ipv6Addr::UNSPECIFIED, 96) && bits > 1)
    {
        return Some(low32);
    }
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96)
        || in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48)
    {
        return Some(low32);
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if in_v6(ip, Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

fn classify_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    use BlockedRange::*;
    if ip == Ipv6Addr::UNSPECIFIED {
        return Some(Unspecified);
    }
    if ip == Ipv6Addr::LOCALHOST {
        return Some(Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        // A translated form of a blocked IPv4 address is blocked for the same reason.
        if let Some(range) = classify_v4(v4) {
            return Some(range);
        }
    }
    let table: &[(Ipv6Addr, u32, BlockedRange)] = &[
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, UniqueLocal),
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, LinkLocal),
        // Deprecated site-local.
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, Private),
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, Multicast),
        (
            Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0),
            32,
            Documentation,
        ),
        (
            Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
            20,
            Documentation,
        ),
        (
            Ipv6Addr::new(0x2001, 0x0002, 0, 0, 0, 0, 0, 0),
            48,
            Benchmarking,
        ),
        // IETF protocol assignments (incl. Teredo 2001::/32, which can tunnel anywhere).
        (
            Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
            23,
            ProtocolAssignments,
        ),
        // Discard-only.
        (Ipv6Addr::new(0x0100, 0, 0, 0, 0, 0, 0, 0), 64, Reserved),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, range)| *range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(text: &str) -> Option<BlockedRange> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "52.94.76.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(blocked(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv4_ranges_are_blocked() {
        let cases = [
            ("127.0.0.1", BlockedRange::Loopback),
            ("127.255.0.9", BlockedRange::Loopback),
            ("10.1.2.3", BlockedRange::Private),
            ("172.16.0.1", BlockedRange::Private),
            ("172.31.255.255", BlockedRange::Private),
            ("192.168.1.1", BlockedRange::Private),
            ("169.254.169.254", BlockedRange::LinkLocal),
            ("100.64.0.1", BlockedRange::SharedCgnat),
            ("0.0.0.0", BlockedRange::Unspecified),
            ("224.0.0.1", BlockedRange::Multicast),
            ("255.255.255.255", BlockedRange::Broadcast),
            ("192.0.2.10", BlockedRange::Documentation),
            ("198.18.0.1", BlockedRange::Benchmarking),
            ("240.0.0.1", BlockedRange::Reserved),
        ];
        for (ip, range) in cases {
            assert_eq!(blocked(ip), Some(range), "{ip}");
        }
        assert_eq!(blocked("172.32.0.1"), None);
        assert_eq!(blocked("100.128.0.1"), None);
    }

    #[test]
    fn ipv6_ranges_are_blocked() {
        let cases = [
            ("::1", BlockedRange::Loopback),
            ("::", BlockedRange::Unspecified),
            ("fd00:ec2::254", BlockedRange::UniqueLocal),
            ("fc00::1", BlockedRange::UniqueLocal),
            ("fe80::1", BlockedRange::LinkLocal),
            ("ff02::1", BlockedRange::Multicast),
            ("2001:db8::1", BlockedRange::Documentation),
        ];
        for (ip, range) in cases {
            assert_eq!(blocked(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_blocked_ipv4_are_blocked() {
        assert_eq!(blocked("::ffff:127.0.0.1"), Some(BlockedRange::Loopback));
        assert_eq!(
            blocked("::ffff:169.254.169.254"),
            Some(BlockedRange::LinkLocal)
        );
        assert_eq!(blocked("::ffff:10.0.0.1"), Some(BlockedRange::Private));
        assert_eq!(blocked("::10.0.0.1"), Some(BlockedRange::Private));
        assert_eq!(blocked("64:ff9b::a9fe:a9fe"), Some(BlockedRange::LinkLocal));
        assert_eq!(blocked("2002:c0a8:0101::1"), Some(BlockedRange::Private));
        assert_eq!(blocked("::ffff:8.8.8.8"), None);
        assert_eq!(blocked("2002:0808:0808::1"), None);
    }

    #[test]
    fn loopback_only_with_the_setting() {
        let strict = AddressPolicy::default();
        let loose = AddressPolicy {
            allow_loopback: true,
        };
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(strict.check(lo), Err(BlockedRange::Loopback));
        assert_eq!(loose.check(lo), Ok(()));
        assert_eq!(loose.check("::1".parse().unwrap()), Ok(()));
        assert_eq!(
            loose.check("10.0.0.1".parse().unwrap()),
            Err(BlockedRange::Private)
        );
        assert_eq!(
            loose.check("::ffff:169.254.169.254".parse().unwrap()),
            Err(BlockedRange::LinkLocal)
        );
    }

    #[test]
    fn hosts_at_registration() {
        let strict = AddressPolicy::default();
        let host = |s: &str| url::Url::parse(s).unwrap().host().unwrap().to_owned();
        let check = |s: &str| {
            let h = host(s);
            let h = match &h {
                url::Host::Domain(d) => url::Host::Domain(d.as_str()),
                url::Host::Ipv4(ip) => url::Host::Ipv4(*ip),
                url::Host::Ipv6(ip) => url::Host::Ipv6(*ip),
            };
            strict.check_host(&h)
        };
        assert_eq!(
            check("http://localhost:8080/x"),
            Err(BlockedRange::Loopback)
        );
        assert_eq!(check("http://api.localhost/x"), Err(BlockedRange::Loopback));
        assert_eq!(check("http://[::1]/x"), Err(BlockedRange::Loopback));
        assert_eq!(
            check("http://169.254.169.254/latest"),
            Err(BlockedRange::LinkLocal)
        );
        assert_eq!(
            check("http://[::ffff:a9fe:a9fe]/"),
            Err(BlockedRange::LinkLocal)
        );
        assert_eq!(check("https://mycoolapp.com"), Ok(()));
        assert_eq!(check("http://does-not-resolve.invalid"), Ok(()));
    }
}
