//! The in-memory cache behind the per-request user and session checks.
//!
//! Invariants:
//! - an invalidation takes effect before it returns: the next `get` misses;
//! - a fill that raced with an invalidation is discarded (epoch check), so a value read
//!   from the store before a write can never be cached after that write returned;
//! - a key the store had no row for is remembered as absent (a negative entry), under the
//!   same rules as a value: invalidated, raced and bounded alike, so a token whose user or
//!   session is gone costs no store call either;
//! - memory is bounded: past `capacity` entries (values and absences) the cache is cleared
//!   wholesale;
//! - writers outside this process reach it through the change feed (see `cluster`), which
//!   drops exactly the entries a change names, or everything after missed changes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Seeded per process; a few nanoseconds per lookup where SipHash takes tens, on every
/// request. Keys are ids this server generated, not chosen by clients.
type Hasher = foldhash::fast::RandomState;

/// A map from ids to shared values (or to the knowledge that there is none), with
/// epoch-checked fills.
#[derive(Debug)]
pub struct EpochCache<K, V> {
    map: RwLock<HashMap<K, Option<Arc<V>>, Hasher>>,
    epoch: AtomicU64,
    capacity: usize,
}

/// Proof of the epoch seen before a store read, handed back to [`EpochCache::fill`].
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

impl<K: Eq + Hash + Copy, V> EpochCache<K, V> {
    /// An empty cache holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            epoch: AtomicU64::new(0),
            capacity,
        }
    }

    /// What the cache knows of `key`: `None` when nothing (ask the store), `Some(None)` when
    /// the store had no row for it, `Some(Some(value))` for a value.
    pub fn get(&self, key: &K) -> Option<Option<Arc<V>>> {
        self.read().get(key).cloned()
    }

    /// Take this before reading the store for a miss.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst))
    }

    /// Caches `value` (`None`: the store has no row for `key`) unless an invalidation
    /// happened since `seen` was taken.
    pub fn fill(&self, key: K, value: Option<Arc<V>>, seen: Epoch) {
        let mut map = self.write();
        if self.epoch.load(Ordering::SeqCst) != seen.0 {
            return;
        }
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value);
    }

    /// Drops one entry.
    pub fn invalidate(&self, key: &K) {
        let mut map = self.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.remove(key);
    }

    /// Drops every value that matches (absences have no value to match and stay).
    pub fn invalidate_where(&self, matches: impl Fn(&V) -> bool) {
        let mut map = self.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.retain(|_, value| !value.as_deref().is_some_and(&matches));
    }

    /// Drops everything.
    pub fn clear(&self) {
        let mut map = self.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<K, Option<Arc<V>>, Hasher>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<K, Option<Arc<V>>, Hasher>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<V: Copy>(cache: &EpochCache<u32, V>, key: u32) -> Option<V> {
        cache.get(&key).flatten().map(|v| *v)
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let cache = EpochCache::<u32, &str>::new(10);
        let seen = cache.epoch();
        cache.invalidate(&1);
        cache.fill(1, Some(Arc::new("stale")), seen);
        assert!(cache.get(&1).is_none());
        cache.fill(1, Some(Arc::new("fresh")), cache.epoch());
        assert_eq!(value(&cache, 1), Some("fresh"));
    }

    #[test]
    fn invalidate_where_keeps_the_rest() {
        let cache = EpochCache::<u32, u32>::new(10);
        for key in 0..6 {
            cache.fill(key, Some(Arc::new(key % 2)), cache.epoch());
        }
        cache.fill(9, None, cache.epoch());
        cache.invalidate_where(|value| *value == 1);
        assert_eq!(value(&cache, 2), Some(0));
        assert!(cache.get(&3).is_none());
        assert_eq!(
            cache.get(&9),
            Some(None),
            "an absence has no value to match"
        );
    }

    #[test]
    fn capacity_bounds_memory_and_clear_drops_everything() {
        let cache = EpochCache::<u32, u32>::new(3);
        for key in 0..4 {
            cache.fill(key, Some(Arc::new(key)), cache.epoch());
        }
        assert!(cache.get(&0).is_none(), "cleared when full");
        assert_eq!(value(&cache, 3), Some(3));
        let seen = cache.epoch();
        cache.clear();
        assert!(cache.get(&3).is_none());
        cache.fill(3, Some(Arc::new(3)), seen);
        assert!(
            cache.get(&3).is_none(),
            "a fill that raced a clear is dropped"
        );
    }

    #[test]
    fn absences_are_remembered_and_dropped_like_values() {
        let cache = EpochCache::<u32, u32>::new(3);
        cache.fill(1, None, cache.epoch());
        assert_eq!(
            cache.get(&1),
            Some(None),
            "known absent: no store call needed"
        );

        cache.invalidate(&1);
        assert!(cache.get(&1).is_none(), "invalidated like a value");

        let seen = cache.epoch();
        cache.invalidate(&2);
        cache.fill(1, None, seen);
        assert!(cache.get(&1).is_none(), "a raced absence is dropped too");

        cache.fill(1, None, cache.epoch());
        cache.clear();
        assert!(cache.get(&1).is_none(), "missed changes drop absences");

        for key in 10..14 {
            cache.fill(key, None, cache.epoch());
        }
        assert!(cache.get(&10).is_none(), "absences count toward the bound");
        assert_eq!(cache.get(&13), Some(None));
    }
}
