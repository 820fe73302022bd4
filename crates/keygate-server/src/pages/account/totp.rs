//! The account page's "Authenticator apps" section (docs/account.md,
//! "Authenticator apps (TOTP)"): add one (POST /account/totp/new shows its
//! QR code and `otpauth://` URI; POST /account/totp/confirm takes its first
//! code; the first one also shows new recovery codes), list them, and
//! remove one (POST /account/totp/remove; the last one takes the recovery
//! codes with it).

use super::recovery as recovery_page;
use super::{done, show, SignedIn};
use crate::door::Door;
use crate::error::ApiError;
use crate::mfa;
use crate::pages::csrf_token;
use crate::pages::render::{self, CSS};
use crate::recovery;
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_store::TotpDevice;

/// A confirmed authenticator app as the account page lists it.
pub(crate) struct DeviceRow {
    /// Its id (the remove form's).
    pub id: String,
    /// The name the person gave it.
    pub name: String,
    /// When it was added (UTC).
    pub added: String,
}

/// The person's confirmed authenticator apps, as the page lists them.
pub(crate) async fn rows(state: &AppState, who: &SignedIn) -> Result<Vec<DeviceRow>, ApiError> {
    Ok(
        mfa::confirmed_devices(state, &who.user.tenant_id, &who.user.sub)
            .await?
            .into_iter()
            .map(|d| DeviceRow {
                id: d.id,
                name: d.name,
                added: super::when(d.created_at),
            })
            .collect(),
    )
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
struct EnrolPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    error: Option<&'a str>,
    qr_svg: &'a str,
    uri: &'a str,
    secret: &'a str,
    csrf: &'a str,
    id: &'a str,
    name: &'a str,
    action: &'a str,
    back: &'a str,
}

/// The page of an unconfirmed device: its QR code, URI and the code form.
#[allow(clippy::too_many_arguments)]
fn enrol_page(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    device: &TotpDevice,
    name: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let secret = mfa::open(state, device)?;
    let uri = mfa::otpauth_uri(&door.tenant.display_name, &who.user.email, &secret);
    let (csrf, cookie) = csrf_token(state, headers);
    let body = render::render(&EnrolPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        error,
        qr_svg: &mfa::qr_svg(&uri),
        uri: &uri,
        secret: &mfa::base32(&secret),
        csrf: &csrf,
        id: &device.id,
        name,
        action: &door.url("/account/totp/confirm"),
        back: &door.url("/account"),
    });
    Ok(render::html(status, body, cookie.as_slice()))
}

/// POST /account/totp/new: a new unconfirmed device with a fresh secret.
pub(crate) async fn new(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, who, _) = match super::read_signed_in_form(&state, &door, req).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    if door.tenant.mfa == keygate_core::model::MfaPolicy::Off {
        let msg = "Two-step verification is turned off for this organisation.";
        return show(
            &state,
            &door,
            &headers,
            &who,
            None,
            Some(msg),
            StatusCode::CONFLICT,
        )
        .await;
    }
    // At most one unconfirmed app per person (an earlier one is replaced)
    // and a bounded number of confirmed ones, so the rows stay few.
    let Some(device) = mfa::new_device(&state, &door.tenant.id, &who.user.sub).await? else {
        let msg = "You have as many authenticator apps as an account may have. Remove one first.";
        return show(
            &state,
            &door,
            &headers,
            &who,
            None,
            Some(msg),
            StatusCode::CONFLICT,
        )
        .await;
    };
    enrol_page(
        &state,
        &door,
        &headers,
        &who,
        &device,
        mfa::DEFAULT_NAME,
        None,
        StatusCode::OK,
    )
}

/// POST /account/totp/confirm: the first code of an unconfirmed device.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, who, form) = match super::read_signed_in_form(&state, &door, req).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let id = form.get("id").unwrap_or("");
    let device = mfa::unconfirmed_device(&state, &door.tenant.id, &who.user.sub, id).await?;
    let Some(device) = device else {
        let msg = "This authenticator app could not be added. Please add it again.";
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
    };
    let name = mfa::device_name(form.get("name").unwrap_or(""));
    let code = form.get("code").unwrap_or("");
    if let Err(e) = mfa::confirm_device(&state, &door, &device, &name, code).await? {
        let status = if e.retry_after().is_some() {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return enrol_page(
            &state,
            &door,
            &headers,
            &who,
            &device,
            &name,
            Some(&e.message()),
            status,
        );
    }
    // The first factor (no unused recovery codes yet): the codes, shown
    // this once, in place of the redirect.
    if recovery::remaining(&state, &door.tenant.id, &who.user.sub).await? == 0 {
        let codes = recovery::issue(&state, &door.tenant.id, &who.user.sub).await?;
        let notice = "The authenticator app was added. Signing in now asks for a code from it.";
        return Ok(recovery_page::codes_page(
            &door,
            &codes,
            Some(notice),
            &door.url("/account"),
        ));
    }
    Ok(done(&door, "totp-added", &[]))
}

/// POST /account/totp/remove: removes one of the person's devices.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (_, who, form) = match super::read_signed_in_form(&state, &door, req).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let id = form.get("id").unwrap_or("");
    // Ids are printable; another is no device (and PostgreSQL would refuse
    // a NUL in text).
    let plausible = !id.chars().any(char::is_control);
    if plausible
        && state
            .store
            .delete_totp_device(&door.tenant.id, &who.user.sub, id)
            .await?
    {
        tracing::info!(tenant = %door.tenant.id, sub = %who.user.sub, device = %id, "authenticator app removed");
        let detail = serde_json::json!({"method": "otp", "id": id});
        crate::events::by_user(&state, &door, "user.factor_removed", &who.user.sub, detail).await;
        // Recovery codes are no factor of their own: they go with the last.
        recovery::forget_without_factor(&state, &door.tenant.id, &who.user.sub).await?;
    }
    Ok(done(&door, "totp-removed", &[]))
}
