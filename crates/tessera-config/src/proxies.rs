//! `TESSERA_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` is believed.
//!
//! Behind a proxy every connection comes from the proxy's address, so per-client login
//! throttling would count all users as one client. Only when the connection comes from a
//! listed proxy does the server take the client address from `X-Forwarded-For`.

use std::net::IpAddr;

/// An IP address range in CIDR form (`10.0.0.0/8`, `::1/128`; a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse(raw: &str) -> Result<IpRange, String> {
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("'{raw}' is not an IP address or CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(text) => match text.parse::<u8>() {
                Ok(p) if p <= max && text.bytes().all(|b| b.is_ascii_digit()) => p,
                _ => return Err(format!("'{raw}' has a prefix length outside 0 to {max}")),
            },
        };
        Ok(IpRange { network, prefix })
    }

    /// True when `ip` lies in the range. An IPv4 address and its IPv4-mapped IPv6 form
    /// (`10.0.0.1` and `::ffff:10.0.0.1`) are one address, in a range given either way: both
    /// are compared as IPv6, an IPv4 range `a.b.c.d/p` being `::ffff:a.b.c.d/(96 + p)`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (network, prefix) = match self.network {
            IpAddr::V4(v4) => (v4.to_ipv6_mapped(), u32::from(self.prefix) + 96),
            IpAddr::V6(v6) => (v6, u32::from(self.prefix)),
        };
        let ip = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        u128::from(network) & mask == u128::from(ip) & mask
    }
}

/// The trusted proxies; empty (the default) trusts no forwarding header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR ranges (spaces allowed).
    pub fn parse(raw: &str) -> Result<TrustedProxies, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(IpRange::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// The client behind `peer`: when `peer` is trusted, the right-most address of the
    /// `X-Forwarded-For` values that is not itself a trusted proxy; otherwise `peer`.
    /// A malformed entry stops the walk (nothing left of it can be trusted).
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for entry in forwarded_for.rev().flat_map(|v| v.rsplit(',')) {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let range = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(range.contains(ip("10.200.3.4")));
        assert!(!range.contains(ip("11.0.0.1")));
        assert!(range.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6");
        assert!(IpRange::parse("::1").unwrap().contains(ip("::1")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpRange::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host",
            "10.0.0.0/+8",
            "1.2.3.4/",
        ] {
            assert!(IpRange::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Found by the `forwarded_for` fuzz target: a proxy listed by its IPv4-mapped IPv6
    /// address, as a dual-stack listener reports peers, matched no peer at all, so its
    /// `X-Forwarded-For` was never believed.
    #[test]
    fn an_ipv4_mapped_range_contains_its_own_address() {
        let range = IpRange::parse("::ffff:10.0.0.1").unwrap();
        assert!(range.contains(ip("::ffff:10.0.0.1")));
        assert!(range.contains(ip("10.0.0.1")));
        assert!(!range.contains(ip("10.0.0.2")));
        let block = IpRange::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(block.contains(ip("10.200.3.4")));
        assert!(!block.contains(ip("11.0.0.1")));
        // Ranges wider than the mapped block hold the IPv4 addresses inside it too.
        assert!(IpRange::parse("::/0").unwrap().contains(ip("192.0.2.1")));
        assert!(
            IpRange::parse("::ffff:0:0/96")
                .unwrap()
                .contains(ip("192.0.2.1"))
        );
        assert!(
            !IpRange::parse("fe80::/10")
                .unwrap()
                .contains(ip("192.0.2.1"))
        );

        let proxies = TrustedProxies::parse("::ffff:127.0.0.1").unwrap();
        for peer in ["127.0.0.1", "::ffff:127.0.0.1"] {
            assert_eq!(
                proxies.client_address(ip(peer), ["203.0.113.9"].into_iter()),
                ip("203.0.113.9"),
                "{peer}"
            );
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let header = ["203.0.113.9, 10.1.1.1"];
        // From the proxy: skip trusted hops from the right, take the first untrusted one.
        assert_eq!(
            proxies.client_address(ip("127.0.0.1"), header.into_iter()),
            ip("203.0.113.9")
        );
        // From anyone else: the header is ignored.
        assert_eq!(
            proxies.client_address(ip("198.51.100.7"), header.into_iter()),
            ip("198.51.100.7")
        );
        // A spoofed left-most entry does not help: the right-most untrusted one wins.
        let spoofed = ["1.1.1.1, 203.0.113.9"];
        assert_eq!(
            proxies.client_address(ip("127.0.0.1"), spoofed.into_iter()),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last good address.
        let garbage = ["nonsense, 10.2.2.2"];
        assert_eq!(
            proxies.client_address(ip("127.0.0.1"), garbage.into_iter()),
            ip("10.2.2.2")
        );
        // Several header lines read as one list.
        let lines = ["203.0.113.1", "10.3.3.3"];
        assert_eq!(
            proxies.client_address(ip("127.0.0.1"), lines.into_iter()),
            ip("203.0.113.1")
        );
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        assert!(TrustedProxies::parse("10.0.0.1, bogus").is_err());
    }
}
