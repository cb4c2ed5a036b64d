//! Failed-login throttling, per account and per client.
//!
//! Each key (a normalised username, known or not, and a client IP) keeps the times of its
//! recent failures inside a sliding window. When a key holds the maximum, further attempts
//! are refused with the number of seconds until its oldest failure leaves the window.
//! Unknown usernames are throttled exactly like real ones, so the answer reveals nothing.
//!
//! Trade-off (documented in the README): a per-account limit lets anyone who knows a
//! username lock its owner out for one window. The limit is kept (it is what stops online
//! guessing spread over many clients) and the window is short and configurable; a
//! successful login clears the account's counter.
//!
//! Invariant: counters live in this process's memory; time comes from the caller.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Limits of the throttle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed per account within the window.
    pub per_account: u32,
    /// Failures allowed per client address within the window.
    pub per_client: u32,
    /// Window length in seconds.
    pub window_seconds: u32,
}

/// The most keys kept per kind before expired entries are swept.
const SWEEP_ABOVE: usize = 10_000;

/// Refusal: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// Failed-login counters.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: Limits,
    accounts: Mutex<Windows<String>>,
    clients: Mutex<Windows<IpAddr>>,
}

impl LoginThrottle {
    /// Empty counters with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            accounts: Mutex::new(Windows::default()),
            clients: Mutex::new(Windows::default()),
        }
    }

    /// Refuses an attempt when the account or the client has used up its failures.
    pub fn check(&self, account: &str, client: IpAddr, now: i64) -> Result<(), RetryAfter> {
        let window = i64::from(self.limits.window_seconds);
        let account_wait = lock(&self.accounts).wait(account, self.limits.per_account, window, now);
        let client_wait = lock(&self.clients).wait(&client, self.limits.per_client, window, now);
        match account_wait.max(client_wait) {
            0 => Ok(()),
            wait => Err(RetryAfter(wait)),
        }
    }

    /// Records a failed attempt against both keys.
    pub fn record_failure(&self, account: &str, client: IpAddr, now: i64) {
        let window = i64::from(self.limits.window_seconds);
        lock(&self.accounts).push(account.to_owned(), now, window);
        lock(&self.clients).push(client, now, window);
    }

    /// Clears the account's failures after a successful login.
    pub fn record_success(&self, account: &str) {
        lock(&self.accounts).entries.remove(account);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-update of plain counters.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug)]
struct Windows<K> {
    entries: HashMap<K, VecDeque<i64>>,
}

impl<K> Default for Windows<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Windows<K> {
    /// Seconds to wait before `key` may try again (0: may try now).
    fn wait<Q>(&mut self, key: &Q, max: u32, window: i64, now: i64) -> u64
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(times) = self.entries.get_mut(key) else {
            return 0;
        };
        while times.front().is_some_and(|&t| t + window <= now) {
            times.pop_front();
        }
        if times.len() < max as usize {
            return 0;
        }
        let oldest = times.front().copied().unwrap_or(now);
        u64::try_from(oldest + window - now).unwrap_or(1).max(1)
    }

    fn push(&mut self, key: K, now: i64, window: i64) {
        if self.entries.len() > SWEEP_ABOVE {
            self.entries
                .retain(|_, times| times.back().is_some_and(|&t| t + window > now));
        }
        let times = self.entries.entry(key).or_default();
        times.push_back(now);
        // Never keep more than a window's worth of an attacker's attempts.
        while times.len() > 10_000 {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn throttle(per_account: u32, per_client: u32) -> LoginThrottle {
        LoginThrottle::new(Limits {
            per_account,
            per_client,
            window_seconds: 900,
        })
    }

    #[test]
    fn account_is_refused_after_its_failures_until_the_window_moves() {
        let t = throttle(3, 100);
        for i in 0..3 {
            assert_eq!(t.check("bob", CLIENT, 1_000 + i), Ok(()));
            t.record_failure("bob", CLIENT, 1_000 + i);
        }
        assert_eq!(t.check("bob", CLIENT, 1_010), Err(RetryAfter(890)));
        assert_eq!(t.check("alice", CLIENT, 1_010), Ok(()));
        assert_eq!(t.check("bob", CLIENT, 1_900), Ok(()));
    }

    #[test]
    fn client_is_refused_across_usernames() {
        let t = throttle(100, 2);
        t.record_failure("a", CLIENT, 0);
        t.record_failure("b", CLIENT, 1);
        assert_eq!(t.check("c", CLIENT, 2), Err(RetryAfter(898)));
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(t.check("c", other, 2), Ok(()));
    }

    #[test]
    fn success_clears_the_account_but_not_the_client() {
        let t = throttle(2, 3);
        t.record_failure("bob", CLIENT, 0);
        t.record_failure("bob", CLIENT, 1);
        t.record_success("bob");
        assert_eq!(t.check("bob", CLIENT, 2), Ok(()));
        t.record_failure("bob", CLIENT, 3);
        assert!(t.check("bob", CLIENT, 4).is_err());
    }
}
