//! The registration page and its form.

use super::render::{self, RegisterPage};
use super::{csrf_token, read_submission, request_query, validate_request};
use crate::accounts::{self, AccountError};
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;
use keygate_core::model::{Client, Registration};
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
    super::page_signing_in(status, body, cookie.as_slice(), params, client)
}

/// The page a closed registration answers (docs/cli.md `--registration`),
/// before the request or the form is read.
fn closed(door: &Door) -> Option<Response> {
    (door.tenant.registration == Registration::Closed).then(|| {
        render::message_page(
            StatusCode::FORBIDDEN,
            &door.tenant.display_name,
            "Registration is closed",
            &AccountError::RegistrationClosed.message(),
        )
    })
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    if let Some(res) = closed(&door) {
        return Ok(res);
    }
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

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    if let Some(res) = closed(&door) {
        return Ok(res);
    }
    let sub = match read_submission(&state, &door, req).await? {
        Ok(s) => s,
        Err(res) => return Ok(res),
    };
    let email = sub.form.get("email").unwrap_or("");
    let name = sub.form.get("name").unwrap_or("");
    let again = |message: &str, status: StatusCode| {
        show(
            &state,
            &door,
            &sub.headers,
            &sub.client,
            &sub.params,
            email,
            name,
            Some(message),
            status,
        )
    };
    if !sub.csrf_ok {
        return Ok(again(
            "This form expired. Please try again.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let password = sub.form.get("password").unwrap_or("");
    match accounts::register(&state, &door, email, password, Some(name)).await? {
        // The account exists; with a required verification the person
        // signs in once the address is verified.
        Ok(user) if crate::email_verification::blocks(&door, &user) => Ok(super::verify::pending(
            &state,
            &door,
            &sub.headers,
            &request_query(&sub.params),
            &user.email,
            false,
            StatusCode::OK,
        )),
        // A tenant or client requiring a second factor has the new person
        // enrol one before the code goes out.
        Ok(user) => {
            super::login::second_step(&state, &door, &sub, &user, &[Method::Password]).await
        }
        Err(e) if e.retry_after().is_some() => Ok(super::too_many(
            again(&e.message(), StatusCode::TOO_MANY_REQUESTS),
            e,
        )),
        Err(e) => {
            let status = match e {
                AccountError::EmailTaken => StatusCode::CONFLICT,
                AccountError::RegistrationClosed => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            Ok(again(&e.message(), status))
        }
    }
}
