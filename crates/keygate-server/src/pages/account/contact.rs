//! POST /account/contact: the person's telephone number and postal address
//! (the `phone_number` and `address` claims, docs/account.md "Contact
//! details").
//!
//! No password is asked: these are details the person volunteers for
//! applications, and nothing signs in with them. A changed number is no
//! longer verified (only an operator can mark a number verified); an empty
//! field removes that detail.

use super::{answer, signed_in, to_sign_in, Refused, SignedIn, EXPIRED};
use crate::door::Door;
use crate::error::ApiError;
use crate::pages::{csrf_ok, read_form};
use crate::provisioning::{self as provision, AddressFields, Front};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::params::Params;
use keygate_core::OAuthError;

/// POST /account/contact.
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
    answer(&state, &door, &headers, &who, "contact", taken).await
}

/// The form's value of `name`, `None` when empty.
fn field(form: &Params, name: &str) -> Option<String> {
    form.get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Checks the form and stores the details, or says why not.
async fn change(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    form: Result<Params, OAuthError>,
) -> Result<Result<Vec<String>, Refused>, ApiError> {
    let form = match form {
        Ok(f) if csrf_ok(state, headers, &f) => f,
        Ok(_) => return Ok(Err((EXPIRED.into(), StatusCode::BAD_REQUEST))),
        Err(e) => return Ok(Err((e.description.into_owned(), StatusCode::BAD_REQUEST))),
    };
    let address = AddressFields {
        formatted: None,
        street_address: field(&form, "street_address"),
        locality: field(&form, "locality"),
        region: field(&form, "region"),
        postal_code: field(&form, "postal_code"),
        country: field(&form, "country"),
    };
    // The form shows no `formatted` field: keep the one an operator set
    // while the parts stay as they were.
    let stored: AddressFields = who.user.address.clone().map(Into::into).unwrap_or_default();
    let parts_unchanged = AddressFields {
        formatted: None,
        ..stored.clone()
    } == address;
    let address = AddressFields {
        formatted: stored.formatted.filter(|_| parts_unchanged),
        ..address
    };
    let patch = provision::UserPatch {
        // `update_user` unverifies a number that changed.
        phone_number: Some(field(&form, "phone_number")),
        address: Some(Some(address)),
        ..provision::UserPatch::default()
    };
    match provision::update_user(state.store.as_ref(), &door.tenant.id, &who.user.sub, &patch).await
    {
        Ok(_) => {
            tracing::info!(tenant = %door.tenant.id, sub = %who.user.sub, "contact details changed on the account page");
            Ok(Ok(Vec::new()))
        }
        Err(provision::ProvisionError::Store(e)) => Err(e.into()),
        Err(e) => Ok(Err((contact_message(&e), StatusCode::BAD_REQUEST))),
    }
}

/// The refusal as the page says it: the field by its label.
fn contact_message(e: &provision::ProvisionError) -> String {
    let m = e.describe(Front::Api);
    if let Some(rest) = m.strip_prefix("phone_number: ") {
        format!("Phone number: {rest}")
    } else if let Some(rest) = m.strip_prefix("address: address.") {
        format!("Address: {rest}")
    } else {
        m
    }
}
