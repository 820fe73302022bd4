//! `{issuer}/account/sign-in`: the sign-in form of the account page, for a
//! person who comes without a session. The same form and the same checks
//! (limits, disabled accounts) as the sign-in of an authorization request,
//! with no application involved: success leads back to `/account`.

use super::done;
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::mfa;
use crate::pages::render::{self, LoginPage, MfaPage, CSS};
use crate::pages::{csrf_ok, csrf_token, read_form};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;

/// The form, with the e-mail kept and an optional error.
fn form(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let passkeys = crate::passkeys::available(door);
    let (start, finish) = (
        door.url("/passkeys/sign-in/start"),
        door.url("/passkeys/sign-in/finish"),
    );
    let body = render::render(&LoginPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        client_name: "your account",
        action: &door.url("/account/sign-in"),
        request: "",
        csrf: &csrf,
        email,
        register_link: None,
        forgot_link: &door.url("/forgot-password"),
        error,
        passkey: passkeys.then(|| render::PasskeyBox {
            start: &start,
            finish: &finish,
        }),
        script: render::SCRIPT,
        upstreams: &[],
    });
    let res = render::html(status, body, cookie.as_slice());
    if passkeys {
        render::with_script(res)
    } else {
        res
    }
}

/// GET /account/sign-in (straight to the account page when signed in).
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if super::signed_in(&state, &door, &headers).await?.is_some() {
        return Ok(crate::pages::see_other(&door.url("/account"), &[]));
    }
    Ok(form(&state, &door, &headers, "", None, StatusCode::OK))
}

/// POST /account/sign-in.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let posted = read_form(&state, req).await?;
    let Ok(posted) = posted else {
        let msg = "The form could not be read. Please try again.";
        return Ok(form(
            &state,
            &door,
            &headers,
            "",
            Some(msg),
            StatusCode::BAD_REQUEST,
        ));
    };
    let email = posted.get("email").unwrap_or("");
    if !csrf_ok(&state, &headers, &posted) {
        let msg = "This form expired. Please sign in again.";
        return Ok(form(
            &state,
            &door,
            &headers,
            email,
            Some(msg),
            StatusCode::BAD_REQUEST,
        ));
    }
    let password = posted.get("password").unwrap_or("");
    match accounts::sign_in(&state, &door, email, password).await? {
        // The person's second factor, unless the tenant turned them off;
        // a person who must enrol one signs in here to do so.
        Ok(user)
            if mfa::second_step(&state, &door, None, &user.sub).await? == mfa::SecondStep::Ask =>
        {
            let token =
                mfa::start_pending(&state, &door, &user.sub, &[Method::Password], None).await?;
            tracing::info!(tenant = %door.tenant.id, sub = %user.sub, "password right, second factor asked");
            Ok(mfa_form(
                &state,
                &door,
                &headers,
                &token,
                mfa::offers(&state, &door.tenant.id, &user.sub).await?,
                None,
                StatusCode::OK,
            ))
        }
        Ok(user) => {
            let amr = keygate_core::amr::amr(&[Method::Password]);
            let cookie =
                accounts::start_session(&state, &door, &headers, &user.sub, crate::now(), &amr)
                    .await?;
            crate::events::signed_in(&state, &door, &user.sub, &amr, None).await;
            Ok(done(&door, "signed-in", &[cookie]))
        }
        Err(e) => {
            let status = match e {
                _ if e.retry_after().is_some() => StatusCode::TOO_MANY_REQUESTS,
                accounts::AccountError::Disabled => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut res = form(&state, &door, &headers, email, Some(&e.message()), status);
            if let Some(secs) = e.retry_after() {
                res.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, secs.into());
            }
            Ok(res)
        }
    }
}

/// The second step's form: the code of an authenticator app, or a
/// passkey, as the person has them.
fn mfa_form(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    token: &str,
    offers: mfa::Offers,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let (start, finish) = (
        door.url("/login/mfa/passkey/start"),
        door.url("/login/mfa/passkey/finish"),
    );
    let body = render::render(&MfaPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        client_name: "your account",
        action: &door.url("/account/sign-in/mfa"),
        request: "",
        csrf: &csrf,
        mfa_token: token,
        error,
        code: offers.code,
        passkey: offers.passkey.then(|| render::PasskeyBox {
            start: &start,
            finish: &finish,
        }),
        script: render::SCRIPT,
    });
    let res = render::html(status, body, cookie.as_slice());
    if offers.passkey {
        render::with_script(res)
    } else {
        res
    }
}

/// POST /account/sign-in/mfa: the second step, as at the sign-in of an
/// authorization request (`pages::login::post_mfa`).
pub(crate) async fn post_mfa(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let Ok(posted) = read_form(&state, req).await? else {
        let msg = "The form could not be read. Please sign in again.";
        return Ok(form(
            &state,
            &door,
            &headers,
            "",
            Some(msg),
            StatusCode::BAD_REQUEST,
        ));
    };
    let token = posted.get("mfa_token").unwrap_or("");
    let expired = "This sign-in expired. Please sign in again.";
    let Some(pending) = mfa::pending_person(&state, &door, token).await? else {
        return Ok(form(
            &state,
            &door,
            &headers,
            "",
            Some(expired),
            StatusCode::BAD_REQUEST,
        ));
    };
    let offers = mfa::offers(&state, &door.tenant.id, &pending.sub).await?;
    if !csrf_ok(&state, &headers, &posted) {
        let msg = "This form expired. Please try again.";
        return Ok(mfa_form(
            &state,
            &door,
            &headers,
            token,
            offers,
            Some(msg),
            StatusCode::BAD_REQUEST,
        ));
    }
    let code = posted.get("code").unwrap_or("");
    match mfa::check_code(&state, &door, &pending.sub, code).await? {
        Ok(factor) if mfa::finish_pending(&state, token).await? => {
            let amr = keygate_core::amr::amr(&pending.with(factor));
            let cookie =
                accounts::start_session(&state, &door, &headers, &pending.sub, crate::now(), &amr)
                    .await?;
            crate::events::signed_in(&state, &door, &pending.sub, &amr, None).await;
            Ok(done(&door, "signed-in", &[cookie]))
        }
        Ok(_) => Ok(form(
            &state,
            &door,
            &headers,
            "",
            Some(expired),
            StatusCode::BAD_REQUEST,
        )),
        Err(e) => {
            let status = if e.retry_after().is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let mut res = mfa_form(
                &state,
                &door,
                &headers,
                token,
                offers,
                Some(&e.message()),
                status,
            );
            if let Some(secs) = e.retry_after() {
                res.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, secs.into());
            }
            Ok(res)
        }
    }
}
