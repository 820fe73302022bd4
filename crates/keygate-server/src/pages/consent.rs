//! The consent page of third-party clients (docs/apis.md, "Consent"):
//! after sign-in, or with a live session, a person allows or denies what
//! the client asks for. The decision is stored per person, client and API
//! and asked again for new scopes and for `prompt=consent`.

use super::render::{self, CSS};
use super::{csrf_token, error_redirect, read_submission, request_query, see_other};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::authorize::{next_step, AuthorizeRequest, NextStep};
use keygate_core::consent::{allowing, needs_consent, resource_key};
use keygate_core::model::{Client, User};
use keygate_core::params::Params;
use keygate_core::{ErrorCode, OAuthError};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    css: &'a str,
    tenant_name: &'a str,
    client_name: &'a str,
    email: &'a str,
    scopes: Vec<String>,
    action: &'a str,
    request: &'a str,
    csrf: &'a str,
    account_link: &'a str,
}

/// Whether `sub` must allow what `client` asks for in `req` first.
pub(crate) async fn needed(
    state: &AppState,
    door: &Door,
    client: &Client,
    req: &AuthorizeRequest,
    sub: &str,
) -> Result<bool, ApiError> {
    if !client.third_party {
        return Ok(false);
    }
    let allowed = state
        .store
        .consent(&door.tenant.id, sub, &client.id, resource_key(req))
        .await?;
    Ok(needs_consent(client, req, allowed.as_ref()))
}

/// What a scope lets the client do, in words.
pub(crate) fn describe(scope: &str, api_name: Option<&str>) -> String {
    match scope {
        "openid" => "Know who you are on this account".into(),
        "profile" => "See your name".into(),
        "email" => "See your e-mail address and whether it is verified".into(),
        "address" => "See your postal address".into(),
        "phone" => "See your phone number and whether it is verified".into(),
        "offline_access" => "Keep this access while you are away".into(),
        other => match api_name {
            Some(api) => format!("{other} on {api}"),
            None => other.to_string(),
        },
    }
}

/// The consent page for `user` and `req`; `cookies` go with it (a new
/// session's).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn page(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client: &Client,
    params: &Params,
    req: &AuthorizeRequest,
    user: &User,
    cookies: &[String],
) -> Result<Response, ApiError> {
    let api_name = match &req.resource {
        Some(id) => state.api(&door.tenant.id, id).await?.map(|a| a.name),
        None => None,
    };
    let (csrf, csrf_cookie) = csrf_token(state, headers);
    let request = request_query(params);
    let body = render::render(&ConsentPage {
        css: CSS,
        tenant_name: &door.tenant.display_name,
        client_name: &client.name,
        email: &user.email,
        scopes: keygate_core::consent::asked_scopes(req)
            .into_iter()
            .map(|s| describe(s, api_name.as_deref()))
            .collect(),
        action: &door.url("/consent"),
        request: &request,
        csrf: &csrf,
        account_link: &door.url("/account"),
    });
    let mut all: Vec<String> = cookies.to_vec();
    all.extend(csrf_cookie);
    tracing::info!(tenant = %door.tenant.id, sub = %user.sub, client_id = %client.id, "consent asked");
    Ok(super::page_signing_in(
        StatusCode::OK,
        body,
        &all,
        params,
        client,
    ))
}

/// The answer when consent is needed but `prompt=none` forbids a page.
pub(crate) fn required(door: &Door, req: &AuthorizeRequest) -> Response {
    error_redirect(
        door,
        &req.error_redirect(OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user must allow this application",
        )),
    )
}

/// POST /consent: the person's decision. The session must still satisfy
/// the request (else it starts over at /authorize); "allow" stores the
/// consent and sends the code, "deny" sends `access_denied`.
pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let sub = match read_submission(&state, &door, req).await? {
        Ok(s) => s,
        Err(res) => return Ok(res),
    };
    let again = see_other(
        &format!("{}?{}", door.url("/authorize"), request_query(&sub.params)),
        &[],
    );
    let Some((_, session)) = accounts::current_session(&state, &door, &sub.headers).await? else {
        return Ok(again);
    };
    let now = accounts::now();
    let needs_mfa = crate::mfa::needs_mfa(&door, &sub.request);
    let NextStep::IssueCode {
        user_sub,
        auth_time,
    } = next_step(&sub.request, Some(&session), now, needs_mfa)
    else {
        return Ok(again);
    };
    let Some(user) = state
        .store
        .get_user(&door.tenant.id, &user_sub)
        .await?
        .filter(|u| !u.disabled)
    else {
        return Ok(again);
    };
    if !sub.csrf_ok {
        return page(
            &state,
            &door,
            &sub.headers,
            &sub.client,
            &sub.params,
            &sub.request,
            &user,
            &[],
        )
        .await;
    }
    let tenant = door.tenant.id.as_str();
    match sub.form.get("decision") {
        Some("allow") => {
            let earlier = state
                .store
                .consent(
                    tenant,
                    &user_sub,
                    &sub.client.id,
                    resource_key(&sub.request),
                )
                .await?;
            let consent = allowing(&sub.request, tenant, &user_sub, earlier.as_ref(), now);
            state.store.save_consent(&consent).await?;
            tracing::info!(tenant, sub = %user_sub, client_id = %sub.client.id, scopes = %consent.scopes.join(" "), "consent given");
            let detail = serde_json::json!({"client_id": sub.client.id, "scopes": consent.scopes});
            crate::events::by_user(&state, &door, "user.consent_granted", &user_sub, detail).await;
            let (code, _) = accounts::issue_code(
                &state,
                &door,
                &sub.request,
                &user_sub,
                auth_time,
                &session.amr,
                Some(&session.sid),
                false,
            )
            .await?;
            Ok(super::send_code(&door, &sub.request, &code, &[]))
        }
        Some("deny") => {
            tracing::info!(tenant, sub = %user_sub, client_id = %sub.client.id, "consent denied");
            Ok(error_redirect(
                &door,
                &sub.request.error_redirect(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "the user denied the request",
                )),
            ))
        }
        _ => Err(super::page_error(
            &door,
            StatusCode::BAD_REQUEST,
            "Choose Allow or Deny.",
        )),
    }
}
