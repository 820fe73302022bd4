//! The password-reset pages: "forgot your password?" (`/forgot-password`,
//! linked from sign-in, carrying the authorization request back to it) and
//! the page a reset link opens (`/reset-password?token=...`). Both forms
//! carry the CSRF token of the other pages and get their strict CSP.
//!
//! The answer to the forgot form is one page, byte for byte, whether or
//! not the account exists and whether or not the request was over its rate
//! limit (then no message is sent); see [`crate::password_reset`].

use super::render::{self, ForgotPage, NoticePage, ResetPage};
use super::{csrf_ok, csrf_token, request_query};
use crate::door::Door;
use crate::error::ApiError;
use crate::password_reset::{self as reset, ResetError};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::params::Params;

/// The authorization request a page carries (re-serialized, so only
/// well-formed pairs go on), and the sign-in link it leads back to.
pub(super) fn carried(raw: &str, door: &Door) -> (String, Option<String>) {
    match Params::from_urlencoded(raw.as_bytes()) {
        Ok(p) if !raw.is_empty() => {
            let q = request_query(&p);
            let link = format!("{}?{}", door.url("/login"), q);
            (q, Some(link))
        }
        _ => (String::new(), None),
    }
}

pub(super) fn notice(
    door: &Door,
    status: StatusCode,
    heading: &str,
    message: &str,
    is_error: bool,
    link: Option<(&str, &str)>,
) -> Response {
    let body = render::render(&NoticePage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        heading,
        message,
        is_error,
        link_href: link.map(|(h, _)| h),
        link_text: link.map_or("", |(_, t)| t),
    });
    render::html(status, body, &[])
}

#[allow(clippy::too_many_arguments)]
fn show_forgot(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    request: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let (request, login_link) = carried(request, door);
    let body = render::render(&ForgotPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        action: &door.url("/forgot-password"),
        request: &request,
        csrf: &csrf,
        email,
        can_send: state.config.mail.can_send(),
        login_link: login_link.as_deref(),
        error,
    });
    render::html(status, body, cookie.as_slice())
}

/// GET /forgot-password[?{authorization request}]: the form asking for the
/// e-mail address.
pub(crate) async fn forgot_get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let query = req.uri().query().unwrap_or("").to_string();
    Ok(show_forgot(
        &state,
        &door,
        req.headers(),
        &query,
        "",
        None,
        StatusCode::OK,
    ))
}

/// POST /forgot-password: the same answer for every address.
pub(crate) async fn forgot_post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, form) = super::read_page_form(&state, &door, req).await?;
    let request = form.get("request").unwrap_or("");
    let email = form.get("email").unwrap_or("").trim();
    let again = |message: &str| {
        show_forgot(
            &state,
            &door,
            &headers,
            request,
            email,
            Some(message),
            StatusCode::BAD_REQUEST,
        )
    };
    if !csrf_ok(&state, &headers, &form) {
        return Ok(again("This form expired. Please try again."));
    }
    if email.is_empty() {
        return Ok(again("Enter the e-mail address of your account."));
    }
    // Over the limit nothing is sent, and the page says the same as ever.
    reset::request(&state, &door, email).await?;
    let (_, login_link) = carried(request, &door);
    Ok(notice(
        &door,
        StatusCode::OK,
        "Check your e-mail",
        &format!(
            "If an account exists for that address, we sent it a link to choose a new password. The link works once, for {} minutes.",
            (state.config.reset_ttl + 59) / 60
        ),
        false,
        login_link.as_deref().map(|l| (l, "Back to sign-in")),
    ))
}

fn link_refused(door: &Door, problem: reset::LinkProblem) -> Response {
    let forgot = door.url("/forgot-password");
    notice(
        door,
        StatusCode::BAD_REQUEST,
        "This link cannot be used",
        problem.message(),
        true,
        Some((&forgot, "Ask for a new link")),
    )
}

fn show_reset(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    token: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let body = render::render(&ResetPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        action: &door.url("/reset-password"),
        token,
        csrf: &csrf,
        email,
        min_len: keygate_core::validate::MIN_PASSWORD_LEN,
        error,
    });
    render::html(status, body, cookie.as_slice())
}

/// GET /reset-password?token=...: the form for the new password, if the
/// link still works.
pub(crate) async fn reset_get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let query = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes()).ok();
    let token = query.as_ref().and_then(|q| q.get("token"));
    match reset::check_link(&state, &door, token).await? {
        Ok((_, user)) => Ok(show_reset(
            &state,
            &door,
            req.headers(),
            token.unwrap_or(""),
            &user.email,
            None,
            StatusCode::OK,
        )),
        Err(problem) => Ok(link_refused(&door, problem)),
    }
}

/// POST /reset-password: sets the new password (the link is used up, the
/// person's sessions end, their tokens are revoked).
pub(crate) async fn reset_post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, form) = super::read_page_form(&state, &door, req).await?;
    let token = form.get("token");
    if !csrf_ok(&state, &headers, &form) {
        // Shown again with a fresh CSRF token, if the link still works.
        return Ok(match reset::check_link(&state, &door, token).await? {
            Ok((_, user)) => show_reset(
                &state,
                &door,
                &headers,
                token.unwrap_or(""),
                &user.email,
                Some("This form expired. Please try again."),
                StatusCode::BAD_REQUEST,
            ),
            Err(problem) => link_refused(&door, problem),
        });
    }
    let Some(password) = form.get("password") else {
        return Ok(notice(
            &door,
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "The new password is missing.",
            true,
            None,
        ));
    };
    match reset::complete(&state, &door, token, password, form.get("password_confirm")).await? {
        Ok(_) => Ok(notice(
            &door,
            StatusCode::OK,
            "Password changed",
            "Your password was changed and you were signed out everywhere. Sign in again with your new password.",
            false,
            None,
        )),
        Err(ResetError::Link(problem)) => Ok(link_refused(&door, problem)),
        Err(e) => {
            let email = match reset::check_link(&state, &door, token).await? {
                Ok((_, user)) => user.email,
                Err(problem) => return Ok(link_refused(&door, problem)),
            };
            Ok(show_reset(
                &state,
                &door,
                &headers,
                token.unwrap_or(""),
                &email,
                Some(&e.message()),
                StatusCode::BAD_REQUEST,
            ))
        }
    }
}
