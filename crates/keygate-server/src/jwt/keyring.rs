//! Signing keys per tenant: created on first need, sealed under the master
//! key in the store, cached decrypted in memory for at most the cache TTL
//! (so a key added by another node is published and used everywhere within
//! that bound).

use crate::error::ApiError;
use keygate_core::model::SigningAlg;
use keygate_crypto::keys::{SigningKey, VerifyingKey};
use keygate_crypto::sealing::MasterKey;
use keygate_store::{Store, StoredKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The keys of one tenant as loaded at one moment.
pub struct TenantKeys {
    /// The key that signs, per algorithm.
    pub signing: HashMap<SigningAlg, Arc<SigningKey>>,
    /// Every published key (for verification).
    pub verifying: Vec<VerifyingKey>,
    /// The JWKS document, serialized once.
    pub jwks: Arc<String>,
}

/// The signing keys of every tenant: read from the store, unsealed with the
/// master key, cached per tenant for at most the cache TTL.
pub struct KeyRing {
    store: Arc<dyn Store>,
    master: MasterKey,
    ttl: Duration,
    cache: RwLock<HashMap<String, (Instant, Arc<TenantKeys>)>>,
    creating: tokio::sync::Mutex<()>,
    /// Reloads for tokens whose `kid` the cached set lacks.
    unknown_kid: Coalesced<Arc<TenantKeys>>,
}

/// How often a tenant's keys may be reloaded for unknown `kid`s.
const UNKNOWN_KID_FLOOR: Duration = Duration::from_millis(5);

/// Coalesced reloads, one at a time per key (tenant): a caller that asks
/// while a reload runs waits for it and takes its outcome, and a reload
/// younger than `floor` answers every caller, so tokens with made-up `kid`s
/// cost at most one store read per `floor` per tenant however many arrive
/// at once.
pub(crate) struct Coalesced<V> {
    floor: Duration,
    slots: std::sync::Mutex<HashMap<String, Slot<V>>>,
}

/// One key's last reload; its lock is held while a reload runs.
type Slot<V> = Arc<tokio::sync::Mutex<Option<Reloaded<V>>>>;

struct Reloaded<V> {
    finished: Instant,
    value: V,
}

impl<V: Clone> Coalesced<V> {
    pub(crate) fn new(floor: Duration) -> Self {
        Coalesced {
            floor,
            slots: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// `load`'s outcome for `key`; or, without loading, that of the reload
    /// that was in flight when this call began (callers wait for it instead
    /// of each reading the store) or that finished less than the floor ago.
    pub(crate) async fn get<E, F, Fut>(&self, key: &str, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let asked = Instant::now();
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut last = slot.lock().await;
        if let Some(r) = last.as_ref() {
            if r.finished >= asked || r.finished.elapsed() < self.floor {
                return Ok(r.value.clone());
            }
        }
        let value = load().await?;
        *last = Some(Reloaded {
            finished: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl KeyRing {
    /// A key ring over `store`, unsealing keys with `master` and keeping each
    /// tenant's keys for at most `ttl`.
    pub fn new(store: Arc<dyn Store>, master: MasterKey, ttl: Duration) -> Self {
        KeyRing {
            store,
            master,
            ttl,
            cache: RwLock::new(HashMap::new()),
            creating: tokio::sync::Mutex::new(()),
            unknown_kid: Coalesced::new(UNKNOWN_KID_FLOOR),
        }
    }

    /// The master key, to seal and open other secrets at rest (the secrets
    /// of authenticator apps).
    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The tenant's keys, from the cache when fresh enough.
    pub async fn keys(&self, tenant: &str) -> Result<Arc<TenantKeys>, ApiError> {
        if let Some((at, keys)) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
        {
            if at.elapsed() < self.ttl {
                return Ok(keys.clone());
            }
        }
        self.load(tenant).await
    }

    /// The tenant's keys for verifying a token whose `kid` the cached set
    /// lacks: reloaded from the store unless the cache is under 5 ms old
    /// (so another node's new key is known at once). Reloads are coalesced
    /// ([`Coalesced`]): at most one runs per tenant, concurrent callers wait
    /// for it, so tokens with made-up `kid`s cost at most 200 small store
    /// reads per second per tenant. Callers refuse tokens whose `alg` or
    /// missing `kid` no key could match before asking (see
    /// [`keygate_crypto::jws::JwtError::Unsupported`]).
    pub async fn keys_for_unknown_kid(&self, tenant: &str) -> Result<Arc<TenantKeys>, ApiError> {
        if let Some((at, keys)) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
        {
            if at.elapsed() < UNKNOWN_KID_FLOOR {
                return Ok(keys.clone());
            }
        }
        self.unknown_kid.get(tenant, || self.load(tenant)).await
    }

    /// Generates a key (on the bounded CPU workers) and seals it, ready to
    /// store; it signs `lead` seconds from now and is published at once.
    async fn new_key(
        &self,
        tenant: &str,
        alg: SigningAlg,
        seq: i64,
        lead: i64,
    ) -> Result<StoredKey, ApiError> {
        let kid = keygate_crypto::secrets::random_token(12);
        let id = kid.clone();
        let (key, pkcs8) = crate::signing::run(move || SigningKey::generate(alg, id))
            .await?
            .map_err(|e| ApiError::fault("generating a signing key failed", e))?;
        let now = unix_now();
        Ok(StoredKey {
            sealed_private: self.master.seal(&kid, &pkcs8),
            public_jwk: key.public_jwk().to_string(),
            kid,
            tenant_id: tenant.to_string(),
            alg: alg.as_str().to_string(),
            seq,
            created_at: now,
            activates_at: now + lead.max(0),
            retires_at: None,
        })
    }

    /// Drops the cached keys of a tenant (after this node changed them).
    pub fn forget(&self, tenant: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
    }

    async fn load(&self, tenant: &str) -> Result<Arc<TenantKeys>, ApiError> {
        let stored = self.store.signing_keys(tenant).await?;
        let now = unix_now();
        let mut signing: HashMap<SigningAlg, Arc<SigningKey>> = HashMap::new();
        let mut verifying = Vec::new();
        let mut jwks = Vec::new();
        for k in stored
            .iter()
            .filter(|k| k.retires_at.is_none_or(|r| r > now))
        {
            let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk)
                .map_err(|e| ApiError::fault(format!("stored JWK {} unreadable", k.kid), e))?;
            verifying.push(
                VerifyingKey::from_jwk(&jwk)
                    .map_err(|e| ApiError::fault(format!("stored JWK {} unusable", k.kid), e))?,
            );
            jwks.push(jwk);
            let Some(alg) = SigningAlg::parse(&k.alg) else {
                continue;
            };
            // Newest active key of each algorithm signs (keys come ordered by seq).
            if k.activates_at <= now {
                let pkcs8 = self.master.open(&k.kid, &k.sealed_private).map_err(|e| {
                    ApiError::fault(format!("signing key {} cannot be unsealed", k.kid), e)
                })?;
                let key = SigningKey::from_pkcs8(alg, k.kid.clone(), &pkcs8)
                    .map_err(|e| ApiError::fault(format!("signing key {} unusable", k.kid), e))?;
                signing.insert(alg, Arc::new(key));
            }
        }
        let doc = serde_json::json!({ "keys": jwks }).to_string();
        let keys = Arc::new(TenantKeys {
            signing,
            verifying,
            jwks: Arc::new(doc),
        });
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), (Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// The key that signs for `alg`, creating the tenant's first key of that
    /// algorithm when there is none.
    pub async fn signer(
        &self,
        tenant: &str,
        alg: SigningAlg,
    ) -> Result<(Arc<SigningKey>, Arc<TenantKeys>), ApiError> {
        let keys = self.keys(tenant).await?;
        if let Some(k) = keys.signing.get(&alg) {
            return Ok((k.clone(), keys));
        }
        let _guard = self.creating.lock().await;
        let keys = self.load(tenant).await?;
        if let Some(k) = keys.signing.get(&alg) {
            return Ok((k.clone(), keys));
        }
        let seq = self
            .store
            .signing_keys(tenant)
            .await?
            .iter()
            .filter(|k| k.alg == alg.as_str())
            .count() as i64
            + 1;
        let stored = self.new_key(tenant, alg, seq, 0).await?;
        let kid = stored.kid.clone();
        if self.store.insert_signing_key(&stored).await? {
            tracing::info!(tenant, kid = %kid, alg = alg.as_str(), "created signing key");
        }
        // Whether ours or another node's won, the stored one is used.
        let keys = self.load(tenant).await?;
        let k = keys
            .signing
            .get(&alg)
            .cloned()
            .ok_or_else(|| ApiError::internal("no signing key after creating one"))?;
        Ok((k, keys))
    }
}

/// The outcome of a rotation.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The new key's id, the `kid` of its JWKS entry and of the tokens it signs (RFC 7515 4.1.4).
    pub kid: String,
    /// The algorithm the new key signs with.
    pub alg: SigningAlg,
    /// When the new key starts signing; it is published from now on.
    pub activates_at: i64,
    /// The keys it replaces, and when each leaves the JWKS.
    pub retiring: Vec<(String, i64)>,
}

impl KeyRing {
    /// Adds a new key for `alg` that is published at once but signs only
    /// after `lead` seconds (so every node and every client that caches the
    /// JWKS knows it before any token carries it). The keys it replaces stay
    /// published until every token they could have signed has expired.
    pub async fn rotate(
        &self,
        tenant: &str,
        alg: SigningAlg,
        lead: i64,
    ) -> Result<Rotation, ApiError> {
        let _guard = self.creating.lock().await;
        let existing: Vec<StoredKey> = self
            .store
            .signing_keys(tenant)
            .await?
            .into_iter()
            .filter(|k| k.alg == alg.as_str())
            .collect();
        let seq = existing.iter().map(|k| k.seq).max().unwrap_or(0) + 1;
        let stored = self.new_key(tenant, alg, seq, lead).await?;
        let (kid, activates_at) = (stored.kid.clone(), stored.activates_at);
        if !self.store.insert_signing_key(&stored).await? {
            return Err(ApiError::internal(
                "another rotation of this key won the race; try again",
            ));
        }
        let keep = self.store.max_token_ttl(tenant).await?;
        let mut retiring = Vec::new();
        for old in existing.iter().filter(|k| k.retires_at.is_none()) {
            let retires_at = activates_at + keep;
            self.store.set_key_retirement(&old.kid, retires_at).await?;
            retiring.push((old.kid.clone(), retires_at));
        }
        self.forget(tenant);
        tracing::info!(tenant, kid = %kid, alg = alg.as_str(), activates_at, "rotated signing key");
        Ok(Rotation {
            kid,
            alg,
            activates_at,
            retiring,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Coalesced;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A load that counts itself and takes a while (a store read).
    async fn load(loads: &AtomicUsize) -> Result<usize, ()> {
        let n = loads.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok(n)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_unknown_kids_share_one_reload_per_tenant() {
        let c = Arc::new(Coalesced::<usize>::new(Duration::from_millis(5)));
        let loads = Arc::new(AtomicUsize::new(0));
        let other = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (c, loads, other) = (c.clone(), loads.clone(), other.clone());
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    c.get("acme", || load(&loads)).await
                } else {
                    c.get("beta", || load(&other)).await
                }
            }));
        }
        for t in tasks {
            // Every caller got the outcome of the one reload of its tenant.
            assert_eq!(t.await.unwrap(), Ok(1));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(other.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_later_unknown_kid_reloads_again_after_the_floor() {
        let c = Coalesced::<usize>::new(Duration::from_millis(5));
        let loads = AtomicUsize::new(0);
        assert_eq!(c.get("acme", || load(&loads)).await, Ok(1));
        // Within the floor: the last reload answers.
        assert_eq!(c.get("acme", || load(&loads)).await, Ok(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
        // A key added since is found by a fresh reload.
        assert_eq!(c.get("acme", || load(&loads)).await, Ok(2));
        // A failed reload is not remembered.
        let failed: Result<usize, ()> = {
            tokio::time::sleep(Duration::from_millis(10)).await;
            c.get("acme", || async { Err(()) }).await
        };
        assert_eq!(failed, Err(()));
        assert_eq!(c.get("acme", || load(&loads)).await, Ok(3));
    }
}
