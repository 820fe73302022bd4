//! `/admin/v1/tenants/{tenant}/users/{sub}/consents`: what a person allowed
//! third-party clients; revoking one also revokes the person's grants of
//! that client (its refresh tokens stop working).

use super::error::{AdminError, ErrorBody};
use super::views::{ConsentList, ConsentView};
use crate::provisioning as provision;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/users/{sub}/consents",
    tag = "users",
    operation_id = "list_user_consents",
    summary = "List what a user allowed third-party clients",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
    ),
    responses(
        (status = 200, body = ConsentList),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
) -> Result<Json<ConsentList>, AdminError> {
    let items = provision::consents(state.store.as_ref(), &tenant, &sub).await?;
    Ok(Json(ConsentList {
        items: items.into_iter().map(ConsentView::from).collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/users/{sub}/consents/{client_id}",
    tag = "users",
    operation_id = "revoke_user_consent",
    summary = "Revoke what a user allowed a client",
    description = "The client asks again at the next sign-in; the refresh tokens the consent allowed stop working.",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("sub" = String, Path, description = "The user's subject identifier"),
        ("client_id" = String, Path, description = "Client id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such tenant, user, or consent", body = ErrorBody),
    )
)]
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path((tenant, sub, client_id)): Path<(String, String, String)>,
) -> Result<StatusCode, AdminError> {
    provision::revoke_consent(
        state.store.as_ref(),
        &tenant,
        &sub,
        &client_id,
        crate::now(),
    )
    .await?;
    tracing::info!(tenant = %tenant, sub = %sub, client_id = %client_id, "admin API: consent revoked");
    Ok(StatusCode::NO_CONTENT)
}
