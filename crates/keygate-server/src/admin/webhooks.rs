//! `/admin/v1/tenants/{tenant}/webhooks`: a tenant's webhooks and their
//! delivery logs (docs/webhooks.md). The signing secret is answered once,
//! at creation, and stored sealed under the master key.

use super::body;
use super::error::{AdminError, ErrorBody};
use crate::provisioning::{
    self as provision, CreatedWebhook, DeliveryList, NewWebhook, WebhookList, WebhookView,
};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/webhooks",
    tag = "webhooks",
    operation_id = "list_webhooks",
    summary = "List the webhooks of a tenant",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Every webhook, oldest first (never a secret)", body = WebhookList),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<WebhookList>, AdminError> {
    Ok(Json(
        provision::list_webhooks(state.store.as_ref(), &tenant).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/webhooks",
    tag = "webhooks",
    operation_id = "create_webhook",
    summary = "Add a webhook",
    description = "The tenant's events of the listed types (all when `events` is empty) are POSTed \
        to `url`, signed per the Standard Webhooks specification. The answer holds the signing \
        secret (`whsec_...`): it is shown this once.",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Created: its id and signing secret", body = CreatedWebhook),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The tenant has as many webhooks as allowed", body = ErrorBody),
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    spec: Result<Json<NewWebhook>, JsonRejection>,
) -> Result<Response, AdminError> {
    let spec = body(spec)?;
    let created = provision::create_webhook(
        state.store.as_ref(),
        state.keys.master(),
        &tenant,
        &spec,
        crate::now(),
    )
    .await?;
    tracing::info!(tenant = %tenant, webhook = %created.id, "admin API: webhook created");
    let location = format!("/admin/v1/tenants/{tenant}/webhooks/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "read_webhook",
    summary = "Read a webhook (never its secret)",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "The webhook's id"),
    ),
    responses(
        (status = 200, body = WebhookView),
        (status = 404, description = "No such tenant or webhook", body = ErrorBody),
    )
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<WebhookView>, AdminError> {
    let w = provision::existing_webhook(state.store.as_ref(), &tenant, &id).await?;
    Ok(Json(WebhookView::from(w)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/webhooks/{id}",
    tag = "webhooks",
    operation_id = "delete_webhook",
    summary = "Delete a webhook",
    description = "Nothing more is delivered to it; its pending deliveries and its log are deleted.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "The webhook's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant or webhook", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::delete_webhook(state.store.as_ref(), &tenant, &id).await?;
    tracing::info!(tenant = %tenant, webhook = %id, "admin API: webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    summary = "The delivery log of a webhook",
    description = "Its latest 100 deliveries, newest first: attempts, the last answer, and whether \
        each was delivered, given up, or is still pending.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "The webhook's id"),
    ),
    responses(
        (status = 200, body = DeliveryList),
        (status = 404, description = "No such tenant or webhook", body = ErrorBody),
    )
)]
pub(super) async fn deliveries(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<DeliveryList>, AdminError> {
    Ok(Json(
        provision::webhook_deliveries(state.store.as_ref(), &tenant, &id).await?,
    ))
}
