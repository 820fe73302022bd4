//! Signing in with a passkey alone (a discoverable credential with user
//! verification, so the sign-in is multi-factor by itself):
//! `POST {issuer}/passkeys/sign-in/start` and `.../finish`. With the
//! authorization request of the sign-in page (`request`) it ends exactly
//! like the password path, in the code sent to the application; without
//! one it is the account page's sign-in.
//!
//! A failed finish (an unknown credential, a bad signature, a malformed
//! one) counts against the IP's sign-in limit like a wrong password.

use super::{
    as_json, not_accepted, read_json, refused, start_ceremony, started, take_ceremony, HasCsrf,
    Kind,
};
use crate::door::Door;
use crate::error::ApiError;
use crate::limits;
use crate::pages::Submission;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;
use keygate_core::params::Params;
use serde::Deserialize;
use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, PublicKeyCredential};

/// The start of a passkey sign-in.
#[derive(Deserialize)]
pub(crate) struct Start {
    csrf: Option<String>,
}

impl HasCsrf for Start {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The finish of a passkey sign-in.
#[derive(Deserialize)]
pub(crate) struct Finish {
    csrf: Option<String>,
    handle: String,
    /// The authorization request of the sign-in page, if any.
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

/// POST /passkeys/sign-in/start: a challenge for any of the tenant's
/// passkeys (the browser offers the person theirs).
pub(crate) async fn start(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (_, _body): (_, Start) = read_json(&state, req).await?;
    let rp = super::relying_party(&door)?;
    let (options, ceremony) = rp
        .start_discoverable_authentication()
        .map_err(|e| ApiError::fault("cannot start a WebAuthn sign-in", e))?;
    let handle = start_ceremony(&state, &door, Kind::SignIn, None, &ceremony).await?;
    Ok(started(&handle, &options))
}

/// POST /passkeys/sign-in/finish.
pub(crate) async fn finish(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, body): (_, Finish) = read_json(&state, req).await?;
    let tenant = door.tenant.id.as_str();
    // The request is checked first: a sign-in for a request that is no
    // longer valid must not use up the ceremony or count as a failure.
    let submission = if body.request.is_empty() {
        None
    } else {
        let inner = Params::from_urlencoded(body.request.as_bytes());
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
    };
    let ip = door.client_ip.map(limits::ip_key);
    let ip_limit = &state.config.signin_ip_limit;
    let reserved = match &ip {
        Some(k) => match limits::reserve(&state, k, ip_limit).await? {
            Ok(count) => Some(count),
            Err(secs) => {
                tracing::warn!(tenant, "passkey sign-in blocked: too many attempts");
                passkey_failed(&state, &door, "too_many_attempts").await;
                return Err(ApiError::RateLimited {
                    retry_after: secs.max(1) as u64,
                    json: true,
                });
            }
        },
        None => None,
    };
    let outcome = verify(&state, &door, &body, submission.is_some()).await;
    if let (Ok(Outcome::Failed(why)), Some(k), Some(count)) = (&outcome, &ip, reserved) {
        state
            .store
            .attempt_failed(k, count, crate::now(), ip_limit)
            .await?;
        tracing::info!(tenant, why, "passkey sign-in failed");
    } else if let Some(k) = &ip {
        state.store.release_attempt(k, ip_limit).await?;
    }
    let (sub, synced) = match outcome? {
        Outcome::Person { sub, synced } => (sub, synced),
        Outcome::Refused(e) => return Err(e),
        Outcome::Failed(why) => {
            if ip.is_none() {
                tracing::info!(tenant, why, "passkey sign-in failed");
            }
            passkey_failed(&state, &door, "invalid_passkey").await;
            return Err(not_accepted());
        }
    };
    tracing::info!(tenant, sub = %sub, "passkey sign-in succeeded");
    let methods = [Method::Passkey { synced }];
    match submission {
        Some(s) => Ok(as_json(
            crate::pages::signed_in(&state, &door, &s, &sub, &methods).await?,
        )),
        None => super::account_session(&state, &door, &headers, &sub, &methods).await,
    }
}

/// `user.sign_in_failed` of a passkey sign-in (no subject: the passkey
/// named nobody who may sign in).
async fn passkey_failed(state: &AppState, door: &Door, reason: &str) {
    crate::events::Record::new(&door.tenant.id, "user.sign_in_failed", "anonymous")
        .ip(door.client_ip)
        .detail(serde_json::json!({"reason": reason, "method": "passkey"}))
        .save(state)
        .await;
}

/// What a finish proved.
enum Outcome {
    /// The person whose passkey it was, and whether it may be synced.
    Person { sub: String, synced: bool },
    /// A refusal that is no failed attempt (an expired ceremony, a
    /// disabled person).
    Refused(ApiError),
    /// A failed attempt, and why (for the log).
    Failed(&'static str),
}

/// Checks a finish: the ceremony (taken once), the credential, its
/// signature and user verification, the person; records the use. A
/// sign-in `for_request` (an application's) also needs the address
/// verified where the tenant requires it; the account page's does not, as
/// with the password.
async fn verify(
    state: &AppState,
    door: &Door,
    body: &Finish,
    for_request: bool,
) -> Result<Outcome, ApiError> {
    let tenant = door.tenant.id.as_str();
    let rp = match super::relying_party(door) {
        Ok(rp) => rp,
        Err(e) => return Ok(Outcome::Refused(e)),
    };
    let ceremony: DiscoverableAuthentication =
        match take_ceremony(state, door, Kind::SignIn, None, &body.handle).await {
            Ok(c) => c,
            Err(e @ ApiError::Internal(_)) => return Err(e),
            Err(e) => return Ok(Outcome::Refused(e)),
        };
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(body.credential.clone())
    else {
        return Ok(Outcome::Failed("malformed credential"));
    };
    let Ok((handle, cred_id)) = rp.identify_discoverable_authentication(&credential) else {
        return Ok(Outcome::Failed("no user handle"));
    };
    let row = state
        .store
        .passkey_by_credential(tenant, &super::credential_key(cred_id))
        .await?;
    let Some(row) = row else {
        return Ok(Outcome::Failed("unknown credential"));
    };
    if handle != super::user_handle(tenant, &row.user_sub) {
        return Ok(Outcome::Failed("user handle mismatch"));
    }
    let mut passkey = super::passkey_of(&row)?;
    let Ok(result) = rp.finish_discoverable_authentication(
        &credential,
        ceremony,
        &[DiscoverableKey::from(&passkey)],
    ) else {
        return Ok(Outcome::Failed("signature or flags not accepted"));
    };
    if !result.user_verified() {
        return Ok(Outcome::Failed("no user verification"));
    }
    let Some(user) = state.store.get_user(tenant, &row.user_sub).await? else {
        return Ok(Outcome::Failed("person gone"));
    };
    if user.disabled {
        tracing::info!(tenant, sub = %user.sub, "passkey sign-in refused: disabled");
        return Ok(Outcome::Refused(refused(
            StatusCode::FORBIDDEN,
            "account_disabled",
            crate::accounts::AccountError::Disabled.message(),
        )));
    }
    if for_request && crate::email_verification::blocks(door, &user) {
        return Ok(Outcome::Refused(refused(
            StatusCode::FORBIDDEN,
            "email_not_verified",
            "Please verify your e-mail address first: sign in with your password to get the link again.",
        )));
    }
    passkey.update_credential(&result);
    let synced = super::backup_eligible(&passkey);
    let json = super::stored_json(&passkey)?;
    state
        .store
        .passkey_used(tenant, &row.id, &json, synced, crate::now())
        .await?;
    Ok(Outcome::Person {
        sub: user.sub,
        synced,
    })
}
