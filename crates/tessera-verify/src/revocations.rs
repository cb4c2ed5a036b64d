//! Following tessera's revocation feed (`GET /api/revocations`), so that a token whose user was
//! deactivated or deleted, whose session ended, or whose key was revoked is refused here too,
//! without a call to tessera per request.
//!
//! A task long-polls the feed (`wait` = [`FeedOptions::wait`]) with an API client's
//! credentials and keeps what it learns: users with the instant from which their tokens die,
//! ended sessions, and a `reset` instant when the feed said it had pruned changes the follower
//! had not read (every token issued at or before it is then refused). A key revocation
//! refetches the key set at once.
//!
//! **The bound.** A revocation reaches this verifier as soon as the tessera instance it polls
//! has applied it (the long poll answers on the next change), so typically within a few
//! hundred milliseconds. If the feed cannot be read for longer than
//! [`FeedOptions::max_staleness`] (default 15 s), every token is refused
//! ([`Rejection::RevocationsUnavailable`], `503`) until it can: a verifier never accepts a token
//! on knowledge older than that. A revocation made before the follower's first answer is not
//! known to it (it starts at the feed's end).
//!
//! Invariants: entries are dropped once older than [`FeedOptions::retain`] (tokens issued
//! before them have expired), so memory follows the revocation rate, not time; the client
//! secret never appears in `Debug`, errors or logs.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{Claims, Clock, Keys, Rejection};

/// How the follower polls and how long its knowledge counts.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    max_staleness: Duration,
    wait_seconds: u64,
    retain_seconds: i64,
    http: Option<reqwest::Client>,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            max_staleness: Duration::from_secs(15),
            wait_seconds: 10,
            // tessera's default access-token lifetime (5 days) plus its largest leeway.
            retain_seconds: 5 * 24 * 3600 + 60,
            http: None,
        }
    }
}

impl FeedOptions {
    /// Refuse every token when the feed has not answered for this long (default 15 s; at least
    /// the poll's wait plus 2 s).
    #[must_use]
    pub fn max_staleness(mut self, limit: Duration) -> Self {
        self.max_staleness = limit;
        self
    }

    /// How long one poll waits for a change (default 10 s, at most 25).
    #[must_use]
    pub fn wait(mut self, seconds: u64) -> Self {
        self.wait_seconds = seconds.min(25);
        self
    }

    /// How long a revocation is remembered: the longest access-token lifetime tessera issues
    /// plus its leeway (default 5 days and 60 s, tessera's defaults).
    #[must_use]
    pub fn retain(mut self, seconds: i64) -> Self {
        self.retain_seconds = seconds;
        self
    }

    /// The HTTP client to poll with (for TLS, proxies).
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }
}

/// One answer of the feed.
#[derive(Deserialize)]
struct Feed {
    cursor: i64,
    #[serde(default)]
    reset: bool,
    reset_at: Option<i64>,
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    User {
        user_id: String,
        at: i64,
    },
    Session {
        session_id: String,
        at: i64,
    },
    Key {
        kid: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Default)]
struct State {
    users: HashMap<String, i64>,
    sessions: HashMap<String, i64>,
    reset_at: Option<i64>,
    cursor: Option<i64>,
    last_answer: Option<Instant>,
}

/// What the follower knows, shared with the verifier.
pub(crate) struct Revocations {
    state: Mutex<State>,
    updated: Notify,
    max_staleness: Duration,
    retain_seconds: i64,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocations")
            .field("max_staleness", &self.max_staleness)
            .finish_non_exhaustive()
    }
}

impl Drop for Revocations {
    fn drop(&mut self) {
        if let Ok(mut task) = self.task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }
}

impl Revocations {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Refuses `claims` when the feed says they died, or when the feed is too old to say.
    pub(crate) fn check(&self, claims: &Claims) -> Result<(), Rejection> {
        let state = self.state();
        let fresh = state
            .last_answer
            .is_some_and(|at| at.elapsed() <= self.max_staleness);
        if !fresh {
            return Err(Rejection::RevocationsUnavailable);
        }
        let revoked = state.reset_at.is_some_and(|at| claims.iat <= at)
            || state
                .users
                .get(&claims.sub)
                .is_some_and(|at| claims.iat <= *at)
            || state.sessions.contains_key(&claims.sid);
        if revoked {
            return Err(Rejection::Revoked);
        }
        Ok(())
    }

    /// The cursor of the last answer applied (`None` before the first).
    pub(crate) fn cursor(&self) -> Option<i64> {
        self.state().cursor
    }

    /// Returns once an answer has been applied after the call.
    pub(crate) async fn updated(&self) {
        self.updated.notified().await;
    }

    /// Applies one answer; returns whether a key was revoked.
    fn apply(&self, feed: Feed, now: i64) -> bool {
        let mut key_revoked = false;
        let mut state = self.state();
        if feed.reset {
            let at = feed.reset_at.unwrap_or(now);
            state.reset_at = Some(state.reset_at.map_or(at, |old| old.max(at)));
        }
        for event in feed.events {
            match event {
                Event::User { user_id, at } => {
                    let entry = state.users.entry(user_id).or_insert(at);
                    *entry = (*entry).max(at);
                }
                Event::Session { session_id, at } => {
                    state.sessions.insert(session_id, at);
                }
                Event::Key { kid } => {
                    tracing::info!(kid = %kid, "tessera revoked a signing key; refetching the key set");
                    key_revoked = true;
                }
                Event::Unknown => {}
            }
        }
        let horizon = now.saturating_sub(self.retain_seconds);
        state.users.retain(|_, at| *at >= horizon);
        state.sessions.retain(|_, at| *at >= horizon);
        if state.reset_at.is_some_and(|at| at < horizon) {
            state.reset_at = None;
        }
        state.cursor = Some(feed.cursor);
        state.last_answer = Some(Instant::now());
        drop(state);
        self.updated.notify_waiters();
        key_revoked
    }
}

/// Starts following `url` (tessera's `/api/revocations`) with an API client's credentials.
pub(crate) fn follow(
    url: reqwest::Url,
    client_id: String,
    client_secret: zeroize::Zeroizing<String>,
    options: FeedOptions,
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Revocations>, reqwest::Error> {
    let http = match options.http.clone() {
        Some(http) => http,
        None => reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    };
    let revocations = Arc::new(Revocations {
        state: Mutex::new(State::default()),
        updated: Notify::new(),
        max_staleness: options.max_staleness,
        retain_seconds: options.retain_seconds,
        task: Mutex::new(None),
    });
    let weak = Arc::downgrade(&revocations);
    let wait = options.wait_seconds;
    let task = tokio::spawn(async move {
        let mut pause = Duration::from_millis(200);
        loop {
            let Some(revocations) = weak.upgrade() else {
                return;
            };
            let mut request_url = url.clone();
            if let Some(cursor) = revocations.cursor() {
                request_url
                    .query_pairs_mut()
                    .append_pair("after", &cursor.to_string())
                    .append_pair("wait", &wait.to_string());
            }
            let answer = http
                .get(request_url)
                .basic_auth(&client_id, Some(client_secret.as_str()))
                .timeout(Duration::from_secs(wait + 5))
                .send()
                .await;
            let feed = match answer {
                Ok(response) if response.status().is_success() => response
                    .json::<Feed>()
                    .await
                    .map_err(|error| error.to_string()),
                Ok(response) => Err(format!("status {}", response.status().as_u16())),
                Err(error) => Err(if error.is_timeout() {
                    "timed out".to_owned()
                } else if error.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    "request failed".to_owned()
                }),
            };
            match feed {
                Ok(feed) => {
                    pause = Duration::from_millis(200);
                    if revocations.apply(feed, clock.now())
                        && let Keys::Jwks(cache) = &*keys
                        && let Err(error) = cache.refresh(clock.now()).await
                    {
                        tracing::warn!(error = %error, "could not refetch the key set after a key revocation");
                    }
                }
                Err(cause) => {
                    tracing::warn!(cause = %cause, "could not read tessera's revocation feed; retrying");
                    drop(revocations);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    if let Ok(mut slot) = revocations.task.lock() {
        *slot = Some(task);
    }
    Ok(revocations)
}
