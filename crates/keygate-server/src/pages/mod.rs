//! The hosted pages: /authorize (which shows sign-in when needed), sign-in,
//! registration and sign-out. Server-rendered; the only JavaScript is the
//! passkey ceremonies' one script ([`render::SCRIPT`]), on the pages that
//! offer passkeys, and the line that submits a `form_post` response
//! ([`form_post::SCRIPT`]).

pub(crate) mod account;
pub(crate) mod authorize;
pub(crate) mod consent;
pub(crate) mod device;
pub(crate) mod enrol;
pub(crate) mod federation;
pub(crate) mod form_post;
pub(crate) mod login;
pub(crate) mod register;
pub(crate) mod render;
pub(crate) mod reset;
pub(crate) mod signoff;
pub(crate) mod verify;

use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keygate_core::authorize::{
    self as az, AuthorizeError, AuthorizeRequest, ErrorRedirect, ResponseMode,
};
use keygate_core::model::Client;
use keygate_core::params::Params;
use keygate_core::OAuthError;

/// A 303 See Other to `to`, with optional cookies.
pub(crate) fn see_other(to: &str, cookies: &[String]) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Sends an authorization response's `params` to `redirect_uri` by the
/// request's response mode: a 303 to the URI with them in its query, or
/// the page that posts them ([`form_post`]); with `cookies` set.
pub(crate) fn respond(
    door: &Door,
    redirect_uri: &str,
    mode: ResponseMode,
    params: &[(&str, &str)],
    cookies: &[String],
) -> Response {
    match mode {
        ResponseMode::Query => see_other(
            &keygate_core::redirect::with_query(redirect_uri, params),
            cookies,
        ),
        ResponseMode::FormPost => form_post::page(
            door,
            form_post::FormPost::new(redirect_uri, params),
            cookies,
        ),
    }
}

/// Sends an authorization error back to the registered redirect URI.
pub(crate) fn error_redirect(door: &Door, e: &ErrorRedirect) -> Response {
    let mut params = vec![
        ("error", e.error.code.as_str()),
        ("error_description", &*e.error.description),
    ];
    if let Some(s) = &e.state {
        params.push(("state", s));
    }
    params.push(("iss", &door.issuer));
    respond(door, &e.redirect_uri, e.response_mode, &params, &[])
}

/// Sends a new authorization code to the application (RFC 6749 4.1.2).
pub(crate) fn send_code(
    door: &Door,
    req: &AuthorizeRequest,
    code: &str,
    cookies: &[String],
) -> Response {
    let params = crate::accounts::code_params(door, req, code);
    respond(door, &req.redirect_uri, req.response_mode, &params, cookies)
}

pub(crate) fn page_error(door: &Door, status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError::Page {
        status,
        tenant_name: door.tenant.display_name.clone(),
        message: message.into(),
    }
}

/// A validated authorization request with its client, or the response that
/// reports why it is not valid (a page, or a redirect to the application).
pub(crate) async fn validate_request(
    state: &AppState,
    door: &Door,
    params: Result<Params, OAuthError>,
) -> Result<Result<(AuthorizeRequest, Client, Params), Response>, ApiError> {
    let params = match params {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(page_error(
                door,
                StatusCode::BAD_REQUEST,
                format!("The request is malformed: {}.", e.description),
            )
            .into_response()))
        }
    };
    // A pushed request (RFC 9126): the request is the stored one, and
    // what the forms carry on is only `client_id` and `request_uri`, so the
    // browser never holds (or alters) the request itself.
    let (params, pushed) = match keygate_core::par::reference(&params) {
        Err(msg) => {
            return Ok(Err(
                page_error(door, StatusCode::BAD_REQUEST, msg).into_response()
            ))
        }
        Ok(None) => (params, None),
        Ok(Some(r)) => match pushed_request(state, door, r.client_id, r.request_uri).await? {
            Ok(found) => found,
            Err(msg) => {
                return Ok(Err(
                    page_error(door, StatusCode::BAD_REQUEST, msg).into_response()
                ))
            }
        },
    };
    let request_params = pushed.as_ref().map(|(p, _)| p).unwrap_or(&params);
    let client = match request_params.get("client_id") {
        Some(id) => state.client(&door.tenant.id, id).await?,
        None => None,
    };
    let api = state.named_api(&door.tenant.id, request_params).await?;
    match az::validate(request_params, client.as_ref(), api.as_ref()) {
        Ok(mut req) => {
            let client = client.expect("validated requests have a client");
            if let Err(error) = keygate_core::par::must_push(&client, pushed.is_some()) {
                return Ok(Err(error_redirect(door, &req.error_redirect(error))));
            }
            req.pushed = pushed.map(|(_, hash)| hash);
            Ok(Ok((req, client, params)))
        }
        Err(AuthorizeError::Page(msg)) => Ok(Err(
            page_error(door, StatusCode::BAD_REQUEST, msg).into_response()
        )),
        Err(AuthorizeError::Redirect(e)) => Ok(Err(error_redirect(door, &e))),
    }
}

/// The pushed request `request_uri` names, opened for the length of a
/// sign-in: the parameters to carry (`client_id` and `request_uri`), and
/// the stored request with the SHA-256 of its `request_uri`. An error
/// message for the page when it is unknown, expired, used or another
/// client's.
async fn pushed_request(
    state: &AppState,
    door: &Door,
    client_id: &str,
    request_uri: &str,
) -> Result<Result<(Params, Option<(Params, String)>), String>, ApiError> {
    use keygate_core::par;
    let hash = keygate_crypto::secrets::sha256_hex(request_uri);
    let now = crate::now();
    let Some(stored) = state
        .store
        .open_pushed_request(&hash, &door.tenant.id, client_id, now, now + par::OPEN_FOR)
        .await?
    else {
        return Ok(Err("The request_uri is unknown, expired or already used: \
             go back to the application and start again."
            .into()));
    };
    let request = match par::resolve(&stored.params, client_id) {
        Ok(p) => p,
        Err(msg) => return Ok(Err(msg)),
    };
    let carried = Params::from_pairs(vec![
        ("client_id".into(), client_id.into()),
        ("request_uri".into(), request_uri.into()),
    ])
    .expect("two distinct names");
    Ok(Ok((carried, Some((request, hash)))))
}

/// The authorization request as a query string, carried through the forms.
pub(crate) fn request_query(p: &Params) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in p.iter() {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The browser's CSRF token, or a new one with the cookie that sets it.
pub(crate) fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let https = state.config.https();
    let name = cookies::csrf_name(https);
    match cookies::read(headers, &name).filter(|v| v.len() >= 32 && v.len() <= 64) {
        Some(v) => (v, None),
        None => {
            let v = keygate_crypto::secrets::new_secret();
            let cookie = cookies::set(https, &name, &v, None);
            (v, Some(cookie))
        }
    }
}

/// Whether a submitted form carries the browser's CSRF token (double submit,
/// compared in constant time).
pub(crate) fn csrf_ok(state: &AppState, headers: &HeaderMap, form: &Params) -> bool {
    let cookie = cookies::read(headers, &cookies::csrf_name(state.config.https()));
    match (cookie, form.get("csrf")) {
        (Some(c), Some(f)) => keygate_crypto::secrets::ct_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
}

/// Reads an urlencoded form body (bounded).
pub(crate) async fn read_form(
    state: &AppState,
    req: axum::extract::Request,
) -> Result<Result<Params, OAuthError>, ApiError> {
    let bytes = crate::http::body::read_limited(req, state.config.max_body_bytes).await?;
    Ok(Params::from_urlencoded(&bytes))
}

/// A posted form of a page outside an authorization request (reset,
/// verification): the request's headers and the form, or an error page for
/// a body that cannot be read.
pub(crate) async fn read_page_form(
    state: &AppState,
    door: &Door,
    req: axum::extract::Request,
) -> Result<(HeaderMap, Params), ApiError> {
    let headers = req.headers().clone();
    let form = read_form(state, req)
        .await?
        .map_err(|e| page_error(door, StatusCode::BAD_REQUEST, e.description))?;
    Ok((headers, form))
}

/// A submitted sign-in or registration form, with the authorization
/// request it carries validated again.
pub(crate) struct Submission {
    pub headers: HeaderMap,
    pub form: Params,
    pub request: AuthorizeRequest,
    pub client: Client,
    pub params: Params,
    /// Whether the form carries this browser's CSRF token.
    pub csrf_ok: bool,
}

/// Reads a posted form; `Err(response)` when its authorization request is
/// no longer valid (answered as /authorize would).
pub(crate) async fn read_submission(
    state: &AppState,
    door: &Door,
    req: axum::extract::Request,
) -> Result<Result<Submission, Response>, ApiError> {
    let headers = req.headers().clone();
    let form = read_form(state, req)
        .await?
        .map_err(|e| page_error(door, StatusCode::BAD_REQUEST, e.description))?;
    let inner = Params::from_urlencoded(form.get("request").unwrap_or("").as_bytes());
    let (request, client, params) = match validate_request(state, door, inner).await? {
        Ok(v) => v,
        Err(res) => return Ok(Err(res)),
    };
    let csrf_ok = csrf_ok(state, &headers, &form);
    Ok(Ok(Submission {
        headers,
        form,
        request,
        client,
        params,
        csrf_ok,
    }))
}

/// A person just proved who they are by `methods`: a new session, then
/// the code goes to the application.
pub(crate) async fn signed_in(
    state: &AppState,
    door: &Door,
    s: &Submission,
    user_sub: &str,
    methods: &[keygate_core::amr::Method],
) -> Result<Response, ApiError> {
    // A third-party client asks first: the session starts, the consent
    // page comes with it.
    if consent::needed(state, door, &s.client, &s.request, user_sub).await? {
        let amr = keygate_core::amr::amr(methods);
        crate::events::signed_in(state, door, user_sub, &amr, Some(&s.client.id)).await;
        let cookie = crate::accounts::start_session(
            state,
            door,
            &s.headers,
            user_sub,
            crate::accounts::now(),
            &amr,
        )
        .await?;
        let Some(user) = state.store.get_user(&door.tenant.id, user_sub).await? else {
            return Err(page_error(
                door,
                StatusCode::BAD_REQUEST,
                "This account no longer exists.",
            ));
        };
        return consent::page(
            state,
            door,
            &s.headers,
            &s.client,
            &s.params,
            &s.request,
            &user,
            &[cookie],
        )
        .await;
    }
    let (cookie, code) = session_and_code(state, door, s, user_sub, methods).await?;
    Ok(send_code(door, &s.request, &code, &[cookie]))
}

/// What [`signed_in`] does before it answers: the new session's cookie
/// and the code for the application.
pub(crate) async fn session_and_code(
    state: &AppState,
    door: &Door,
    s: &Submission,
    user_sub: &str,
    methods: &[keygate_core::amr::Method],
) -> Result<(String, String), ApiError> {
    let auth_time = crate::accounts::now();
    let amr = keygate_core::amr::amr(methods);
    let (cookie, sid) =
        crate::accounts::open_session(state, door, &s.headers, user_sub, auth_time, &amr).await?;
    crate::events::signed_in(state, door, user_sub, &amr, Some(&s.client.id)).await;
    let (code, _) = crate::accounts::issue_code(
        state,
        door,
        &s.request,
        user_sub,
        auth_time,
        &amr,
        Some(&sid),
        false,
    )
    .await?;
    Ok((cookie, code))
}

/// A page refusing a rate-limited attempt gets its `Retry-After`.
pub(crate) fn too_many(
    mut res: axum::response::Response,
    e: crate::accounts::AccountError,
) -> axum::response::Response {
    if let Some(secs) = e.retry_after() {
        res.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
    }
    res
}

/// A sign-in or registration page: its form's answer may redirect to the
/// client's redirect URI, so that URI's origin joins `form-action`.
fn page_signing_in(
    status: axum::http::StatusCode,
    body: String,
    cookies: &[String],
    params: &keygate_core::params::Params,
    client: &keygate_core::model::Client,
) -> axum::response::Response {
    let target = keygate_core::authorize::resolve_redirect_uri(params, client).ok();
    render::html_posting_to(
        status,
        body,
        cookies,
        target.as_ref().map(|(uri, _)| uri.as_str()),
    )
}
