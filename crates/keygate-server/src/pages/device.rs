//! `{issuer}/device`, the verification page of the device authorization
//! grant (RFC 8628 3.3): a person enters the user code their device shows
//! (`verification_uri_complete` pre-fills it), signs in, and is asked
//! whether to allow the client what it asks for.
//!
//! - GET only shows the form (pre-filled from `?user_code=`); nothing is
//!   looked up, so the per-IP limit on wrong codes cannot be bypassed.
//! - POST looks the code up. Every wrong, expired or already answered code
//!   counts against the client IP's limit (`device_ip_limit`, RFC 8628
//!   5.1); a right one gives its attempt back.
//! - Without a session the person goes through the hosted sign-in
//!   (`/account/sign-in`, with its second factor) and comes back here with
//!   the code pre-filled: a short-lived cookie holds the code meanwhile
//!   ([`take_return`]).
//! - With a session the confirmation page names the client, the person's
//!   account and what the client asks for, with Allow and Deny (RFC 8628
//!   5.4: always asked, first-party clients too, so a code someone else
//!   sent cannot be approved unseen). What a person allows a third-party
//!   client is kept as consent (docs/apis.md), as on the consent page.
//!
//! Every form carries the CSRF token.

use super::render::{self, ConfirmForm, MessagePage, CSS};
use super::{csrf_ok, csrf_token, page_error, read_page_form, see_other};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::amr_is_multi_factor;
use keygate_core::device::{
    answerable, display_user_code, normalize_user_code, DeviceAuthorization, DEVICE_CODE_TTL,
};
use keygate_core::model::{Client, Grant, MfaPolicy, Session, User};
use keygate_core::params::Params;

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    action: &'a str,
    csrf: &'a str,
    user_code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_confirm.html")]
struct ConfirmPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    client_name: &'a str,
    email: &'a str,
    user_code: &'a str,
    scopes: Vec<String>,
    action: &'a str,
    csrf: &'a str,
    account_link: &'a str,
}

const WRONG_CODE: &str =
    "That code is not valid, or it has expired. Check the code your device shows and try again.";

/// The form, pre-filled with `user_code`, with an optional error.
fn entry(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    user_code: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let body = render::render(&EntryPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        action: &door.url("/device"),
        csrf: &csrf,
        user_code,
        error,
    });
    render::html(status, body, cookie.as_slice())
}

/// A code as the form shows it again: its printed form when it can be a
/// code, else nothing (a person retypes it).
fn shown(typed: &str) -> String {
    normalize_user_code(typed)
        .map(|c| display_user_code(&c))
        .unwrap_or_default()
}

/// GET /device: the form, pre-filled from `?user_code=` (nothing is looked
/// up: that is the POST's, within the per-IP limit).
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let query = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes()).ok();
    let typed = query
        .as_ref()
        .and_then(|q| q.get("user_code"))
        .unwrap_or("");
    Ok(entry(
        &state,
        &door,
        req.headers(),
        &shown(typed),
        None,
        StatusCode::OK,
    ))
}

/// POST /device: the code, then (signed in) the confirmation page, then
/// the person's answer.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, form) = read_page_form(&state, &door, req).await?;
    let typed = form.get("user_code").unwrap_or("");
    if !csrf_ok(&state, &headers, &form) {
        let msg = "This form expired. Please try again.";
        return Ok(entry(
            &state,
            &door,
            &headers,
            &shown(typed),
            Some(msg),
            StatusCode::BAD_REQUEST,
        ));
    }
    let (code, device_hash, device) = match look_up(&state, &door, typed).await? {
        Lookup::Found(code, device_hash, device) => (code, device_hash, device),
        Lookup::Wrong => return Ok(refused(&state, &door, &headers, typed, None)),
        Lookup::Blocked(secs) => return Ok(refused(&state, &door, &headers, typed, Some(secs))),
    };
    let Some(client) = state.client(&door.tenant.id, &device.client_id).await? else {
        return Err(page_error(
            &door,
            StatusCode::BAD_REQUEST,
            "The application of this device no longer exists.",
        ));
    };
    let Some((session, user)) = signed_in(&state, &door, &headers).await? else {
        // Sign in first, then back here with the code (see `take_return`).
        let https = state.config.https();
        let cookie = cookies::set(
            https,
            &return_cookie(https, &door.tenant.id),
            &code,
            Some(DEVICE_CODE_TTL),
        );
        return Ok(see_other(&door.url("/account/sign-in"), &[cookie]));
    };
    if let Some(why) = cannot_allow(&door, &client, &session, &user) {
        return Err(page_error(&door, StatusCode::FORBIDDEN, why));
    }
    match form.get("decision") {
        None => confirm(&state, &door, &headers, &client, &device, &user, &code).await,
        Some("allow") => allow(&state, &door, &client, &device_hash, &device, &session).await,
        Some("deny") => deny(&state, &door, &device_hash, &session).await,
        Some(_) => Err(page_error(
            &door,
            StatusCode::BAD_REQUEST,
            "Choose Allow or Deny.",
        )),
    }
}

/// What a typed code found.
enum Lookup {
    /// A device authorization this door's person may answer: the
    /// normalized code, the device code's hash, the record.
    Found(String, String, Box<DeviceAuthorization>),
    /// No such code here, or expired, or answered already (counted).
    Wrong,
    /// The IP is blocked for this many seconds (nothing looked up).
    Blocked(i64),
}

/// The device authorization a typed code names, if it can still be
/// answered at this door, within the per-IP limit on wrong codes: a right
/// code gives its attempt back, a wrong one counts.
async fn look_up(state: &AppState, door: &Door, typed: &str) -> Result<Lookup, ApiError> {
    let key = crate::limits::device_ip_key(door.client_ip);
    let policy = &state.config.device_ip_limit;
    let count = match crate::limits::reserve(state, &key, policy).await? {
        Ok(count) => count,
        Err(secs) => return Ok(Lookup::Blocked(secs)),
    };
    let now = crate::now();
    let found = match crate::device::typed_code_hash(state, typed) {
        Some((code, hash)) => state
            .store
            .device_authorization_by_user_code(&hash)
            .await?
            .filter(|(_, d)| answerable(d, &door.tenant.id, now))
            .map(|(device_hash, d)| (code, device_hash, d)),
        None => None,
    };
    Ok(match found {
        Some((code, device_hash, d)) => {
            state.store.release_attempt(&key, policy).await?;
            Lookup::Found(code, device_hash, Box::new(d))
        }
        None => {
            state.store.attempt_failed(&key, count, now, policy).await?;
            tracing::info!(tenant = %door.tenant.id, "device page: wrong or expired user code");
            Lookup::Wrong
        }
    })
}

/// The answer to a wrong code: the form again, or 429 with `Retry-After`
/// while the IP is blocked.
fn refused(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    typed: &str,
    blocked: Option<i64>,
) -> Response {
    let Some(secs) = blocked else {
        return entry(
            state,
            door,
            headers,
            &shown(typed),
            Some(WRONG_CODE),
            StatusCode::BAD_REQUEST,
        );
    };
    let msg = "Too many wrong codes from your network. Please wait a while and try again.";
    let mut res = entry(
        state,
        door,
        headers,
        &shown(typed),
        Some(msg),
        StatusCode::TOO_MANY_REQUESTS,
    );
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs.max(1)),
    );
    res
}

/// The session and its person (not disabled), if signed in.
async fn signed_in(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
) -> Result<Option<(Session, User)>, ApiError> {
    let Some((_, session)) = accounts::current_session(state, door, headers).await? else {
        return Ok(None);
    };
    let user = state
        .store
        .get_user(&door.tenant.id, &session.user_sub)
        .await?;
    Ok(user.filter(|u| !u.disabled).map(|u| (session, u)))
}

/// Why this person may not allow this client now, if they may not: the
/// same rules as /authorize (a verified address where the tenant requires
/// one; a second factor where the tenant or the client requires one).
fn cannot_allow(
    door: &Door,
    client: &Client,
    session: &Session,
    user: &User,
) -> Option<&'static str> {
    if crate::email_verification::blocks(door, user) {
        return Some("Verify your e-mail address first: open the link we sent you, then enter the code again.");
    }
    let needs_mfa = door.tenant.mfa == MfaPolicy::Required || client.require_mfa;
    if needs_mfa && !amr_is_multi_factor(&session.amr) {
        return Some("This application needs a sign-in with a second factor. Add an authenticator app or a passkey on your account page, sign out, sign in again with it, then enter the code again.");
    }
    None
}

/// The confirmation page: the client, the account, the scopes.
async fn confirm(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    device: &DeviceAuthorization,
    user: &User,
    code: &str,
) -> Result<Response, ApiError> {
    let api_name = match &device.resource {
        Some(id) => state.api(&door.tenant.id, id).await?.map(|a| a.name),
        None => None,
    };
    let mut scopes: Vec<String> = keygate_core::device::asked_scopes(device)
        .into_iter()
        .map(|s| super::consent::describe(s, api_name.as_deref()))
        .collect();
    if scopes.is_empty() {
        scopes.push("Act on your behalf".into());
    }
    let (csrf, cookie) = csrf_token(state, headers);
    let body = render::render(&ConfirmPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        client_name: &client.name,
        email: &user.email,
        user_code: &display_user_code(code),
        scopes,
        action: &door.url("/device"),
        csrf: &csrf,
        account_link: &door.url("/account"),
    });
    tracing::info!(tenant = %door.tenant.id, sub = %user.sub, client_id = %client.id, "device authorization asked");
    Ok(render::html(StatusCode::OK, body, cookie.as_slice()))
}

/// "Allow": the grant the device's next poll redeems, stored with the
/// answer in one write (which a concurrent answer may have beaten).
async fn allow(
    state: &AppState,
    door: &Door,
    client: &Client,
    device_hash: &str,
    device: &DeviceAuthorization,
    session: &Session,
) -> Result<Response, ApiError> {
    let now = crate::now();
    let tenant = door.tenant.id.as_str();
    let sub = session.user_sub.as_str();
    let multi_factor = amr_is_multi_factor(&session.amr);
    let grant = Grant {
        id: keygate_crypto::secrets::new_ordered_id(),
        tenant_id: tenant.to_string(),
        client_id: client.id.clone(),
        user_sub: sub.to_string(),
        scope: device.scope.clone(),
        auth_time: session.auth_time,
        nonce: None,
        code_challenge: None,
        code_challenge_method: None,
        redirect_uri: String::new(),
        redirect_uri_sent: false,
        created_at: now,
        // The grant's code lives as long as the device code that redeems it.
        code_expires_at: device.expires_at,
        code_consumed_at: None,
        revoked_at: None,
        amr: session.amr.clone(),
        acr: multi_factor.then(|| keygate_core::amr::MFA.to_string()),
        resource: device.resource.clone(),
        claims: Default::default(),
        dpop_jkt: None,
        // The device is not the browser that approved it: ending this
        // browser's session does not sign the device out (docs/logout.md).
        session: None,
    };
    let earlier = state
        .store
        .consent(
            tenant,
            sub,
            &client.id,
            device.resource.as_deref().unwrap_or(""),
        )
        .await?;
    let code_hash = crate::device::grant_code_hash(device_hash);
    if !state
        .store
        .approve_device(device_hash, &grant, &code_hash, now)
        .await?
    {
        return Ok(outcome(
            door,
            "This code was already used",
            "This code was answered already, or it expired. Start again on your device.",
            true,
        ));
    }
    if let Some(consent) =
        keygate_core::device::consent_to_store(client, device, sub, earlier.as_ref(), now)
    {
        state.store.save_consent(&consent).await?;
        let detail =
            serde_json::json!({"client_id": client.id, "scopes": consent.scopes, "device": true});
        crate::events::by_user(state, door, "user.consent_granted", sub, detail).await;
    }
    accounts::mark_used(state, door, &client.id).await?;
    tracing::info!(tenant, sub, client_id = %client.id, grant = %grant.id, "device authorization allowed");
    Ok(outcome(
        door,
        "Device connected",
        "You can go back to your device: it will finish signing in by itself in a few seconds.",
        false,
    ))
}

/// "Deny": the device's next poll gets `access_denied`.
async fn deny(
    state: &AppState,
    door: &Door,
    device_hash: &str,
    session: &Session,
) -> Result<Response, ApiError> {
    let denied = state
        .store
        .deny_device(device_hash, &session.user_sub, crate::now())
        .await?;
    if !denied {
        return Ok(outcome(
            door,
            "This code was already used",
            "This code was answered already, or it expired.",
            true,
        ));
    }
    tracing::info!(tenant = %door.tenant.id, sub = %session.user_sub, "device authorization denied");
    Ok(outcome(
        door,
        "Request denied",
        "The device was not connected to your account. You can close this page.",
        false,
    ))
}

/// A page that ends the flow.
fn outcome(door: &Door, heading: &str, message: &str, is_error: bool) -> Response {
    let body = render::render(&MessagePage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        heading,
        message,
        is_error,
        confirm: None::<ConfirmForm>,
    });
    let status = if is_error {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    render::html(status, body, &[])
}

/// The cookie that holds a user code while its person signs in.
fn return_cookie(https: bool, tenant: &str) -> String {
    let name = cookies::session_name(https, tenant);
    name.replacen("kg_session_", "kg_device_", 1)
}

/// Where a person who just signed in goes when they came from the device
/// page: back to it, the code pre-filled (the code is checked again
/// there, within the limit), with the cookie cleared. `None` when they
/// did not come from it.
pub(crate) fn take_return(state: &AppState, door: &Door, headers: &HeaderMap) -> Option<Response> {
    let https = state.config.https();
    let name = return_cookie(https, &door.tenant.id);
    let code = cookies::read(headers, &name).and_then(|c| normalize_user_code(&c))?;
    let to = format!(
        "{}?user_code={}",
        door.url("/device"),
        display_user_code(&code)
    );
    Some(see_other(&to, &[cookies::clear(https, &name)]))
}
