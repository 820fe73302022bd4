//! Passkeys (WebAuthn Level 2, checked by webauthn-rs): added on the
//! account page, used to sign in without a password, or as the second
//! factor after one (docs/account.md, "Passkeys").
//!
//! The relying party is the issuer the person uses: its host is the RP id
//! (browsers allow WebAuthn only on a host name, never an IP address) and
//! its origin the only allowed origin, so a passkey made under one tenant's
//! domain never works under another. A ceremony's state is kept in the
//! store between its start and its finish (any node can finish it), under
//! the SHA-256 of a random handle the page holds, for [`CEREMONY_TTL`]
//! seconds, and taken once.
//!
//! The pages talk to the ceremony endpoints in JSON: each request carries
//! the page's CSRF token (double submit, as the forms do) and every refusal
//! is a JSON `error` with an `error_description` for the person.

pub(crate) mod second_factor;
pub(crate) mod sign_in;

use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use keygate_crypto::secrets;
use keygate_store::{LimitPolicy, PasskeyCeremony, StoredPasskey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use webauthn_rs::prelude::{Passkey, Url, Uuid, Webauthn, WebauthnBuilder};

/// How long a ceremony may take between its start and its finish (seconds).
pub(crate) const CEREMONY_TTL: i64 = 300;
/// How many passkeys a person may have.
pub(crate) const MAX_PASSKEYS: usize = 10;
/// The name of a passkey when the person gives none.
pub(crate) const DEFAULT_NAME: &str = "Passkey";
/// The largest JSON body a ceremony endpoint reads: a credential is a few
/// kilobytes at most.
const MAX_BODY: usize = 64 * 1024;
/// How many ceremonies one IP may start: each start stores a row (for
/// [`CEREMONY_TTL`]) before anyone is known, so starts are counted like
/// registrations, far above what a person's page loads and clicks need.
const START_LIMIT: LimitPolicy = LimitPolicy {
    max_failures: 300,
    window: 900,
    base_block: 60,
    max_block: 900,
};

/// The kinds of ceremony, so that a state is only ever finished as what
/// it was started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Adding a passkey on the account page.
    Register,
    /// Signing in with a passkey alone (a discoverable credential).
    SignIn,
    /// A passkey as the second factor after a password.
    SecondFactor,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::SignIn => "sign-in",
            Kind::SecondFactor => "second-factor",
        }
    }
}

/// A refusal of a ceremony endpoint, as JSON.
pub(crate) fn refused(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> ApiError {
    ApiError::Json {
        status,
        error,
        description: description.into(),
    }
}

/// The refusal of a ceremony whose handle is unknown, used or expired.
pub(crate) fn expired() -> ApiError {
    refused(
        StatusCode::BAD_REQUEST,
        "expired",
        "This passkey request expired. Please try again.",
    )
}

/// The refusal of a credential that does not prove what it must.
pub(crate) fn not_accepted() -> ApiError {
    refused(
        StatusCode::UNAUTHORIZED,
        "invalid_credential",
        "This passkey was not accepted. Try another one, or sign in with your password.",
    )
}

/// The relying party of this door: the issuer's host as RP id, its origin
/// (scheme, host and port exactly) as the one allowed origin.
pub(crate) fn relying_party(door: &Door) -> Result<Webauthn, ApiError> {
    let unavailable = || {
        refused(
            StatusCode::BAD_REQUEST,
            "passkeys_unavailable",
            "Passkeys work only on a host name (such as localhost), not on an IP address.",
        )
    };
    let issuer = Url::parse(&door.issuer).map_err(|_| unavailable())?;
    let Some(host) = issuer.domain().map(str::to_string) else {
        return Err(unavailable());
    };
    let origin = Url::parse(&issuer.origin().ascii_serialization()).map_err(|_| unavailable())?;
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| b.rp_name(&door.tenant.display_name).build())
        .map_err(|e| {
            tracing::warn!(tenant = %door.tenant.id, issuer = %door.issuer, error = %e, "no WebAuthn relying party for this issuer");
            unavailable()
        })
}

/// Whether passkeys can work under this door's issuer (its host is a
/// name, not an IP address); the pages offer them only then.
pub(crate) fn available(door: &Door) -> bool {
    Url::parse(&door.issuer).is_ok_and(|u| u.domain().is_some())
}

/// The WebAuthn user handle of a person: derived from the tenant and the
/// person (the first 16 bytes of a SHA-256), so it is stable, carries
/// nothing personal and needs no column.
pub(crate) fn user_handle(tenant: &str, sub: &str) -> Uuid {
    let hex = secrets::sha256_hex(&format!("keygate-webauthn-user\n{tenant}\n{sub}"));
    Uuid::parse_str(&hex[..32]).unwrap_or_default()
}

/// A credential id as stored: base64url without padding.
pub(crate) fn credential_key(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// The library's passkey of a stored row.
pub(crate) fn passkey_of(row: &StoredPasskey) -> Result<Passkey, ApiError> {
    serde_json::from_str(&row.passkey)
        .map_err(|e| ApiError::fault("a stored passkey cannot be read", e))
}

/// Whether a passkey may be synced between devices (backup eligible).
pub(crate) fn backup_eligible(passkey: &Passkey) -> bool {
    serde_json::to_value(passkey)
        .ok()
        .and_then(|v| v.pointer("/cred/backup_eligible").and_then(|b| b.as_bool()))
        .unwrap_or(false)
}

/// The JSON of a passkey, as stored.
pub(crate) fn stored_json(passkey: &Passkey) -> Result<String, ApiError> {
    serde_json::to_string(passkey).map_err(|e| ApiError::fault("cannot serialise a passkey", e))
}

/// Stores a ceremony's state; the handle the page finishes it with.
pub(crate) async fn start_ceremony<S: Serialize>(
    state: &AppState,
    door: &Door,
    kind: Kind,
    user_sub: Option<&str>,
    ceremony: &S,
) -> Result<String, ApiError> {
    if let Some(ip) = door.client_ip {
        let key = crate::limits::kind_ip_key("passkey-start", ip);
        if let Err(secs) = crate::limits::reserve(state, &key, &START_LIMIT).await? {
            tracing::warn!(tenant = %door.tenant.id, "passkey ceremonies blocked: too many started");
            return Err(ApiError::RateLimited {
                retry_after: secs.max(1) as u64,
                json: true,
            });
        }
    }
    let handle = secrets::new_secret();
    let json = serde_json::to_string(ceremony)
        .map_err(|e| ApiError::fault("cannot serialise a WebAuthn ceremony", e))?;
    state
        .store
        .create_passkey_ceremony(
            &secrets::sha256_hex(&handle),
            &PasskeyCeremony {
                tenant_id: door.tenant.id.clone(),
                user_sub: user_sub.map(str::to_string),
                kind: kind.as_str().into(),
                state: json,
                expires_at: crate::now() + CEREMONY_TTL,
            },
        )
        .await?;
    Ok(handle)
}

/// Takes (once) the ceremony of `handle` if it is this tenant's, of this
/// kind, for this person (when one is named), and unexpired.
pub(crate) async fn take_ceremony<S: DeserializeOwned>(
    state: &AppState,
    door: &Door,
    kind: Kind,
    user_sub: Option<&str>,
    handle: &str,
) -> Result<S, ApiError> {
    if !secrets::is_well_formed_secret(handle) {
        return Err(expired());
    }
    let taken = state
        .store
        .take_passkey_ceremony(&secrets::sha256_hex(handle), &door.tenant.id, crate::now())
        .await?;
    let Some(c) = taken.filter(|c| {
        c.tenant_id == door.tenant.id
            && c.kind == kind.as_str()
            && c.user_sub.as_deref() == user_sub
    }) else {
        return Err(expired());
    };
    serde_json::from_str(&c.state)
        .map_err(|e| ApiError::fault("a stored ceremony cannot be read", e))
}

/// Reads a ceremony endpoint's JSON body (bounded) and checks its `csrf`
/// member against the browser's CSRF cookie.
pub(crate) async fn read_json<T: DeserializeOwned + HasCsrf>(
    state: &AppState,
    req: Request,
) -> Result<(HeaderMap, T), ApiError> {
    let headers = req.headers().clone();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "The request must be JSON.",
        ));
    }
    let bytes =
        crate::http::body::read_limited(req, MAX_BODY.min(state.config.max_body_bytes)).await?;
    let body: T = serde_json::from_slice(&bytes).map_err(|_| {
        refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request could not be read.",
        )
    })?;
    let cookie = cookies::read(&headers, &cookies::csrf_name(state.config.https()));
    let csrf_ok = match (cookie, body.csrf()) {
        (Some(c), Some(f)) => secrets::ct_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    };
    if !csrf_ok {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "invalid_csrf",
            "This page expired. Please reload it and try again.",
        ));
    }
    Ok((headers, body))
}

/// A ceremony request that carries the page's CSRF token.
pub(crate) trait HasCsrf {
    /// The `csrf` member.
    fn csrf(&self) -> Option<&str>;
}

/// The answer to a ceremony's start: its handle and the options for
/// `navigator.credentials`.
pub(crate) fn started<O: Serialize>(handle: &str, options: &O) -> Response {
    json_ok(
        serde_json::json!({ "handle": handle, "options": options }),
        &[],
    )
}

/// A JSON 200 with `Cache-Control: no-store` and optional cookies.
pub(crate) fn json_ok(body: serde_json::Value, cookies: &[HeaderValue]) -> Response {
    let mut res = (StatusCode::OK, axum::Json(body)).into_response();
    crate::error::no_store(&mut res);
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    res
}

/// A finished ceremony's answer: where the page goes next (`redirect`),
/// with the cookies of `res` when it is the 303 a form would have had; or,
/// when `res` is the page of a `form_post` response, the form the script
/// posts (`form_post`: `action` and `fields`, a list of name and value).
pub(crate) fn as_json(res: Response) -> Response {
    let cookies = || -> Vec<HeaderValue> {
        res.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect()
    };
    if let Some(post) = res.extensions().get::<crate::pages::form_post::FormPost>() {
        let body = serde_json::json!({
            "form_post": {"action": post.action, "fields": post.fields}
        });
        return json_ok(body, &cookies());
    }
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(to) = location else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The sign-in request is no longer valid. Please start again from the application.",
        )
        .into_response();
    };
    json_ok(serde_json::json!({ "redirect": to }), &cookies())
}

/// A new session for the account page (no application involved), and the
/// answer that leads back to the page.
pub(crate) async fn account_session(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    sub: &str,
    methods: &[keygate_core::amr::Method],
) -> Result<Response, ApiError> {
    let amr = keygate_core::amr::amr(methods);
    let cookie =
        crate::accounts::start_session(state, door, headers, sub, crate::now(), &amr).await?;
    crate::events::signed_in(state, door, sub, &amr, None).await;
    Ok(as_json(crate::pages::account::done(
        door,
        "signed-in",
        &[cookie],
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_issuers_host_never_an_ip_address() {
        let door = |issuer: &str| Door {
            tenant: keygate_core::model::Tenant::new("acme", "Acme", 0),
            issuer: issuer.into(),
            kind: crate::door::DoorKind::Path,
            client_ip: None,
        };
        for (issuer, ok) in [
            ("http://localhost:8080/acme/as", true),
            ("https://login.example.com", true),
            ("http://127.0.0.1:8080/acme/as", false),
            ("http://[::1]:8080", false),
        ] {
            assert_eq!(available(&door(issuer)), ok, "{issuer}");
            assert_eq!(relying_party(&door(issuer)).is_ok(), ok, "{issuer}");
        }
    }

    /// A sign-in finished by a ceremony in `form_post` mode: the script
    /// gets the form to post (and the session's cookie), not a redirect.
    #[tokio::test]
    async fn a_form_post_answer_becomes_the_form_for_the_script() {
        let door = Door {
            tenant: keygate_core::model::Tenant::new("acme", "Acme", 0),
            issuer: "http://localhost:8080/acme/as".into(),
            kind: crate::door::DoorKind::Path,
            client_ip: None,
        };
        let form = crate::pages::form_post::FormPost::new(
            "https://app.example.com/cb?x=1",
            &[("code", "c1"), ("state", "s\"<"), ("iss", &door.issuer)],
        );
        let page = crate::pages::form_post::page(&door, form, &["kg_session=v; Path=/".into()]);
        let res = as_json(page);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::SET_COOKIE], "kg_session=v; Path=/");
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"form_post": {
                "action": "https://app.example.com/cb?x=1",
                "fields": [["code", "c1"], ["state", "s\"<"], ["iss", "http://localhost:8080/acme/as"]]
            }})
        );
    }

    #[test]
    fn the_user_handle_is_stable_and_per_tenant() {
        assert_eq!(user_handle("t1", "u1"), user_handle("t1", "u1"));
        assert_ne!(user_handle("t1", "u1"), user_handle("t2", "u1"));
        assert_ne!(user_handle("t1", "u1"), Uuid::nil());
    }
}
