//! The account page's "Sign-in with other providers" section
//! (docs/federation.md): the upstream identities linked to the account,
//! each removable, and a button per upstream of the tenant to link one
//! more (a round trip to it while signed in here).
//!
//! An account without a password and without a passkey keeps its last
//! linked identity: removing it would leave no way to sign in except a
//! password reset.

use super::{done, read_signed_in_form, show, signed_in, SignedIn};
use crate::door::Door;
use crate::error::ApiError;
use crate::federation::trip;
use crate::pages::federation::with_cookie;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::federation::{FederatedIdentity, Trip, UpstreamIdp};
use keygate_core::params::Params;

/// A linked identity as the page lists it.
pub(crate) struct IdentityRow {
    pub idp_name: String,
    pub email: Option<String>,
    pub linked: String,
    pub issuer: String,
    pub subject: String,
}

/// An upstream the person can link.
pub(crate) struct LinkOffer {
    pub id: String,
    pub name: String,
}

/// The person's linked identities, and the tenant's upstreams.
pub(crate) async fn rows(
    state: &AppState,
    who: &SignedIn,
) -> Result<(Vec<IdentityRow>, Vec<LinkOffer>), ApiError> {
    let tenant = &who.user.tenant_id;
    let linked = state
        .store
        .identities_of(tenant, &who.user.sub)
        .await?
        .into_iter()
        .map(|i| IdentityRow {
            idp_name: i.idp_name,
            email: i.email,
            linked: super::when(i.created_at),
            issuer: i.issuer,
            subject: i.subject,
        })
        .collect();
    let offers = state
        .store
        .list_idps(tenant)
        .await?
        .into_iter()
        .map(|i| LinkOffer {
            id: i.id,
            name: i.name,
        })
        .collect();
    Ok((linked, offers))
}

/// POST /account/identities/link: a round trip to the upstream `idp`,
/// linking what comes back to this account.
pub(crate) async fn link(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, who, form) = match read_signed_in_form(&state, &door, req).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let Some(idp) = state
        .store
        .get_idp(&door.tenant.id, form.get("idp").unwrap_or(""))
        .await?
    else {
        return refuse(
            &state,
            &door,
            &headers,
            &who,
            "This identity provider is not available.",
        )
        .await;
    };
    let trip = Trip {
        idp_id: idp.id.clone(),
        request: None,
        link_user: Some(who.user.sub.clone()),
    };
    crate::pages::federation::send(&state, &door, &idp, &trip).await
}

async fn refuse(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    who: &SignedIn,
    message: &str,
) -> Result<Response, ApiError> {
    show(
        state,
        door,
        headers,
        who,
        None,
        Some(message),
        StatusCode::BAD_REQUEST,
    )
    .await
}

/// The callback of a trip started by [`link`]: the same person must still
/// be signed in here; the identity must not be linked to anyone else.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn callback(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    idp: &UpstreamIdp,
    link_user: &str,
    query: &Params,
    state_value: &str,
    clear: String,
) -> Result<Response, ApiError> {
    let Some(who) = signed_in(state, door, headers)
        .await?
        .filter(|w| w.user.sub == link_user)
    else {
        return Ok(with_cookie(super::to_sign_in(door), &clear));
    };
    if query.get("error").is_some() {
        return Ok(with_cookie(done(door, "identity-cancelled", &[]), &clear));
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        let msg = "The identity provider's answer has no code.";
        return Ok(with_cookie(
            refuse(state, door, headers, &who, msg).await?,
            &clear,
        ));
    };
    let secrets = trip::secrets_of(state, state_value);
    let profile = match crate::federation::upstream::redeem(
        state,
        idp,
        &trip::callback_uri(door, idp),
        code,
        &secrets,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(tenant = %door.tenant.id, idp = %idp.id, error = %e, "upstream link failed");
            let msg = e.message(&idp.name);
            return Ok(with_cookie(
                refuse(state, door, headers, &who, &msg).await?,
                &clear,
            ));
        }
    };
    let existing = state
        .store
        .federated_identity(&door.tenant.id, &profile.issuer, &profile.subject)
        .await?;
    match existing {
        Some(i) if i.user_sub == who.user.sub => {
            return Ok(with_cookie(done(door, "identity-linked", &[]), &clear))
        }
        Some(_) => {
            let msg = format!(
                "This {} account is already linked to another account here.",
                idp.name
            );
            return Ok(with_cookie(
                refuse(state, door, headers, &who, &msg).await?,
                &clear,
            ));
        }
        None => {}
    }
    let now = crate::now();
    let identity = FederatedIdentity {
        tenant_id: door.tenant.id.clone(),
        issuer: profile.issuer,
        subject: profile.subject,
        user_sub: who.user.sub.clone(),
        idp_id: idp.id.clone(),
        idp_name: idp.name.clone(),
        email: profile.email,
        created_at: now,
        last_used_at: now,
    };
    if !state.store.link_identity(&identity).await? {
        let msg = format!(
            "This {} account was linked to another account meanwhile.",
            idp.name
        );
        return Ok(with_cookie(
            refuse(state, door, headers, &who, &msg).await?,
            &clear,
        ));
    }
    tracing::info!(tenant = %door.tenant.id, idp = %idp.id, sub = %who.user.sub, "upstream identity linked from the account page");
    Ok(with_cookie(done(door, "identity-linked", &[]), &clear))
}

/// POST /account/identities/remove: unlinks one of the person's
/// identities (`issuer`, `subject`), unless it is their last way to sign in.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, who, form) = match read_signed_in_form(&state, &door, req).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let (issuer, subject) = (
        form.get("issuer").unwrap_or(""),
        form.get("subject").unwrap_or(""),
    );
    let tenant = &door.tenant.id;
    let identities = state.store.identities_of(tenant, &who.user.sub).await?;
    if !identities
        .iter()
        .any(|i| i.issuer == issuer && i.subject == subject)
    {
        return refuse(
            &state,
            &door,
            &headers,
            &who,
            "This identity is not linked to your account.",
        )
        .await;
    }
    let has_password = !who.user.password_hash.is_empty();
    let has_passkey = !state
        .store
        .passkeys(tenant, &who.user.sub)
        .await?
        .is_empty();
    if identities.len() == 1 && !has_password && !has_passkey {
        let msg = "This is your only way to sign in. Set a password first (sign out, then \
                   \"Forgot your password?\"), or add a passkey, then remove it.";
        return refuse(&state, &door, &headers, &who, msg).await;
    }
    if state
        .store
        .unlink_identity(tenant, &who.user.sub, issuer, subject)
        .await?
    {
        tracing::info!(tenant = %tenant, sub = %who.user.sub, "upstream identity unlinked");
    }
    Ok(done(&door, "identity-removed", &[]))
}
