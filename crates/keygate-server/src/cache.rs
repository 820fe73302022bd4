//! A small time-bounded cache: entries older than the TTL are read again
//! from the store, which bounds how stale any node's view can be.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Entries beyond this count are dropped wholesale (hostile input cannot
/// grow memory without bound; the next reads simply go to the store).
const MAX_ENTRIES: usize = 10_000;

pub struct TtlCache<K, V> {
    ttl: Duration,
    map: RwLock<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            map: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, k: &K) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(k)
            .filter(|(t, _)| t.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, k: K, v: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(k, (Instant::now(), v));
    }

    /// Forgets an entry (after this node changed the record), so the next
    /// read goes to the store.
    pub fn remove(&self, k: &K) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.remove(k);
    }

    /// Forgets every entry whose key matches.
    pub fn remove_where(&self, mut matches: impl FnMut(&K) -> bool) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|k, _| !matches(k));
    }
}
