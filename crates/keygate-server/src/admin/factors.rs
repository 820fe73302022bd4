//! `/admin/v1/tenants/{tenant}/users/{sub}/factors`: a person's second
//! factors and recovery codes; remove one factor, or reset them all (for a
//! person who lost their device and their codes).

use super::error::{AdminError, ErrorBody};
use super::views::FactorList;
use crate::provisioning as provision;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/users/{sub}/factors",
    tag = "users",
    operation_id = "list_user_factors",
    summary = "List a user's second factors",
    description = "The confirmed second factors (each with a `type`: `totp` for an authenticator app), oldest first, and how many recovery codes are unused. Never a secret or a code.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
    ),
    responses(
        (status = 200, body = FactorList),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
) -> Result<Json<FactorList>, AdminError> {
    Ok(Json(
        provision::factors(state.store.as_ref(), &tenant, &sub).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/users/{sub}/factors/{id}",
    tag = "users",
    operation_id = "delete_user_factor",
    summary = "Remove one of a user's second factors",
    description = "With the user's last factor, their recovery codes are deleted too.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
        ("id" = String, Path, description = "The factor's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such tenant, user, or factor of this user", body = ErrorBody),
    )
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, sub, id)): Path<(String, String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::remove_factor(state.store.as_ref(), &tenant, &sub, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/users/{sub}/factors",
    tag = "users",
    operation_id = "reset_user_factors",
    summary = "Reset a user's second factors",
    description = "Removes every second factor and recovery code of the user and ends their sessions: their next sign-in is with the password alone, and they may add a factor again.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
    ),
    responses(
        (status = 204, description = "Reset"),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub(super) async fn reset(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::reset_factors(state.store.as_ref(), &tenant, &sub).await?;
    Ok(StatusCode::NO_CONTENT)
}
