//! `/admin/v1/tenants/{tenant}/apis` and a client's grants of them,
//! `/admin/v1/tenants/{tenant}/clients/{client_id}/grants` (docs/apis.md).
//!
//! An API's identifier is a URI: in a path it is percent-encoded as one
//! segment (`https%3A%2F%2Fapi.example.com%2Fpay`).

use super::body;
use super::error::{AdminError, ErrorBody};
use super::views::{ApiList, ApiView, ClientGrantList, ClientGrantView};
use crate::provisioning::{self as provision, ApiPatch, NewApi, NewClientGrant};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Drops what this node caches about the tenant's APIs.
fn forget(state: &AppState, tenant: &str, identifier: &str) {
    state
        .apis
        .remove(&(tenant.to_string(), identifier.to_string()));
    state.tenant_apis.remove(&tenant.to_string());
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/apis",
    tag = "apis",
    operation_id = "list_apis",
    summary = "List the APIs of a tenant",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Every API, in identifier order", body = ApiList),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<ApiList>, AdminError> {
    provision::existing_tenant(state.store.as_ref(), &tenant).await?;
    let apis = state.store.list_apis(&tenant).await?;
    Ok(Json(ApiList {
        items: apis.into_iter().map(ApiView::from).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/apis",
    tag = "apis",
    operation_id = "create_api",
    summary = "Define an API",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewApi,
    responses(
        (status = 201, description = "Created", body = ApiView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The identifier is taken in this tenant", body = ErrorBody),
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    spec: Result<Json<NewApi>, JsonRejection>,
) -> Result<Response, AdminError> {
    let spec = body(spec)?;
    let api = provision::api_from_spec(&tenant, &spec, crate::now())?;
    provision::create_api(state.store.as_ref(), &api).await?;
    forget(&state, &tenant, &api.identifier);
    tracing::info!(tenant = %tenant, api = %api.identifier, "admin API: API created");
    let location = format!(
        "/admin/v1/tenants/{tenant}/apis/{}",
        percent_encoding::utf8_percent_encode(&api.identifier, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ApiView::from(api)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/apis/{identifier}",
    tag = "apis",
    operation_id = "read_api",
    summary = "Read an API",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("identifier" = String, Path, description = "The API's identifier, percent-encoded"),
    ),
    responses(
        (status = 200, body = ApiView),
        (status = 404, description = "No such tenant or API", body = ErrorBody),
    )
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path((tenant, identifier)): Path<(String, String)>,
) -> Result<Json<ApiView>, AdminError> {
    let api = provision::existing_api(state.store.as_ref(), &tenant, &identifier).await?;
    Ok(Json(api.into()))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/apis/{identifier}",
    tag = "apis",
    operation_id = "update_api",
    summary = "Update an API",
    description = "Sets the fields present. Clients lose grants of scopes the API no longer defines.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("identifier" = String, Path, description = "The API's identifier, percent-encoded"),
    ),
    request_body = ApiPatch,
    responses(
        (status = 200, description = "The API as now stored", body = ApiView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant or API", body = ErrorBody),
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Path((tenant, identifier)): Path<(String, String)>,
    patch: Result<Json<ApiPatch>, JsonRejection>,
) -> Result<Json<ApiView>, AdminError> {
    let patch = body(patch)?;
    let api = provision::update_api(state.store.as_ref(), &tenant, &identifier, &patch).await?;
    forget(&state, &tenant, &identifier);
    tracing::info!(tenant = %tenant, api = %identifier, "admin API: API updated");
    Ok(Json(api.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/apis/{identifier}",
    tag = "apis",
    operation_id = "delete_api",
    summary = "Delete an API",
    description = "Deletes the API and every client's grant of it; requests naming it are then refused with invalid_target.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("identifier" = String, Path, description = "The API's identifier, percent-encoded"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant or API", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, identifier)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::delete_api(state.store.as_ref(), &tenant, &identifier).await?;
    forget(&state, &tenant, &identifier);
    tracing::info!(tenant = %tenant, api = %identifier, "admin API: API deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}/grants",
    tag = "apis",
    operation_id = "list_client_grants",
    summary = "List a client's grants of APIs",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    responses(
        (status = 200, body = ClientGrantList),
        (status = 404, description = "No such tenant or client", body = ErrorBody),
    )
)]
pub(super) async fn grants(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
) -> Result<Json<ClientGrantList>, AdminError> {
    provision::existing_client(state.store.as_ref(), &tenant, &client_id).await?;
    let grants = state.store.client_grants(&tenant, &client_id).await?;
    Ok(Json(ClientGrantList {
        items: grants.into_iter().map(ClientGrantView::from).collect(),
    }))
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}/grants",
    tag = "apis",
    operation_id = "grant_client",
    summary = "Grant a client scopes of an API",
    description = "The client may then get tokens for itself (client_credentials) for that API with those scopes. \
        Replaces an earlier grant of the same API.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    request_body = NewClientGrant,
    responses(
        (status = 200, description = "The grant as now stored", body = ClientGrantView),
        (status = 400, description = "A scope the API does not define, or a public client", body = ErrorBody),
        (status = 404, description = "No such tenant, client or API", body = ErrorBody),
    )
)]
pub(super) async fn grant(
    State(state): State<AppState>,
    Path((tenant, client_id)): Path<(String, String)>,
    spec: Result<Json<NewClientGrant>, JsonRejection>,
) -> Result<Json<ClientGrantView>, AdminError> {
    let spec = body(spec)?;
    let grant = provision::grant_client(state.store.as_ref(), &tenant, &client_id, &spec).await?;
    tracing::info!(tenant = %tenant, client_id = %client_id, api = %grant.api, "admin API: client granted scopes of an API");
    Ok(Json(grant.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}/grants/{identifier}",
    tag = "apis",
    operation_id = "revoke_client_grant",
    summary = "Remove a client's grant of an API",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
        ("identifier" = String, Path, description = "The API's identifier, percent-encoded"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such tenant, client or grant", body = ErrorBody),
    )
)]
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path((tenant, client_id, identifier)): Path<(String, String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::revoke_client_grant(state.store.as_ref(), &tenant, &client_id, &identifier).await?;
    tracing::info!(tenant = %tenant, client_id = %client_id, api = %identifier, "admin API: client grant removed");
    Ok(StatusCode::NO_CONTENT)
}
