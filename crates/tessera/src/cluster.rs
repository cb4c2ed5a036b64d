//! This instance among the instances that share one database.
//!
//! Every write that takes access away (a user changed, deactivated or deleted; a session
//! ended) appends to the store's change feed in its own transaction (the store's triggers do
//! it, so the command line and raw SQL feed it too). Each server instance follows the feed:
//! it evicts exactly the users and sessions the changes name from its caches (all of them
//! when it missed changes that were pruned), then records with a heartbeat how far it has
//! applied the feed. A write that revokes access is answered only after every other live
//! instance has applied it ([`Cluster::await_everyone`]).
//!
//! Invariants:
//! - **the lease**: an instance serves tokens from its caches only until `lease` after the
//!   start of its last round that read the feed and wrote its heartbeat; past that, token
//!   checks fail with [`OutOfDate`] (`503` with `Retry-After`), never with a stale answer;
//! - a round's start is taken before it reads the feed, and its heartbeat is stamped by the
//!   database's clock after that read, so "the heartbeat is older than `lease` + margin" (what
//!   writers see) implies "the instance has stopped serving from its caches" (what it does);
//! - a writer waits until every instance whose heartbeat is younger than that instance's own
//!   lease (plus a margin) has applied the feed up to the writer's change, or, when it cannot
//!   read the registry, until the longest lease it knows plus the margin has passed since the
//!   write (by then every instance that did not apply it has stopped serving); so once a
//!   revoking write is answered, no instance answers a stale `200`; instances of this host
//!   whose process no longer runs are not waited for;
//! - changes are applied before the heartbeat that reports them; evictions bump the caches'
//!   epochs, so a store read that raced a change is never cached after it (see `cache`);
//! - a new instance starts at the feed's end with empty caches: nothing before it matters.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tessera_store::{Change, ChangeBatch, ChangeKind, Heartbeat, Store, StoreError};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::clock::SharedClock;

/// How often an instance reads the feed while it has no notification connection (SQLite,
/// `TESSERA_DATABASE_NOTIFICATIONS=false`, or a lost connection): a writer then waits about
/// this long for it.
pub const FAST_POLL: Duration = Duration::from_millis(100);
/// Changes read from the feed per store call.
const BATCH: u32 = 1_000;
/// Added to the lease before a writer stops waiting for an instance whose heartbeat stopped:
/// covers clock-rate differences and the time between a round's start and its heartbeat's
/// stamp (which only make the instance stop serving earlier than writers assume).
pub const LEASE_MARGIN: Duration = Duration::from_millis(500);
/// The longest pause between two looks at the heartbeats while a writer waits.
const WAIT_POLL_MAX: Duration = Duration::from_millis(10);
/// Feed entries are kept this long (an instance further behind empties its caches once).
pub const FEED_RETENTION_SECONDS: i64 = 3_600;
/// An instance whose heartbeat is this old is removed from the registry (it crashed).
pub const STALE_INSTANCE_MS: i64 = 3_600_000;

/// How this instance takes part.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// How long the instance serves without confirming it applied every change.
    pub lease: Duration,
    /// Wake on the database's notifications (PostgreSQL LISTEN/NOTIFY) as well as polling.
    pub notifications: bool,
}

/// An instance's label: `HOST ADDRESS pid PID`.
pub fn instance_label(host: &str, address: &str, pid: u32) -> String {
    format!("{host} {address} pid {pid}")
}

/// The `HOST ADDRESS` part of a label made by [`instance_label`].
fn instance_address(label: &str) -> Option<&str> {
    label.rsplit_once(" pid ").map(|(address, _)| address)
}

/// True when `label` names a process on `host` that no longer runs: such an instance crashed
/// without leaving the registry, and nobody needs to wait out its lease. (A reused process id
/// only makes a writer wait, the safe way.)
fn gone_from_this_host(label: &str, host: &str) -> bool {
    let Some((address, pid)) = label.rsplit_once(" pid ") else {
        return false;
    };
    let on_this_host = address.split_once(' ').is_some_and(|(h, _)| h == host);
    on_this_host
        && pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id()
                && !std::path::Path::new("/proc").join(pid.to_string()).exists()
                && std::path::Path::new("/proc/self").exists()
        })
}

/// This machine's name, for instance labels.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// The token checks of an instance that could not confirm it is up to date.
#[derive(Debug, Clone, thiserror::Error)]
#[error("this instance has not confirmed it applied every change for {stale_ms} ms{}", cause.as_deref().map(|c| format!(" (last failure: {c})")).unwrap_or_default())]
pub struct OutOfDate {
    /// Milliseconds since its lease ended.
    pub stale_ms: i64,
    /// Why the last round failed, when one did.
    pub cause: Option<String>,
}

/// What a round of the feed asks the caches to drop.
#[derive(Debug)]
pub enum Evict<'a> {
    /// The users and sessions these changes name.
    Changes(&'a [Change]),
    /// Everything: changes were missed.
    All,
}

/// This process's place among the instances on one database: the lease, the follower's
/// rounds, and the writers' wait. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    clock: SharedClock,
    id: Uuid,
    settings: ClusterSettings,
    /// This machine's name.
    host: String,
    /// Names the instance in the registry (set by [`Cluster::join`]).
    label: std::sync::OnceLock<String>,
    /// The feed position applied to the caches.
    applied: AtomicI64,
    /// The same position, for those waiting for the next change (the revocation feed).
    applied_watch: tokio::sync::watch::Sender<i64>,
    /// Monotonic milliseconds until which the caches may be trusted; `i64::MAX` for a process
    /// that is not an instance (the command line serves nothing).
    serve_until_ms: AtomicI64,
    /// Why the last round failed; `None` after a round that succeeded.
    failure: Mutex<Option<String>>,
    /// Wakes the follower (a notification came).
    wake: Notify,
    /// A notification connection is open (the follower then reads the feed less often).
    listening: AtomicBool,
    /// The signing keys, reloaded when the feed names a key change (set once, by
    /// [`Cluster::reload_keys_with`]).
    keys: std::sync::OnceLock<crate::keys::Keys>,
}

impl Cluster {
    /// This process on `store`: not yet an instance (see [`Cluster::join`]).
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, settings: ClusterSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                id: Uuid::new_v4(),
                settings,
                host: host_name(),
                label: std::sync::OnceLock::new(),
                applied: AtomicI64::new(0),
                applied_watch: tokio::sync::watch::Sender::new(0),
                serve_until_ms: AtomicI64::new(i64::MAX),
                failure: Mutex::new(None),
                wake: Notify::new(),
                listening: AtomicBool::new(false),
                keys: std::sync::OnceLock::new(),
            }),
        }
    }

    /// From now on, a key change in the feed (or missed changes) reloads `keys` before the
    /// change counts as applied, so a writer's [`Cluster::await_everyone`] also waits for every
    /// instance to use the new keys. Only the first call counts.
    pub fn reload_keys_with(&self, keys: crate::keys::Keys) {
        let _ = self.inner.keys.set(keys);
    }

    /// Reloads the keys, if there are any to reload; a failure is a store error, which makes
    /// the round fail (and the instance stop serving once its lease runs out).
    async fn reload_keys(&self) -> Result<(), StoreError> {
        let Some(keys) = self.inner.keys.get() else {
            return Ok(());
        };
        keys.reload(self.inner.clock.now()).await.map_err(|error| {
            StoreError::Corrupt(format!(
                "the signing keys could not be loaded: {}",
                crate::auth::join_causes(error.chain().map(ToString::to_string))
            ))
        })
    }

    /// This instance's id in the registry.
    pub fn id(&self) -> Uuid {
        self.inner.id
    }

    /// Follows the feed position this instance has applied: the revocation feed's long poll
    /// waits on it for the next change.
    pub fn applied_changes(&self) -> tokio::sync::watch::Receiver<i64> {
        self.inner.applied_watch.subscribe()
    }

    /// The feed position applied to the caches.
    pub fn applied(&self) -> i64 {
        self.inner.applied.load(Ordering::SeqCst)
    }

    /// The lease.
    pub fn lease(&self) -> Duration {
        self.inner.settings.lease
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.inner.settings.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Hot path: `Ok` while the lease runs (an atomic load and a clock read).
    pub fn check_fresh(&self) -> Result<(), OutOfDate> {
        let until = self.inner.serve_until_ms.load(Ordering::SeqCst);
        let now = self.inner.clock.monotonic_ms();
        if now < until {
            return Ok(());
        }
        Err(OutOfDate {
            stale_ms: now.saturating_sub(until),
            cause: self
                .inner
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        })
    }

    /// Becomes an instance named by this host and `address` (the bound one): starts at the feed's
    /// end, writes the first heartbeat and takes the first lease. Call once, before serving,
    /// with empty caches. With `fixed_port` (the address was configured, not port 0), the
    /// entries of earlier processes on the same host and address are removed: this one could
    /// bind it, so they are gone (crashed without leaving), and writers need not wait out
    /// their leases.
    pub async fn join(&self, address: &str, fixed_port: bool) -> Result<(), StoreError> {
        let host = &self.inner.host;
        let label = self
            .inner
            .label
            .get_or_init(|| instance_label(host, address, std::process::id()));
        let started = self.inner.clock.monotonic_ms();
        let end = self.inner.store.latest_change().await?;
        // Keys changed since they were loaded, up to `end`, are in the set from here on; later
        // changes arrive through the feed.
        self.reload_keys().await?;
        self.inner.applied.store(end, Ordering::SeqCst);
        self.inner.applied_watch.send_replace(end);
        self.inner.store.heartbeat(self.beat(label, end)).await?;
        self.renew(started);
        let address = fixed_port.then(|| format!("{host} {address}"));
        self.forget_predecessors(address.as_deref()).await?;
        Ok(())
    }

    /// Removes the entries of other processes labelled with `address` (`HOST ADDRESS`), and
    /// those of processes of this host that no longer run.
    async fn forget_predecessors(&self, address: Option<&str>) -> Result<(), StoreError> {
        for instance in self.inner.store.instances().await? {
            let gone = (address.is_some() && instance_address(&instance.label) == address)
                || gone_from_this_host(&instance.label, &self.inner.host);
            if instance.id != self.inner.id && gone {
                tracing::info!(
                    label = %instance.label,
                    "removing the registry entry of a process that no longer runs"
                );
                self.inner.store.remove_instance(instance.id).await?;
            }
        }
        Ok(())
    }

    /// One round: reads the feed from the applied position and hands what to drop to
    /// `evict`; then, when it applied changes or `beat` asks, writes the heartbeat and renews
    /// the lease from the round's start. On failure the lease is left to run out, and the
    /// cause is kept for [`OutOfDate`].
    pub async fn round(&self, beat: bool, evict: impl Fn(Evict<'_>)) -> Result<(), StoreError> {
        let started = self.inner.clock.monotonic_ms();
        let result = self.try_round(beat, &evict).await;
        match &result {
            Ok(true) => {
                self.renew(started);
                *self.failure() = None;
            }
            Ok(false) => {}
            Err(error) => *self.failure() = Some(crate::auth::describe(error)),
        }
        result.map(|_| ())
    }

    /// Returns whether it wrote a heartbeat.
    async fn try_round(&self, beat: bool, evict: &impl Fn(Evict<'_>)) -> Result<bool, StoreError> {
        let start = self.applied();
        let mut cursor = start;
        loop {
            let ChangeBatch {
                changes,
                missed,
                next,
            } = self.inner.store.changes_since(cursor, BATCH).await?;
            if missed {
                tracing::warn!(
                    applied = cursor,
                    "changes this instance had not applied were pruned; emptying its caches"
                );
                evict(Evict::All);
            }
            if !changes.is_empty() {
                evict(Evict::Changes(&changes));
            }
            if missed || changes.iter().any(|change| change.kind == ChangeKind::Key) {
                self.reload_keys().await?;
            }
            cursor = next;
            self.inner.applied.store(cursor, Ordering::SeqCst);
            self.inner.applied_watch.send_replace(cursor);
            if changes.len() < BATCH as usize {
                break;
            }
        }
        if !beat && cursor == start {
            return Ok(false);
        }
        let label = self.inner.label.get().map_or("", String::as_str);
        self.inner.store.heartbeat(self.beat(label, cursor)).await?;
        Ok(true)
    }

    fn beat<'a>(&self, label: &'a str, applied: i64) -> Heartbeat<'a> {
        Heartbeat {
            id: self.inner.id,
            label,
            applied,
            lease_ms: self.lease_ms(),
        }
    }

    fn renew(&self, started: i64) {
        let until = started.saturating_add(self.lease_ms());
        self.inner.serve_until_ms.store(until, Ordering::SeqCst);
    }

    fn failure(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.inner
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves the registry (a clean stop), so writers stop waiting for this instance at once.
    pub async fn leave(&self) {
        if let Err(error) = self.inner.store.remove_instance(self.inner.id).await {
            tracing::warn!(
                error = %crate::auth::describe(&error),
                "could not remove this instance from the registry; writers will wait for its \
                 lease to run out"
            );
        }
    }

    /// After a write that revoked access: returns once every other live instance has applied
    /// the feed up to its end. An instance counts as live while its heartbeat is younger than
    /// its own lease plus [`LEASE_MARGIN`]; past that it has stopped serving from its caches.
    /// When the feed or the registry cannot be read, it waits the longest lease it knows of
    /// (its own, or the longest it saw in the registry) plus the margin from the start of the
    /// wait: by then every instance that has not applied the change has stopped serving. Never
    /// fails.
    pub async fn await_everyone(&self) {
        let started = tokio::time::Instant::now();
        let margin_ms = i64::try_from(LEASE_MARGIN.as_millis()).unwrap_or(0);
        let mut longest_lease_ms = self.lease_ms();
        let target = match self.inner.store.latest_change().await {
            Ok(target) => Some(target),
            Err(error) => {
                tracing::warn!(
                    error = %crate::auth::describe(&error),
                    "could not read the change feed's end after a revoking write; waiting the \
                     whole lease"
                );
                None
            }
        };
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(target) = target {
                match self.inner.store.instances().await {
                    Ok(instances) => {
                        longest_lease_ms = instances
                            .iter()
                            .map(|instance| instance.lease_ms)
                            .fold(longest_lease_ms, i64::max);
                        let behind = instances.iter().any(|instance| {
                            instance.id != self.inner.id
                                && instance.applied < target
                                && instance.age_ms <= instance.lease_ms.saturating_add(margin_ms)
                                && !gone_from_this_host(&instance.label, &self.inner.host)
                        });
                        if !behind {
                            return;
                        }
                    }
                    Err(error) => tracing::debug!(
                        error = %crate::auth::describe(&error),
                        "could not read the instance registry"
                    ),
                }
            }
            let bound = Duration::from_millis(
                u64::try_from(longest_lease_ms.saturating_add(margin_ms)).unwrap_or(0),
            );
            let elapsed = started.elapsed();
            if elapsed >= bound {
                tracing::warn!(
                    target,
                    "an instance did not confirm a revoking change within its lease; it has \
                     stopped serving from its caches"
                );
                return;
            }
            tokio::time::sleep(pause.min(bound - elapsed)).await;
            pause = (pause * 2).min(WAIT_POLL_MAX);
        }
    }

    /// Follows the feed until the task is dropped: reads it at once when a notification
    /// comes, every [`FAST_POLL`] while no notification connection is open (or every beat
    /// while one is), and writes a heartbeat at least every [`beat_interval`].
    pub async fn follow(self, evict: impl Fn(Evict<'_>) + Send + Sync + 'static) {
        // Aborted with the follower: the listener holds a connection, which must be released
        // before the store can close.
        let _listener = self
            .inner
            .settings
            .notifications
            .then(|| AbortOnDrop(tokio::spawn(listen(self.clone()))));
        let beat_every = beat_interval(self.inner.settings.lease);
        let beat_every_ms = i64::try_from(beat_every.as_millis()).unwrap_or(i64::MAX);
        let mut last_beat = self.inner.clock.monotonic_ms();
        loop {
            let pause = if self.inner.listening.load(Ordering::SeqCst) {
                beat_every
            } else {
                FAST_POLL.min(beat_every)
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.inner.wake.notified() => {}
            }
            let now = self.inner.clock.monotonic_ms();
            let beat = now.saturating_sub(last_beat) >= beat_every_ms;
            if beat {
                last_beat = now;
            }
            if let Err(error) = self.round(beat, &evict).await {
                tracing::warn!(
                    error = %crate::auth::describe(&error),
                    "could not follow the change feed; this instance answers 503 to token \
                     checks once its lease runs out"
                );
            }
        }
    }
}

/// Aborts a task when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    /// Aborts the task and waits until it is gone (and has dropped what it held).
    pub async fn stop(mut self) {
        self.0.abort();
        // A cancelled task's error is the expected outcome.
        let _ = (&mut self.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often an instance writes its heartbeat: five per lease, at most one a second, so
/// four missed in a row still leave it serving.
pub fn beat_interval(lease: Duration) -> Duration {
    (lease / 5).min(Duration::from_secs(1))
}

/// Keeps a notification listener open and wakes the follower on each notification; reopens
/// it after a loss (polling goes on meanwhile).
async fn listen(cluster: Cluster) {
    let retry = beat_interval(cluster.inner.settings.lease);
    loop {
        match cluster.inner.store.change_listener().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                cluster.inner.listening.store(true, Ordering::SeqCst);
                // Changes may have been committed before the listener was open.
                cluster.inner.wake.notify_one();
                loop {
                    match listener.wait().await {
                        Ok(()) => cluster.inner.wake.notify_one(),
                        Err(error) => {
                            cluster.inner.listening.store(false, Ordering::SeqCst);
                            tracing::warn!(
                                error = %crate::auth::describe(&error),
                                "lost the change notifications; polling until they are back"
                            );
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(
                error = %crate::auth::describe(&error),
                "could not listen for change notifications; polling until it can"
            ),
        }
        tokio::time::sleep(retry).await;
    }
}

/// What the follower does with a round's changes: evict exactly what they name.
pub fn evict_from(
    users: &crate::users::Users,
    sessions: &crate::sessions::Sessions,
    evict: Evict<'_>,
) {
    match evict {
        Evict::All => {
            users.evict_all();
            sessions.evict_all();
        }
        Evict::Changes(changes) => {
            for change in changes {
                match change.kind {
                    ChangeKind::User => {
                        users.evict(change.id);
                        sessions.forget_user(change.id);
                    }
                    ChangeKind::Session => sessions.evict(change.id),
                    // Reloaded by the round itself (`reload_keys`), which can wait.
                    ChangeKind::Key => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const LEASE: Duration = Duration::from_secs(5);

    async fn joined(clock: &ManualClock) -> (tempfile::TempDir, Arc<dyn Store>, Cluster) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            tessera_store::SqliteStore::open(&dir.path().join("t.db"))
                .await
                .unwrap(),
        );
        let cluster = Cluster::new(
            Arc::clone(&store),
            Arc::new(clock.clone()),
            ClusterSettings {
                lease: LEASE,
                notifications: false,
            },
        );
        cluster.join("127.0.0.1:0", false).await.unwrap();
        (dir, store, cluster)
    }

    /// The lease runs from the start of the last round that beat; a round that fails leaves
    /// it to run out, and then token checks fail with the cause, until a round succeeds.
    #[tokio::test]
    async fn an_instance_that_cannot_read_the_feed_stops_serving_when_its_lease_ends() {
        let clock = ManualClock::new(0);
        let (_dir, store, cluster) = joined(&clock).await;
        assert!(cluster.check_fresh().is_ok());
        clock.advance_monotonic(LEASE - Duration::from_millis(50));
        assert!(cluster.check_fresh().is_ok(), "still within the lease");
        store.close().await.unwrap();
        assert!(cluster.round(true, |_| {}).await.is_err());
        assert!(
            cluster.check_fresh().is_ok(),
            "a failed round takes nothing away"
        );
        clock.advance_monotonic(Duration::from_millis(100));
        let out_of_date = cluster.check_fresh().unwrap_err();
        assert!(out_of_date.stale_ms >= 50, "{out_of_date:?}");
        let cause = out_of_date.cause.expect("the failed round's cause is kept");
        assert!(!cause.is_empty());
    }

    /// A round with nothing new and no beat due writes nothing and renews nothing; one that
    /// beats renews the lease from its start.
    #[tokio::test]
    async fn only_a_round_that_beats_renews_the_lease() {
        let clock = ManualClock::new(0);
        let (_dir, _store, cluster) = joined(&clock).await;
        clock.advance_monotonic(LEASE - Duration::from_millis(10));
        cluster.round(false, |_| {}).await.unwrap();
        clock.advance_monotonic(Duration::from_millis(20));
        assert!(
            cluster.check_fresh().is_err(),
            "a quiet round renewed the lease"
        );
        cluster.round(true, |_| {}).await.unwrap();
        assert!(cluster.check_fresh().is_ok());
    }

    #[test]
    fn labels_name_host_address_and_process() {
        let label = instance_label("web1", "10.0.0.5:8421", 4242);
        assert_eq!(label, "web1 10.0.0.5:8421 pid 4242");
        assert_eq!(instance_address(&label), Some("web1 10.0.0.5:8421"));
        assert!(
            !gone_from_this_host(&label, "web2"),
            "another host's process is never judged from here"
        );
        let mine = instance_label("web1", "10.0.0.5:8421", std::process::id());
        assert!(!gone_from_this_host(&mine, "web1"), "this process runs");
        // Process ids are below 2^22 on Linux: this one cannot run.
        let gone = instance_label("web1", "10.0.0.5:8421", 4_194_304 + 1);
        assert!(gone_from_this_host(&gone, "web1"));
    }
}
