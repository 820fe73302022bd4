//! A tenant's webhooks in the console (docs/webhooks.md): the list, a new
//! webhook (its signing secret shown once), a webhook's delivery log (every
//! attempt's outcome, newest first), and deletion after a confirmation.

use super::resources::{see_other, when, ConfirmPage, Ctx, SecretPage};
use crate::provisioning::{self as provision, DeliveryView, NewWebhook, WebhookView};
use askama::Template;
use axum::extract::{Path, Request};
use axum::response::Response;
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/webhooks";

/// A webhook as the list shows it.
struct Row {
    id: String,
    url: String,
    events: String,
    created: String,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct ListPage {
    tenant: String,
    webhooks: Vec<Row>,
    types: &'static [&'static str],
    may_change: bool,
    csrf: String,
}

/// A delivery as the log shows it.
struct LogRow {
    id: String,
    event_type: String,
    status: &'static str,
    attempts: i64,
    last_status: String,
    last_error: String,
    queued: String,
    settled: String,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct ShowPage {
    tenant: String,
    webhook: Row,
    deliveries: Vec<LogRow>,
    may_change: bool,
}

fn row(w: WebhookView) -> Row {
    Row {
        events: if w.events.is_empty() {
            "every type".into()
        } else {
            w.events.join(", ")
        },
        created: when(w.created_at),
        id: w.id,
        url: w.url,
    }
}

fn log_row(d: DeliveryView) -> LogRow {
    let settled = d
        .delivered_at
        .or(d.given_up_at)
        .map(when)
        .or_else(|| {
            d.next_attempt_at
                .map(|t| format!("next attempt {}", when(t)))
        })
        .unwrap_or_default();
    LogRow {
        last_status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
        last_error: d.last_error.unwrap_or_default(),
        queued: when(d.created_at),
        settled,
        id: d.id,
        event_type: d.event_type,
        status: d.status,
        attempts: d.attempts,
    }
}

/// `GET /admin/webhooks`: pick a tenant.
pub(super) async fn pick(ctx: Ctx) -> Response {
    super::resources::pick(&ctx, NAV, "Webhooks", "webhooks").await
}

/// `GET /admin/tenants/{tenant}/webhooks`
pub(super) async fn list(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let list = match provision::list_webhooks(ctx.state.store.as_ref(), &tenant).await {
        Ok(l) => l,
        Err(e) => return ctx.provision_error(e, "/admin/tenants"),
    };
    ctx.page(
        NAV,
        "Webhooks",
        ListPage {
            webhooks: list.webhooks.into_iter().map(row).collect(),
            types: keygate_core::events::TYPES,
            may_change: ctx.op.can_change(&tenant),
            csrf: ctx.op.csrf.clone(),
            tenant,
        },
    )
}

/// `POST /admin/tenants/{tenant}/webhooks`: a new webhook; its secret is
/// shown on the answer, and never again.
pub(super) async fn create(ctx: Ctx, Path(tenant): Path<String>, req: Request) -> Response {
    let f = match ctx.change(&tenant, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = format!("/admin/tenants/{tenant}/webhooks");
    let spec = NewWebhook {
        url: f.text("url").to_string(),
        events: f.all("events").into_iter().map(str::to_string).collect(),
    };
    let created = match provision::create_webhook(
        ctx.state.store.as_ref(),
        ctx.state.keys.master(),
        &tenant,
        &spec,
        crate::now(),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return ctx.provision_error(e, &back),
    };
    ctx.record(
        &tenant,
        "admin.created",
        format!("webhook:{}", created.id),
        json!({"resource": "webhook", "id": created.id, "url": spec.url, "events": spec.events}),
    )
    .await;
    let about = format!(
        "Webhook {} posts to {}. Receivers check each request's webhook-signature with this secret (docs/webhooks.md).",
        created.id, spec.url
    );
    ctx.page(
        NAV,
        "Webhook created",
        SecretPage {
            heading: "Webhook created",
            label: "Signing secret",
            secret: &created.secret,
            about: &about,
            back: &format!("{back}/{}", created.id),
            back_text: "To the webhook and its delivery log",
        },
    )
}

/// `GET /admin/tenants/{tenant}/webhooks/{id}`: the webhook and its log.
pub(super) async fn show(ctx: Ctx, Path((tenant, id)): Path<(String, String)>) -> Response {
    if !ctx.op.can_read(&tenant) {
        return ctx.refused();
    }
    let back = format!("/admin/tenants/{tenant}/webhooks");
    let store = ctx.state.store.as_ref();
    let webhook = match provision::existing_webhook(store, &tenant, &id).await {
        Ok(w) => w,
        Err(e) => return ctx.provision_error(e, &back),
    };
    let log = match provision::webhook_deliveries(store, &tenant, &id).await {
        Ok(l) => l,
        Err(e) => return ctx.provision_error(e, &back),
    };
    ctx.page(
        NAV,
        "Webhook",
        ShowPage {
            webhook: row(webhook.into()),
            deliveries: log.deliveries.into_iter().map(log_row).collect(),
            may_change: ctx.op.can_change(&tenant),
            tenant,
        },
    )
}

/// `GET /admin/tenants/{tenant}/webhooks/{id}/delete`
pub(super) async fn confirm_delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    if !ctx.op.can_change(&tenant) {
        return ctx.refused();
    }
    let message =
        format!("Webhook '{id}' gets no more events; its pending deliveries are dropped.");
    ctx.page(
        NAV,
        "Delete webhook",
        ConfirmPage {
            heading: "Delete webhook",
            message: &message,
            action: &format!("/admin/tenants/{tenant}/webhooks/{id}/delete"),
            button: "Delete the webhook",
            back: &format!("/admin/tenants/{tenant}/webhooks/{id}"),
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/tenants/{tenant}/webhooks/{id}/delete`
pub(super) async fn delete(
    ctx: Ctx,
    Path((tenant, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    if let Err(r) = ctx.change(&tenant, req).await {
        return r;
    }
    let back = format!("/admin/tenants/{tenant}/webhooks");
    if let Err(e) = provision::delete_webhook(ctx.state.store.as_ref(), &tenant, &id).await {
        return ctx.provision_error(e, &back);
    }
    ctx.record(
        &tenant,
        "admin.deleted",
        format!("webhook:{id}"),
        json!({"resource": "webhook", "id": id}),
    )
    .await;
    see_other(&back)
}
