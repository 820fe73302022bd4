//! Enrolment forced during sign-in: the tenant requires a second factor
//! (`--mfa required`), or the request or its client demands one, and the
//! person has none yet. After their password they add an authenticator app
//! on this page before the code goes to the application; the new app's
//! first code is the sign-in's second factor (docs/account.md, "Second
//! factors and policy").

use super::render::{self, CSS};
use super::{csrf_token, read_submission, request_query, signed_in, Submission};
use crate::door::Door;
use crate::error::ApiError;
use crate::mfa;
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;
use keygate_core::authorize::ResponseMode;
use keygate_core::model::Client;
use keygate_core::params::Params;
use keygate_store::TotpDevice;

#[derive(Template)]
#[template(path = "mfa_enrol.html")]
struct EnrolPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    client_name: &'a str,
    error: Option<&'a str>,
    qr_svg: &'a str,
    uri: &'a str,
    secret: &'a str,
    action: &'a str,
    request: &'a str,
    csrf: &'a str,
    mfa_token: &'a str,
    id: &'a str,
    name: &'a str,
}

/// Where a sign-in that must enrol goes after its first step: a waiting
/// sign-in (after `methods`) and a new unconfirmed app, on the page that
/// confirms it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    sub: &str,
    email: &str,
    methods: &[Method],
) -> Result<Response, ApiError> {
    let token = mfa::start_pending(state, door, sub, methods, None).await?;
    // A person with as many apps as allowed has a factor and is asked for
    // it instead; this only guards the page.
    let Some(device) = mfa::new_device(state, &door.tenant.id, sub).await? else {
        return Err(super::page_error(
            door,
            StatusCode::CONFLICT,
            "This account has as many authenticator apps as it may have.",
        ));
    };
    tracing::info!(tenant = %door.tenant.id, sub, "second factor required: enrolment asked at sign-in");
    let page = Shown {
        headers,
        client,
        params,
        token: &token,
        email,
    };
    page.render(
        state,
        door,
        &device,
        mfa::DEFAULT_NAME,
        None,
        StatusCode::OK,
    )
}

/// What every rendering of the page shares.
struct Shown<'a> {
    headers: &'a HeaderMap,
    client: &'a Client,
    params: &'a Params,
    token: &'a str,
    email: &'a str,
}

impl Shown<'_> {
    fn render(
        &self,
        state: &AppState,
        door: &Door,
        device: &TotpDevice,
        name: &str,
        error: Option<&str>,
        status: StatusCode,
    ) -> Result<Response, ApiError> {
        let secret = mfa::open(state, device)?;
        let uri = mfa::otpauth_uri(&door.tenant.display_name, self.email, &secret);
        let (csrf, cookie) = csrf_token(state, self.headers);
        let request = request_query(self.params);
        let body = render::render(&EnrolPage {
            css: CSS,
            tenant_name: &door.tenant.display_name,
            client_name: &self.client.name,
            error,
            qr_svg: &mfa::qr_svg(&uri),
            uri: &uri,
            secret: &mfa::base32(&secret),
            action: &door.url("/login/mfa/enrol"),
            request: &request,
            csrf: &csrf,
            mfa_token: self.token,
            id: &device.id,
            name,
        });
        Ok(super::page_signing_in(
            status,
            body,
            cookie.as_slice(),
            self.params,
            self.client,
        ))
    }
}

/// POST /login/mfa/enrol: the new app's first code. The waiting sign-in
/// must be live and the app its person's, unconfirmed; a right code
/// (attempts limited as at sign-in) confirms the app and finishes the
/// sign-in once.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let sub = match read_submission(&state, &door, req).await? {
        Ok(s) => s,
        Err(res) => return Ok(res),
    };
    let token = sub.form.get("mfa_token").unwrap_or("").to_string();
    let upstreams = super::federation::links(&state, &door, &sub.params).await?;
    let expired = |s: &Submission| {
        super::login::show_with(
            &state,
            &door,
            &s.headers,
            &s.client,
            &s.params,
            "",
            Some("This sign-in expired. Please sign in again."),
            StatusCode::BAD_REQUEST,
            &upstreams,
        )
    };
    let Some(pending) = mfa::pending_person(&state, &door, &token).await? else {
        return Ok(expired(&sub));
    };
    let id = sub.form.get("id").unwrap_or("");
    let Some(device) = mfa::unconfirmed_device(&state, &door.tenant.id, &pending.sub, id).await?
    else {
        return Ok(expired(&sub));
    };
    let Some(user) = state.store.get_user(&door.tenant.id, &pending.sub).await? else {
        return Ok(expired(&sub));
    };
    let name = mfa::device_name(sub.form.get("name").unwrap_or(""));
    let page = Shown {
        headers: &sub.headers,
        client: &sub.client,
        params: &sub.params,
        token: &token,
        email: &user.email,
    };
    if !sub.csrf_ok {
        let msg = "This form expired. Please try again.";
        return page.render(
            &state,
            &door,
            &device,
            &name,
            Some(msg),
            StatusCode::BAD_REQUEST,
        );
    }
    let code = sub.form.get("code").unwrap_or("");
    match mfa::confirm_device(&state, &door, &device, &name, code).await? {
        Ok(()) if mfa::finish_pending(&state, &token).await? => {
            let methods = pending.with(Method::Otp);
            // The person's first factor: their recovery codes, shown this
            // once, with a link that goes on to the application.
            if crate::recovery::remaining(&state, &door.tenant.id, &pending.sub).await? == 0 {
                // A third-party client's consent comes after the codes,
                // through /authorize with the new session.
                let (cookie, to) = if super::consent::needed(
                    &state,
                    &door,
                    &sub.client,
                    &sub.request,
                    &pending.sub,
                )
                .await?
                {
                    let amr = keygate_core::amr::amr(&methods);
                    let cookie = crate::accounts::start_session(
                        &state,
                        &door,
                        &sub.headers,
                        &pending.sub,
                        crate::accounts::now(),
                        &amr,
                    )
                    .await?;
                    let client = Some(sub.client.id.as_str());
                    crate::events::signed_in(&state, &door, &pending.sub, &amr, client).await;
                    let next = format!(
                        "{}?{}",
                        door.url("/authorize"),
                        super::request_query(&sub.params)
                    );
                    (cookie, Onward::Link(next))
                } else {
                    let (cookie, code) =
                        super::session_and_code(&state, &door, &sub, &pending.sub, &methods)
                            .await?;
                    let r = &sub.request;
                    let params = crate::accounts::code_params(&door, r, &code);
                    let onward = match r.response_mode {
                        ResponseMode::Query => Onward::Link(keygate_core::redirect::with_query(
                            &r.redirect_uri,
                            &params,
                        )),
                        ResponseMode::FormPost => {
                            Onward::Post(super::form_post::FormPost::new(&r.redirect_uri, &params))
                        }
                    };
                    (cookie, onward)
                };
                let codes = crate::recovery::issue(&state, &door.tenant.id, &pending.sub).await?;
                let notice = "The authenticator app was added. Keep these recovery codes: each signs you in once if you lose it.";
                let mut res = match &to {
                    Onward::Link(to) => {
                        super::account::recovery::codes_page(&door, &codes, Some(notice), to)
                    }
                    Onward::Post(post) => super::account::recovery::codes_page_posting(
                        &door,
                        &codes,
                        Some(notice),
                        post,
                    ),
                };
                if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
                    res.headers_mut().append(axum::http::header::SET_COOKIE, v);
                }
                return Ok(res);
            }
            signed_in(&state, &door, &sub, &pending.sub, &methods).await
        }
        Ok(()) => Ok(expired(&sub)),
        Err(e) => {
            let status = if e.retry_after().is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let res = page.render(&state, &door, &device, &name, Some(&e.message()), status)?;
            Ok(super::too_many(res, e))
        }
    }
}

/// Where the recovery codes page of a first enrolment goes on to.
enum Onward {
    /// A link: to the application with the code in the query, or back to
    /// /authorize (for the consent page).
    Link(String),
    /// A form posting the code to the application (`form_post` mode).
    Post(super::form_post::FormPost),
}
