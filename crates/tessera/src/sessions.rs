//! The session service: every read and write of login sessions and refresh tokens goes
//! through here.
//!
//! Invariants:
//! - a refresh token leaves this module only to be handed to its client: the store gets its
//!   SHA-256, and a rotated token's successor is stored sealed under a key that only the
//!   rotated token yields;
//! - every refresh rotates, atomically in the store; a rotated token presented again within
//!   the grace window yields the same successor, after it ends the whole session;
//! - every session ended through this service leaves the cache before the call returns, so
//!   the very next request carrying one of its access tokens is refused, on every live
//!   instance: the call returns only once the others applied it ([`Cluster::await_everyone`]);
//!   ends made elsewhere reach the cache through the change feed ([`crate::cluster`]);
//! - the per-request check ([`Sessions::check`]) costs no store call while the cache is warm.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tessera_store::{
    EndReason, NewSession, RotateOutcome, Rotation, Session, SessionId, Store, StoreError, UserId,
};
use tessera_token::{RefreshError, RefreshToken};

use crate::cache::EpochCache;
use crate::cluster::Cluster;
use crate::metrics::Metrics;

/// Sessions kept in memory before the cache is cleared wholesale.
const CACHE_CAPACITY: usize = 100_000;
/// The longest `User-Agent` kept with a session, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 256;
/// Sessions deleted per purge statement, so a purge never holds the write lock for long.
pub const PURGE_BATCH: u32 = 500;

/// How long sessions live; from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// From login, however often refreshed.
    pub absolute_seconds: i64,
    /// Without a refresh.
    pub idle_seconds: i64,
    /// How long after a rotation the rotated token still yields the same successor.
    pub reuse_grace_seconds: i64,
}

/// Why a session does not back an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefusal {
    /// No such session (never existed, purged, or its user was deleted).
    #[error("token belongs to an unknown session")]
    Unknown,
    /// The session was ended (logout, reuse, password change, …).
    #[error("token belongs to a session that was ended")]
    Ended,
    /// The session passed its idle or absolute deadline.
    #[error("token belongs to a session that expired")]
    Expired,
}

impl SessionRefusal {
    /// A stable snake_case code for metrics and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unknown => "unknown_session",
            Self::Ended => "session_ended",
            Self::Expired => "session_expired",
        }
    }
}

/// What a refresh came to.
#[derive(Debug)]
pub enum Refreshed {
    /// Rotated: this is the new refresh token.
    Rotated(Session, RefreshToken),
    /// Presented again within the grace window: the same successor as before.
    Repeated(Session, RefreshToken),
    /// A rotated token after the grace window: the session has been ended.
    ReuseDetected(Session),
    /// The session has ended or expired.
    Ended,
    /// No session knows the token.
    Unknown,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Drawing, sealing or opening a refresh token failed.
    #[error(transparent)]
    Token(#[from] RefreshError),
}

impl SessionsError {
    /// True when the store was locked by another writer (see [`StoreError::is_busy`]).
    pub fn is_busy(&self) -> bool {
        matches!(self, Self::Store(error) if error.is_busy())
    }
}

/// Sessions, their cache and their lifetimes.
#[derive(Debug, Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    lifetimes: SessionLifetimes,
    cache: EpochCache<SessionId, Session>,
    metrics: Arc<Metrics>,
    cluster: Cluster,
    store_calls: AtomicU64,
}

impl Sessions {
    /// The service over `store`; after ending sessions it waits for the other instances of
    /// `cluster`.
    pub fn new(
        store: Arc<dyn Store>,
        lifetimes: SessionLifetimes,
        metrics: Arc<Metrics>,
        cluster: Cluster,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                lifetimes,
                cache: EpochCache::new(CACHE_CAPACITY),
                metrics,
                cluster,
                store_calls: AtomicU64::new(0),
            }),
        }
    }

    /// The configured lifetimes.
    pub fn lifetimes(&self) -> SessionLifetimes {
        self.inner.lifetimes
    }

    /// How many store calls requests have caused through this service.
    pub fn store_calls(&self) -> u64 {
        self.inner.store_calls.load(Ordering::Relaxed)
    }

    fn store(&self) -> &dyn Store {
        self.inner.store_calls.fetch_add(1, Ordering::Relaxed);
        self.inner.store.as_ref()
    }

    /// Starts a session for a user who just proved who they are; returns it with its first
    /// refresh token.
    pub async fn start(
        &self,
        user: UserId,
        client: IpAddr,
        user_agent: &str,
        now: i64,
    ) -> Result<(Session, RefreshToken), SessionsError> {
        let refresh = RefreshToken::generate()?;
        let lifetimes = self.inner.lifetimes;
        let absolute_expires_at = now.saturating_add(lifetimes.absolute_seconds);
        let session = self
            .store()
            .create_session(
                NewSession {
                    id: SessionId::new_v4(),
                    user_id: user,
                    idle_expires_at: now
                        .saturating_add(lifetimes.idle_seconds)
                        .min(absolute_expires_at),
                    absolute_expires_at,
                    client_ip: client.to_string(),
                    user_agent: user_agent.chars().take(MAX_USER_AGENT_CHARS).collect(),
                    refresh_hash: refresh.lookup_hash(),
                },
                now,
            )
            .await?;
        Ok((session, refresh))
    }

    /// Rotates `presented` (see [`Refreshed`]).
    pub async fn refresh(
        &self,
        presented: &RefreshToken,
        now: i64,
    ) -> Result<Refreshed, SessionsError> {
        let successor = RefreshToken::generate()?;
        let lifetimes = self.inner.lifetimes;
        let rotation = Rotation {
            presented: presented.lookup_hash(),
            successor: successor.lookup_hash(),
            sealed_successor: presented.seal_successor(&successor)?,
            idle_seconds: lifetimes.idle_seconds,
            grace_seconds: lifetimes.reuse_grace_seconds,
        };
        let outcome = self.store().rotate_refresh_token(rotation, now).await?;
        Ok(match outcome {
            RotateOutcome::Rotated(session) => {
                // The idle deadline moved: the next check reads it afresh.
                self.inner.cache.invalidate(&session.id);
                Refreshed::Rotated(session, successor)
            }
            RotateOutcome::Grace {
                session,
                sealed_successor,
            } => {
                let existing = presented.open_successor(&sealed_successor)?;
                Refreshed::Repeated(session, existing)
            }
            RotateOutcome::ReuseDetected(session) => {
                self.inner.cache.invalidate(&session.id);
                self.inner
                    .metrics
                    .sessions_ended(EndReason::RefreshReuse.as_str());
                self.inner.cluster.await_everyone().await;
                Refreshed::ReuseDetected(session)
            }
            RotateOutcome::Ended(_) => Refreshed::Ended,
            RotateOutcome::Unknown => Refreshed::Unknown,
        })
    }

    /// Whether session `id` of `user` backs an access token at `now`. Hot path: no store
    /// call while the cache is warm.
    pub async fn check(
        &self,
        id: SessionId,
        user: UserId,
        now: i64,
    ) -> Result<Result<(), SessionRefusal>, StoreError> {
        let Some(session) = self.cached(id).await? else {
            return Ok(Err(SessionRefusal::Unknown));
        };
        let verdict = verdict_of(&session, user, now);
        if verdict != Err(SessionRefusal::Expired) || now >= session.absolute_expires_at {
            return Ok(verdict);
        }
        // Past the cached idle deadline: another instance may have refreshed since.
        self.inner.cache.invalidate(&id);
        Ok(match self.cached(id).await? {
            Some(fresh) => verdict_of(&fresh, user, now),
            None => Err(SessionRefusal::Unknown),
        })
    }

    async fn cached(&self, id: SessionId) -> Result<Option<Arc<Session>>, StoreError> {
        if let Some(known) = self.inner.cache.get(&id) {
            return Ok(known);
        }
        let seen = self.inner.cache.epoch();
        let session = self.store().session_by_id(id).await?.map(Arc::new);
        // A purged or unknown session is remembered too: session ids are never reused, and a
        // token names its session only after the session was stored.
        self.inner.cache.fill(id, session.clone(), seen);
        Ok(session)
    }

    /// One session as stored (ended ones included), for the owner checks of the API.
    pub async fn get(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        self.store().session_by_id(id).await
    }

    /// The live sessions of `user` (every user's when `None`), newest first.
    pub async fn live(&self, user: Option<UserId>, now: i64) -> Result<Vec<Session>, StoreError> {
        self.store().live_sessions(user, now).await
    }

    /// Ends one session; `true` when it had not been ended before.
    pub async fn end(
        &self,
        id: SessionId,
        reason: EndReason,
        now: i64,
    ) -> Result<bool, StoreError> {
        let ended = self.store().end_session(id, reason, now).await;
        self.inner.cache.invalidate(&id);
        let ended = ended?;
        if ended {
            self.inner.metrics.sessions_ended(reason.as_str());
            self.inner.cluster.await_everyone().await;
        }
        Ok(ended)
    }

    /// Ends every live session of `user` but `keep`; returns how many.
    pub async fn end_all_of(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        reason: EndReason,
        now: i64,
    ) -> Result<u64, StoreError> {
        let ended = self
            .store()
            .end_user_sessions(user, keep, reason, now)
            .await;
        self.forget_user(user);
        let ended = ended?;
        if ended > 0 {
            self.inner.metrics.sessions_ended(reason.as_str());
            self.inner.cluster.await_everyone().await;
        }
        Ok(ended)
    }

    /// Drops the user's sessions from the cache, after a write that ended them elsewhere
    /// (a user change in the store's own transaction).
    pub fn forget_user(&self, user: UserId) {
        self.inner
            .cache
            .invalidate_where(|session| session.user_id == user);
    }

    /// Counts a user change that ended the user's sessions.
    pub fn count_ended_with_user(&self, reason: EndReason) {
        self.inner.metrics.sessions_ended(reason.as_str());
    }

    /// Deletes ended and expired sessions, in batches of [`PURGE_BATCH`]; returns how many.
    /// Not counted in [`Sessions::store_calls`]: it runs on a timer, not per request.
    pub async fn purge(&self, now: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let batch = self.inner.store.purge_sessions(now, PURGE_BATCH).await?;
            purged += batch;
            if batch < u64::from(PURGE_BATCH) {
                return Ok(purged);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Drops one session (an end another process made, read from the feed).
    pub fn evict(&self, id: SessionId) {
        self.inner.cache.invalidate(&id);
    }

    /// Drops every cached session (changes were missed).
    pub fn evict_all(&self) {
        self.inner.cache.clear();
    }
}

/// A session backs a user's token while it belongs to that user, is not ended and is
/// before both deadlines.
fn verdict_of(session: &Session, user: UserId, now: i64) -> Result<(), SessionRefusal> {
    if session.user_id != user {
        Err(SessionRefusal::Unknown)
    } else if session.revoked.is_some() {
        Err(SessionRefusal::Ended)
    } else if !session.is_live(now) {
        Err(SessionRefusal::Expired)
    } else {
        Ok(())
    }
}
