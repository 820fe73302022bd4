//! The sign-in page and its form.

use super::render::{self, LoginPage, MfaPage};
use super::{csrf_token, read_submission, request_query, signed_in, validate_request};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::mfa;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;
use keygate_core::model::{Client, Registration};
use keygate_core::params::Params;

/// The sign-in page, with a button per upstream identity provider.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn show(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let upstreams = super::federation::links(state, door, params).await?;
    Ok(show_with(
        state, door, headers, client, params, email, error, status, &upstreams,
    ))
}

/// [`show`] with the upstreams' links already read.
#[allow(clippy::too_many_arguments)]
pub(crate) fn show_with(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
    upstreams: &[render::UpstreamLink],
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let request = request_query(params);
    let passkeys = crate::passkeys::available(door);
    let (start, finish) = (
        door.url("/passkeys/sign-in/start"),
        door.url("/passkeys/sign-in/finish"),
    );
    let register_link = (door.tenant.registration == Registration::Open)
        .then(|| format!("{}?{}", door.url("/register"), request));
    let body = render::render(&LoginPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        client_name: &client.name,
        action: &door.url("/login"),
        request: &request,
        csrf: &csrf,
        email,
        register_link: register_link.as_deref(),
        forgot_link: &format!("{}?{}", door.url("/forgot-password"), request),
        error,
        passkey: passkeys.then(|| render::PasskeyBox {
            start: &start,
            finish: &finish,
        }),
        script: render::SCRIPT,
        upstreams,
    });
    let res = super::page_signing_in(status, body, cookie.as_slice(), params, client);
    if passkeys {
        render::with_script(res)
    } else {
        res
    }
}

/// GET /login?{authorization request}: the sign-in page on its own.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let params = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes());
    let (ar, client, params) = match validate_request(&state, &door, params).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    show(
        &state,
        &door,
        req.headers(),
        &client,
        &params,
        ar.login_hint.as_deref().unwrap_or(""),
        None,
        StatusCode::OK,
    )
    .await
}

/// POST /login: check the CSRF token and the credentials, start a session,
/// and send the code to the application.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let sub = match read_submission(&state, &door, req).await? {
        Ok(s) => s,
        Err(res) => return Ok(res),
    };
    let email = sub.form.get("email").unwrap_or("");
    let upstreams = super::federation::links(&state, &door, &sub.params).await?;
    let again = |message: &str, status: StatusCode| {
        show_with(
            &state,
            &door,
            &sub.headers,
            &sub.client,
            &sub.params,
            email,
            Some(message),
            status,
            &upstreams,
        )
    };
    if !sub.csrf_ok {
        return Ok(again(
            "This form expired. Please sign in again.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let password = sub.form.get("password").unwrap_or("");
    match accounts::sign_in(&state, &door, email, password).await? {
        // The right password, but the tenant requires a verified address.
        Ok(user) if crate::email_verification::blocks(&door, &user) => Ok(super::verify::pending(
            &state,
            &door,
            &sub.headers,
            &request_query(&sub.params),
            &user.email,
            false,
            StatusCode::FORBIDDEN,
        )),
        // The second factor, or its enrolment, may come next.
        Ok(user) => second_step(&state, &door, &sub, &user, &[Method::Password]).await,
        Err(e) if e.retry_after().is_some() => Ok(super::too_many(
            again(&e.message(), StatusCode::TOO_MANY_REQUESTS),
            e,
        )),
        Err(e @ accounts::AccountError::Disabled) => Ok(again(&e.message(), StatusCode::FORBIDDEN)),
        // Recorded as user.sign_in_failed by accounts::sign_in.
        Err(e) => Ok(again(&e.message(), StatusCode::UNAUTHORIZED)),
    }
}

/// After the first step (`methods`): the sign-in is done, or the person's
/// second factor is asked on a page carrying a single-use, short-lived
/// token, or they must enrol one first, or the request is refused.
pub(crate) async fn second_step(
    state: &AppState,
    door: &Door,
    sub: &super::Submission,
    user: &keygate_core::model::User,
    methods: &[Method],
) -> Result<Response, ApiError> {
    match mfa::second_step(state, door, Some(&sub.request), &user.sub).await? {
        mfa::SecondStep::None => signed_in(state, door, sub, &user.sub, methods).await,
        mfa::SecondStep::Ask => {
            let token = mfa::start_pending(state, door, &user.sub, methods, None).await?;
            tracing::info!(tenant = %door.tenant.id, sub = %user.sub, "first step right, second factor asked");
            Ok(show_mfa(
                state,
                door,
                &sub.headers,
                &sub.client,
                &sub.params,
                &token,
                mfa::offers(state, &door.tenant.id, &user.sub).await?,
                None,
                StatusCode::OK,
            ))
        }
        mfa::SecondStep::Enrol => {
            super::enrol::start(
                state,
                door,
                &sub.headers,
                &sub.client,
                &sub.params,
                &user.sub,
                &user.email,
                methods,
            )
            .await
        }
        mfa::SecondStep::Refuse => Ok(mfa::refuse(
            door,
            &sub.request,
            "a second factor is required and this tenant offers none",
        )),
    }
}

/// The second step's page: the code of an authenticator app, or a
/// passkey, as the person has them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn show_mfa(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    token: &str,
    offers: mfa::Offers,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let request = request_query(params);
    let (start, finish) = (
        door.url("/login/mfa/passkey/start"),
        door.url("/login/mfa/passkey/finish"),
    );
    let body = render::render(&MfaPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        client_name: &client.name,
        action: &door.url("/login/mfa"),
        request: &request,
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
    let res = super::page_signing_in(status, body, cookie.as_slice(), params, client);
    if offers.passkey {
        render::with_script(res)
    } else {
        res
    }
}

/// POST /login/mfa: the second step. The waiting sign-in (made by the
/// right password) must be known, unused and unexpired; a right code that
/// was not used before finishes it (once) and signs the person in.
pub(crate) async fn post_mfa(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let sub = match read_submission(&state, &door, req).await? {
        Ok(s) => s,
        Err(res) => return Ok(res),
    };
    let token = sub.form.get("mfa_token").unwrap_or("").to_string();
    let Some(pending) = mfa::pending_person(&state, &door, &token).await? else {
        return show(
            &state,
            &door,
            &sub.headers,
            &sub.client,
            &sub.params,
            "",
            Some("This sign-in expired. Please sign in again."),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let offers = mfa::offers(&state, &door.tenant.id, &pending.sub).await?;
    if !sub.csrf_ok {
        let msg = "This form expired. Please try again.";
        return Ok(show_mfa(
            &state,
            &door,
            &sub.headers,
            &sub.client,
            &sub.params,
            &token,
            offers,
            Some(msg),
            StatusCode::BAD_REQUEST,
        ));
    }
    let code = sub.form.get("code").unwrap_or("");
    match mfa::check_code(&state, &door, &pending.sub, code).await? {
        Ok(factor) if mfa::finish_pending(&state, &token).await? => {
            signed_in(&state, &door, &sub, &pending.sub, &pending.with(factor)).await
        }
        Ok(_) => {
            show(
                &state,
                &door,
                &sub.headers,
                &sub.client,
                &sub.params,
                "",
                Some("This sign-in expired. Please sign in again."),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) if e.retry_after().is_some() => Ok(super::too_many(
            show_mfa(
                &state,
                &door,
                &sub.headers,
                &sub.client,
                &sub.params,
                &token,
                offers,
                Some(&e.message()),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            e,
        )),
        Err(e) => Ok(show_mfa(
            &state,
            &door,
            &sub.headers,
            &sub.client,
            &sub.params,
            &token,
            offers,
            Some(&e.message()),
            StatusCode::UNAUTHORIZED,
        )),
    }
}
