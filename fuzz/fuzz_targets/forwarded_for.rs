//! `X-Forwarded-For` behind `TESSERA_TRUSTED_PROXIES`: `TrustedProxies::parse` and the client
//! address `ClientIp` takes (`tessera::http::fuzzing::client_ip`). Never a panic; the header
//! is believed only from a trusted peer, and the answer is the peer or an address it names.
//!
//! Input lines: the trusted-proxy list, the peer address, then one `X-Forwarded-For` line each.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use tessera::http::fuzzing::client_ip;
use tessera_config::{IpRange, TrustedProxies};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let proxies = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let peer = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let forwarded: Vec<&[u8]> = lines.collect();

    // Every range contains its own address and refuses nothing inside its prefix.
    for part in proxies.split(',') {
        if let Ok(range) = IpRange::parse(part.trim()) {
            let address = part.trim().split('/').next().unwrap_or_default();
            let ip: IpAddr = address.parse().expect("a parsed range has an address");
            assert!(
                range.contains(ip),
                "{part:?} does not contain its own address"
            );
        }
    }
    let Ok(proxies) = TrustedProxies::parse(&proxies) else {
        return;
    };
    let peer: IpAddr = peer
        .trim()
        .parse()
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let client = client_ip(&proxies, peer, &forwarded);

    if !proxies.contains(peer) {
        assert_eq!(
            client, peer,
            "X-Forwarded-For believed from an untrusted peer"
        );
        return;
    }
    if client != peer {
        let named = forwarded
            .iter()
            .filter_map(|line| std::str::from_utf8(line).ok())
            .flat_map(|line| line.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .any(|ip| ip == client);
        assert!(
            named,
            "{client} is neither the peer nor named in the header"
        );
    }
    // IPv4 and its IPv6-mapped form are one address to the proxy list.
    if let IpAddr::V4(v4) = peer {
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert!(
            proxies.contains(mapped),
            "{mapped} is not trusted like {peer}"
        );
    }
});
