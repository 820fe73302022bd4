//! POST /account/password: a new password, given the current one.
//!
//! The current password is checked exactly as at sign-in (the same
//! per-account and per-IP limits), so the form cannot be used to guess it.
//! The change ends every session and revokes every grant of the person in
//! one write (docs/account.md); this browser then gets a new session.

use super::{done, show, signed_in, to_sign_in, SignedIn};
use crate::accounts::{self, AccountError};
use crate::door::Door;
use crate::error::ApiError;
use crate::pages::{csrf_ok, read_form};
use crate::provisioning::{self, Front, ProvisionError, UserPatch};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::params::Params;
use keygate_core::validate::PasswordProblem;
use keygate_core::OAuthError;

/// POST /account/password.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let Some(who) = signed_in(&state, &door, &headers).await? else {
        return Ok(to_sign_in(&door));
    };
    let form = read_form(&state, req).await?;
    match change(&state, &door, &headers, &who, form).await? {
        Ok(cookie) => Ok(done(&door, "password", &[cookie])),
        Err((msg, status)) => show(&state, &door, &headers, &who, None, Some(&msg), status).await,
    }
}

/// Checks the form and changes the password: the new session's cookie, or
/// why not (shown on the page with its status).
async fn change(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    form: Result<Params, OAuthError>,
) -> Result<Result<String, (String, StatusCode)>, ApiError> {
    let form = match form {
        Ok(f) if csrf_ok(state, headers, &f) => f,
        Ok(_) => return Ok(Err((super::EXPIRED.into(), StatusCode::BAD_REQUEST))),
        Err(e) => return Ok(Err((e.description.into_owned(), StatusCode::BAD_REQUEST))),
    };
    let current = form.get("current_password").unwrap_or("");
    let new = form.get("password").unwrap_or("");
    match accounts::sign_in(state, door, &who.user.email, current).await? {
        Ok(_) => {}
        Err(AccountError::InvalidCredentials) => {
            let msg = "The current password is incorrect.";
            return Ok(Err((msg.into(), StatusCode::UNAUTHORIZED)));
        }
        Err(e) if e.retry_after().is_some() => {
            return Ok(Err((e.message(), StatusCode::TOO_MANY_REQUESTS)))
        }
        Err(e) => return Ok(Err((e.message(), StatusCode::FORBIDDEN))),
    }
    if let Err(problem) = keygate_core::validate::check_password(new) {
        let e = match problem {
            PasswordProblem::TooLong => AccountError::PasswordTooLong,
            _ => AccountError::WeakPassword,
        };
        return Ok(Err((e.message(), StatusCode::BAD_REQUEST)));
    }
    let patch = UserPatch {
        password: Some(new.to_string()),
        ..UserPatch::default()
    };
    match provisioning::update_user(&*state.store, &door.tenant.id, &who.user.sub, &patch).await {
        Ok(_) => {}
        Err(ProvisionError::Store(e)) => {
            return Err(ApiError::fault("changing a password failed", e))
        }
        Err(e) => {
            return Err(ApiError::internal(format!(
                "changing a password failed: {}",
                e.describe(Front::Api)
            )))
        }
    }
    tracing::info!(tenant = %door.tenant.id, sub = %who.user.sub, "password changed on the account page; sessions ended, grants revoked");
    let cookie = accounts::start_session(state, door, headers, &who.user.sub, crate::now()).await?;
    Ok(Ok(cookie))
}
