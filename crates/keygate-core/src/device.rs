//! The device authorization grant (RFC 8628): the request a device makes,
//! the user code a person types on another screen, and what each poll of
//! the token endpoint is answered.
//!
//! A device asks `POST {issuer}/device_authorization` for a pair of codes
//! (3.1, 3.2): the `device_code`, 256 random bits it polls the token
//! endpoint with, and the `user_code`, short enough to type, that the
//! person enters at `{issuer}/device`. The person signs in there, is shown
//! which client asks for what, and allows or denies (5.4: always asked,
//! so a code sent by someone else cannot be approved unseen). Meanwhile
//! every poll is answered by [`decide_poll`] (3.4, 3.5); once allowed, the
//! grant made at approval is redeemed once, through the same conditional
//! consume as an authorization code ([`crate::grant::decide_device`]).
//!
//! User codes are 8 characters of [`USER_CODE_ALPHABET`]: consonants
//! only, so that no word forms and none of the look-alikes of 6.1 (`0`/`O`,
//! `1`/`I`/`L`... vowels and digits are left out) can be confused; 20^8 is
//! about 2^34.6 codes, so with at most a few thousand live codes and the
//! per-IP limit on wrong entries, guessing one is hopeless (5.1). They are
//! shown as `XXXX-XXXX` and accepted in any case, with or without the dash
//! and spaces.

use crate::error::{ErrorCode, OAuthError};
use crate::model::{Api, Client, Consent, GrantType};
use crate::params::Params;
use crate::scope::Scope;

/// The characters of a user code (RFC 8628 6.1): the 20 consonants of
/// the Latin alphabet but `Y`, uppercase; no vowels (no words) and no
/// digits (no `0`/`O`, `1`/`I` mix-ups).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// How many characters a user code has (shown as two groups of four).
pub const USER_CODE_LEN: usize = 8;

/// How long a device code and its user code live, in seconds (RFC 8628
/// 3.2 `expires_in`).
pub const DEVICE_CODE_TTL: i64 = 600;

/// The least time between two polls, in seconds, at first (RFC 8628 3.2
/// `interval`; 5 is the RFC's default).
pub const DEFAULT_INTERVAL: i64 = 5;

/// How much a `slow_down` answer raises the interval (RFC 8628 3.5).
pub const SLOW_DOWN_STEP: i64 = 5;

/// The longest interval a client is asked to keep, so that a client that
/// keeps polling too fast is not told to wait for ever.
pub const MAX_INTERVAL: i64 = 60;

/// A user code from random bytes: each byte below 240 (12 x 20, so that
/// every character is equally likely) picks a character; `None` if the
/// bytes ran out first (the caller draws more).
pub fn user_code_from(random: impl IntoIterator<Item = u8>) -> Option<String> {
    let code: String = random
        .into_iter()
        .filter(|b| *b < 240)
        .take(USER_CODE_LEN)
        .map(|b| USER_CODE_ALPHABET[usize::from(b % 20)] as char)
        .collect();
    (code.len() == USER_CODE_LEN).then_some(code)
}

/// A user code as a person typed it, in its one stored form: uppercase,
/// without the dash and spaces; `None` if it cannot be a user code (wrong
/// length or a character outside the alphabet).
pub fn normalize_user_code(input: &str) -> Option<String> {
    if input.len() > 64 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    ok.then_some(code)
}

/// How a (normalized) user code is shown: `XXXX-XXXX`.
pub fn display_user_code(code: &str) -> String {
    if code.len() == USER_CODE_LEN && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the person.
    Pending,
    /// Allowed: the grant made for it, whose code the next poll redeems.
    Approved {
        /// The id of the grant made at approval.
        grant_id: String,
    },
    /// Denied by the person.
    Denied,
}

impl DeviceStatus {
    /// The status's stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved { .. } => "approved",
            DeviceStatus::Denied => "denied",
        }
    }
}

/// A device authorization as stored (its codes are stored as hashes only,
/// so neither is here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// The tenant of the door it was asked at.
    pub tenant_id: String,
    /// The client that asked.
    pub client_id: String,
    /// The scope asked for (checked when asked).
    pub scope: String,
    /// The API named by `resource` or `audience`, if any.
    pub resource: Option<String>,
    /// When it was asked (seconds since the epoch).
    pub created_at: i64,
    /// When both codes stop working.
    pub expires_at: i64,
    /// The least seconds between polls, raised by `slow_down`.
    pub interval: i64,
    /// When the client last polled, if it did.
    pub last_polled_at: Option<i64>,
    /// Pending, allowed (with its grant) or denied.
    pub status: DeviceStatus,
    /// The person who answered, once one did.
    pub user_sub: Option<String>,
}

/// A checked device authorization request (RFC 8628 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    /// The scope the person will be asked for.
    pub scope: Scope,
    /// The API the tokens are for, if one was named.
    pub resource: Option<String>,
}

/// Checks a device authorization request of an authenticated `client`:
/// the client must be allowed the grant, the scope must be one a person
/// can grant (with the named API's scopes), and `resource`/`audience`
/// must name the API `api` found for it (docs/apis.md).
pub fn check_request(
    p: &Params,
    client: &Client,
    api: Option<&Api>,
) -> Result<DeviceRequest, OAuthError> {
    if !client.allows(GrantType::DeviceCode) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the device authorization grant",
        ));
    }
    let api = crate::resource::resolve(p, api)?;
    let scope = crate::resource::user_scope(p.get("scope").unwrap_or(""), api)?;
    Ok(DeviceRequest {
        scope,
        resource: api.map(|a| a.identifier.clone()),
    })
}

/// What a poll of the token endpoint is answered (RFC 8628 3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// `authorization_pending`; the poll is recorded at its time.
    Pending,
    /// `slow_down`: the poll came sooner than the interval; it is recorded
    /// with the raised `interval`.
    SlowDown {
        /// The new interval, in seconds.
        interval: i64,
    },
    /// Allowed: redeem the grant made at approval.
    Redeem {
        /// The grant's id.
        grant_id: String,
    },
    /// Any other answer: `access_denied`, `expired_token`, `invalid_grant`.
    Refuse(OAuthError),
}

impl Poll {
    /// The error a refusing or waiting answer is sent as (RFC 8628 3.5);
    /// `None` for [`Poll::Redeem`].
    pub fn error(&self) -> Option<OAuthError> {
        match self {
            Poll::Pending => Some(OAuthError::new(
                ErrorCode::AuthorizationPending,
                "the person has not answered yet; poll again after the interval",
            )),
            Poll::SlowDown { interval } => Some(OAuthError::new(
                ErrorCode::SlowDown,
                format!("polling too fast; wait at least {interval} seconds between requests"),
            )),
            Poll::Redeem { .. } => None,
            Poll::Refuse(e) => Some(e.clone()),
        }
    }
}

/// The refusal of a device code that is not known, or not of this door's
/// tenant or this client: the same words every time, so nothing is
/// revealed about another client's codes.
pub fn unknown_device_code() -> OAuthError {
    OAuthError::invalid_grant("the device code is not valid")
}

/// Decides a poll with `found` (the device authorization stored under the
/// code's hash) by `client_id` at the door of `tenant_id` at `now`.
///
/// The order matters: another client's code is unknown whatever its state;
/// an answer the person gave is told at once, however fast the client
/// polls; only a pending request is subject to the interval (3.5:
/// `slow_down` is "a variant of authorization_pending").
pub fn decide_poll(
    found: Option<&DeviceAuthorization>,
    tenant_id: &str,
    client_id: &str,
    now: i64,
) -> Poll {
    let Some(d) = found else {
        return Poll::Refuse(unknown_device_code());
    };
    if d.tenant_id != tenant_id || d.client_id != client_id {
        return Poll::Refuse(unknown_device_code());
    }
    if now >= d.expires_at {
        return Poll::Refuse(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired; start a new device authorization",
        ));
    }
    match &d.status {
        DeviceStatus::Denied => Poll::Refuse(OAuthError::new(
            ErrorCode::AccessDenied,
            "the person denied the request",
        )),
        DeviceStatus::Approved { grant_id } => Poll::Redeem {
            grant_id: grant_id.clone(),
        },
        DeviceStatus::Pending => match d.last_polled_at {
            Some(last) if now - last < d.interval => Poll::SlowDown {
                interval: (d.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL),
            },
            _ => Poll::Pending,
        },
    }
}

/// Whether a person may still answer `d` at `now` on the device page.
pub fn answerable(d: &DeviceAuthorization, tenant_id: &str, now: i64) -> bool {
    d.tenant_id == tenant_id && now < d.expires_at && d.status == DeviceStatus::Pending
}

/// The scopes the person is asked to allow, in the request's order.
pub fn asked_scopes(d: &DeviceAuthorization) -> Vec<&str> {
    d.scope.split_whitespace().collect()
}

/// Whether allowing `d` is a new consent to store for a third-party
/// client (docs/apis.md, "Consent"): the device page always asks (RFC 8628
/// 5.4), and what a person allows a third-party client there is kept like
/// what they allow on the consent page, so that /authorize does not ask
/// again for the same scopes. First-party clients keep no consent.
pub fn consent_to_store(
    client: &Client,
    d: &DeviceAuthorization,
    user_sub: &str,
    earlier: Option<&Consent>,
    now: i64,
) -> Option<Consent> {
    if !client.third_party {
        return None;
    }
    let mut scopes: Vec<String> = earlier.map(|c| c.scopes.clone()).unwrap_or_default();
    for t in asked_scopes(d) {
        if !scopes.iter().any(|s| s == t) {
            scopes.push(t.to_string());
        }
    }
    Some(Consent {
        tenant_id: d.tenant_id.clone(),
        user_sub: user_sub.to_string(),
        client_id: d.client_id.clone(),
        resource: d.resource.clone().unwrap_or_default(),
        scopes,
        granted_at: now,
    })
}

#[cfg(test)]
mod tests;
