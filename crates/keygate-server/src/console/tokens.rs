//! Admin API tokens in the console (owners only): the list (ids and
//! dates; a token is never shown again), a new token (shown once; only
//! its SHA-256 is stored) and deletion after a confirmation.

use super::resources::{see_other, when, ConfirmPage, Ctx, SecretPage};
use crate::provisioning as provision;
use askama::Template;
use axum::extract::Path;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// The navigation entry of these pages.
const NAV: &str = "/admin/admin-tokens";

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct ListPage {
    tokens: Vec<(String, String)>,
    csrf: String,
}

/// `GET /admin/admin-tokens`
pub(super) async fn list(ctx: Ctx) -> Response {
    if !ctx.op.is_owner() {
        return ctx.refused();
    }
    let tokens = match ctx.state.store.list_admin_tokens().await {
        Ok(t) => t,
        Err(e) => return ctx.provision_error(e.into(), "/admin/"),
    };
    ctx.page(
        NAV,
        "Admin tokens",
        ListPage {
            tokens: tokens
                .into_iter()
                .map(|t| (t.id, when(t.created_at)))
                .collect(),
            csrf: ctx.op.csrf.clone(),
        },
    )
}

/// `POST /admin/admin-tokens`: a new token, shown once.
pub(super) async fn create(ctx: Ctx, req: Request) -> Response {
    if let Err(r) = ctx.change_as_owner(req).await {
        return r;
    }
    let (id, token) = match provision::create_admin_token(ctx.state.store.as_ref()).await {
        Ok(t) => t,
        Err(e) => return ctx.provision_error(e, "/admin/admin-tokens"),
    };
    ctx.record(
        "",
        "admin.created",
        format!("admin-token:{id}"),
        json!({"resource": "admin_token", "id": id}),
    )
    .await;
    ctx.page(
        NAV,
        "Admin token created",
        SecretPage {
            heading: "Admin token created",
            label: "Admin API token",
            secret: &token,
            about: &format!(
                "Token id: {id}. Send it as `Authorization: Bearer TOKEN` to /admin/v1."
            ),
            back: "/admin/admin-tokens",
            back_text: "Back to the admin tokens",
        },
    )
}

/// `GET /admin/admin-tokens/{id}/delete`
pub(super) async fn confirm_delete(ctx: Ctx, Path(id): Path<String>) -> Response {
    if !ctx.op.is_owner() {
        return ctx.refused();
    }
    let message = format!("Requests with the admin token '{id}' are refused from now on.");
    ctx.page(
        NAV,
        "Delete admin token",
        ConfirmPage {
            heading: "Delete admin token",
            message: &message,
            action: &format!("/admin/admin-tokens/{id}/delete"),
            button: "Delete the token",
            back: "/admin/admin-tokens",
            csrf: &ctx.op.csrf,
        },
    )
}

/// `POST /admin/admin-tokens/{id}/delete`
pub(super) async fn delete(ctx: Ctx, Path(id): Path<String>, req: Request) -> Response {
    if let Err(r) = ctx.change_as_owner(req).await {
        return r;
    }
    match ctx.state.store.delete_admin_token(&id).await {
        Ok(true) => {}
        Ok(false) => {
            return ctx.problem(
                StatusCode::NOT_FOUND,
                &format!("no admin token has the id '{id}'"),
                "/admin/admin-tokens",
            )
        }
        Err(e) => return ctx.provision_error(e.into(), "/admin/admin-tokens"),
    }
    ctx.record(
        "",
        "admin.deleted",
        format!("admin-token:{id}"),
        json!({"resource": "admin_token", "id": id}),
    )
    .await;
    see_other("/admin/admin-tokens")
}
