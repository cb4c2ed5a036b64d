//! Which connections are served: at most `max_total` at once, and at most `max_per_client`
//! from one client address, counted while each connection's [`Permit`] lives.
//!
//! A client is its IP address; IPv6 addresses count per /64 network (what one subscriber is
//! usually given, so changing the low bits gains nothing) and IPv4-mapped IPv6 addresses as
//! the IPv4 address they carry. Trusted proxies carry many clients and are held only to the
//! total. This module must never wait: a connection is admitted or refused at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tessera_config::TrustedProxies;

use crate::http::Refusal;

/// How often the "at capacity" warning may be logged.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// The connection counts and their caps.
#[derive(Debug)]
pub(super) struct Admission {
    max_total: usize,
    max_per_client: usize,
    trusted_proxies: Arc<TrustedProxies>,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    warned_full_at: Option<Instant>,
}

/// One admitted connection's place; given back when dropped.
#[derive(Debug)]
pub(super) struct Permit {
    admission: Arc<Admission>,
    /// The counted client, `None` for a trusted proxy.
    client: Option<IpAddr>,
}

impl Admission {
    pub(super) fn new(
        max_total: usize,
        max_per_client: usize,
        trusted_proxies: Arc<TrustedProxies>,
    ) -> Self {
        Self {
            max_total,
            max_per_client,
            trusted_proxies,
            counts: Mutex::new(Counts::default()),
        }
    }

    /// A place for a connection from `peer`, or why there is none.
    pub(super) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Permit, Refusal> {
        let client = (!self.trusted_proxies.contains(peer)).then(|| client_of(peer));
        let mut counts = self.lock();
        if counts.total >= self.max_total {
            let now = Instant::now();
            if counts
                .warned_full_at
                .is_none_or(|at| now.duration_since(at) >= FULL_WARNING_EVERY)
            {
                counts.warned_full_at = Some(now);
                tracing::warn!(
                    max_connections = self.max_total,
                    "at the connection limit: new connections are answered 503 until some close (TESSERA_MAX_CONNECTIONS)"
                );
            }
            return Err(Refusal::ServerFull);
        }
        if let Some(client) = client {
            let held = counts.per_client.entry(client).or_insert(0);
            if *held >= self.max_per_client {
                tracing::debug!(%client, held = *held, "refused a connection over the per-client limit");
                return Err(Refusal::ClientFull);
            }
            *held += 1;
        }
        counts.total += 1;
        Ok(Permit {
            admission: Arc::clone(self),
            client,
        })
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent whatever panicked while holding them: every update is
        // a single step.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.admission.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(client) = self.client
            && let Some(held) = counts.per_client.get_mut(&client)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.per_client.remove(&client);
            }
        }
    }
}

/// The address a client is counted under.
fn client_of(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1_u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn clients_are_addresses_and_ipv6_networks() {
        assert_eq!(client_of(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(client_of(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(client_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(client_of(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn caps_hold_and_places_come_back() {
        let proxies = Arc::new(TrustedProxies::parse("10.0.0.1").unwrap());
        let admission = Arc::new(Admission::new(4, 2, proxies));
        let a1 = admission.admit(ip("192.0.2.1")).unwrap();
        let _a2 = admission.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            admission.admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::ClientFull
        );
        // A trusted proxy is held to the total only.
        let _p1 = admission.admit(ip("10.0.0.1")).unwrap();
        let _p2 = admission.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            admission.admit(ip("192.0.2.9")).unwrap_err(),
            Refusal::ServerFull
        );
        drop(a1);
        assert_eq!(admission.open(), 3);
        let _a3 = admission.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(admission.lock().per_client.len(), 1);
    }
}
