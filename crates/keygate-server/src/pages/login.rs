//! The sign-in page and its form.

use super::render::{self, LoginPage};
use super::{
    csrf_ok, csrf_token, page_error, read_form, request_query, see_other, validate_request,
};
use crate::accounts;
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
pub fn show(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let request = request_query(params);
    let body = render::render(&LoginPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        client_name: &client.name,
        action: &door.url("/login"),
        request: &request,
        csrf: &csrf,
        email,
        register_link: &format!("{}?{}", door.url("/register"), request),
        error,
        notice: None,
    });
    render::html(status, body, cookie.as_slice())
}

/// GET /login?{authorization request}: the sign-in page on its own.
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
        None,
        StatusCode::OK,
    ))
}

/// POST /login: check the CSRF token and the credentials, start a session,
/// and send the code to the application.
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
    if !csrf_ok(&state, &headers, &form) {
        return Ok(show(
            &state,
            &door,
            &headers,
            &client,
            &params,
            email,
            Some("This form expired. Please sign in again."),
            StatusCode::BAD_REQUEST,
        ));
    }
    let password = form.get("password").unwrap_or("");
    match accounts::sign_in(&state, &door, email, password).await? {
        Ok(user) => {
            let auth_time = accounts::now();
            let cookie =
                accounts::start_session(&state, &door, &headers, &user.sub, auth_time).await?;
            let (_, to) = accounts::issue_code(&state, &door, &ar, &user.sub, auth_time).await?;
            Ok(see_other(&to, &[cookie]))
        }
        Err(e) => {
            let (status, retry) = match e {
                accounts::AccountError::TooManyAttempts(secs) => {
                    (StatusCode::TOO_MANY_REQUESTS, Some(secs.max(1)))
                }
                _ => (StatusCode::UNAUTHORIZED, None),
            };
            let mut res = show(
                &state,
                &door,
                &headers,
                &client,
                &params,
                email,
                Some(&e.message()),
                status,
            );
            if let Some(secs) = retry {
                res.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(secs),
                );
            }
            Ok(res)
        }
    }
}
