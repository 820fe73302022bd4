//! Webhooks (docs/webhooks.md): the rules behind `keygate webhook ...` and
//! the admin API's `/tenants/{tenant}/webhooks`. A webhook's signing secret
//! is made here, printed once by the caller, and stored sealed under the
//! master key (the sender needs it back to sign).

use super::{existing_tenant, ProvisionError, Result};
use keygate_core::webhooks as rules;
use keygate_crypto::sealing::MasterKey;
use keygate_crypto::secrets;
use keygate_store::{Delivery, Store, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new webhook, as the admin API takes it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where events are POSTed: https, or http on a loopback host.
    pub url: String,
    /// The event types to deliver (empty or absent: every type).
    #[serde(default)]
    pub events: Vec<String>,
}

/// A webhook as shown (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// Where events are POSTed.
    pub url: String,
    /// The event types delivered (empty: every type).
    pub events: Vec<String>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView {
            id: w.id,
            tenant: w.tenant_id,
            url: w.url,
            events: w.types,
            created_at: w.created_at,
        }
    }
}

/// A new webhook's id and signing secret: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook's id.
    pub id: String,
    /// The signing secret, `whsec_` + base64 (Standard Webhooks).
    pub secret: String,
}

/// A tenant's webhooks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// One delivery in a webhook's log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The Standard Webhooks message id (`webhook-id`), the same on every attempt.
    pub id: String,
    /// The event delivered.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// `pending`, `delivered` or `given_up`.
    pub status: &'static str,
    /// Attempts so far.
    pub attempts: i64,
    /// The HTTP status of the last attempt (absent: no answer yet, or none).
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<i64>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// When it was given up.
    pub given_up_at: Option<i64>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let status = match (d.delivered_at, d.given_up_at) {
            (Some(_), _) => "delivered",
            (None, Some(_)) => "given_up",
            (None, None) => "pending",
        };
        DeliveryView {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            next_attempt_at: (status == "pending").then_some(d.next_attempt_at),
            delivered_at: d.delivered_at,
            given_up_at: d.given_up_at,
        }
    }
}

/// A webhook's latest deliveries, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
}

/// How many deliveries the log shows.
pub const DELIVERY_LOG: i64 = 100;

/// The label a webhook's secret is sealed under: bound to its row.
fn secret_label(tenant: &str, id: &str) -> String {
    format!("webhook-secret:{tenant}:{id}")
}

/// The secret of a stored webhook (`None`: it cannot be opened).
pub fn open_webhook_secret(master: &MasterKey, w: &Webhook) -> Option<String> {
    let plain = master
        .open(&secret_label(&w.tenant_id, &w.id), &w.secret_sealed)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// Checks a new webhook (no I/O): its URL and event types.
pub fn check_new_webhook(spec: &NewWebhook) -> Result<Vec<String>> {
    rules::validate_url(&spec.url).map_err(|m| ProvisionError::invalid("url", m))?;
    rules::validate_types(&spec.events).map_err(|m| ProvisionError::invalid("events", m))
}

/// Creates a webhook of an existing tenant, its secret sealed; returns the
/// id and the secret (to show once).
pub async fn create_webhook(
    store: &dyn Store,
    master: &MasterKey,
    tenant: &str,
    spec: &NewWebhook,
    now: i64,
) -> Result<CreatedWebhook> {
    let types = check_new_webhook(spec)?;
    existing_tenant(store, tenant).await?;
    if store.list_webhooks(tenant).await?.len() >= rules::MAX_PER_TENANT {
        return Err(ProvisionError::Conflict(format!(
            "tenant '{tenant}' already has {} webhooks, the most allowed",
            rules::MAX_PER_TENANT
        )));
    }
    let id = format!("wh_{}", secrets::random_token(12));
    let secret = rules::secret_from_key(&secrets::random_bytes(32));
    let webhook = Webhook {
        tenant_id: tenant.to_string(),
        id: id.clone(),
        url: spec.url.clone(),
        secret_sealed: master.seal(&secret_label(tenant, &id), secret.as_bytes()),
        types,
        created_at: now,
    };
    store.create_webhook(&webhook).await?;
    Ok(CreatedWebhook { id, secret })
}

fn no_webhook(id: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("webhook '{id}' does not exist"))
}

/// A tenant's webhooks.
pub async fn list_webhooks(store: &dyn Store, tenant: &str) -> Result<WebhookList> {
    existing_tenant(store, tenant).await?;
    Ok(WebhookList {
        webhooks: store
            .list_webhooks(tenant)
            .await?
            .into_iter()
            .map(WebhookView::from)
            .collect(),
    })
}

/// One webhook, or `NotFound`.
pub async fn existing_webhook(store: &dyn Store, tenant: &str, id: &str) -> Result<Webhook> {
    existing_tenant(store, tenant).await?;
    store
        .get_webhook(tenant, id)
        .await?
        .ok_or_else(|| no_webhook(id))
}

/// Deletes a webhook and its deliveries, or `NotFound`.
pub async fn delete_webhook(store: &dyn Store, tenant: &str, id: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_webhook(tenant, id).await? {
        return Err(no_webhook(id));
    }
    Ok(())
}

/// A webhook's delivery log, newest first.
pub async fn webhook_deliveries(store: &dyn Store, tenant: &str, id: &str) -> Result<DeliveryList> {
    existing_webhook(store, tenant, id).await?;
    Ok(DeliveryList {
        deliveries: store
            .deliveries_of(tenant, id, DELIVERY_LOG)
            .await?
            .into_iter()
            .map(DeliveryView::from)
            .collect(),
    })
}
