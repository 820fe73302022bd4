//! The operators page (owner only): list, create (the password given, or
//! made here and shown once), delete. Every change is an event.

use super::{form, page_with_status, refused, secure, when, Operator, Shell};
use crate::error::ApiError;
use crate::events::Record;
use crate::provisioning::{self, Front, NewOperator, OperatorView, ProvisionError};
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/operators", get(list).post(create))
        .route("/admin/operators/delete", post(delete))
}

struct Row {
    view: OperatorView,
    created: String,
    tenant: String,
    me: bool,
}

#[derive(Template)]
#[template(path = "console/operators.html")]
struct OperatorsPage<'a> {
    shell: Shell,
    rows: Vec<Row>,
    error: Option<&'a str>,
    /// A password made here, shown once, with its operator's e-mail.
    created: Option<(String, String)>,
    email: &'a str,
    tenant: &'a str,
}

async fn show(
    state: &AppState,
    op: &Operator,
    status: StatusCode,
    error: Option<&str>,
    created: Option<(String, String)>,
    email: &str,
    tenant: &str,
) -> Result<Response, ApiError> {
    let rows = provisioning::list_operators(&*state.store)
        .await
        .map_err(|e| ApiError::internal(e.describe(Front::Api)))?
        .into_iter()
        .map(|v| Row {
            created: when(v.created_at),
            tenant: v.tenant.clone().unwrap_or_else(|| "every tenant".into()),
            me: v.id == op.id,
            view: v,
        })
        .collect();
    Ok(page_with_status(
        status,
        &OperatorsPage {
            shell: Shell::new(op, "/admin/operators"),
            rows,
            error,
            created,
            email,
            tenant,
        },
    ))
}

/// GET /admin/operators
async fn list(State(state): State<AppState>, op: Operator) -> Result<Response, ApiError> {
    if !op.is_owner() {
        return Ok(refused(&op));
    }
    show(&state, &op, StatusCode::OK, None, None, "", "").await
}

/// POST /admin/operators: a new operator.
async fn create(
    State(state): State<AppState>,
    op: Operator,
    req: Request,
) -> Result<Response, ApiError> {
    let f = match form(&state, &op, req).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    if !op.is_owner() {
        return Ok(refused(&op));
    }
    let given = f.get("password").unwrap_or("");
    let made = given.is_empty();
    let password = if made {
        keygate_crypto::secrets::random_token(18)
    } else {
        given.to_string()
    };
    let spec = NewOperator {
        email: f.text("email").to_string(),
        password,
        role: f.text("role").to_string(),
        tenant: Some(f.text("tenant").to_string()),
    };
    match provisioning::create_operator(&*state.store, &spec).await {
        Ok(v) => {
            Record::new("", "admin.created", op.actor())
                .ip(op.ip)
                .subject(format!("operator:{}", v.email))
                .detail(serde_json::json!({"role": v.role, "tenant": v.tenant}))
                .save(&state)
                .await;
            let shown = made.then(|| (v.email.clone(), spec.password.clone()));
            show(&state, &op, StatusCode::OK, None, shown, "", "").await
        }
        Err(e @ ProvisionError::Store(_)) => Err(ApiError::internal(e.describe(Front::Api))),
        Err(e) => {
            let status = match e {
                ProvisionError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            let msg = e.describe(Front::Api);
            show(
                &state,
                &op,
                status,
                Some(&msg),
                None,
                f.text("email"),
                f.text("tenant"),
            )
            .await
        }
    }
}

/// POST /admin/operators/delete: another operator (not oneself).
async fn delete(
    State(state): State<AppState>,
    op: Operator,
    req: Request,
) -> Result<Response, ApiError> {
    let f = match form(&state, &op, req).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    if !op.is_owner() {
        return Ok(refused(&op));
    }
    let id = f.text("id");
    if id == op.id {
        let msg = "You cannot delete yourself; another owner can.";
        return show(&state, &op, StatusCode::CONFLICT, Some(msg), None, "", "").await;
    }
    match provisioning::delete_operator(&*state.store, id).await {
        Ok(v) => {
            Record::new("", "admin.deleted", op.actor())
                .ip(op.ip)
                .subject(format!("operator:{}", v.email))
                .save(&state)
                .await;
            Ok(secure(Redirect::to("/admin/operators").into_response()))
        }
        Err(ProvisionError::NotFound(m)) => {
            show(&state, &op, StatusCode::NOT_FOUND, Some(&m), None, "", "").await
        }
        Err(e) => Err(ApiError::internal(e.describe(Front::Api))),
    }
}
