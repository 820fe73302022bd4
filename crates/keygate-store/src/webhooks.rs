//! Webhooks (docs/webhooks.md): a tenant's endpoints told of its audit
//! events, and the queue of deliveries to them.
//!
//! Deliveries are never queued by a call of their own: appending an event
//! ([`crate::EventStore::append_event`]) inserts, in the same write, one
//! delivery per webhook of the event's tenant subscribed to its type. An
//! event is therefore never recorded without its deliveries.
//!
//! Delivery works as the back-channel logouts do ([`crate::LogoutStore`]):
//! a sender claims a batch of due rows under a random claim and a lease (on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`, so two nodes claim disjoint
//! batches), posts each one, then marks it delivered, given up, or due
//! again later. Finished rows are deleted by the sweeper
//! ([`crate::MaintenanceStore::sweep`]) 30 days later.

use crate::Result;
use async_trait::async_trait;

/// A tenant's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its tenant.
    pub tenant_id: String,
    /// Random, unique in the deployment.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The signing secret (`whsec_...`), sealed under the master key.
    pub secret_sealed: String,
    /// The event types it gets (empty: every type).
    pub types: Vec<String>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
}

/// One event to deliver to one webhook, and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The Standard Webhooks message id (`webhook-id`): the same on every
    /// attempt.
    pub id: String,
    /// The tenant of the webhook and the event.
    pub tenant_id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The event.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// When it was queued (the event's time).
    pub created_at: i64,
    /// Attempts so far (a claim counts one).
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// When the webhook answered 2xx.
    pub delivered_at: Option<i64>,
    /// When it was given up.
    pub given_up_at: Option<i64>,
    /// The HTTP status of the last attempt (`None`: no answer).
    pub last_status: Option<i64>,
    /// Why the last attempt failed, in short (never a secret).
    pub last_error: Option<String>,
}

/// A tenant's webhooks and their delivery queue, shared by every node.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new webhook.
    async fn create_webhook(&self, webhook: &Webhook) -> Result<()>;
    /// A tenant's webhooks, oldest first.
    async fn list_webhooks(&self, tenant_id: &str) -> Result<Vec<Webhook>>;
    /// One webhook.
    async fn get_webhook(&self, tenant_id: &str, id: &str) -> Result<Option<Webhook>>;
    /// Deletes a webhook and its deliveries (pending or done); `false`
    /// when there was none.
    async fn delete_webhook(&self, tenant_id: &str, id: &str) -> Result<bool>;
    /// Claims up to `limit` due deliveries (unfinished, their next attempt
    /// due, no live lease) for `lease` seconds under the caller's random
    /// `claim`, counting an attempt of each, and returns them.
    async fn claim_deliveries(
        &self,
        claim: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// The webhook answered `status` (2xx) at `now`.
    async fn delivery_succeeded(&self, id: &str, status: i64, now: i64) -> Result<()>;
    /// The attempt failed (`status`: the answer, if any): due again at
    /// `next_attempt_at`.
    async fn delivery_failed(
        &self,
        id: &str,
        status: Option<i64>,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<()>;
    /// The attempt failed and no other will be made.
    async fn delivery_given_up(
        &self,
        id: &str,
        status: Option<i64>,
        error: &str,
        now: i64,
    ) -> Result<()>;
    /// The event a delivery carries (`None`: swept, or of another tenant).
    async fn webhook_event(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> Result<Option<keygate_core::events::Event>>;
    /// The latest `limit` deliveries of a webhook, newest first (the
    /// delivery log).
    async fn deliveries_of(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
}
