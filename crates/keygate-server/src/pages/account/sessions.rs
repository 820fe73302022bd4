//! POST /account/sessions/end: "sign out everywhere". Ends every session
//! of the person, this browser's too, and revokes their grants, so every
//! application's refresh token stops working (docs/account.md).

use super::{show, signed_in, to_sign_in};
use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::pages::render::{self, MessagePage, CSS};
use crate::pages::{csrf_ok, read_form};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;

/// POST /account/sessions/end.
pub(crate) async fn end_all(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let Some(who) = signed_in(&state, &door, &headers).await? else {
        return Ok(to_sign_in(&door));
    };
    match read_form(&state, req).await? {
        Ok(f) if csrf_ok(&state, &headers, &f) => {}
        _ => {
            let msg = "This form expired. Please try again.";
            return show(
                &state,
                &door,
                &headers,
                &who,
                None,
                Some(msg),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    }
    state
        .store
        .end_sessions_of(&door.tenant.id, &who.user.sub, crate::now())
        .await?;
    crate::backchannel::wake();
    tracing::info!(tenant = %door.tenant.id, sub = %who.user.sub, "signed out everywhere from the account page");
    let https = state.config.https();
    let clear = cookies::clear(https, &cookies::session_name(https, &door.tenant.id));
    let sign_in = door.url("/account/sign-in");
    let body = render::render(&MessagePage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        heading: "Signed out everywhere",
        message: &format!("Every session of your account has ended. Sign in again at {sign_in}."),
        is_error: false,
        confirm: None,
    });
    Ok(render::html(StatusCode::OK, body, &[clear]))
}
