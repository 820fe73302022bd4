//! The account page's "Passkeys" section (docs/account.md, "Passkeys"):
//! add one (`POST /account/passkeys/start` and `.../finish`, JSON, from the
//! page's script), list them, and remove one (`POST
//! /account/passkeys/remove`, a form).

use super::{done, show, signed_in, to_sign_in, SignedIn, EXPIRED};
use crate::door::Door;
use crate::error::ApiError;
use crate::pages::{csrf_ok, read_form};
use crate::passkeys::{self, HasCsrf, Kind};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use keygate_crypto::secrets;
use keygate_store::{StoreError, StoredPasskey};
use serde::Deserialize;
use webauthn_rs::prelude::{CredentialID, PasskeyRegistration, RegisterPublicKeyCredential};

/// A passkey as the account page lists it.
pub(crate) struct PasskeyRow {
    /// Its id (the remove form's).
    pub id: String,
    /// The name the person gave it.
    pub name: String,
    /// When it was added (UTC).
    pub added: String,
    /// When it last signed the person in (UTC), if ever.
    pub last_used: Option<String>,
}

/// The person's passkeys, as the page lists them.
pub(crate) async fn rows(state: &AppState, who: &SignedIn) -> Result<Vec<PasskeyRow>, ApiError> {
    Ok(state
        .store
        .passkeys(&who.user.tenant_id, &who.user.sub)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            added: super::when(p.created_at),
            last_used: p.last_used_at.map(super::when),
        })
        .collect())
}

/// The start of adding a passkey.
#[derive(Deserialize)]
pub(crate) struct Start {
    csrf: Option<String>,
}

impl HasCsrf for Start {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The finish of adding a passkey.
#[derive(Deserialize)]
pub(crate) struct Finish {
    csrf: Option<String>,
    handle: String,
    #[serde(default)]
    name: String,
    /// What `navigator.credentials.create` gave, read below.
    credential: serde_json::Value,
}

impl HasCsrf for Finish {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The signed-in person, or the JSON refusal of a request without one.
async fn person(
    state: &AppState,
    door: &Door,
    headers: &axum::http::HeaderMap,
) -> Result<SignedIn, ApiError> {
    signed_in(state, door, headers).await?.ok_or_else(|| {
        passkeys::refused(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "You are no longer signed in. Please sign in again.",
        )
    })
}

fn too_many() -> ApiError {
    passkeys::refused(
        StatusCode::CONFLICT,
        "too_many_passkeys",
        "You have as many passkeys as an account may have. Remove one first.",
    )
}

/// POST /account/passkeys/start: the options of a new discoverable
/// credential with user verification, excluding the person's own.
pub(crate) async fn start(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, _body): (_, Start) = passkeys::read_json(&state, req).await?;
    let who = person(&state, &door, &headers).await?;
    let existing = state.store.passkeys(&door.tenant.id, &who.user.sub).await?;
    if existing.len() >= passkeys::MAX_PASSKEYS {
        return Err(too_many());
    }
    let exclude = existing
        .iter()
        .map(|p| passkeys::passkey_of(p).map(|k| k.cred_id().clone()))
        .collect::<Result<Vec<CredentialID>, _>>()?;
    let rp = passkeys::relying_party(&door)?;
    let display = who.user.name.as_deref().unwrap_or(&who.user.email);
    let (options, ceremony) = rp
        .start_passkey_registration(
            passkeys::user_handle(&door.tenant.id, &who.user.sub),
            &who.user.email,
            display,
            Some(exclude),
        )
        .map_err(|e| ApiError::fault("cannot start a WebAuthn registration", e))?;
    // A passkey must be discoverable (signing in needs no e-mail address
    // first): the library leaves residence to the authenticator, so the
    // options ask for it (the finish does not depend on it).
    let mut options = serde_json::to_value(&options)
        .map_err(|e| ApiError::fault("cannot serialise WebAuthn options", e))?;
    if let Some(sel) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|s| s.as_object_mut())
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    let handle = passkeys::start_ceremony(
        &state,
        &door,
        Kind::Register,
        Some(&who.user.sub),
        &ceremony,
    )
    .await?;
    Ok(passkeys::started(&handle, &options))
}

/// POST /account/passkeys/finish: checks the new credential and keeps it.
pub(crate) async fn finish(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, body): (_, Finish) = passkeys::read_json(&state, req).await?;
    let who = person(&state, &door, &headers).await?;
    let tenant = door.tenant.id.as_str();
    let sub = who.user.sub.as_str();
    let ceremony: PasskeyRegistration =
        passkeys::take_ceremony(&state, &door, Kind::Register, Some(sub), &body.handle).await?;
    let rp = passkeys::relying_party(&door)?;
    let not_added = || {
        passkeys::refused(
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
            tracing::info!(tenant, sub, error = %e, "passkey registration refused");
            not_added()
        })?;
    if state.store.passkeys(tenant, sub).await?.len() >= passkeys::MAX_PASSKEYS {
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
    let row = StoredPasskey {
        id: id.clone(),
        tenant_id: tenant.to_string(),
        user_sub: sub.to_string(),
        credential_id: passkeys::credential_key(passkey.cred_id().as_ref()),
        passkey: passkeys::stored_json(&passkey)?,
        name: if name.is_empty() {
            passkeys::DEFAULT_NAME.to_string()
        } else {
            name
        },
        created_at: crate::now(),
        last_used_at: None,
        backup_eligible: passkeys::backup_eligible(&passkey),
    };
    match state.store.create_passkey(&row).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(passkeys::refused(
                StatusCode::CONFLICT,
                "already_registered",
                "This passkey is already registered.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant, sub, passkey = %id, synced = row.backup_eligible, "passkey registered");
    let detail = serde_json::json!({"method": "passkey", "id": id, "synced": row.backup_eligible});
    crate::events::by_user(&state, &door, "user.factor_added", sub, detail).await;
    Ok(passkeys::as_json(done(&door, "passkey-added", &[])))
}

/// POST /account/passkeys/remove: removes one of the person's passkeys.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let Some(who) = signed_in(&state, &door, &headers).await? else {
        return Ok(to_sign_in(&door));
    };
    let form = match read_form(&state, req).await? {
        Ok(f) if csrf_ok(&state, &headers, &f) => f,
        _ => {
            return show(
                &state,
                &door,
                &headers,
                &who,
                None,
                Some(EXPIRED),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let id = form.get("id").unwrap_or("");
    if state
        .store
        .delete_passkey(&door.tenant.id, &who.user.sub, id)
        .await?
    {
        tracing::info!(tenant = %door.tenant.id, sub = %who.user.sub, passkey = %id, "passkey removed");
        let detail = serde_json::json!({"method": "passkey", "id": id});
        crate::events::by_user(&state, &door, "user.factor_removed", &who.user.sub, detail).await;
        crate::recovery::forget_without_factor(&state, &door.tenant.id, &who.user.sub).await?;
    }
    Ok(done(&door, "passkey-removed", &[]))
}
