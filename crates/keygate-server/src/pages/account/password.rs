//! POST /account/password: a new password, given the current one.
//!
//! The current password is checked exactly as at sign-in (the same
//! per-account and per-IP limits), so the form cannot be used to guess it.
//! The change ends every session and revokes every grant of the person in
//! one write (docs/account.md); this browser then gets a new session.

use super::{answer, form_with_password, signed_in, to_sign_in, Refused, SignedIn};
use crate::accounts::{self, AccountError};
use crate::door::Door;
use crate::error::ApiError;
use crate::pages::read_form;
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
    let taken = change(&state, &door, &headers, &who, form).await?;
    answer(&state, &door, &headers, &who, "password", taken).await
}

/// Checks the form and changes the password: the new session's cookie, or
/// why not.
async fn change(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    form: Result<Params, OAuthError>,
) -> Result<Result<Vec<String>, Refused>, ApiError> {
    let form = match form_with_password(state, door, headers, who, form).await? {
        Ok(f) => f,
        Err(refused) => return Ok(Err(refused)),
    };
    let new = form.get("password").unwrap_or("");
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
    crate::events::by_user(
        state,
        door,
        "user.password_changed",
        &who.user.sub,
        serde_json::json!({"sessions_ended": true, "grants_revoked": true}),
    )
    .await;
    // The new session keeps how the old one was made (the password was
    // just proved again; a second factor given earlier still holds).
    let cookie =
        accounts::start_session(state, door, headers, &who.user.sub, crate::now(), &who.amr)
            .await?;
    Ok(Ok(vec![cookie]))
}
