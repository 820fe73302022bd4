//! The per-client rate limit of the token endpoint: a token bucket per
//! client in each node's memory (no store write per request), as Auth0 has.
//!
//! The default is far above what a well-behaved client needs (it caches
//! each token for its lifetime) and is there to stop a runaway or hostile
//! client from taking a node's signing capacity from every other client.
//! A bucket holds one second's worth of requests and refills continuously.
//! Only authenticated clients reach it, so the map holds at most one entry
//! per registered client; it is keyed by a keyed hash of tenant and client
//! id, so a request allocates nothing here.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

/// Entries beyond this count are dropped wholesale (a fresh bucket is full,
/// so this only ever lets requests through).
const MAX_BUCKETS: usize = 100_000;

pub(crate) struct Throttle {
    hasher: RandomState,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl Throttle {
    /// Takes one request of `client` from its bucket of `per_second`
    /// requests per second; `Err` carries the seconds until one is free.
    pub(crate) fn check(&self, tenant: &str, client: &str, per_second: i64) -> Result<(), u64> {
        self.check_at(tenant, client, per_second, Instant::now())
    }

    fn check_at(
        &self,
        tenant: &str,
        client: &str,
        per_second: i64,
        now: Instant,
    ) -> Result<(), u64> {
        if per_second <= 0 {
            return Ok(());
        }
        let rate = per_second as f64;
        let key = self.hasher.hash_one((tenant, client));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.clear();
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_holds_one_second_and_refills() {
        let t = Throttle::default();
        let start = Instant::now();
        for i in 0..10 {
            assert_eq!(t.check_at("t", "c", 10, start), Ok(()), "request {i}");
        }
        assert_eq!(t.check_at("t", "c", 10, start), Err(1));
        // Other clients and tenants have buckets of their own.
        assert_eq!(t.check_at("t", "d", 10, start), Ok(()));
        assert_eq!(t.check_at("u", "c", 10, start), Ok(()));
        // A tenth of a second frees one request.
        let later = start + Duration::from_millis(100);
        assert_eq!(t.check_at("t", "c", 10, later), Ok(()));
        assert_eq!(t.check_at("t", "c", 10, later), Err(1));
        // Never more than a second's worth, however long the pause.
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..10 {
            assert_eq!(t.check_at("t", "c", 10, much_later), Ok(()));
        }
        assert!(t.check_at("t", "c", 10, much_later).is_err());
    }

    #[test]
    fn zero_is_off_and_slow_rates_say_when() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(t.check_at("t", "c", 0, now), Ok(()));
        }
        assert_eq!(t.check_at("t", "slow", 1, now), Ok(()));
        assert_eq!(t.check_at("t", "slow", 1, now), Err(1));
    }
}
