//! `keygate webhook ...`: the admin API's `/tenants/{tenant}/webhooks`,
//! through the same `provision` functions and views. The signing secret is
//! printed once, at creation, and stored sealed under the master key.

use super::{database_url, now, open_store, print, print_view};
use crate::cli::{WebhookCommand, WebhookCreate, WebhookRef, WebhookTenant};
use crate::Failure;
use keygate_server::provisioning::{self as provision, NewWebhook};
use serde_json::json;

pub(crate) async fn webhook(command: WebhookCommand) -> Result<(), Failure> {
    match command {
        WebhookCommand::Create(a) => create(a).await,
        WebhookCommand::List(a) => list(a).await,
        WebhookCommand::Delete(a) => delete(a).await,
        WebhookCommand::Deliveries(a) => deliveries(a).await,
    }
}

async fn create(a: WebhookCreate) -> Result<(), Failure> {
    let spec = NewWebhook {
        url: a.url,
        events: a.events,
    };
    // Checked before the database or the master key is opened: a refused
    // command writes nothing.
    provision::check_new_webhook(&spec)?;
    let db = database_url(&a.db);
    let store = open_store(&db, None).await?;
    provision::existing_tenant(store.as_ref(), &a.tenant).await?;
    let (master, _) = crate::master_key::load(&db)?;
    let created =
        provision::create_webhook(store.as_ref(), &master, &a.tenant, &spec, now()).await?;
    super::record(
        store.as_ref(),
        &a.tenant,
        "admin.created",
        format!("webhook:{}", created.id),
        super::admin_detail("webhook", &created.id, &["url", "events"]),
    )
    .await;
    print_view(created)
}

async fn list(a: WebhookTenant) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    print_view(provision::list_webhooks(store.as_ref(), &a.tenant).await?)
}

async fn delete(a: WebhookRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::delete_webhook(store.as_ref(), &a.tenant, &a.id).await?;
    super::record(
        store.as_ref(),
        &a.tenant,
        "admin.deleted",
        format!("webhook:{}", a.id),
        super::admin_detail("webhook", &a.id, &[]),
    )
    .await;
    print(json!({"deleted": true}));
    Ok(())
}

async fn deliveries(a: WebhookRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    print_view(provision::webhook_deliveries(store.as_ref(), &a.tenant, &a.id).await?)
}
