//! Failed-login throttling, per account and per client.
//!
//! Each key (a normalised username, known or not, and a client IP) counts its recent
//! failures inside a sliding window. When a key holds the maximum, further attempts are
//! refused with the number of seconds until its oldest failure leaves the window. Unknown
//! usernames are throttled exactly like real ones, so the answer reveals nothing.
//!
//! Trade-off (documented in the README): a per-account limit lets anyone who knows a
//! username lock its owner out for one window. The limit is kept (it is what stops online
//! guessing spread over many clients) and the window is short and configurable; a
//! successful login clears the account's counter, and so does `tessera user unlock`.
//!
//! Invariants:
//! - the counters live in the store (see [`Store::login_failures`]), so every instance on one
//!   database and the command line see and change the same ones: a limit is a limit across
//!   instances, and an unlock is honoured by the very next attempt;
//! - a login reads them once, before any password work, and writes at most once after it
//!   (a failure, or clearing an account that had failures);
//! - when they cannot be read, the attempt is refused ([`Refused::Unavailable`], answered
//!   like a busy database), never let through unthrottled;
//! - time comes from the caller.

use std::net::IpAddr;
use std::sync::Arc;

use tessera_store::{FailureCount, FailureKey, LoginFailure, Store, StoreError};

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

/// Refusal: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// Why an attempt may not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The account or the client has used up its failures.
    #[error("too many failed logins; retry in {} s", .0.0)]
    Throttled(RetryAfter),
    /// The counters could not be read, so the attempt is not allowed (fail closed).
    #[error("the failed-login counters could not be read")]
    Unavailable(#[source] StoreError),
}

/// What a check saw, for the write after the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The account's failures inside the window.
    account_failures: u64,
}

/// Failed-login counters, kept in the store.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: Limits,
    store: Arc<dyn Store>,
}

impl LoginThrottle {
    /// Counters in `store` with the given limits.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self { limits, store }
    }

    /// The first instant still inside the window that ends at `now` (exclusive).
    fn since(&self, now: i64) -> i64 {
        now - i64::from(self.limits.window_seconds)
    }

    /// Refuses an attempt when the account or the client has used up its failures; one
    /// store read.
    pub async fn check(&self, account: &str, client: IpAddr, now: i64) -> Result<Checked, Refused> {
        let client = client.to_string();
        let failures = self
            .store
            .login_failures(account, &client, self.since(now))
            .await
            .map_err(Refused::Unavailable)?;
        let window = i64::from(self.limits.window_seconds);
        let account_wait = wait(failures.account, self.limits.per_account, window, now);
        let client_wait = wait(failures.client, self.limits.per_client, window, now);
        match account_wait.max(client_wait) {
            0 => Ok(Checked {
                account_failures: failures.account.failures,
            }),
            wait => Err(Refused::Throttled(RetryAfter(wait))),
        }
    }

    /// Records a failed attempt against both keys (one store write, which also forgets
    /// failures that left the window).
    pub async fn record_failure(
        &self,
        account: &str,
        client: IpAddr,
        now: i64,
    ) -> Result<(), StoreError> {
        let client = client.to_string();
        self.store
            .record_login_failure(LoginFailure {
                account,
                client: &client,
                at: now,
                forget_until: self.since(now),
                keep_per_account: self.limits.per_account,
                keep_per_client: self.limits.per_client,
            })
            .await
    }

    /// Clears the account's failures after a successful login; writes only when the check
    /// saw some.
    pub async fn record_success(
        &self,
        checked: Checked,
        account: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        if checked.account_failures == 0 {
            return Ok(());
        }
        self.unlock_account(account, now).await.map(drop)
    }

    /// Clears the failures of an account (a normalised username); returns how many of them
    /// still counted at `now`.
    pub async fn unlock_account(&self, account: &str, now: i64) -> Result<u64, StoreError> {
        self.store
            .clear_login_failures(FailureKey::Account(account), self.since(now))
            .await
    }

    /// Clears the failures of a client address; returns how many of them still counted at
    /// `now`.
    pub async fn unlock_client(&self, client: IpAddr, now: i64) -> Result<u64, StoreError> {
        let client = client.to_string();
        self.store
            .clear_login_failures(FailureKey::Client(&client), self.since(now))
            .await
    }
}

/// Seconds to wait before a key with these failures may try again (0: may try now).
fn wait(count: FailureCount, max: u32, window: i64, now: i64) -> u64 {
    if count.failures < u64::from(max) {
        return 0;
    }
    let oldest = count.oldest.unwrap_or(now);
    u64::try_from(oldest + window - now).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use std::net::Ipv4Addr;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// A throttle on a fresh database file (kept alive by the returned directory).
    async fn throttle(per_account: u32, per_client: u32) -> (LoginThrottle, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = tessera_store::SqliteStore::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        let limits = Limits {
            per_account,
            per_client,
            window_seconds: 900,
        };
        (LoginThrottle::new(Arc::new(store), limits), dir)
    }

    fn throttled(outcome: Result<Checked, Refused>) -> Option<u64> {
        match outcome {
            Ok(_) => None,
            Err(Refused::Throttled(RetryAfter(wait))) => Some(wait),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn account_is_refused_after_its_failures_until_the_window_moves() {
        let (t, _dir) = throttle(3, 100).await;
        for i in 0..3 {
            assert_eq!(throttled(t.check("bob", CLIENT, 1_000 + i).await), None);
            t.record_failure("bob", CLIENT, 1_000 + i).await.unwrap();
        }
        assert_eq!(throttled(t.check("bob", CLIENT, 1_010).await), Some(890));
        assert_eq!(throttled(t.check("alice", CLIENT, 1_010).await), None);
        assert_eq!(throttled(t.check("bob", CLIENT, 1_900).await), None);
    }

    #[tokio::test]
    async fn client_is_refused_across_usernames() {
        let (t, _dir) = throttle(100, 2).await;
        t.record_failure("a", CLIENT, 0).await.unwrap();
        t.record_failure("b", CLIENT, 1).await.unwrap();
        assert_eq!(throttled(t.check("c", CLIENT, 2).await), Some(898));
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(throttled(t.check("c", other, 2).await), None);
    }

    #[tokio::test]
    async fn success_clears_the_account_but_not_the_client() {
        let (t, _dir) = throttle(2, 3).await;
        t.record_failure("bob", CLIENT, 0).await.unwrap();
        t.record_failure("bob", CLIENT, 1).await.unwrap();
        // A check that saw the failures (before the password check), then the success.
        let seen = Checked {
            account_failures: 2,
        };
        t.record_success(seen, "bob", 2).await.unwrap();
        assert_eq!(throttled(t.check("bob", CLIENT, 2).await), None);
        t.record_failure("bob", CLIENT, 3).await.unwrap();
        assert!(throttled(t.check("bob", CLIENT, 4).await).is_some());
    }

    #[tokio::test]
    async fn unlocking_clears_one_account_or_one_client_and_counts_what_it_cleared() {
        let (t, _dir) = throttle(2, 3).await;
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        t.record_failure("bob", CLIENT, 0).await.unwrap();
        t.record_failure("bob", other, 1).await.unwrap();
        t.record_failure("carol", CLIENT, 2).await.unwrap();
        t.record_failure("carol", CLIENT, 3).await.unwrap();
        assert!(throttled(t.check("bob", other, 4).await).is_some());

        assert_eq!(t.unlock_account("bob", 4).await.unwrap(), 2);
        assert_eq!(throttled(t.check("bob", other, 4).await), None);
        assert!(throttled(t.check("carol", other, 4).await).is_some());
        // The first client holds three failures (its limit); clearing it lets it try again.
        assert!(throttled(t.check("dave", CLIENT, 4).await).is_some());
        assert_eq!(t.unlock_client(CLIENT, 4).await.unwrap(), 3);
        assert_eq!(throttled(t.check("dave", CLIENT, 4).await), None);
        // Failures that left the window are not counted as cleared.
        t.record_failure("erin", other, 10).await.unwrap();
        assert_eq!(t.unlock_account("erin", 910).await.unwrap(), 0);
    }
}
