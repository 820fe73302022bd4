//! Passkeys as the console operators' second factor (docs/console.md,
//! "Passkeys"): added and removed on `/admin/security` once the
//! authenticator app is set up, and offered beside the code at
//! `/admin/sign-in/second-factor`.
//!
//! The relying party is the console's own origin (the public URL's host
//! as RP id: a host name, never an IP address). The ceremonies are the
//! hosted pages' (`templates/passkeys.js`, allowed by its hash on the two
//! pages that carry it) and their states are kept in `passkey_ceremonies`
//! under the empty tenant, kinds `operator-register` and
//! `operator-second-factor`, for the operator who started them, taken once.
//! The JSON endpoints check the request's origin and the session's CSRF
//! token, as the console's forms do.

use super::sign_in::second_factor_passed;
use super::{form_any_role, page, same_origin, secure, Operator, Pending, Shell};
use crate::error::ApiError;
use crate::events::Record;
use crate::passkeys::{credential_key, expired, json_ok, not_accepted, refused, stored_json};
use crate::{limits, AppState};
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use keygate_crypto::secrets;
use keygate_store::{OperatorPasskey, PasskeyCeremony, StoreError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// The security page.
pub(crate) const SECURITY: &str = "/admin/security";
const REGISTER_START: &str = "/admin/security/passkeys/start";
const REGISTER_FINISH: &str = "/admin/security/passkeys/finish";
pub(crate) const SIGN_IN_START: &str = "/admin/sign-in/passkey/start";
pub(crate) const SIGN_IN_FINISH: &str = "/admin/sign-in/passkey/finish";
/// The ceremonies' kinds in `passkey_ceremonies`.
const KIND_REGISTER: &str = "operator-register";
const KIND_SECOND_FACTOR: &str = "operator-second-factor";
/// The largest JSON body read: a credential is a few kilobytes at most.
const MAX_BODY: usize = 64 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(SECURITY, get(security_get))
        .route(REGISTER_START, post(register_start))
        .route(REGISTER_FINISH, post(register_finish))
        .route("/admin/security/passkeys/{id}/delete", post(remove))
        .route(SIGN_IN_START, post(sign_in_start))
        .route(SIGN_IN_FINISH, post(sign_in_finish))
}

/// The relying party of the console: the public URL's host and origin;
/// `None` on an IP address.
fn relying_party(state: &AppState) -> Option<Webauthn> {
    let url = Url::parse(&state.config.public_url).ok()?;
    let host = url.domain()?.to_string();
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| b.rp_name("Keygate console").build())
        .ok()
}

/// Whether passkeys can work on this console (its host is a name).
pub(crate) fn available(state: &AppState) -> bool {
    relying_party(state).is_some()
}

fn rp_or_refuse(state: &AppState) -> Result<Webauthn, ApiError> {
    relying_party(state).ok_or_else(|| {
        refused(
            StatusCode::BAD_REQUEST,
            "passkeys_unavailable",
            "Passkeys work only on a host name (such as localhost), not on an IP address.",
        )
    })
}

/// The WebAuthn user handle of an operator: derived from its id.
fn user_handle(operator_id: &str) -> Uuid {
    let hex = secrets::sha256_hex(&format!("keygate-console-operator\n{operator_id}"));
    Uuid::parse_str(&hex[..32]).unwrap_or_default()
}

fn passkey_of(row: &OperatorPasskey) -> Result<Passkey, ApiError> {
    serde_json::from_str(&row.passkey)
        .map_err(|e| ApiError::fault("a stored operator passkey cannot be read", e))
}

/// The hosted pages' passkey script, inline on the pages that offer a
/// passkey (allowed there by its hash).
pub(crate) fn script() -> &'static str {
    crate::pages::render::SCRIPT
}

/// A console JSON body: `csrf` must be the session's token.
#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    credential: serde_json::Value,
}

/// Reads a ceremony request of the console: JSON, from our origin, with
/// the session's CSRF token.
async fn read_json<T: DeserializeOwned>(
    state: &AppState,
    op: &Operator,
    req: Request,
    csrf: impl Fn(&T) -> &str,
) -> Result<T, ApiError> {
    if !same_origin(state, req.headers()) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "invalid_origin",
            "This request did not come from a console page.",
        ));
    }
    let json = req
        .headers()
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
    if !secrets::ct_eq(csrf(&body).as_bytes(), op.csrf.as_bytes()) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "invalid_csrf",
            "This page expired. Please reload it and try again.",
        ));
    }
    Ok(body)
}

async fn start_ceremony<S: serde::Serialize>(
    state: &AppState,
    kind: &str,
    operator_id: &str,
    ceremony: &S,
) -> Result<String, ApiError> {
    let handle = secrets::new_secret();
    let json = serde_json::to_string(ceremony)
        .map_err(|e| ApiError::fault("cannot serialise a WebAuthn ceremony", e))?;
    state
        .store
        .create_passkey_ceremony(
            &secrets::sha256_hex(&handle),
            &PasskeyCeremony {
                tenant_id: String::new(),
                user_sub: Some(operator_id.to_string()),
                kind: kind.to_string(),
                state: json,
                expires_at: crate::now() + crate::passkeys::CEREMONY_TTL,
            },
        )
        .await?;
    Ok(handle)
}

async fn take_ceremony<S: DeserializeOwned>(
    state: &AppState,
    kind: &str,
    operator_id: &str,
    handle: &str,
) -> Result<S, ApiError> {
    if !secrets::is_well_formed_secret(handle) {
        return Err(expired());
    }
    let taken = state
        .store
        .take_passkey_ceremony(&secrets::sha256_hex(handle), "", crate::now())
        .await?;
    let Some(c) = taken.filter(|c| c.kind == kind && c.user_sub.as_deref() == Some(operator_id))
    else {
        return Err(expired());
    };
    serde_json::from_str(&c.state)
        .map_err(|e| ApiError::fault("a stored ceremony cannot be read", e))
}

struct Row {
    id: String,
    name: String,
    added: String,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "console/security.html")]
struct SecurityPage {
    shell: Shell,
    rows: Vec<Row>,
    available: bool,
    start: &'static str,
    finish: &'static str,
    script: &'static str,
    notice: Option<&'static str>,
}

/// GET /admin/security: the operator's passkeys, and the button to add one.
async fn security_get(
    State(state): State<AppState>,
    op: Operator,
    req: Request,
) -> Result<Response, ApiError> {
    let rows = state
        .store
        .operator_passkeys(&op.id)
        .await?
        .into_iter()
        .map(|p| Row {
            id: p.id,
            name: p.name,
            added: super::when(p.created_at),
            last_used: p.last_used_at.map(super::when),
        })
        .collect();
    let notice = match req.uri().query() {
        Some("added") => Some("Passkey added."),
        Some("removed") => Some("Passkey removed."),
        _ => None,
    };
    let available = available(&state);
    let res = page(&SecurityPage {
        shell: Shell::new(&op, SECURITY),
        rows,
        available,
        start: REGISTER_START,
        finish: REGISTER_FINISH,
        script: script(),
        notice,
    });
    Ok(if available {
        crate::pages::render::with_script(res)
    } else {
        res
    })
}

/// POST /admin/security/passkeys/start: a registration's options.
async fn register_start(
    State(state): State<AppState>,
    op: Operator,
    req: Request,
) -> Result<Response, ApiError> {
    let _body: Body = read_json(&state, &op, req, |b: &Body| &b.csrf).await?;
    let rp = rp_or_refuse(&state)?;
    let existing = state.store.operator_passkeys(&op.id).await?;
    if existing.len() >= crate::passkeys::MAX_PASSKEYS {
        return Err(too_many());
    }
    let exclude = existing
        .iter()
        .map(|r| passkey_of(r).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, ceremony) = rp
        .start_passkey_registration(user_handle(&op.id), &op.email, &op.email, Some(exclude))
        .map_err(|e| ApiError::fault("cannot start a WebAuthn registration", e))?;
    let handle = start_ceremony(&state, KIND_REGISTER, &op.id, &ceremony).await?;
    Ok(crate::passkeys::started(&handle, &options))
}

fn too_many() -> ApiError {
    refused(
        StatusCode::CONFLICT,
        "too_many_passkeys",
        "You have as many passkeys as allowed. Remove one first.",
    )
}

/// POST /admin/security/passkeys/finish: checks the new credential and keeps it.
async fn register_finish(
    State(state): State<AppState>,
    op: Operator,
    req: Request,
) -> Result<Response, ApiError> {
    let body: Body = read_json(&state, &op, req, |b: &Body| &b.csrf).await?;
    let ceremony: PasskeyRegistration =
        take_ceremony(&state, KIND_REGISTER, &op.id, &body.handle).await?;
    let rp = rp_or_refuse(&state)?;
    let not_added = || {
        refused(
            StatusCode::BAD_REQUEST,
            "invalid_credential",
            "This passkey could not be added. Please try again.",
        )
    };
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(body.credential).map_err(|_| not_added())?;
    let passkey = rp
        .finish_passkey_registration(&credential, &ceremony)
        .map_err(|e| {
            tracing::info!(operator = %op.id, error = %e, "operator passkey registration refused");
            not_added()
        })?;
    if state.store.operator_passkeys(&op.id).await?.len() >= crate::passkeys::MAX_PASSKEYS {
        return Err(too_many());
    }
    let name: String = body
        .name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let id = secrets::new_ordered_id();
    let row = OperatorPasskey {
        id: id.clone(),
        operator_id: op.id.clone(),
        credential_id: credential_key(passkey.cred_id().as_ref()),
        passkey: stored_json(&passkey)?,
        name: if name.is_empty() {
            crate::passkeys::DEFAULT_NAME.to_string()
        } else {
            name
        },
        created_at: crate::now(),
        last_used_at: None,
    };
    match state.store.create_operator_passkey(&row).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(refused(
                StatusCode::CONFLICT,
                "already_registered",
                "This passkey is already registered.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Record::new("", "admin.updated", op.actor())
        .ip(op.ip)
        .subject(format!("operator:{}", op.email))
        .detail(serde_json::json!({"passkey_added": id, "name": row.name}))
        .save(&state)
        .await;
    Ok(json_ok(
        serde_json::json!({ "redirect": format!("{SECURITY}?added") }),
        &[],
    ))
}

/// POST /admin/security/passkeys/{id}/delete: removes one of the operator's own.
async fn remove(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    if let Err(res) = form_any_role(&state, &op, req).await {
        return Ok(res);
    }
    if state.store.delete_operator_passkey(&op.id, &id).await? {
        Record::new("", "admin.updated", op.actor())
            .ip(op.ip)
            .subject(format!("operator:{}", op.email))
            .detail(serde_json::json!({"passkey_removed": id}))
            .save(&state)
            .await;
    }
    Ok(secure(
        Redirect::to(&format!("{SECURITY}?removed")).into_response(),
    ))
}

/// Whether the second-step page offers a passkey to this operator.
pub(crate) async fn offered(state: &AppState, pending: &Pending) -> Result<bool, ApiError> {
    Ok(pending.stored.totp_confirmed
        && available(state)
        && !state
            .store
            .operator_passkeys(&pending.stored.id)
            .await?
            .is_empty())
}

/// POST /admin/sign-in/passkey/start: a challenge for the operator's passkeys.
async fn sign_in_start(
    State(state): State<AppState>,
    pending: Pending,
    req: Request,
) -> Result<Response, ApiError> {
    let _body: Body = read_json(&state, &pending.op, req, |b: &Body| &b.csrf).await?;
    let rp = rp_or_refuse(&state)?;
    let rows = state.store.operator_passkeys(&pending.op.id).await?;
    if rows.is_empty() || !pending.stored.totp_confirmed {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "no_passkey",
            "You have no passkey. Enter a code instead.",
        ));
    }
    let passkeys = rows.iter().map(passkey_of).collect::<Result<Vec<_>, _>>()?;
    let (options, ceremony) = rp
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ApiError::fault("cannot start a WebAuthn second step", e))?;
    let handle = start_ceremony(&state, KIND_SECOND_FACTOR, &pending.op.id, &ceremony).await?;
    Ok(crate::passkeys::started(&handle, &options))
}

/// POST /admin/sign-in/passkey/finish: each attempt reserved against the
/// operator and the IP first, exactly like a code.
async fn sign_in_finish(
    State(state): State<AppState>,
    pending: Pending,
    req: Request,
) -> Result<Response, ApiError> {
    let op = &pending.op;
    let body: Body = read_json(&state, op, req, |b: &Body| &b.csrf).await?;
    let account = limits::person_key("console-mfa", "", &op.id);
    let ip_key = op.ip.map(limits::ip_key);
    let account_limit = &state.config.signin_account_limit;
    let ip_limit = &state.config.signin_ip_limit;
    let reserved = match limits::reserve_both(
        &state,
        (&account, account_limit),
        ip_key.as_deref().map(|k| (k, ip_limit)),
    )
    .await?
    {
        Ok(r) => r,
        Err(secs) => {
            return Err(ApiError::RateLimited {
                retry_after: secs.max(1) as u64,
                json: true,
            })
        }
    };
    let outcome = verify(&state, op, &body).await;
    let now = crate::now();
    match &outcome {
        Ok(Ok(())) => {
            state.store.clear_failures(&account).await?;
            if let Some(k) = &ip_key {
                state.store.release_attempt(k, ip_limit).await?;
            }
        }
        Ok(Err(why)) => {
            state
                .store
                .attempt_failed(&account, reserved.0, now, account_limit)
                .await?;
            if let (Some(k), Some(count)) = (&ip_key, reserved.1) {
                state.store.attempt_failed(k, count, now, ip_limit).await?;
            }
            tracing::info!(operator = %op.id, why, "console passkey second factor failed");
            Record::new("", "admin.sign_in_failed", op.actor())
                .ip(op.ip)
                .detail(serde_json::json!({"reason": "passkey not accepted"}))
                .save(&state)
                .await;
        }
        Err(_) => {
            state.store.release_attempt(&account, account_limit).await?;
            if let Some(k) = &ip_key {
                state.store.release_attempt(k, ip_limit).await?;
            }
        }
    }
    if outcome?.is_err() {
        return Err(not_accepted());
    }
    second_factor_passed(&state, &pending, "passkey").await?;
    Ok(json_ok(serde_json::json!({ "redirect": "/admin/" }), &[]))
}

/// `Ok(Ok(()))` when one of the operator's passkeys signed the challenge
/// with user verification (its use recorded), `Ok(Err(why))` for a failed
/// attempt, `Err` for an expired ceremony or a fault of ours.
async fn verify(
    state: &AppState,
    op: &Operator,
    body: &Body,
) -> Result<Result<(), &'static str>, ApiError> {
    let rp = rp_or_refuse(state)?;
    let ceremony: PasskeyAuthentication =
        take_ceremony(state, KIND_SECOND_FACTOR, &op.id, &body.handle)
            .await
            .map_err(|e| match e {
                e @ ApiError::Internal(_) => e,
                _ => expired(),
            })?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(body.credential.clone())
    else {
        return Ok(Err("malformed credential"));
    };
    let key = credential_key(credential.get_credential_id());
    let row = state.store.operator_passkey_by_credential(&key).await?;
    let Some(row) = row.filter(|r| r.operator_id == op.id) else {
        return Ok(Err("unknown credential"));
    };
    let mut passkey = passkey_of(&row)?;
    let Ok(result) = rp.finish_passkey_authentication(&credential, &ceremony) else {
        return Ok(Err("signature or flags not accepted"));
    };
    if !result.user_verified() {
        return Ok(Err("no user verification"));
    }
    passkey.update_credential(&result);
    let json = stored_json(&passkey)?;
    state
        .store
        .operator_passkey_used(&row.id, &json, crate::now())
        .await?;
    Ok(Ok(()))
}
