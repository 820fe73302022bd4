//! `/admin/v1/tenants/{tenant}/clients`

use super::error::{AdminError, ErrorBody};
use super::views::{page, ClientList, ClientSecret, ClientView, CreatedClient, PageQuery};
use super::{body, forget_client, limit, query};
use crate::provisioning::{self as provision, ClientPatch, NewClient};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/clients",
    tag = "clients",
    operation_id = "list_clients",
    summary = "List the clients of a tenant",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, description = "One page of clients, in id order", body = ClientList),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<ClientList>, AdminError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    provision::existing_tenant(state.store.as_ref(), &tenant).await?;
    let rows = state
        .store
        .list_clients(&tenant, q.after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let (rows, next) = page(rows, limit, |c| c.id.clone());
    Ok(Json(ClientList {
        items: rows.into_iter().map(ClientView::from).collect(),
        next,
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/clients",
    tag = "clients",
    operation_id = "create_client",
    summary = "Register a client",
    description = "The answer carries the client secret of a confidential client; it is shown this once.",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewClient,
    responses(
        (status = 201, description = "Created", body = CreatedClient),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    spec: Result<Json<NewClient>, JsonRejection>,
) -> Result<Response, AdminError> {
    let spec = body(spec)?;
    let (client, secret) =
        provision::new_client(&tenant, &spec, crate::now(), state.keys.master())?;
    provision::create_client(state.store.as_ref(), &client).await?;
    forget_client(&state, &tenant, &client.id);
    tracing::info!(tenant = %tenant, client_id = %client.id, "admin API: client created");
    let location = format!("/admin/v1/tenants/{tenant}/clients/{}", client.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(CreatedClient {
            client: client.into(),
            client_secret: secret,
        }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}",
    tag = "clients",
    operation_id = "read_client",
    summary = "Read a client",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    responses(
        (status = 200, body = ClientView),
        (status = 404, description = "No such tenant or client", body = ErrorBody),
    )
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<ClientView>, AdminError> {
    let client = provision::existing_client(state.store.as_ref(), &tenant, &id).await?;
    Ok(Json(client.into()))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}",
    tag = "clients",
    operation_id = "update_client",
    summary = "Update a client",
    description = "Sets the fields present (lists are replaced whole), checked by the rules of a new client. \
        A client stays public or confidential; its secret changes only by rotation.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    request_body = ClientPatch,
    responses(
        (status = 200, description = "The client as now stored", body = ClientView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant or client", body = ErrorBody),
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    patch: Result<Json<ClientPatch>, JsonRejection>,
) -> Result<Json<ClientView>, AdminError> {
    let patch = body(patch)?;
    let client = provision::update_client(state.store.as_ref(), &tenant, &id, &patch).await?;
    forget_client(&state, &tenant, &id);
    tracing::info!(tenant = %tenant, client_id = %id, "admin API: client updated");
    Ok(Json(client.into()))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}/secret",
    tag = "clients",
    operation_id = "rotate_client_secret",
    summary = "Rotate a client secret",
    description = "Gives a confidential client a new secret, shown this once; the old secret stops working at once.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    responses(
        (status = 200, description = "The new secret", body = ClientSecret),
        (status = 404, description = "No such tenant or client", body = ErrorBody),
        (status = 409, description = "A public client has no secret", body = ErrorBody),
    )
)]
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<ClientSecret>, AdminError> {
    let secret =
        provision::rotate_client_secret(state.store.as_ref(), &tenant, &id, state.keys.master())
            .await?;
    forget_client(&state, &tenant, &id);
    tracing::info!(tenant = %tenant, client_id = %id, "admin API: client secret rotated");
    Ok(Json(ClientSecret {
        client_id: id,
        client_secret: secret,
    }))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/clients/{client_id}",
    tag = "clients",
    operation_id = "delete_client",
    summary = "Delete a client",
    description = "Deletes the client and revokes its grants: its refresh tokens and access tokens stop working.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant or client", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::delete_client(state.store.as_ref(), &tenant, &id).await?;
    forget_client(&state, &tenant, &id);
    tracing::info!(tenant = %tenant, client_id = %id, "admin API: client deleted");
    Ok(StatusCode::NO_CONTENT)
}
