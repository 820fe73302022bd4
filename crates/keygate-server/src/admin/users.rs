//! `/admin/v1/tenants/{tenant}/users`

use super::error::{AdminError, ErrorBody};
use super::views::{page, UserList, UserQuery, UserView};
use super::{body, limit, query};
use crate::provisioning::{self as provision, NewUser, UserPatch};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/users",
    tag = "users",
    operation_id = "list_users",
    summary = "List the users of a tenant",
    params(("tenant" = String, Path, description = "Tenant id"), UserQuery),
    responses(
        (status = 200, description = "One page of users, in `sub` order", body = UserList),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    q: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Json<UserList>, AdminError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    provision::existing_tenant(state.store.as_ref(), &tenant).await?;
    if let Some(email) = &q.email {
        let found = provision::user_by_email(state.store.as_ref(), &tenant, email).await?;
        return Ok(Json(UserList {
            items: found.into_iter().map(UserView::from).collect(),
            next: None,
        }));
    }
    let rows = state
        .store
        .list_users(&tenant, q.after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let (rows, next) = page(rows, limit, |u| u.sub.clone());
    Ok(Json(UserList {
        items: rows.into_iter().map(UserView::from).collect(),
        next,
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/users",
    tag = "users",
    operation_id = "create_user",
    summary = "Create a user",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The e-mail address is taken", body = ErrorBody),
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    spec: Result<Json<NewUser>, JsonRejection>,
) -> Result<Response, AdminError> {
    let spec = body(spec)?;
    let user = provision::create_user(state.store.as_ref(), &tenant, &spec).await?;
    tracing::info!(tenant = %tenant, sub = %user.sub, "admin API: user created");
    let location = format!("/admin/v1/tenants/{tenant}/users/{}", user.sub);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserView::from(user)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/users/{sub}",
    tag = "users",
    operation_id = "read_user",
    summary = "Read a user",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
    ),
    responses(
        (status = 200, body = UserView),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub(super) async fn read(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
) -> Result<Json<UserView>, AdminError> {
    let user = provision::existing_user(state.store.as_ref(), &tenant, &sub).await?;
    Ok(Json(user.into()))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/users/{sub}",
    tag = "users",
    operation_id = "update_user",
    summary = "Update a user",
    description = "Sets the fields present: e-mail, name, verification, password.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
    ),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as now stored", body = UserView),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
        (status = 409, description = "The e-mail address is taken", body = ErrorBody),
    )
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
    patch: Result<Json<UserPatch>, JsonRejection>,
) -> Result<Json<UserView>, AdminError> {
    let patch = body(patch)?;
    let user = provision::update_user(state.store.as_ref(), &tenant, &sub, &patch).await?;
    tracing::info!(tenant = %tenant, sub = %sub, "admin API: user updated");
    Ok(Json(user.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/users/{sub}",
    tag = "users",
    operation_id = "delete_user",
    summary = "Delete a user",
    description = "Deletes the user, ends their sessions and revokes their grants: their tokens stop working.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::delete_user(state.store.as_ref(), &tenant, &sub).await?;
    tracing::info!(tenant = %tenant, sub = %sub, "admin API: user deleted");
    Ok(StatusCode::NO_CONTENT)
}
