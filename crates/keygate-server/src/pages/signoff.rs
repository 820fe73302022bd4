//! Sign-out (OpenID Connect RP-Initiated Logout 1.0): ends the session and
//! returns to the application only at a registered post-logout URI.
//!
//! A GET carrying a valid `id_token_hint` signs out at once (the application
//! proves it holds the person's id_token); otherwise the person confirms on
//! a page with a CSRF-protected form, so a third-party link cannot sign them out.

use super::render::{self, ConfirmForm, MessagePage};
use super::{csrf_ok, csrf_token, page_error, read_form, see_other};
use crate::accounts;
use crate::cookies;
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::params::Params;

/// Where to go after sign-out, checked against the client's registration.
async fn target(
    state: &AppState,
    door: &Door,
    p: &Params,
    hint_aud: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(uri) = p.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let client_id = p.get("client_id").or(hint_aud).ok_or_else(|| {
        page_error(
            door,
            StatusCode::BAD_REQUEST,
            "post_logout_redirect_uri needs client_id or id_token_hint.",
        )
    })?;
    let client = state.client(&door.tenant.id, client_id).await?;
    match client {
        Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            let mut params = vec![];
            if let Some(s) = p.get("state") {
                params.push(("state", s));
            }
            // Exactly the registered URI when there is nothing to add (no stray `?`).
            Ok(Some(if params.is_empty() {
                uri.to_string()
            } else {
                keygate_core::redirect::with_query(uri, &params)
            }))
        }
        _ => Err(page_error(
            door,
            StatusCode::BAD_REQUEST,
            "The post_logout_redirect_uri is not registered for this application.",
        )),
    }
}

/// The audience of an id_token_hint signed by this tenant, if it verifies.
async fn hint_audience(
    state: &AppState,
    door: &Door,
    p: &Params,
) -> Result<Option<String>, ApiError> {
    let Some(hint) = p.get("id_token_hint") else {
        return Ok(None);
    };
    let keys = state.keys.keys(&door.tenant.id).await?;
    match keygate_crypto::jws::verify::<serde_json::Value>(hint, &keys.verifying) {
        Ok((_, claims)) if claims["iss"] == door.issuer.as_str() => {
            Ok(claims["aud"].as_str().map(str::to_string))
        }
        _ => Err(page_error(
            door,
            StatusCode::BAD_REQUEST,
            "The id_token_hint is not valid.",
        )),
    }
}

async fn sign_out(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    to: Option<String>,
) -> Result<Response, ApiError> {
    if let Some((hash, _)) = accounts::current_session(state, door, headers).await? {
        state.store.delete_session(&hash).await?;
    }
    let https = state.config.https();
    let clear = cookies::clear(https, &cookies::session_name(https, &door.tenant.id));
    Ok(match to {
        Some(to) => see_other(&to, &[clear]),
        None => render::html(
            StatusCode::OK,
            render::render(&MessagePage {
                css: render::CSS,
                tenant_name: &door.tenant.display_name,
                heading: "Signed out",
                message: "You are signed out. You can close this window.",
                is_error: false,
                confirm: None,
            }),
            &[clear],
        ),
    })
}

pub async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes())
        .map_err(|e| page_error(&door, StatusCode::BAD_REQUEST, e.description))?;
    let aud = hint_audience(&state, &door, &p).await?;
    let to = target(&state, &door, &p, aud.as_deref()).await?;
    if aud.is_some() {
        return sign_out(&state, &door, req.headers(), to).await;
    }
    let (csrf, cookie) = csrf_token(&state, req.headers());
    let fields = ["client_id", "post_logout_redirect_uri", "state"]
        .iter()
        .filter_map(|k| p.get(k).map(|v| (k.to_string(), v.to_string())))
        .collect();
    let body = render::render(&MessagePage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        heading: "Sign out",
        message: "Do you want to sign out?",
        is_error: false,
        confirm: Some(ConfirmForm {
            action: door.url("/signoff"),
            csrf,
            button: "Sign out".into(),
            fields,
        }),
    });
    // The confirmation's answer redirects to the post-logout URI.
    Ok(render::html_posting_to(
        StatusCode::OK,
        body,
        cookie.as_slice(),
        to.as_deref(),
    ))
}

pub async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let form = read_form(&state, req)
        .await?
        .map_err(|e| page_error(&door, StatusCode::BAD_REQUEST, e.description))?;
    if !csrf_ok(&state, &headers, &form) {
        return Err(page_error(
            &door,
            StatusCode::BAD_REQUEST,
            "This form expired. Please try signing out again.",
        ));
    }
    let aud = hint_audience(&state, &door, &form).await?;
    let to = target(&state, &door, &form, aud.as_deref()).await?;
    sign_out(&state, &door, &headers, to).await
}
