//! `{issuer}/account`: the signed-in person's own page (docs/account.md):
//! profile, e-mail address, password, second factors (authenticator apps,
//! passkeys), where they are signed in. Later rooms (second
//! factors, connected applications, linked identities) are sections of the
//! same page, each with its own module here and its own form posting to
//! `{issuer}/account/...`.
//!
//! Every page needs the tenant's session cookie; without one the person is
//! led through `{issuer}/account/sign-in` and back. Every form carries the
//! CSRF token, and every change answers with a redirect back to the page
//! (so a reload never submits twice) naming a fixed notice.

pub(crate) mod apps;
pub(crate) mod contact;
pub(crate) mod email;
pub(crate) mod identities;
pub(crate) mod passkeys;
pub(crate) mod password;
pub(crate) mod recovery;
pub(crate) mod sessions;
pub(crate) mod sign_in;
pub(crate) mod totp;

use super::render::{self, CSS};
use super::{csrf_ok, csrf_token, read_form, see_other};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::model::User;
use keygate_core::params::Params;

/// The signed-in person of a request: the session's cookie hash and the
/// person (not disabled).
pub(crate) struct SignedIn {
    /// The SHA-256 of the session cookie (to mark "this browser").
    pub session_hash: String,
    /// The person the session is for.
    pub user: User,
    /// How the session was made (RFC 8176 values).
    pub amr: Vec<String>,
}

/// The signed-in person, or `None` (no session, an expired one, or a
/// person deleted or disabled since).
pub(crate) async fn signed_in(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, ApiError> {
    let Some((session_hash, session)) = accounts::current_session(state, door, headers).await?
    else {
        return Ok(None);
    };
    let user = state
        .store
        .get_user(&door.tenant.id, &session.user_sub)
        .await?;
    Ok(user.filter(|u| !u.disabled).map(|user| SignedIn {
        session_hash,
        user,
        amr: session.amr,
    }))
}

/// Where a request without a session goes: sign-in, then back here.
pub(crate) fn to_sign_in(door: &Door) -> Response {
    see_other(&door.url("/account/sign-in"), &[])
}

/// The notices a change redirects with (`?done=...`): fixed texts, so
/// nothing from the URL is ever shown.
fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "password" => Some("Your password was changed. Every other device was signed out."),
        "signed-in" => Some("You are signed in."),
        "totp-added" => Some("The authenticator app was added. Signing in now asks for a code from it."),
        "totp-removed" => Some("The authenticator app was removed."),
        "passkey-added" => Some("The passkey was added. You can sign in with it now."),
        "passkey-removed" => Some("The passkey was removed."),
        "app-revoked" => Some("The application's access was removed. It has to ask you again."),
        "contact" => Some("Your contact details were saved."),
        "identity-linked" => Some("The account was linked. You can sign in with it now."),
        "identity-removed" => Some("The linked account was removed. It no longer signs you in."),
        "identity-cancelled" => Some("Linking was cancelled: nothing was linked."),
        "email" => Some(
            "We sent a link to the new address. Your address changes when you open it; until then it stays as it is.",
        ),
        _ => None,
    }
}

/// One session as the page lists it.
pub(crate) struct SessionRow {
    /// Whether it is the session of the browser looking at the page.
    pub current: bool,
    /// When the person signed in (UTC).
    pub signed_in: String,
    /// The IP address it was started from.
    pub from: Option<String>,
    /// The browser's user agent.
    pub browser: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    name: Option<&'a str>,
    email: &'a str,
    email_verified: bool,
    csrf: &'a str,
    password_action: &'a str,
    email_action: &'a str,
    /// The telephone number, empty when none.
    phone_number: &'a str,
    /// Whether an operator verified the number.
    phone_number_verified: bool,
    /// The postal address (its parts empty when unknown).
    address: keygate_core::model::Address,
    contact_action: &'a str,
    /// The form that sends the verification message again, while the
    /// address is unverified and the tenant verifies addresses.
    resend_action: Option<&'a str>,
    sessions_action: &'a str,
    sessions: Vec<SessionRow>,
    totp_devices: Vec<totp::DeviceRow>,
    totp_new_action: &'a str,
    totp_remove_action: &'a str,
    passkeys: Vec<passkeys::PasskeyRow>,
    /// Whether passkeys can be added here (not on an IP-address issuer).
    passkeys_available: bool,
    passkey_start: &'a str,
    passkey_finish: &'a str,
    passkey_remove_action: &'a str,
    script: &'a str,
    /// Unused recovery codes, when the person has a second factor (else
    /// the section is not offered).
    recovery_left: Option<i64>,
    recovery_new_action: &'a str,
    /// Whether authenticator apps may be added (the tenant's `mfa` is not
    /// `off`).
    mfa_offered: bool,
    apps: Vec<apps::AppRow>,
    apps_revoke_action: &'a str,
    /// The upstream identities linked to the account.
    identities: Vec<identities::IdentityRow>,
    /// The tenant's upstreams, to link one more.
    upstreams: Vec<identities::LinkOffer>,
    identity_link_action: &'a str,
    identity_remove_action: &'a str,
}

/// A Unix time as the page shows it: `2026-12-07 15:02 UTC`.
pub(crate) fn when(t: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

/// Renders the page for `who`, with an optional error (status `status`).
pub(crate) async fn show(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (csrf, cookie) = csrf_token(state, headers);
    let sessions = state
        .store
        .sessions_of(&door.tenant.id, &who.user.sub, crate::now())
        .await?
        .into_iter()
        .map(|(hash, s)| SessionRow {
            current: hash == who.session_hash,
            signed_in: when(s.auth_time),
            from: s.ip,
            browser: s.user_agent,
        })
        .collect();
    let (identities, upstreams) = identities::rows(state, who).await?;
    let body = render::render(&AccountPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        notice,
        error,
        name: who.user.name.as_deref(),
        email: &who.user.email,
        email_verified: who.user.email_verified,
        csrf: &csrf,
        password_action: &door.url("/account/password"),
        email_action: &door.url("/account/email"),
        phone_number: who.user.phone_number.as_deref().unwrap_or(""),
        phone_number_verified: who.user.phone_number_verified,
        address: who.user.address.clone().unwrap_or_default(),
        contact_action: &door.url("/account/contact"),
        resend_action: (!who.user.email_verified
            && door.tenant.verify_email != keygate_core::model::VerifyEmail::Off)
            .then(|| door.url("/verify-email/resend"))
            .as_deref(),
        sessions_action: &door.url("/account/sessions/end"),
        sessions,
        totp_devices: totp::rows(state, who).await?,
        totp_new_action: &door.url("/account/totp/new"),
        totp_remove_action: &door.url("/account/totp/remove"),
        passkeys: passkeys::rows(state, who).await?,
        passkeys_available: crate::passkeys::available(door),
        passkey_start: &door.url("/account/passkeys/start"),
        passkey_finish: &door.url("/account/passkeys/finish"),
        passkey_remove_action: &door.url("/account/passkeys/remove"),
        script: render::SCRIPT,
        recovery_left: recovery::left(state, who).await?,
        recovery_new_action: &door.url("/account/recovery/new"),
        mfa_offered: door.tenant.mfa != keygate_core::model::MfaPolicy::Off,
        apps: apps::rows(state, who).await?,
        apps_revoke_action: &door.url("/account/apps/revoke"),
        identities,
        upstreams,
        identity_link_action: &door.url("/account/identities/link"),
        identity_remove_action: &door.url("/account/identities/remove"),
    });
    let res = render::html(status, body, cookie.as_slice());
    Ok(if crate::passkeys::available(door) {
        render::with_script(res)
    } else {
        res
    })
}

/// The signed-in person and their form with a valid CSRF token, or the
/// answer to give instead.
pub(crate) async fn read_signed_in_form(
    state: &AppState,
    door: &Door,
    req: Request,
) -> Result<Result<(HeaderMap, SignedIn, Params), Response>, ApiError> {
    let headers = req.headers().clone();
    let Some(who) = signed_in(state, door, &headers).await? else {
        return Ok(Err(to_sign_in(door)));
    };
    match read_form(state, req).await? {
        Ok(f) if csrf_ok(state, &headers, &f) => Ok(Ok((headers, who, f))),
        _ => Ok(Err(show(
            state,
            door,
            &headers,
            &who,
            None,
            Some(EXPIRED),
            StatusCode::BAD_REQUEST,
        )
        .await?)),
    }
}

/// GET /account.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let Some(who) = signed_in(&state, &door, req.headers()).await? else {
        return Ok(to_sign_in(&door));
    };
    let query = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes()).ok();
    let done = query.as_ref().and_then(|q| q.get("done"));
    // A person who came from the device page to sign in goes back to it
    // (docs/device-flow.md); every way of signing in ends here.
    if done == Some("signed-in") {
        if let Some(back) = crate::pages::device::take_return(&state, &door, req.headers()) {
            return Ok(back);
        }
    }
    let notice = notice(done);
    show(
        &state,
        &door,
        req.headers(),
        &who,
        notice,
        None,
        StatusCode::OK,
    )
    .await
}

/// Why a form of the page was refused: the message it shows, with its status.
type Refused = (String, StatusCode);

/// Reads a form of the page and checks its CSRF token and the person's
/// current password (`current_password`), exactly as at sign-in (the same
/// limits, so a form cannot be used to guess it).
async fn form_with_password(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    form: Result<Params, keygate_core::OAuthError>,
) -> Result<Result<Params, Refused>, ApiError> {
    let form = match form {
        Ok(f) if super::csrf_ok(state, headers, &f) => f,
        Ok(_) => return Ok(Err((EXPIRED.into(), StatusCode::BAD_REQUEST))),
        Err(e) => return Ok(Err((e.description.into_owned(), StatusCode::BAD_REQUEST))),
    };
    let current = form.get("current_password").unwrap_or("");
    Ok(
        match accounts::sign_in(state, door, &who.user.email, current).await? {
            Ok(_) => Ok(form),
            Err(accounts::AccountError::InvalidCredentials) => Err((
                "The current password is incorrect.".into(),
                StatusCode::UNAUTHORIZED,
            )),
            Err(e) if e.retry_after().is_some() => {
                Err((e.message(), StatusCode::TOO_MANY_REQUESTS))
            }
            Err(e) => Err((e.message(), StatusCode::FORBIDDEN)),
        },
    )
}

/// Answers a form of the page: back to the page with the notice `what` (and
/// `cookies`) when it was taken, or the page with why not.
async fn answer(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    what: &str,
    taken: Result<Vec<String>, Refused>,
) -> Result<Response, ApiError> {
    match taken {
        Ok(cookies) => Ok(done(door, what, &cookies)),
        Err((msg, status)) => show(state, door, headers, who, None, Some(&msg), status).await,
    }
}

/// The answer to a form without this browser's CSRF token.
const EXPIRED: &str = "This form expired. Please try again.";

/// Back to the page with a fixed notice, with optional cookies.
pub(crate) fn done(door: &Door, what: &str, cookies: &[String]) -> Response {
    see_other(&format!("{}?done={what}", door.url("/account")), cookies)
}
