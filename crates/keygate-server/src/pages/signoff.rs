//! Sign-out (OpenID Connect RP-Initiated Logout 1.0): ends the session and
//! returns to the application only at a registered post-logout URI.
//!
//! A GET signs out at once only when its `id_token_hint` proves that the
//! application holds the signed-in person's id_token: an id_token (not an
//! access token) signed by this issuer, whose `sub` is the session's person
//! and whose `aud` holds the `client_id` sent, if any. An expired id_token
//! still proves that (RP-Initiated Logout 1.0, section 2). Otherwise the
//! person confirms on a page with a CSRF-protected form, so a third-party
//! link cannot sign them out.

use super::render::{self, ConfirmForm, MessagePage};
use super::{csrf_ok, csrf_token, page_error, read_form, see_other};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::http::cookies;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use keygate_core::model::Session;
use keygate_core::params::Params;

/// Where to go after sign-out, checked against the registration of
/// `client_id` (sent, or the audience of the id_token_hint).
async fn target(
    state: &AppState,
    door: &Door,
    p: &Params,
    client_id: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(uri) = p.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let client_id = client_id.ok_or_else(|| {
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

/// What a verified `id_token_hint` (signature and issuer checked) allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hint {
    /// An id_token about the signed-in person, for the client sent (if
    /// one was): sign out without asking.
    Proves { client_id: String },
    /// Anything else: ask. `client_id` is the client the token names
    /// when it is an id_token (to check `post_logout_redirect_uri`).
    Ask { client_id: Option<String> },
}

/// Judges a hint whose signature and issuer were verified (no I/O).
/// Access tokens (RFC 9068: `typ` `at+jwt` and a `client_id` claim) never
/// prove anything; an id_token proves the sign-out when its `sub` is
/// `session_sub` and, when `client_id` was sent, its `aud` holds it. `exp`
/// is not checked: an expired id_token is still a valid hint.
fn judge_hint(
    typ: Option<&str>,
    claims: &serde_json::Value,
    session_sub: Option<&str>,
    client_id: Option<&str>,
) -> Hint {
    let id_token_typ = typ.is_none_or(|t| t.eq_ignore_ascii_case("JWT"));
    let audience: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(a) => vec![a.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => vec![],
    };
    let sub = claims["sub"].as_str();
    if !id_token_typ || claims.get("client_id").is_some() || audience.is_empty() || sub.is_none() {
        return Hint::Ask { client_id: None };
    }
    // The client it was issued to: `azp` when present (OIDC Core 2), else
    // a single audience.
    let issued_to = claims["azp"]
        .as_str()
        .filter(|azp| audience.contains(azp))
        .or(match audience.as_slice() {
            [one] => Some(*one),
            _ => None,
        });
    let for_client = match client_id {
        Some(c) => audience.contains(&c).then_some(c),
        None => issued_to,
    };
    match for_client {
        Some(c) if session_sub.is_some() && session_sub == sub => Hint::Proves {
            client_id: c.to_string(),
        },
        _ => Hint::Ask {
            client_id: issued_to.map(str::to_string),
        },
    }
}

/// The verdict on the request's `id_token_hint`, if it sent one; a hint that
/// is not a token signed by this issuer is refused with an error page.
async fn hint(
    state: &AppState,
    door: &Door,
    p: &Params,
    session_sub: Option<&str>,
) -> Result<Option<Hint>, ApiError> {
    let Some(hint) = p.get("id_token_hint") else {
        return Ok(None);
    };
    let keys = state.keys.keys(&door.tenant.id).await?;
    let mut verified = keygate_crypto::jws::verify::<serde_json::Value>(hint, &keys.verifying);
    if verified == Err(keygate_crypto::jws::JwtError::UnknownKey) {
        let fresh = state.keys.keys_for_unknown_kid(&door.tenant.id).await?;
        verified = keygate_crypto::jws::verify(hint, &fresh.verifying);
    }
    match verified {
        Ok((header, claims)) if claims["iss"] == door.issuer.as_str() => Ok(Some(judge_hint(
            header.typ.as_deref(),
            &claims,
            session_sub,
            p.get("client_id"),
        ))),
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
    session: Option<(String, Session)>,
    to: Option<String>,
) -> Result<Response, ApiError> {
    if let Some((hash, _)) = session {
        // Its applications are told by back-channel logout (docs/logout.md).
        state.store.end_session(&hash, crate::now()).await?;
        crate::backchannel::wake();
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

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let p = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes())
        .map_err(|e| page_error(&door, StatusCode::BAD_REQUEST, e.description))?;
    let session = accounts::current_session(&state, &door, req.headers()).await?;
    let session_sub = session.as_ref().map(|(_, s)| s.user_sub.as_str());
    let (client_id, proves) = match hint(&state, &door, &p, session_sub).await? {
        Some(Hint::Proves { client_id }) => (Some(client_id), true),
        Some(Hint::Ask { client_id }) => {
            (p.get("client_id").map(str::to_string).or(client_id), false)
        }
        None => (p.get("client_id").map(str::to_string), false),
    };
    let to = target(&state, &door, &p, client_id.as_deref()).await?;
    if proves {
        return sign_out(&state, &door, session, to).await;
    }
    let (csrf, cookie) = csrf_token(&state, req.headers());
    // The confirmation carries the client that the target was checked
    // against, so its POST checks the same one.
    let fields = client_id
        .map(|c| ("client_id".to_string(), c))
        .into_iter()
        .chain(
            ["post_logout_redirect_uri", "state"]
                .iter()
                .filter_map(|k| p.get(k).map(|v| (k.to_string(), v.to_string()))),
        )
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

pub(crate) async fn post(
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
    // Confirmed (the CSRF token proves the person's own browser asked): the
    // target is checked against the client sent, or a hint's client.
    let session = accounts::current_session(&state, &door, &headers).await?;
    let session_sub = session.as_ref().map(|(_, s)| s.user_sub.as_str());
    let client_id = match hint(&state, &door, &form, session_sub).await? {
        Some(Hint::Proves { client_id }) => Some(client_id),
        Some(Hint::Ask { client_id }) => form.get("client_id").map(str::to_string).or(client_id),
        None => form.get("client_id").map(str::to_string),
    };
    let to = target(&state, &door, &form, client_id.as_deref()).await?;
    sign_out(&state, &door, session, to).await
}

#[cfg(test)]
mod tests {
    use super::{judge_hint, Hint};
    use serde_json::json;

    fn id_token(sub: &str, aud: serde_json::Value) -> serde_json::Value {
        json!({"iss": "https://id.test", "sub": sub, "aud": aud, "azp": "app", "exp": 1, "iat": 0})
    }

    #[test]
    fn only_the_sessions_own_id_token_proves_a_sign_out() {
        let proves = Hint::Proves {
            client_id: "app".into(),
        };
        let ask_app = Hint::Ask {
            client_id: Some("app".into()),
        };
        let t = id_token("ann", json!("app"));
        // The signed-in person's id_token (expired: exp 1), with or without client_id.
        assert_eq!(judge_hint(Some("JWT"), &t, Some("ann"), None), proves);
        assert_eq!(judge_hint(None, &t, Some("ann"), Some("app")), proves);
        assert_eq!(
            judge_hint(
                None,
                &id_token("ann", json!(["app", "api"])),
                Some("ann"),
                Some("app")
            ),
            proves
        );
        // Another person's id_token, no session, or another client: ask.
        assert_eq!(judge_hint(Some("JWT"), &t, Some("bob"), None), ask_app);
        assert_eq!(judge_hint(Some("JWT"), &t, None, None), ask_app);
        assert_eq!(
            judge_hint(Some("JWT"), &t, Some("ann"), Some("other")),
            ask_app
        );
        // An access token (RFC 9068) proves nothing and names no client.
        let at = json!({"iss": "https://id.test", "sub": "ann", "aud": "app", "client_id": "app",
            "scope": "openid", "jti": "j", "exp": 1, "iat": 0});
        let ask = Hint::Ask { client_id: None };
        assert_eq!(
            judge_hint(Some("at+jwt"), &at, Some("ann"), Some("app")),
            ask
        );
        assert_eq!(judge_hint(Some("JWT"), &at, Some("ann"), Some("app")), ask);
        assert_eq!(judge_hint(Some("at+jwt"), &t, Some("ann"), None), ask);
        // No sub or no audience: not an id_token.
        assert_eq!(
            judge_hint(None, &json!({"aud": "app"}), Some("ann"), None),
            ask
        );
        assert_eq!(
            judge_hint(None, &json!({"sub": "ann"}), Some("ann"), None),
            ask
        );
    }
}
