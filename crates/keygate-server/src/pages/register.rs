//! The registration page and its form.

use super::render::{self, RegisterPage};
use super::{
    csrf_ok, csrf_token, page_error, read_form, request_query, see_other, validate_request,
};
use crate::accounts::{self, AccountError};
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::model::Client;
use keygate_core::params::Params;

#[allow(clippy::too_many_arguments)]
fn show(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    email: &str,
    name: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let request = request_query(params);
    let body = render::render(&RegisterPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        client_name: &client.name,
        action: &door.url("/register"),
        request: &request,
        csrf: &csrf,
        email,
        name,
        login_link: &format!("{}?{}", door.url("/login"), request),
        error,
    });
    render::html(status, body, cookie.as_slice())
}

pub async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let params = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes());
    let (ar, client, params) = match validate_request(&state, &door, params).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    Ok(show(
        &state,
        &door,
        req.headers(),
        &client,
        &params,
        ar.login_hint.as_deref().unwrap_or(""),
        "",
        None,
        StatusCode::OK,
    ))
}

pub async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let form = read_form(&state, req)
        .await?
        .map_err(|e| page_error(&door, StatusCode::BAD_REQUEST, e.description))?;
    let inner = Params::from_urlencoded(form.get("request").unwrap_or("").as_bytes());
    let (ar, client, params) = match validate_request(&state, &door, inner).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let email = form.get("email").unwrap_or("");
    let name = form.get("name").unwrap_or("");
    if !csrf_ok(&state, &headers, &form) {
        return Ok(show(
            &state,
            &door,
            &headers,
            &client,
            &params,
            email,
            name,
            Some("This form expired. Please try again."),
            StatusCode::BAD_REQUEST,
        ));
    }
    let password = form.get("password").unwrap_or("");
    match accounts::register(&state, &door.tenant.id, email, password, Some(name)).await? {
        Ok(user) => {
            let auth_time = accounts::now();
            let cookie =
                accounts::start_session(&state, &door, &headers, &user.sub, auth_time).await?;
            let (_, to) = accounts::issue_code(&state, &door, &ar, &user.sub, auth_time).await?;
            Ok(see_other(&to, &[cookie]))
        }
        Err(e) => {
            let status = if e == AccountError::EmailTaken {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok(show(
                &state,
                &door,
                &headers,
                &client,
                &params,
                email,
                name,
                Some(&e.message()),
                status,
            ))
        }
    }
}
