//! A passkey as the second factor after a password (the second-step page,
//! for an authorization request or the account page's own sign-in):
//! `POST {issuer}/login/mfa/passkey/start` and `.../finish`, each with the
//! waiting sign-in's `mfa_token`. A finish is checked against the person's
//! own passkeys, each attempt reserved against the account and the IP
//! first exactly like a code (`mfa::check_code`), and the waiting sign-in
//! is finished (once) before any session is made.

use super::{
    as_json, expired, not_accepted, read_json, refused, start_ceremony, started, take_ceremony,
    HasCsrf, Kind,
};
use crate::accounts::AccountError;
use crate::door::Door;
use crate::error::ApiError;
use crate::limits;
use crate::mfa::{self, Pending};
use crate::pages::Submission;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;
use keygate_core::params::Params;
use serde::Deserialize;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

/// The start of a second step by passkey.
#[derive(Deserialize)]
pub(crate) struct Start {
    csrf: Option<String>,
    mfa_token: String,
}

impl HasCsrf for Start {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The finish of a second step by passkey.
#[derive(Deserialize)]
pub(crate) struct Finish {
    csrf: Option<String>,
    mfa_token: String,
    handle: String,
    /// The authorization request of the page, if any (none on the
    /// account page's sign-in).
    #[serde(default)]
    request: String,
    /// What `navigator.credentials.get` gave, read below.
    credential: serde_json::Value,
}

impl HasCsrf for Finish {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The person of a waiting sign-in, or the refusal of an expired one.
async fn pending(state: &AppState, door: &Door, token: &str) -> Result<Pending, ApiError> {
    mfa::pending_person(state, door, token)
        .await?
        .ok_or_else(|| {
            refused(
                StatusCode::BAD_REQUEST,
                "expired",
                "This sign-in expired. Please sign in again.",
            )
        })
}

/// POST /login/mfa/passkey/start: a challenge for the person's passkeys.
pub(crate) async fn start(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (_, body): (_, Start) = read_json(&state, req).await?;
    let person = pending(&state, &door, &body.mfa_token).await?;
    let rows = state.store.passkeys(&door.tenant.id, &person.sub).await?;
    if rows.is_empty() {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "no_passkey",
            "This account has no passkey. Enter a code instead.",
        ));
    }
    let passkeys = rows
        .iter()
        .map(super::passkey_of)
        .collect::<Result<Vec<_>, _>>()?;
    let rp = super::relying_party(&door)?;
    let (options, ceremony) = rp
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ApiError::fault("cannot start a WebAuthn second step", e))?;
    let handle = start_ceremony(
        &state,
        &door,
        Kind::SecondFactor,
        Some(&person.sub),
        &ceremony,
    )
    .await?;
    Ok(started(&handle, &options))
}

/// POST /login/mfa/passkey/finish.
pub(crate) async fn finish(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, body): (_, Finish) = read_json(&state, req).await?;
    let person = pending(&state, &door, &body.mfa_token).await?;
    // The page's authorization request, or the one the waiting sign-in
    // keeps; none on the account page's sign-in.
    let request = Some(body.request.as_str())
        .filter(|r| !r.is_empty())
        .or(person.request.as_deref());
    let submission = if let Some(request) = request {
        let inner = Params::from_urlencoded(request.as_bytes());
        match crate::pages::validate_request(&state, &door, inner).await? {
            Ok((request, client, params)) => Some(Submission {
                headers: headers.clone(),
                form: Params::default(),
                request,
                client,
                params,
                csrf_ok: true,
            }),
            Err(res) => return Ok(as_json(res)),
        }
    } else {
        None
    };
    let tenant = door.tenant.id.as_str();
    let account = limits::person_key("mfa", tenant, &person.sub);
    let ip = door.client_ip.map(limits::ip_key);
    let account_limit = &state.config.signin_account_limit;
    let ip_limit = &state.config.signin_ip_limit;
    let reserved = match limits::reserve_both(
        &state,
        (&account, account_limit),
        ip.as_deref().map(|k| (k, ip_limit)),
    )
    .await?
    {
        Ok(r) => r,
        Err(secs) => {
            tracing::warn!(tenant, sub = %person.sub, "passkey second factor blocked: too many attempts");
            let e = AccountError::TooManyAttempts(secs);
            return Err(ApiError::RateLimited {
                retry_after: e.retry_after().unwrap_or(1) as u64,
                json: true,
            });
        }
    };
    let outcome = verify(&state, &door, &person.sub, &body).await;
    let now = crate::now();
    match &outcome {
        Ok(Ok(_)) => {
            state.store.clear_failures(&account).await?;
            if let Some(k) = &ip {
                state.store.release_attempt(k, ip_limit).await?;
            }
        }
        Ok(Err(why)) => {
            state
                .store
                .attempt_failed(&account, reserved.0, now, account_limit)
                .await?;
            if let (Some(k), Some(count)) = (&ip, reserved.1) {
                state.store.attempt_failed(k, count, now, ip_limit).await?;
            }
            tracing::info!(tenant, sub = %person.sub, why, "passkey second factor failed");
        }
        Err(_) => {
            state.store.release_attempt(&account, account_limit).await?;
            if let Some(k) = &ip {
                state.store.release_attempt(k, ip_limit).await?;
            }
        }
    }
    let synced = match outcome? {
        Ok(synced) => synced,
        Err(_) => {
            crate::events::mfa(
                &state,
                &door,
                &person.sub,
                "passkey",
                Some("invalid_passkey"),
            )
            .await;
            return Err(not_accepted());
        }
    };
    crate::events::mfa(&state, &door, &person.sub, "passkey", None).await;
    // The waiting sign-in is used once: of racing finishes, one wins.
    if !mfa::finish_pending(&state, &body.mfa_token).await? {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "expired",
            "This sign-in expired. Please sign in again.",
        ));
    }
    tracing::info!(tenant, sub = %person.sub, method = "passkey", "second factor succeeded");
    let methods = person.with(Method::Passkey { synced });
    match submission {
        Some(s) => Ok(as_json(
            crate::pages::signed_in(&state, &door, &s, &person.sub, &methods).await?,
        )),
        None => super::account_session(&state, &door, &headers, &person.sub, &methods).await,
    }
}

/// Checks a finish against the person's passkeys: `Ok(Ok(synced))` when
/// one of them signed the ceremony's challenge with user verification
/// (its use is recorded), `Ok(Err(why))` for a failed attempt, `Err` for
/// an expired ceremony or a fault of ours.
async fn verify(
    state: &AppState,
    door: &Door,
    sub: &str,
    body: &Finish,
) -> Result<Result<bool, &'static str>, ApiError> {
    let tenant = door.tenant.id.as_str();
    let rp = super::relying_party(door)?;
    let ceremony: PasskeyAuthentication =
        take_ceremony(state, door, Kind::SecondFactor, Some(sub), &body.handle)
            .await
            .map_err(|e| match e {
                e @ ApiError::Internal(_) => e,
                _ => expired(),
            })?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(body.credential.clone())
    else {
        return Ok(Err("malformed credential"));
    };
    let key = super::credential_key(credential.get_credential_id());
    let row = state.store.passkey_by_credential(tenant, &key).await?;
    let Some(row) = row.filter(|r| r.user_sub == sub) else {
        return Ok(Err("unknown credential"));
    };
    let mut passkey = super::passkey_of(&row)?;
    let Ok(result) = rp.finish_passkey_authentication(&credential, &ceremony) else {
        return Ok(Err("signature or flags not accepted"));
    };
    if !result.user_verified() {
        return Ok(Err("no user verification"));
    }
    passkey.update_credential(&result);
    let synced = super::backup_eligible(&passkey);
    let json = super::stored_json(&passkey)?;
    state
        .store
        .passkey_used(tenant, &row.id, &json, synced, crate::now())
        .await?;
    Ok(Ok(synced))
}
