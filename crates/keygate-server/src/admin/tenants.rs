//! `/admin/v1/tenants`

use super::error::{AdminError, ErrorBody};
use super::views::{page, PageQuery, TenantList, TenantView};
use super::{body, forget_tenant, limit, query};
use crate::provisioning::{self as provision, NewTenant, TenantPatch};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants",
    tag = "tenants",
    operation_id = "list_tenants",
    summary = "List tenants",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of tenants, in id order", body = TenantList),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<TenantList>, AdminError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let rows = state
        .store
        .list_tenants(q.after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let (rows, next) = page(rows, limit, |t| t.id.clone());
    Ok(Json(TenantList {
        items: rows
            .into_iter()
            .map(|t| TenantView::new(t, &state.config.public_url))
            .collect(),
        next,
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants",
    tag = "tenants",
    operation_id = "create_tenant",
    summary = "Create a tenant",
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 409, description = "The id or a domain is taken", body = ErrorBody),
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    spec: Result<Json<NewTenant>, JsonRejection>,
) -> Result<Response, AdminError> {
    let spec = body(spec)?;
    let tenant = provision::tenant_from_spec(&spec, crate::now())?;
    provision::create_tenant(state.store.as_ref(), &tenant).await?;
    forget_tenant(&state, &tenant);
    tracing::info!(tenant = %tenant.id, "admin API: tenant created");
    let location = format!("/admin/v1/tenants/{}", tenant.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(TenantView::new(tenant, &state.config.public_url)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}",
    tag = "tenants",
    operation_id = "read_tenant",
    summary = "Read a tenant",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, body = TenantView),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, AdminError> {
    let tenant = provision::existing_tenant(state.store.as_ref(), &id).await?;
    Ok(Json(TenantView::new(tenant, &state.config.public_url)))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}",
    tag = "tenants",
    operation_id = "update_tenant",
    summary = "Update a tenant",
    description = "Sets the fields present; `domains` replaces every domain.",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The tenant as now stored", body = TenantView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "A domain belongs to another tenant", body = ErrorBody),
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    patch: Result<Json<TenantPatch>, JsonRejection>,
) -> Result<Json<TenantView>, AdminError> {
    let patch = body(patch)?;
    let (before, after) = provision::update_tenant(state.store.as_ref(), &id, &patch).await?;
    forget_tenant(&state, &before);
    forget_tenant(&state, &after);
    tracing::info!(tenant = %id, "admin API: tenant updated");
    Ok(Json(TenantView::new(after, &state.config.public_url)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}",
    tag = "tenants",
    operation_id = "delete_tenant",
    summary = "Delete a tenant",
    description = "Deletes the tenant with its domains, clients, users, signing keys, \
        sessions and grants; every token it issued stops working. The `default` tenant cannot be deleted.",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The default tenant", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminError> {
    let tenant = provision::delete_tenant(state.store.as_ref(), &id).await?;
    forget_tenant(&state, &tenant);
    state.clients.remove_where(|(t, _)| *t == tenant.id);
    state.keys.forget(&tenant.id);
    tracing::info!(tenant = %id, "admin API: tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}
