//! The key-set cache of a [`Verifier`](crate::Verifier) built from tessera's JWKS URL.
//!
//! This module owns the keys fetched from `/.well-known/jwks.json` and every decision about
//! fetching them again:
//! - **Fresh**: keys are used for the response's `Cache-Control: max-age`, bounded to
//!   [`MIN_MAX_AGE_SECONDS`, `MAX_MAX_AGE_SECONDS`] ([`DEFAULT_MAX_AGE_SECONDS`] when absent;
//!   `no-cache`/`no-store` count as the lower bound). The first request after that refreshes
//!   them; it waits for the fetch, every request meanwhile verifies with the keys in hand.
//! - **Unknown kid**: a token naming a kid the set lacks triggers one refetch, at most once per
//!   `min_refetch_interval` across all requests; concurrent requests wait for that one fetch
//!   (single flight) and then verify against its result.
//! - **Negative cache**: until the next refetch is allowed, every kid the set lacks is refused at
//!   once as `unknown_key` — garbage kids cannot make this cache hammer tessera. (Every fetch,
//!   for whatever cause, starts the interval, so there is no per-kid memory to bound.)
//! - **Stale if error**: a failed fetch (network, timeout, status, oversized or invalid body, an
//!   empty set) is logged and the previous keys are kept; the next attempt waits
//!   `min_refetch_interval`. Until a first fetch succeeds, verifying answers
//!   [`Rejection::Unavailable`].
//! - **Bounds**: the body is read up to [`MAX_JWKS_BYTES`] and the whole fetch is limited to
//!   [`FETCH_TIMEOUT`]; redirects are not followed by the default HTTP client.
//!
//! Invariants: a new key set gets a new [`TokenCodec`], so a token remembered by
//! `verify_cached` under a key that has since left the set is verified again (and refused); the
//! state lock is never held across an `.await`; at most one fetch runs at a time.
//!
//! Extension point (tessera's revocation feed, not built yet): a `key` event means the set
//! changed now; the follower calls [`JwksCache::refresh`] (which ignores the interval) instead of
//! waiting for `max-age`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use reqwest::Url;
use tessera_token::{KeySet, TokenCodec, TokenRules, VerifyError, VerifyingKey, parse_jwk_set};

use crate::{Claims, Rejection};

/// The largest key-set response read, in bytes (tessera's own JWKS parser caps there too).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The longest a key-set fetch (connect, request, whole body) may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Keys are used for at least this long, whatever `max-age` says.
pub const MIN_MAX_AGE_SECONDS: i64 = 60;

/// Keys are used for at most this long, whatever `max-age` says.
pub const MAX_MAX_AGE_SECONDS: i64 = 24 * 60 * 60;

/// How long keys are used when the response has no `max-age`.
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 5 * 60;

/// The default least time between two fetches caused by unknown kids.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Why fetching the key set failed. Never contains key material; a URL appears without its
/// user information.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request could not be made or did not finish in time (the causes, one after another).
    #[error("key set request failed: {0}")]
    Request(String),
    /// Tessera answered with a status other than 200.
    #[error("key set request answered HTTP {0}")]
    Status(u16),
    /// The body is larger than [`MAX_JWKS_BYTES`].
    #[error("key set response exceeds {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The body is not a valid JWK set (tessera-token's strict parser says why).
    #[error("key set response is not a valid JWK set: {0}")]
    Invalid(String),
    /// The set has no key: tessera signs with HS256 (use the shared secret instead) or has no
    /// key yet.
    #[error("key set has no keys (is tessera using HS256? then verify with the shared secret)")]
    NoKeys,
}

/// Options for [`Verifier::jwks_with`](crate::Verifier::jwks_with).
#[derive(Clone)]
pub struct JwksOptions {
    min_refetch_interval: Duration,
    http_client: Option<reqwest::Client>,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
            http_client: None,
        }
    }
}

impl JwksOptions {
    /// The least time between two fetches caused by unknown kids (default 30 s; counted in
    /// whole seconds, at least 1).
    #[must_use]
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// The HTTP client to fetch with, for TLS, proxies or client certificates (default: a plain
    /// reqwest client that follows no redirect). The 5 s timeout is applied to every fetch
    /// either way.
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }
}

impl fmt::Debug for JwksOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksOptions")
            .field("min_refetch_interval", &self.min_refetch_interval)
            .field("custom_http_client", &self.http_client.is_some())
            .finish()
    }
}

/// The cache: where the keys come from, the keys, and when to fetch them again.
pub(crate) struct JwksCache {
    url: Url,
    client: reqwest::Client,
    rules: TokenRules,
    min_refetch_seconds: i64,
    state: Mutex<State>,
    /// Held for the whole of a fetch: the single flight.
    fetch_lock: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// The codec over the last key set fetched successfully; `None` before the first.
    codec: Option<Arc<TokenCodec>>,
    /// The kids of that set, in its order (for logs).
    kids: Vec<String>,
    /// When the keys must be fetched again (unix seconds).
    fresh_until: i64,
    /// When the last fetch started, successful or not.
    last_attempt: Option<i64>,
    /// Fetches started so far: a request that saw `n` and finds more knows one happened since.
    attempts: u64,
}

/// What a request saw of the state at one instant.
struct Snapshot {
    codec: Option<Arc<TokenCodec>>,
    attempts: u64,
    stale: bool,
    refetch_allowed: bool,
}

impl JwksCache {
    pub(crate) fn new(
        url: Url,
        rules: TokenRules,
        options: JwksOptions,
    ) -> Result<Self, reqwest::Error> {
        let client = match options.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        };
        let min_refetch_seconds = i64::try_from(options.min_refetch_interval.as_secs())
            .unwrap_or(i64::MAX)
            .max(1);
        Ok(Self {
            url,
            client,
            rules,
            min_refetch_seconds,
            state: Mutex::new(State::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The URL without user information, for `Debug` and logs.
    pub(crate) fn display_url(&self) -> String {
        redacted(&self.url)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self, now: i64) -> Snapshot {
        let state = self.state();
        Snapshot {
            codec: state.codec.clone(),
            attempts: state.attempts,
            stale: now >= state.fresh_until,
            refetch_allowed: state
                .last_attempt
                .is_none_or(|last| now >= last.saturating_add(self.min_refetch_seconds)),
        }
    }

    /// Verifies `token` at `now`, fetching the key set first when it is missing or stale, and
    /// once more when the token's kid is unknown and a refetch is allowed.
    pub(crate) async fn verify(&self, token: &str, now: i64) -> Result<Claims, Rejection> {
        let mut seen = self.snapshot(now);
        if seen.codec.is_none() {
            if !seen.refetch_allowed {
                return Err(Rejection::Unavailable);
            }
            seen = self.fetch_once(now, seen.attempts, true).await;
        } else if seen.stale {
            // Only one request refreshes; the others use the keys in hand meanwhile.
            seen = self.fetch_once(now, seen.attempts, false).await;
        }
        let codec = seen.codec.ok_or(Rejection::Unavailable)?;
        match codec.verify_cached(token, now) {
            Err(VerifyError::UnknownKey) if seen.refetch_allowed => {
                let after = self.fetch_once(now, seen.attempts, true).await;
                let codec = after.codec.ok_or(Rejection::Unavailable)?;
                codec
                    .verify_cached(token, now)
                    .map(Claims)
                    .map_err(Rejection::Invalid)
            }
            result => result.map(Claims).map_err(Rejection::Invalid),
        }
    }

    /// Fetches the key set unless a fetch started since the caller's snapshot (`seen_attempts`),
    /// and answers the state afterwards. `wait`: wait for a running fetch (and use its result)
    /// rather than return at once.
    async fn fetch_once(&self, now: i64, seen_attempts: u64, wait: bool) -> Snapshot {
        let _flight = if wait {
            self.fetch_lock.lock().await
        } else {
            match self.fetch_lock.try_lock() {
                Ok(guard) => guard,
                Err(_) => return self.snapshot(now),
            }
        };
        if self.state().attempts != seen_attempts {
            return self.snapshot(now);
        }
        // Errors are logged and kept out of the answer: the caller only needs the keys.
        let _ = self.fetch_and_store(now).await;
        self.snapshot(now)
    }

    /// Fetches the key set now, whatever the interval says (start-up, a `key` event), and
    /// waits for a fetch already running first.
    pub(crate) async fn refresh(&self, now: i64) -> Result<(), FetchError> {
        let _flight = self.fetch_lock.lock().await;
        self.fetch_and_store(now).await
    }

    /// One fetch; the caller holds `fetch_lock`.
    ///
    /// The attempt is recorded when it ends, so requests arriving meanwhile with an unknown kid
    /// wait for its result instead of being refused on the interval it starts.
    async fn fetch_and_store(&self, now: i64) -> Result<(), FetchError> {
        let result = fetch(&self.client, &self.url)
            .await
            .and_then(|fetched| self.codec_for(fetched));
        let mut state = self.state();
        state.attempts = state.attempts.saturating_add(1);
        state.last_attempt = Some(now);
        match result {
            Ok((codec, kids, max_age)) => {
                if state.kids != kids {
                    tracing::info!(url = %redacted(&self.url), ?kids, "key set loaded");
                }
                state.codec = Some(Arc::new(codec));
                state.kids = kids;
                state.fresh_until = now.saturating_add(max_age);
                Ok(())
            }
            Err(error) => {
                state.fresh_until = now.saturating_add(self.min_refetch_seconds);
                if state.codec.is_some() {
                    tracing::warn!(
                        url = %redacted(&self.url), %error,
                        retry_in_seconds = self.min_refetch_seconds,
                        "key set fetch failed; keeping the previous keys"
                    );
                } else {
                    tracing::error!(
                        url = %redacted(&self.url), %error,
                        retry_in_seconds = self.min_refetch_seconds,
                        "key set fetch failed; no keys yet, every token is refused as unavailable"
                    );
                }
                Err(error)
            }
        }
    }

    fn codec_for(&self, fetched: Fetched) -> Result<(TokenCodec, Vec<String>, i64), FetchError> {
        let kids = fetched
            .keys
            .iter()
            .map(|key| key.kid().to_owned())
            .collect();
        let keys = KeySet::verify_only(fetched.keys)
            .map_err(|error| FetchError::Invalid(error.to_string()))?;
        let codec = TokenCodec::new(keys, self.rules.clone())
            .map_err(|error| FetchError::Invalid(error.to_string()))?;
        Ok((codec, kids, fetched.max_age))
    }
}

/// A key set as fetched.
struct Fetched {
    keys: Vec<VerifyingKey>,
    /// Seconds to use it, already bounded.
    max_age: i64,
}

async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Fetched, FetchError> {
    let mut response = client
        .get(url.clone())
        .header(header::ACCEPT, "application/jwk-set+json, application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(request_error)?;
    if response.status() != StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let max_age = max_age_seconds(response.headers());
    if response
        .content_length()
        .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len().saturating_add(chunk.len()) > MAX_JWKS_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let keys = parse_jwk_set(&body).map_err(|error| FetchError::Invalid(error.to_string()))?;
    if keys.is_empty() {
        return Err(FetchError::NoKeys);
    }
    Ok(Fetched { keys, max_age })
}

/// reqwest's error and its causes, without the URL.
fn request_error(error: reqwest::Error) -> FetchError {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out {
        text.push_str(&format!(" (timeout {} s)", FETCH_TIMEOUT.as_secs()));
    }
    if text.contains("scheme is not http") {
        // hyper's plain connector: reqwest was built without TLS.
        text.push_str(
            " (reqwest was built without TLS: enable its `rustls` feature in this service, or \
             give tessera-verify a client with TLS through JwksOptions::http_client)",
        );
    }
    FetchError::Request(text)
}

/// How long to use a key set answered with `headers`: `Cache-Control: max-age`, bounded.
fn max_age_seconds(headers: &HeaderMap) -> i64 {
    let mut max_age = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            if directive.eq_ignore_ascii_case("no-cache")
                || directive.eq_ignore_ascii_case("no-store")
            {
                max_age = Some(0);
            } else if let Some((name, seconds)) = directive.split_once('=')
                && name.trim().eq_ignore_ascii_case("max-age")
            {
                let seconds = seconds.trim().trim_matches('"');
                if !seconds.is_empty() && seconds.bytes().all(|b| b.is_ascii_digit()) {
                    // Too many digits for an i64 is "very long": the upper bound applies.
                    let seconds = seconds.parse::<i64>().unwrap_or(i64::MAX);
                    max_age = Some(max_age.map_or(seconds, |known: i64| known.min(seconds)));
                }
            }
        }
    }
    max_age
        .unwrap_or(DEFAULT_MAX_AGE_SECONDS)
        .clamp(MIN_MAX_AGE_SECONDS, MAX_MAX_AGE_SECONDS)
}

/// `url` without user name and password.
pub(crate) fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    // Both fail only for URLs that cannot have them, which then have none to hide.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn max_age_is_read_and_bounded() {
        let cases: [(&[&str], i64); 10] = [
            (&[], 300),
            (&["public, max-age=600"], 600),
            (&["MAX-AGE=120"], 120),
            (&["max-age=\"90\""], 90),
            (&["max-age=5"], 60),
            (&["max-age=0"], 60),
            (&["no-store"], 60),
            (&["max-age=999999999"], 86_400),
            (&["max-age=99999999999999999999999"], 86_400),
            (&["max-age=600", "max-age=120"], 120),
        ];
        for (values, expected) in cases {
            assert_eq!(max_age_seconds(&headers(values)), expected, "{values:?}");
        }
    }

    #[test]
    fn malformed_max_age_falls_back_to_the_default() {
        for value in ["max-age=-1", "max-age=", "max-age=1e3", "private"] {
            assert_eq!(max_age_seconds(&headers(&[value])), 300, "{value}");
        }
    }

    #[test]
    fn urls_lose_their_credentials_in_logs() {
        let url = Url::parse("https://user:pass@auth.example/.well-known/jwks.json").unwrap();
        assert_eq!(redacted(&url), "https://auth.example/.well-known/jwks.json");
    }
}
