//! The in-memory cache behind the per-request user and session checks.
//!
//! Invariants:
//! - an invalidation takes effect before it returns: the next `get` misses;
//! - a fill that raced with an invalidation is discarded (epoch check), so a value read
//!   from the store before a write can never be cached after that write returned;
//! - memory is bounded: past `capacity` entries the cache is cleared wholesale;
//! - writers outside this process are caught by polling a store counter
//!   ([`EpochCache::sync`]): when it moved, everything is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Seeded per process; a few nanoseconds per lookup where SipHash takes tens, on every
/// request. Keys are ids this server generated, not chosen by clients.
type Hasher = foldhash::fast::RandomState;

/// A map from ids to shared values, with epoch-checked fills.
#[derive(Debug)]
pub struct EpochCache<K, V> {
    map: RwLock<HashMap<K, Arc<V>, Hasher>>,
    epoch: AtomicU64,
    seen_counter: AtomicI64,
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
            seen_counter: AtomicI64::new(i64::MIN),
            capacity,
        }
    }

    /// The cached value, if any.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        self.read().get(key).cloned()
    }

    /// Take this before reading the store for a miss.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst))
    }

    /// Caches `value` unless an invalidation happened since `seen` was taken.
    pub fn fill(&self, key: K, value: Arc<V>, seen: Epoch) {
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

    /// Drops every entry whose value matches.
    pub fn invalidate_where(&self, matches: impl Fn(&V) -> bool) {
        let mut map = self.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.retain(|_, value| !matches(value));
    }

    /// Drops everything.
    pub fn clear(&self) {
        let mut map = self.write();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    /// Drops everything when the store's change `counter` moved since the last call.
    /// Returns true when it did.
    pub fn sync(&self, counter: i64) -> bool {
        let previous = self.seen_counter.swap(counter, Ordering::SeqCst);
        if previous == counter {
            return false;
        }
        self.clear();
        true
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<K, Arc<V>, Hasher>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<K, Arc<V>, Hasher>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let cache = EpochCache::<u8, &str>::new(10);
        let seen = cache.epoch();
        cache.invalidate(&1);
        cache.fill(1, Arc::new("stale"), seen);
        assert!(cache.get(&1).is_none());
        cache.fill(1, Arc::new("fresh"), cache.epoch());
        assert_eq!(cache.get(&1).as_deref(), Some(&"fresh"));
    }

    #[test]
    fn invalidate_where_keeps_the_rest() {
        let cache = EpochCache::<u8, u8>::new(10);
        for key in 0..6 {
            cache.fill(key, Arc::new(key % 2), cache.epoch());
        }
        cache.invalidate_where(|value| *value == 1);
        assert_eq!(cache.get(&2).as_deref(), Some(&0));
        assert!(cache.get(&3).is_none());
    }

    #[test]
    fn capacity_bounds_memory_and_sync_clears_on_a_moved_counter() {
        let cache = EpochCache::<u32, u32>::new(3);
        for key in 0..4 {
            cache.fill(key, Arc::new(key), cache.epoch());
        }
        assert!(cache.get(&0).is_none(), "cleared when full");
        assert_eq!(cache.get(&3).as_deref(), Some(&3));
        assert!(cache.sync(7));
        assert!(cache.get(&3).is_none());
        cache.fill(3, Arc::new(3), cache.epoch());
        assert!(!cache.sync(7), "unchanged counter keeps the cache");
        assert_eq!(cache.get(&3).as_deref(), Some(&3));
    }
}
