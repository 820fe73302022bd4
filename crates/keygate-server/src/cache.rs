//! A small time-bounded cache: entries older than the TTL are read again
//! from the store, which bounds how stale any node's view can be.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Entries beyond this count, or beyond [`MAX_BYTES`] of keys and values
/// together, are dropped wholesale (hostile input cannot grow memory without
/// bound; the next reads simply go to the store).
const MAX_ENTRIES: usize = 10_000;
/// The most bytes one cache holds, by [`Weight`].
pub(crate) const MAX_BYTES: usize = 4 << 20;

/// About how many bytes a cached key or value holds (its heap data and its
/// inline size), so that a cache is bounded in memory, not only in count.
pub(crate) trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for String {
    fn weight(&self) -> usize {
        std::mem::size_of::<String>() + self.len()
    }
}

impl Weight for Vec<String> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.iter().map(Weight::weight).sum::<usize>()
    }
}

impl<A: Weight, B: Weight> Weight for (A, B) {
    fn weight(&self) -> usize {
        self.0.weight() + self.1.weight()
    }
}

impl<T: Weight> Weight for Option<T> {
    fn weight(&self) -> usize {
        8 + self.as_ref().map_or(0, Weight::weight)
    }
}

impl Weight for keygate_core::model::Tenant {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.id.len()
            + self.display_name.len()
            + self.domains.weight()
    }
}

impl Weight for keygate_core::model::Client {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.id.len()
            + self.tenant_id.len()
            + self.name.len()
            + self.secret_hash.as_ref().map_or(0, String::len)
            + self.redirect_uris.weight()
            + self.post_logout_redirect_uris.weight()
            + self.web_origins.weight()
            + self.grant_types.len()
    }
}

impl Weight for keygate_core::model::Api {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.tenant_id.len()
            + self.identifier.len()
            + self.name.len()
            + self.scopes.weight()
    }
}

impl<T: Weight> Weight for std::sync::Arc<T> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + (**self).weight()
    }
}

impl Weight for Vec<keygate_core::model::Api> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.iter().map(Weight::weight).sum::<usize>()
    }
}

pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    map: RwLock<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    bytes: usize,
}

impl<K: Eq + Hash + Weight, V: Clone + Weight> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            map: RwLock::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.map
            .get(k)
            .filter(|(t, _)| t.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn put(&self, k: K, v: V) {
        if self.ttl.is_zero() {
            return;
        }
        let weight = k.weight() + v.weight();
        if weight > MAX_BYTES / 16 {
            return;
        }
        let mut e = self.map.write().unwrap_or_else(|e| e.into_inner());
        if e.map.len() >= MAX_ENTRIES || e.bytes + weight > MAX_BYTES {
            e.map.clear();
            e.bytes = 0;
        }
        if let Some((old_k, (_, old_v))) = e.map.remove_entry(&k) {
            e.bytes -= old_k.weight() + old_v.weight();
        }
        e.map.insert(k, (Instant::now(), v));
        e.bytes += weight;
    }

    /// The bytes held now, by [`Weight`].
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Forgets an entry (after this node changed the record), so the next
    /// read goes to the store.
    pub(crate) fn remove(&self, k: &K) {
        let mut e = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some((old_k, (_, old_v))) = e.map.remove_entry(k) {
            e.bytes -= old_k.weight() + old_v.weight();
        }
    }

    /// Forgets every entry whose key matches.
    pub(crate) fn remove_where(&self, mut matches: impl FnMut(&K) -> bool) {
        let mut e = self.map.write().unwrap_or_else(|e| e.into_inner());
        let mut freed = 0;
        e.map.retain(|k, (_, v)| {
            let gone = matches(k);
            if gone {
                freed += k.weight() + v.weight();
            }
            !gone
        });
        e.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_stay_bounded_whatever_the_keys() {
        let c: TtlCache<String, Option<String>> = TtlCache::new(Duration::from_secs(60));
        for i in 0..100 {
            c.put(format!("{i}-{}", "x".repeat(MAX_BYTES / 16)), None);
        }
        assert_eq!(
            c.bytes(),
            0,
            "entries over a sixteenth of the budget are never kept"
        );
        for i in 0..20_000 {
            c.put(format!("{i}-{}", "x".repeat(1_000)), Some("v".into()));
            assert!(c.bytes() <= MAX_BYTES);
        }
        c.put("k".into(), Some("v".into()));
        c.put("k".into(), Some("w".into()));
        assert_eq!(c.get(&"k".to_string()), Some(Some("w".to_string())));
        let before = c.bytes();
        c.remove(&"k".to_string());
        assert!(c.bytes() < before);
        c.remove_where(|_| true);
        assert_eq!(c.bytes(), 0);
    }
}
