//! Webhooks: the sender loop that delivers the audit events queued for a
//! tenant's webhooks ([`keygate_store::WebhookStore`]; docs/webhooks.md).
//!
//! Every node runs it. It claims a batch of due deliveries under a lease,
//! and for each one reads the webhook and the event, opens the signing
//! secret, and POSTs the event as JSON signed per the Standard Webhooks
//! specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`;
//! [`keygate_core::webhooks`]) through the SSRF-protected fetcher
//! ([`crate::fetch`]: 5 s, no redirect). A 2xx answer is a delivery, and
//! only then is it marked delivered (at least once: a node that dies after
//! the post but before the mark lets the lease run out, and the event is
//! posted again with the same `webhook-id`). Anything else is retried
//! after `KEYGATE_WEBHOOK_RETRY_BASE` seconds (10), doubling up to an
//! hour, until a day has passed since the event or 30 attempts were made.
//! A webhook deleted meanwhile, or an event already swept, is given up at
//! once. Logs name the tenant, webhook and attempt, never the secret.

use crate::fetch::{FetchError, Fetcher};
use crate::AppState;
use keygate_core::webhooks::{self as rules, AfterFailure};
use keygate_store::Delivery;
use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;

/// Deliveries claimed at once (posted concurrently).
const BATCH: i64 = 20;
/// How long a claim holds its deliveries: longer than a batch can take
/// (the posts run together, each at most the fetcher's 5 s).
const LEASE: i64 = 60;

/// Wakes this node's sender: an event was just recorded here. (In a CLI
/// process, which runs no sender, it does nothing; the servers' senders
/// find the deliveries within their poll interval.)
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
    // Made on first use: a deployment without webhooks never loads the
    // system's trust store for it.
    let fetcher: OnceLock<Arc<Fetcher>> = OnceLock::new();
    loop {
        let claim = keygate_crypto::secrets::random_token(16);
        let mut full = false;
        match state
            .store
            .claim_deliveries(&claim, crate::now(), LEASE, BATCH)
            .await
        {
            Ok(batch) => {
                full = batch.len() as i64 >= BATCH;
                let mut posts = tokio::task::JoinSet::new();
                for d in batch {
                    let fetcher = fetcher
                        .get_or_init(|| Arc::new(Fetcher::new(state.config.fetch_allow_private)))
                        .clone();
                    posts.spawn(deliver(state.clone(), fetcher, d));
                }
                while posts.join_next().await.is_some() {}
            }
            Err(e) => tracing::warn!(error = %e, "could not claim webhook deliveries"),
        }
        if !full {
            tokio::select! {
                _ = waker().notified() => {}
                _ = tokio::time::sleep(state.config.webhook_poll) => {}
            }
        }
    }
}

/// Why one attempt did not deliver.
#[derive(Debug)]
enum Attempt {
    /// No attempt can ever work (the webhook or event is gone, the URL may
    /// not be posted to).
    Nowhere(String),
    /// It may work later (`status`: the answer, if there was one).
    Failed { status: Option<i64>, error: String },
}

async fn deliver(state: AppState, fetcher: Arc<Fetcher>, d: Delivery) {
    let now = crate::now();
    let store = &state.store;
    let (outcome, written) = match attempt(&state, &fetcher, &d, now).await {
        Ok(status) => {
            tracing::info!(tenant = %d.tenant_id, webhook = %d.webhook_id, message = %d.id, attempts = d.attempts, status, "webhook delivered");
            (
                "delivered",
                store
                    .delivery_succeeded(&d.id, i64::from(status), now)
                    .await,
            )
        }
        Err(Attempt::Nowhere(why)) => {
            tracing::info!(tenant = %d.tenant_id, webhook = %d.webhook_id, message = %d.id, why, "webhook delivery dropped");
            (
                "dropped",
                store.delivery_given_up(&d.id, None, &why, now).await,
            )
        }
        Err(Attempt::Failed { status, error }) => {
            match rules::after_failure(
                state.config.webhook_retry_base,
                d.created_at,
                d.attempts,
                now,
            ) {
                AfterFailure::RetryAt(at) => {
                    tracing::warn!(tenant = %d.tenant_id, webhook = %d.webhook_id, message = %d.id, attempts = d.attempts, retry_in_s = at - now, %error, "webhook not delivered; will retry");
                    (
                        "retry",
                        store.delivery_failed(&d.id, status, &error, at).await,
                    )
                }
                AfterFailure::GiveUp => {
                    tracing::warn!(tenant = %d.tenant_id, webhook = %d.webhook_id, message = %d.id, attempts = d.attempts, %error, "webhook not delivered; given up");
                    (
                        "given_up",
                        store.delivery_given_up(&d.id, status, &error, now).await,
                    )
                }
            }
        }
    };
    metrics::counter!("keygate_webhook_deliveries_total", "outcome" => outcome).increment(1);
    if let Err(e) = written {
        // The lease runs out and the event is posted again: twice rather
        // than never (receivers deduplicate by webhook-id).
        tracing::warn!(tenant = %d.tenant_id, webhook = %d.webhook_id, error = %e, "could not record a webhook attempt");
    }
}

/// One attempt: the webhook as stored now, the event, one signed POST.
/// `Ok` with the 2xx status.
async fn attempt(
    state: &AppState,
    fetcher: &Fetcher,
    d: &Delivery,
    now: i64,
) -> Result<u16, Attempt> {
    let failed = |error: String| Attempt::Failed {
        status: None,
        error,
    };
    let webhook = state
        .store
        .get_webhook(&d.tenant_id, &d.webhook_id)
        .await
        .map_err(|e| failed(format!("reading the webhook: {e}")))?
        .ok_or_else(|| Attempt::Nowhere("the webhook no longer exists".into()))?;
    let event = state
        .store
        .webhook_event(&d.tenant_id, &d.event_id)
        .await
        .map_err(|e| failed(format!("reading the event: {e}")))?
        .ok_or_else(|| Attempt::Nowhere("the event no longer exists".into()))?;
    let url = url::Url::parse(&webhook.url)
        .map_err(|_| Attempt::Nowhere("the webhook URL is malformed".into()))?;
    let key = crate::provisioning::open_webhook_secret(state.keys.master(), &webhook)
        .as_deref()
        .and_then(rules::key_of_secret)
        .ok_or_else(|| Attempt::Nowhere("the signing secret cannot be opened".into()))?;
    let body = rules::body(&event);
    let signature = rules::signature(&key, &d.id, now, &body);
    let headers = [
        ("webhook-id", d.id.clone()),
        ("webhook-timestamp", now.to_string()),
        ("webhook-signature", signature),
    ];
    match fetcher.post_json(&url, &headers, body).await {
        Ok(status) if (200..300).contains(&status) => Ok(status),
        Ok(status) => Err(Attempt::Failed {
            status: Some(i64::from(status)),
            error: format!("the answer was HTTP {status}"),
        }),
        // The URL itself is not one this server may post to (plain http to
        // a loopback host while KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS is
        // off): no retry can help.
        Err(FetchError::Refused(why)) => Err(Attempt::Nowhere(why.into())),
        Err(e) => Err(failed(e.to_string())),
    }
}
