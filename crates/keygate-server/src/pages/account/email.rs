//! POST /account/email: a new e-mail address, given the current password
//! (docs/account.md, "Changing the e-mail address").
//!
//! Nothing changes until the person opens the link sent to the new
//! address: that proves they own it, and using the link sets it (verified),
//! ends their sessions and revokes their grants in one write. The old
//! address gets a notice, so a stranger who signed in cannot move the
//! account away silently. Requests count per person against the resend
//! limit of verification messages, so the form cannot be used to send mail
//! to anyone at will.

use super::{answer, form_with_password, signed_in, to_sign_in, Refused, SignedIn};
use crate::accounts::AccountError;
use crate::door::Door;
use crate::error::ApiError;
use crate::pages::read_form;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::params::Params;
use keygate_core::validate;
use keygate_core::OAuthError;

/// POST /account/email.
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
    let taken = change(&state, &door, &headers, &who, form).await?;
    answer(&state, &door, &headers, &who, "email", taken).await
}

/// Checks the form and sends the link and the notice, or says why not.
async fn change(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    form: Result<Params, OAuthError>,
) -> Result<Result<Vec<String>, Refused>, ApiError> {
    if !state.config.mail.can_send() {
        let msg = "This service cannot send e-mail, so the address cannot be changed here.";
        return Ok(Err((msg.into(), StatusCode::SERVICE_UNAVAILABLE)));
    }
    let form = match form_with_password(state, door, headers, who, form).await? {
        Ok(f) => f,
        Err(refused) => return Ok(Err(refused)),
    };
    let Some(new) = validate::normalize_email(form.get("email").unwrap_or("")) else {
        return Ok(Err((
            AccountError::InvalidEmail.message(),
            StatusCode::BAD_REQUEST,
        )));
    };
    if new == who.user.email {
        let msg = "This is already your e-mail address.";
        return Ok(Err((msg.into(), StatusCode::BAD_REQUEST)));
    }
    if state
        .store
        .user_by_email(&door.tenant.id, &new)
        .await?
        .is_some()
    {
        return Ok(Err((
            AccountError::EmailTaken.message(),
            StatusCode::CONFLICT,
        )));
    }
    let key = crate::limits::person_key("email-change", &door.tenant.id, &who.user.sub);
    let limit = &state.config.verify_resend_account_limit;
    if let Err(secs) = crate::limits::reserve(state, &key, limit).await? {
        let msg = format!("Too many changes were asked for. Try again in {secs} seconds.");
        return Ok(Err((msg, StatusCode::TOO_MANY_REQUESTS)));
    }
    crate::email_verification::request_change(state, door, &who.user, &new).await?;
    Ok(Ok(Vec::new()))
}
