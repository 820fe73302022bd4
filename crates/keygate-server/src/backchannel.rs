//! OpenID Connect Back-Channel Logout 1.0: the sender loop that delivers
//! the logout tokens queued in the store when sessions end
//! ([`keygate_store::LogoutStore`]; docs/logout.md).
//!
//! Every node runs it. It claims a batch of due logouts under a lease,
//! and for each one signs a logout token (Back-Channel Logout 2.4) with the
//! tenant's key of the client's algorithm, on a signing thread, and POSTs
//! it as `logout_token=...` (2.5) to the client's back-channel logout URI
//! as registered now, through the SSRF-protected fetcher ([`crate::fetch`]).
//! A 2xx answer is a delivery; anything else is retried 10 s later,
//! doubling up to an hour, until a day has passed since the session ended
//! ([`keygate_core::logout::after_failure`]). A client deleted meanwhile,
//! or whose URI was removed, is given up at once. Each attempt signs a new
//! token (new `jti`, `iat` and `exp`), so a late retry is never refused as
//! stale. Logs name the tenant, client and attempt, never the token.

use crate::fetch::{FetchError, Fetcher};
use crate::AppState;
use keygate_core::logout::{self, AfterFailure, LogoutTokenClaims, LOGOUT_TOKEN_TYP};
use keygate_store::{Logout, LogoutOutcome};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Notify;

/// Logouts claimed at once (posted concurrently).
const BATCH: i64 = 20;
/// How long a claim holds its logouts: longer than a batch can take (the
/// posts run together, each at most the fetcher's 5 s), so no other node
/// posts them meanwhile; a node that died releases its claim when it ends.
const LEASE: i64 = 60;
/// How often the queue is looked at without a wake-up (logouts queued by
/// other nodes or by the CLI, retries coming due).
const POLL: Duration = Duration::from_secs(5);

/// Wakes this node's sender: a session just ended here. (In a CLI
/// process, which runs no sender, it does nothing; the servers' senders
/// find the logouts within [`POLL`].)
pub(crate) fn wake() {
    waker().notify_one();
}

fn waker() -> &'static Notify {
    static WAKE: OnceLock<Notify> = OnceLock::new();
    WAKE.get_or_init(Notify::new)
}

/// Starts this node's sender loop.
pub fn spawn(state: &AppState) {
    tokio::spawn(run(state.clone()));
}

async fn run(state: AppState) {
    // Made on first use: loading the system's trust store costs a few
    // megabytes that a deployment without back-channel clients never needs.
    let fetcher: OnceLock<std::sync::Arc<Fetcher>> = OnceLock::new();
    loop {
        let claim = keygate_crypto::secrets::random_token(16);
        let mut full = false;
        match state
            .store
            .claim_logouts(&claim, crate::now(), LEASE, BATCH)
            .await
        {
            Ok(batch) => {
                full = batch.len() as i64 >= BATCH;
                let mut posts = tokio::task::JoinSet::new();
                for l in batch {
                    let fetcher = fetcher
                        .get_or_init(|| {
                            std::sync::Arc::new(Fetcher::new(state.config.fetch_allow_private))
                        })
                        .clone();
                    posts.spawn(deliver(state.clone(), fetcher, l));
                }
                while posts.join_next().await.is_some() {}
            }
            Err(e) => tracing::warn!(error = %e, "could not claim back-channel logouts"),
        }
        if !full {
            tokio::select! {
                _ = waker().notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Why one attempt did not deliver.
#[derive(Debug)]
enum Attempt {
    /// The client no longer exists or has no usable back-channel URI.
    Nowhere(&'static str),
    /// It may work later.
    Failed(String),
}

async fn deliver(state: AppState, fetcher: std::sync::Arc<Fetcher>, l: Logout) {
    let now = crate::now();
    let result = attempt(&state, &fetcher, &l, now).await;
    let store = &state.store;
    let (outcome, written) = match result {
        Ok(status) => {
            tracing::info!(tenant = %l.tenant_id, client_id = %l.client_id, attempts = l.attempts, status, "back-channel logout delivered");
            (
                "delivered",
                store
                    .logout_finished(&l.client_id, &l.sid, LogoutOutcome::Delivered, now)
                    .await,
            )
        }
        Err(Attempt::Nowhere(why)) => {
            tracing::info!(tenant = %l.tenant_id, client_id = %l.client_id, why, "back-channel logout dropped");
            (
                "dropped",
                store
                    .logout_finished(&l.client_id, &l.sid, LogoutOutcome::GivenUp, now)
                    .await,
            )
        }
        Err(Attempt::Failed(error)) => match logout::after_failure(l.created_at, l.attempts, now) {
            AfterFailure::RetryAt(at) => {
                tracing::warn!(tenant = %l.tenant_id, client_id = %l.client_id, attempts = l.attempts, retry_in_s = at - now, %error, "back-channel logout not delivered; will retry");
                ("retry", store.logout_failed(&l.client_id, &l.sid, at).await)
            }
            AfterFailure::GiveUp => {
                tracing::warn!(tenant = %l.tenant_id, client_id = %l.client_id, attempts = l.attempts, %error, "back-channel logout not delivered; given up");
                (
                    "given_up",
                    store
                        .logout_finished(&l.client_id, &l.sid, LogoutOutcome::GivenUp, now)
                        .await,
                )
            }
        },
    };
    metrics::counter!("keygate_backchannel_logouts_total", "outcome" => outcome).increment(1);
    if let Err(e) = written {
        // The lease runs out and the logout is posted again: twice rather
        // than never (receivers take a logout for an ended session as done).
        tracing::warn!(tenant = %l.tenant_id, client_id = %l.client_id, error = %e, "could not record a back-channel logout attempt");
    }
}

/// One attempt: the client's URI as registered now, a freshly signed token,
/// one POST. `Ok` with the 2xx status.
async fn attempt(
    state: &AppState,
    fetcher: &Fetcher,
    l: &Logout,
    now: i64,
) -> Result<u16, Attempt> {
    // Read from the store, not the per-node cache: a URI registered or
    // changed a moment ago counts, and this loop is far from any hot path.
    let client = state
        .store
        .get_client(&l.tenant_id, &l.client_id)
        .await
        .map_err(|e| Attempt::Failed(format!("reading the client: {e}")))?
        .ok_or(Attempt::Nowhere("the client no longer exists"))?;
    let uri = client
        .backchannel_logout_uri
        .as_deref()
        .ok_or(Attempt::Nowhere(
            "the client has no back-channel logout URI",
        ))?;
    let url = url::Url::parse(uri)
        .map_err(|_| Attempt::Nowhere("the back-channel logout URI is malformed"))?;
    let (key, _) = state
        .keys
        .signer(&l.tenant_id, client.signing_alg)
        .await
        .map_err(|e| Attempt::Failed(format!("no signing key: {e:?}")))?;
    let jti = keygate_crypto::secrets::random_token(16);
    let claims = LogoutTokenClaims::new(&l.issuer, &l.client_id, &l.user_sub, &l.sid, &jti, now);
    // Signed on a signing thread, as every token is (RSA is CPU work that
    // must not run on the async runtime).
    let (tx, rx) = tokio::sync::oneshot::channel();
    crate::signing::submit(move || {
        let signed = keygate_crypto::jws::sign(&key, LOGOUT_TOKEN_TYP, &claims);
        crate::signing::deliver(move || {
            let _ = tx.send(signed);
        });
    });
    let token = rx
        .await
        .map_err(|_| Attempt::Failed("the signing thread dropped the job".into()))?
        .map_err(|e| Attempt::Failed(format!("signing failed: {e}")))?;
    match fetcher.post_form(&url, &[("logout_token", &token)]).await {
        Ok(status) if (200..300).contains(&status) => Ok(status),
        Ok(status) => Err(Attempt::Failed(format!("the answer was HTTP {status}"))),
        // The URI itself is not one this server may post to (plain http to
        // a loopback host, accepted at registration for development, while
        // KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS is off): no retry can help.
        Err(FetchError::Refused(why)) => Err(Attempt::Nowhere(why)),
        Err(e) => Err(Attempt::Failed(e.to_string())),
    }
}
