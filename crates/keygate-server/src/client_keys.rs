//! The keys a client authenticates its assertions with
//! (docs/client-auth.md): the public keys of a `private_key_jwt` client,
//! registered inline (`jwks`) or fetched from its `jwks_uri`, and the
//! sealed secret of a `client_secret_jwt` client.
//!
//! A `jwks_uri` is fetched by [`crate::fetch`] (public addresses only
//! unless `KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS`, no redirects, 64 KiB,
//! 5 s) and kept per its `Cache-Control` max-age, between 5 minutes and a
//! day. An assertion naming a key the kept set lacks (the client rotated
//! its keys) fetches the set again, at most once a minute per URL. A failed
//! fetch is remembered for 30 seconds, so a client cannot make Keygate fetch
//! at will; while a set is kept, a failed refetch keeps it.
//!
//! HMAC needs the secret itself, not its hash, so a `client_secret_jwt`
//! client's secret is also kept sealed under the master key (AES-256-GCM),
//! bound to the tenant and client id: a sealed secret copied to another
//! client's row does not open.

use crate::fetch::Fetcher;
use keygate_crypto::jwk_set::{self, KeySet};
use keygate_crypto::sealing::MasterKey;
use keygate_crypto::CryptoError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The largest JWK Set read from a `jwks_uri`.
pub(crate) const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Bounds on how long a fetched set is kept.
const MIN_KEEP: u64 = 300;
const MAX_KEEP: u64 = 86_400;
/// A set is fetched again for an unknown `kid` only if it is this old.
const REFETCH_AFTER: Duration = Duration::from_secs(60);
/// How long a failed fetch is remembered.
const KEEP_FAILURE: u64 = 30;
/// Most sets kept at once (expired ones go first, then the oldest).
const MAX_ENTRIES: usize = 1_000;

/// The master-key label of a client's sealed secret.
fn secret_label(tenant: &str, client_id: &str) -> String {
    format!("client-secret:{tenant}:{client_id}")
}

/// Seals a `client_secret_jwt` client's secret, bound to its tenant and id.
pub(crate) fn seal_secret(
    master: &MasterKey,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> String {
    master.seal(&secret_label(tenant, client_id), secret.as_bytes())
}

/// Opens a client's sealed secret.
pub(crate) fn open_secret(
    master: &MasterKey,
    tenant: &str,
    client_id: &str,
    sealed: &str,
) -> Result<Vec<u8>, CryptoError> {
    master.open(&secret_label(tenant, client_id), sealed)
}

struct Entry {
    fetched: Instant,
    until: Instant,
    keys: Result<Arc<KeySet>, String>,
}

/// Whether a kept set may be used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Any set still kept.
    Kept,
    /// A set fetched less than a minute ago; an older one is fetched again
    /// (an assertion named a `kid` the kept set lacks).
    Recent,
}

/// The JWK Sets fetched from clients' `jwks_uri`s, by URL (a set is the
/// same public document whichever client names it).
pub(crate) struct RemoteKeySets {
    /// Made on first use, like the metadata documents' fetcher.
    fetcher: OnceLock<Fetcher>,
    allow_private: bool,
    entries: Mutex<HashMap<String, Entry>>,
}

impl RemoteKeySets {
    /// An empty cache.
    pub(crate) fn new(allow_private: bool) -> RemoteKeySets {
        RemoteKeySets {
            fetcher: OnceLock::new(),
            allow_private,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The set at `uri`, from the cache when `freshness` allows, else
    /// fetched. An error says why (for the log; the client is told only
    /// that its keys could not be read).
    pub(crate) async fn keys(
        &self,
        uri: &str,
        freshness: Freshness,
    ) -> Result<Arc<KeySet>, String> {
        let now = Instant::now();
        let previous = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            match entries.get_mut(uri) {
                Some(e) if e.until > now => {
                    let recent = now.duration_since(e.fetched) < REFETCH_AFTER;
                    // A failure is kept whatever the freshness: no refetch for 30 s.
                    if freshness == Freshness::Kept || recent || e.keys.is_err() {
                        return e.keys.clone();
                    }
                    // This request refetches: the others arriving meanwhile
                    // use the kept set rather than fetching too.
                    e.fetched = now;
                    e.keys.clone().ok()
                }
                _ => None,
            }
        };
        let fetched = self.fetch(uri).await;
        let now = Instant::now();
        let entry = match (fetched, previous) {
            (Ok((keys, max_age)), _) => Entry {
                fetched: now,
                until: now + Duration::from_secs(max_age.clamp(MIN_KEEP, MAX_KEEP)),
                keys: Ok(Arc::new(keys)),
            },
            // A refetch failed while a set is still kept: keep it (and
            // wait a minute before trying again).
            (Err(why), Some(kept)) => {
                tracing::info!(jwks_uri = uri, reason = %why, "refetching a client's jwks_uri failed; the kept set stays");
                let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(e) = entries.get_mut(uri) {
                    e.fetched = now;
                }
                return Ok(kept);
            }
            (Err(why), None) => {
                tracing::info!(jwks_uri = uri, reason = %why, "a client's jwks_uri could not be read");
                Entry {
                    fetched: now,
                    until: now + Duration::from_secs(KEEP_FAILURE),
                    keys: Err(why),
                }
            }
        };
        let keys = entry.keys.clone();
        self.keep(uri.to_string(), entry);
        keys
    }

    fn keep(&self, uri: String, entry: Entry) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&uri) {
            let now = Instant::now();
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.until)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(uri, entry);
    }

    async fn fetch(&self, uri: &str) -> Result<(KeySet, u64), String> {
        let url = url::Url::parse(uri).map_err(|_| "the jwks_uri is not a URL".to_string())?;
        let fetched = self
            .fetcher
            .get_or_init(|| Fetcher::new(self.allow_private))
            .get(&url, MAX_JWKS_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let value: serde_json::Value = serde_json::from_slice(&fetched.body)
            .map_err(|_| "the jwks_uri answered something other than JSON".to_string())?;
        let set = jwk_set::parse(&value).map_err(|e| e.to_string())?;
        if !set.skipped.is_empty() {
            tracing::debug!(jwks_uri = uri, skipped = ?set.skipped, "keys of a client's set left out");
        }
        Ok((set, fetched.max_age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_client() {
        let master = MasterKey::from_hex(&MasterKey::generate_hex()).unwrap();
        let sealed = seal_secret(&master, "acme", "c1", "s3cret");
        assert_eq!(
            open_secret(&master, "acme", "c1", &sealed).unwrap(),
            b"s3cret"
        );
        assert!(open_secret(&master, "acme", "c2", &sealed).is_err());
        assert!(open_secret(&master, "other", "c1", &sealed).is_err());
    }

    /// Serves `answer` (status, Cache-Control, body) to every request;
    /// counts them.
    async fn serve(
        answer: Arc<Mutex<(u16, &'static str, String)>>,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (status, cache, body) = answer.lock().unwrap().clone();
                let res = format!(
                    "HTTP/1.1 {status} X\r\ncache-control: {cache}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(res.as_bytes()).await;
            }
        });
        (url, hits)
    }

    fn set(kid: &str) -> String {
        let (k, _) = keygate_crypto::keys::SigningKey::generate(
            keygate_core::model::SigningAlg::EdDSA,
            kid.into(),
        )
        .unwrap();
        serde_json::json!({ "keys": [k.public_jwk()] }).to_string()
    }

    /// Pretends the kept set of `uri` was fetched `secs` ago.
    fn age(sets: &RemoteKeySets, uri: &str, secs: u64) {
        let mut entries = sets.entries.lock().unwrap();
        let e = entries.get_mut(uri).unwrap();
        e.fetched = Instant::now()
            .checked_sub(Duration::from_secs(secs))
            .unwrap();
    }

    fn kept_for(sets: &RemoteKeySets, uri: &str) -> u64 {
        let entries = sets.entries.lock().unwrap();
        let e = entries.get(uri).unwrap();
        e.until.duration_since(e.fetched).as_secs()
    }

    #[tokio::test]
    async fn a_set_is_kept_and_refetched_at_most_once_a_minute() {
        use std::sync::atomic::Ordering::SeqCst;
        let answer = Arc::new(Mutex::new((200, "max-age=10", set("a"))));
        let (uri, hits) = serve(answer.clone()).await;
        let sets = RemoteKeySets::new(true);
        let kid = |s: &KeySet| s.keys[0].kid.clone();
        assert_eq!(kid(&sets.keys(&uri, Freshness::Kept).await.unwrap()), "a");
        // max-age 10 is raised to the 5-minute floor.
        assert!((299..=300).contains(&kept_for(&sets, &uri)));
        // Kept, and recent: no new fetch either way.
        sets.keys(&uri, Freshness::Kept).await.unwrap();
        sets.keys(&uri, Freshness::Recent).await.unwrap();
        assert_eq!(hits.load(SeqCst), 1);
        // A minute on, an unknown kid fetches again; a day's ceiling holds.
        *answer.lock().unwrap() = (200, "max-age=9999999", set("b"));
        age(&sets, &uri, 61);
        assert_eq!(kid(&sets.keys(&uri, Freshness::Recent).await.unwrap()), "b");
        assert_eq!(hits.load(SeqCst), 2);
        assert!((86_399..=86_400).contains(&kept_for(&sets, &uri)));
        // A failed refetch keeps the set, and waits another minute.
        *answer.lock().unwrap() = (500, "no-store", "{}".into());
        age(&sets, &uri, 61);
        assert_eq!(kid(&sets.keys(&uri, Freshness::Recent).await.unwrap()), "b");
        assert_eq!(kid(&sets.keys(&uri, Freshness::Recent).await.unwrap()), "b");
        assert_eq!(hits.load(SeqCst), 3);
    }

    #[tokio::test]
    async fn failures_are_remembered_and_not_retried_at_once() {
        let sets = RemoteKeySets::new(false);
        // A private address is refused before any connection.
        let uri = "https://127.0.0.1/jwks";
        let first = sets.keys(uri, Freshness::Kept).await.unwrap_err();
        assert!(first.contains("public"), "{first}");
        let again = sets.keys(uri, Freshness::Recent).await.unwrap_err();
        assert_eq!(first, again);
        assert!(sets.keys("not a url", Freshness::Kept).await.is_err());
    }
}
