//! The e-mail verification pages (docs/account.md, "Verifying the e-mail
//! address"): the page a verification link opens (`/verify-email?token=...`,
//! a form with one button, so that opening the link does not use it), and
//! "check your e-mail" with its form to send the message again
//! (`/verify-email/resend`). Every form carries the CSRF token of the other
//! pages and gets their strict CSP; see [`crate::email_verification`].

use super::render::{self, VerifyPage, VerifyPendingPage};
use super::reset::{carried, notice};
use super::{csrf_ok, csrf_token};
use crate::door::Door;
use crate::email_verification::{self as verify, LinkProblem};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::params::Params;
use keygate_store::EmailLinkPurpose;

/// "Check your e-mail": what a sign-in (or a registration) answers when
/// the tenant requires a verified address and the person's is not.
/// `request` is the authorization request (form-encoded) it carries back
/// to sign-in.
pub(crate) fn pending(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    request: &str,
    email: &str,
    resent: bool,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let (request, login_link) = carried(request, door);
    let body = render::render(&VerifyPendingPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        action: &door.url("/verify-email/resend"),
        request: &request,
        csrf: &csrf,
        email,
        can_send: state.config.mail.can_send(),
        resent,
        login_link: login_link.as_deref(),
    });
    render::html(status, body, cookie.as_slice())
}

/// POST /verify-email/resend: sends the message again; the page says the
/// same whether or not the account exists, needs it, or the request was
/// over its rate limit (then nothing is sent).
pub(crate) async fn resend_post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, form) = super::read_page_form(&state, &door, req).await?;
    let request = form.get("request").unwrap_or("");
    let email = form.get("email").unwrap_or("").trim();
    if !csrf_ok(&state, &headers, &form) || email.is_empty() {
        // Shown again with a fresh CSRF token; nothing sent.
        return Ok(pending(
            &state,
            &door,
            &headers,
            request,
            email,
            false,
            StatusCode::BAD_REQUEST,
        ));
    }
    verify::resend(&state, &door, email).await?;
    Ok(pending(
        &state,
        &door,
        &headers,
        request,
        email,
        true,
        StatusCode::OK,
    ))
}

fn link_refused(door: &Door, problem: LinkProblem) -> Response {
    notice(
        door,
        StatusCode::BAD_REQUEST,
        "This link cannot be used",
        problem.message(),
        true,
        None,
    )
}

fn show(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    token: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let body = render::render(&VerifyPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        action: &door.url("/verify-email"),
        token,
        csrf: &csrf,
        email,
        error,
    });
    render::html(status, body, cookie.as_slice())
}

/// GET /verify-email?token=...: the form that uses the link, if it still
/// works. Opening the link changes nothing.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let query = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes()).ok();
    let token = query.as_ref().and_then(|q| q.get("token"));
    match verify::check_link(&state, &door, token).await? {
        Ok((_, link)) => Ok(show(
            &state,
            &door,
            req.headers(),
            token.unwrap_or(""),
            &link.email,
            None,
            StatusCode::OK,
        )),
        Err(problem) => Ok(link_refused(&door, problem)),
    }
}

/// POST /verify-email: uses the link; the address is verified.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, form) = super::read_page_form(&state, &door, req).await?;
    let token = form.get("token");
    if !csrf_ok(&state, &headers, &form) {
        // Shown again with a fresh CSRF token, if the link still works.
        return Ok(match verify::check_link(&state, &door, token).await? {
            Ok((_, link)) => show(
                &state,
                &door,
                &headers,
                token.unwrap_or(""),
                &link.email,
                Some("This form expired. Please try again."),
                StatusCode::BAD_REQUEST,
            ),
            Err(problem) => link_refused(&door, problem),
        });
    }
    match verify::complete(&state, &door, token).await? {
        Ok(link) => Ok(notice(
            &door,
            StatusCode::OK,
            "E-mail address verified",
            &match link.purpose {
                EmailLinkPurpose::Verify => format!(
                    "Thank you: {} is verified. You can sign in now.",
                    link.email
                ),
                EmailLinkPurpose::Change => format!(
                    "Your e-mail address is now {}. You were signed out everywhere; sign in again with it.",
                    link.email
                ),
            },
            false,
            None,
        )),
        Err(problem) => Ok(link_refused(&door, problem)),
    }
}
