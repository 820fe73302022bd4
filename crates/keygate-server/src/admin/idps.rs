//! `/admin/v1/tenants/{tenant}/idps`: the upstream identity providers a
//! tenant's people may sign in with (docs/federation.md). A client secret
//! is accepted, sealed under the master key, and never answered.

use super::body;
use super::error::{AdminError, ErrorBody};
use super::views::{IdpList, IdpView};
use crate::provisioning::{self as provision, IdpPatch, NewIdp};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/idps",
    tag = "idps",
    operation_id = "list_idps",
    summary = "List the upstream identity providers of a tenant",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Every upstream, in name order", body = IdpList),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<IdpList>, AdminError> {
    let (t, idps) = provision::list_idps(state.store.as_ref(), &tenant).await?;
    let url = &state.config.public_url;
    Ok(Json(IdpList {
        idps: idps.into_iter().map(|i| IdpView::new(i, &t, url)).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/idps",
    tag = "idps",
    operation_id = "create_idp",
    summary = "Add an upstream identity provider",
    description = "Register each of the answer's `callback_uris` at the upstream for sign-ins \
        that start at that front door. The client secret is sealed at rest and never shown.",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewIdp,
    responses(
        (status = 201, description = "Created", body = IdpView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The name is taken in this tenant", body = ErrorBody),
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    spec: Result<Json<NewIdp>, JsonRejection>,
) -> Result<Response, AdminError> {
    let spec = body(spec)?;
    let idp = provision::new_idp(&tenant, &spec, crate::now(), state.keys.master())?;
    let t = provision::create_idp(state.store.as_ref(), &idp).await?;
    tracing::info!(tenant = %tenant, idp = %idp.id, "admin API: upstream identity provider created");
    let location = format!("/admin/v1/tenants/{tenant}/idps/{}", idp.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(IdpView::new(idp, &t, &state.config.public_url)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/idps/{id}",
    tag = "idps",
    operation_id = "read_idp",
    summary = "Read an upstream identity provider",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "The upstream's id"),
    ),
    responses(
        (status = 200, body = IdpView),
        (status = 404, description = "No such tenant or upstream", body = ErrorBody),
    )
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<IdpView>, AdminError> {
    let (t, idp) = provision::existing_idp(state.store.as_ref(), &tenant, &id).await?;
    Ok(Json(IdpView::new(idp, &t, &state.config.public_url)))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/idps/{id}",
    tag = "idps",
    operation_id = "update_idp",
    summary = "Update an upstream identity provider",
    description = "Sets the fields present; `\"client_secret\": null` removes the secret. \
        `claims` changes only the paths it names.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "The upstream's id"),
    ),
    request_body = IdpPatch,
    responses(
        (status = 200, description = "The upstream as now stored", body = IdpView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant or upstream", body = ErrorBody),
        (status = 409, description = "The name is another upstream's", body = ErrorBody),
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    patch: Result<Json<IdpPatch>, JsonRejection>,
) -> Result<Json<IdpView>, AdminError> {
    let patch = body(patch)?;
    let (t, idp) = provision::update_idp(
        state.store.as_ref(),
        &tenant,
        &id,
        &patch,
        Some(state.keys.master()),
    )
    .await?;
    tracing::info!(tenant = %tenant, idp = %id, "admin API: upstream identity provider updated");
    Ok(Json(IdpView::new(idp, &t, &state.config.public_url)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/idps/{id}",
    tag = "idps",
    operation_id = "delete_idp",
    summary = "Delete an upstream identity provider",
    description = "Sign-ins through it stop; the identities it linked stay with their users.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "The upstream's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant or upstream", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::delete_idp(state.store.as_ref(), &tenant, &id).await?;
    tracing::info!(tenant = %tenant, idp = %id, "admin API: upstream identity provider deleted");
    Ok(StatusCode::NO_CONTENT)
}
