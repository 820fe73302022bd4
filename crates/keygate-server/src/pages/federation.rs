//! The pages of sign-in through an upstream identity provider
//! (docs/federation.md): the start of a round trip, its callback, and the
//! page that links an upstream identity to the local account with the
//! same e-mail once that account's password is given.
//!
//! Whatever happens, the person ends where a password sign-in would: the
//! second factor when their account has one (or the tenant asks for one),
//! then a code for the application. A failure before the application's
//! request is known again (a bad `state`) ends on a page; one after it
//! (the upstream's own `error`) goes back to the application as an OAuth
//! error; an upstream that cannot be reached or whose answer does not
//! verify ends on a page naming it. Nothing is created on any failure.

use super::render::{self, FederationLinkPage};
use super::{csrf_token, page_error, read_page_form, request_query, validate_request, Submission};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::federation::trip::{self, Refused};
use crate::federation::upstream::{self, UpstreamError};
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use keygate_core::amr::Method;
use keygate_core::federation::{
    self as fed, FederatedIdentity, FederationState, Outcome, PendingLink, Profile, StatePurpose,
    Trip, UpstreamIdp,
};
use keygate_core::model::{Registration, User};
use keygate_core::params::Params;
use keygate_core::OAuthError;
use keygate_crypto::secrets;
use std::collections::HashMap;

/// The upstreams of the door's tenant as the sign-in page's links, each
/// carrying the authorization request.
pub(crate) async fn links(
    state: &AppState,
    door: &Door,
    params: &Params,
) -> Result<Vec<render::UpstreamLink>, ApiError> {
    let request = request_query(params);
    Ok(state
        .store
        .list_idps(&door.tenant.id)
        .await?
        .into_iter()
        .map(|idp| render::UpstreamLink {
            href: format!(
                "{}?{}",
                door.url(&format!("/federation/{}/start", idp.id)),
                request
            ),
            name: idp.name,
        })
        .collect())
}

/// The upstream `/authorize` names by `idp_hint` (its id) or `connection`
/// (its name, as Auth0's applications send): `Ok(None)` when it names
/// none, `Err` when it names one the tenant does not have.
pub(crate) async fn named(
    state: &AppState,
    door: &Door,
    params: &Params,
) -> Result<Result<Option<UpstreamIdp>, OAuthError>, ApiError> {
    let (by_id, by_name) = (params.get("idp_hint"), params.get("connection"));
    if by_id.is_none() && by_name.is_none() {
        return Ok(Ok(None));
    }
    let found = match (by_id, by_name) {
        (Some(id), _) => state.store.get_idp(&door.tenant.id, id).await?,
        (None, Some(name)) => state
            .store
            .list_idps(&door.tenant.id)
            .await?
            .into_iter()
            .find(|i| i.name == name),
        (None, None) => None,
    };
    Ok(found.map(Some).ok_or_else(|| {
        OAuthError::invalid_request(if by_id.is_some() {
            "idp_hint names no identity provider of this tenant"
        } else {
            "connection names no identity provider of this tenant"
        })
    }))
}

/// Sends the browser to `idp` to sign in for the validated request
/// `params`; a page naming the upstream when it cannot be reached.
pub(crate) async fn go(
    state: &AppState,
    door: &Door,
    idp: &UpstreamIdp,
    params: &Params,
) -> Result<Response, ApiError> {
    let trip = Trip {
        idp_id: idp.id.clone(),
        request: Some(request_query(params)),
        link_user: None,
    };
    send(state, door, idp, &trip).await
}

/// Starts `trip` and redirects to the upstream.
pub(crate) async fn send(
    state: &AppState,
    door: &Door,
    idp: &UpstreamIdp,
    trip: &Trip,
) -> Result<Response, ApiError> {
    match trip::start(state, door, idp, trip).await? {
        Ok(started) => Ok(super::see_other(&started.location, &[started.cookie])),
        Err(e) => Ok(upstream_failed(door, idp, &e, &[])),
    }
}

/// The page for a failed exchange with an upstream (502: the fault is a
/// server's, not the person's), after logging why.
fn upstream_failed(
    door: &Door,
    idp: &UpstreamIdp,
    e: &UpstreamError,
    cookies: &[String],
) -> Response {
    tracing::warn!(tenant = %door.tenant.id, idp = %idp.id, error = %e, "upstream sign-in failed");
    metrics::counter!("keygate_federation_total", "result" => "upstream_failed").increment(1);
    page(
        door,
        StatusCode::BAD_GATEWAY,
        &format!("Signing in with {} failed", idp.name),
        &e.message(&idp.name),
        cookies,
    )
}

/// A page with a heading and a message, and cookies.
fn page(
    door: &Door,
    status: StatusCode,
    heading: &str,
    message: &str,
    cookies: &[String],
) -> Response {
    let mut res = render::message_page(status, &door.tenant.display_name, heading, message);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// GET /federation/{id}/start?{authorization request}: the sign-in page's
/// "Continue with NAME".
pub(crate) async fn start(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    Path(path): Path<HashMap<String, String>>,
    req: Request,
) -> Result<Response, ApiError> {
    let id = path.get("id").cloned().unwrap_or_default();
    let params = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes());
    let (_, _, params) = match validate_request(&state, &door, params).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let Some(idp) = state.store.get_idp(&door.tenant.id, &id).await? else {
        return Err(page_error(
            &door,
            StatusCode::NOT_FOUND,
            "This identity provider is not available. Go back and sign in another way.",
        ));
    };
    go(&state, &door, &idp, &params).await
}

/// GET /federation/{id}/callback: the upstream's answer.
pub(crate) async fn callback(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    Path(path): Path<HashMap<String, String>>,
    req: Request,
) -> Result<Response, ApiError> {
    // The front door's own parameters (the tenant of a path door) are in
    // the same map: the upstream's id is the one named `id`.
    let id = path.get("id").cloned().unwrap_or_default();
    let headers = req.headers().clone();
    let query = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes())
        .map_err(|e| page_error(&door, StatusCode::BAD_REQUEST, e.description))?;
    let clear = trip::clear_cookie(&state);
    let trip = match trip::take(&state, &door, &headers, &id, query.get("state")).await? {
        Ok(t) => t,
        Err(why) => {
            tracing::info!(tenant = %door.tenant.id, idp = %id, ?why, "federation callback refused");
            metrics::counter!("keygate_federation_total", "result" => "bad_state").increment(1);
            return Ok(page(
                &door,
                StatusCode::BAD_REQUEST,
                "This sign-in cannot be completed",
                match why {
                    Refused::NotThisBrowser => {
                        "This sign-in was not started in this browser, or it has expired. \
                         Go back to the application and sign in again."
                    }
                    Refused::Unknown | Refused::Foreign => {
                        "This sign-in has already been completed or has expired. \
                         Go back to the application and sign in again."
                    }
                },
                &[clear],
            ));
        }
    };
    let Some(idp) = state.store.get_idp(&door.tenant.id, &id).await? else {
        return Ok(page(
            &door,
            StatusCode::BAD_REQUEST,
            "This sign-in cannot be completed",
            "This identity provider was removed. Go back and sign in another way.",
            &[clear],
        ));
    };
    // RFC 9207: an answer that names another issuer came from another
    // provider (a mix-up attack); nothing in it is used. (An `oauth2`
    // upstream's configured issuer is only a name, so not compared.)
    if idp.kind == keygate_core::federation::IdpKind::Oidc
        && query.get("iss").is_some_and(|iss| iss != idp.issuer)
    {
        let e = UpstreamError::Invalid("the answer's iss is not the upstream's issuer".into());
        return Ok(upstream_failed(&door, &idp, &e, &[clear]));
    }
    if let Some(link_user) = &trip.link_user {
        return super::account::identities::callback(
            &state,
            &door,
            &headers,
            &idp,
            link_user,
            &query,
            &value_of(&query),
            clear,
        )
        .await;
    }
    // The application's request, validated again (its client may have
    // changed meanwhile).
    let request = trip.request.clone().unwrap_or_default();
    let (ar, client, params) =
        match validate_request(&state, &door, Params::from_urlencoded(request.as_bytes())).await? {
            Ok(v) => v,
            Err(res) => return Ok(with_cookie(res, &clear)),
        };
    if let Some(error) = query.get("error") {
        // The person declined or the upstream refused: the application
        // hears it as the OAuth error it is (RFC 6749 4.1.2.1).
        tracing::info!(tenant = %door.tenant.id, idp = %idp.id, upstream_error = %error.chars().take(64).collect::<String>(), "upstream answered with an error");
        metrics::counter!("keygate_federation_total", "result" => "declined").increment(1);
        let e = ar.error_redirect(OAuthError::new(
            keygate_core::error::ErrorCode::AccessDenied,
            format!("the sign-in with {} was not completed", idp.name),
        ));
        return Ok(with_cookie(super::error_redirect(&door, &e), &clear));
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        return Ok(page(
            &door,
            StatusCode::BAD_REQUEST,
            "This sign-in cannot be completed",
            "The identity provider's answer has no code. Go back to the application and try again.",
            &[clear],
        ));
    };
    let secrets = trip::secrets_of(&state, query.get("state").unwrap_or(""));
    let profile = match upstream::redeem(
        &state,
        &idp,
        &trip::callback_uri(&door, &idp),
        code,
        &secrets,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return Ok(upstream_failed(&door, &idp, &e, &[clear])),
    };
    let sub = Submission {
        headers,
        form: Params::default(),
        request: ar,
        client,
        params,
        csrf_ok: true,
    };
    let res = signed_in_upstream(&state, &door, &sub, &idp, profile).await?;
    Ok(with_cookie(res, &clear))
}

/// The `state` of a callback's query.
fn value_of(query: &Params) -> String {
    query.get("state").unwrap_or("").to_string()
}

/// `res` with one more cookie.
pub(crate) fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The person the upstream vouched for signs in: as the user their
/// identity is linked to, or as a new user, or (their e-mail being a local
/// account's) after that account's password.
async fn signed_in_upstream(
    state: &AppState,
    door: &Door,
    sub: &Submission,
    idp: &UpstreamIdp,
    profile: Profile,
) -> Result<Response, ApiError> {
    let tenant = &door.tenant.id;
    let linked = state
        .store
        .federated_identity(tenant, &profile.issuer, &profile.subject)
        .await?;
    let same_email = match (&linked, &profile.email) {
        (None, Some(e)) => state.store.user_by_email(tenant, e).await?,
        _ => None,
    };
    let outcome = fed::decide(
        linked.as_ref().map(|l| l.user_sub.as_str()),
        &profile,
        same_email.as_ref().map(|u| u.sub.as_str()),
    );
    match outcome {
        Outcome::SignIn(user_sub) => {
            let Some(user) = state.store.get_user(tenant, &user_sub).await? else {
                return Err(page_error(
                    door,
                    StatusCode::BAD_REQUEST,
                    "This account no longer exists.",
                ));
            };
            state
                .store
                .touch_identity(tenant, &profile.issuer, &profile.subject, crate::now())
                .await?;
            metrics::counter!("keygate_federation_total", "result" => "signed_in").increment(1);
            continue_as(state, door, sub, &user, &[Method::Federated]).await
        }
        Outcome::Create => create(state, door, sub, idp, &profile).await,
        Outcome::ConfirmLink(user_sub) => {
            let pending = PendingLink {
                idp_id: idp.id.clone(),
                idp_name: idp.name.clone(),
                profile,
                user_sub,
                request: Some(request_query(&sub.params)),
            };
            let token = secrets::new_secret();
            let record = FederationState {
                tenant_id: tenant.clone(),
                purpose: StatePurpose::Link,
                payload: serde_json::to_string(&pending)
                    .map_err(|e| ApiError::internal(e.to_string()))?,
                expires_at: crate::now() + fed::LINK_TTL,
            };
            state
                .store
                .put_federation_state(&secrets::sha256_hex(&token), &record)
                .await?;
            let email = same_email.map(|u| u.email).unwrap_or_default();
            Ok(link_page(
                state,
                door,
                &sub.headers,
                &pending.idp_name,
                &email,
                &token,
                None,
                StatusCode::OK,
            ))
        }
        Outcome::NeedEmail => Err(page_error(
            door,
            StatusCode::BAD_REQUEST,
            format!(
                "{} did not share an e-mail address, which an account here needs. \
                 Allow it to share your address, or sign in another way.",
                idp.name
            ),
        )),
    }
}

/// A new person through an upstream: their account is created (just in
/// time) with the upstream's e-mail and name, and no password.
async fn create(
    state: &AppState,
    door: &Door,
    sub: &Submission,
    idp: &UpstreamIdp,
    profile: &Profile,
) -> Result<Response, ApiError> {
    if door.tenant.registration == Registration::Closed {
        return Err(page_error(
            door,
            StatusCode::FORBIDDEN,
            format!(
                "There is no account here for your {} account, and this service does not \
                 accept new accounts. Ask its administrator for one.",
                idp.name
            ),
        ));
    }
    let now = crate::now();
    let user = User {
        sub: secrets::new_id(),
        tenant_id: door.tenant.id.clone(),
        email: profile.email.clone().unwrap_or_default(),
        email_verified: profile.email_verified,
        name: profile.name.clone(),
        // No password: the account signs in through its upstream (or sets
        // one with "forgot your password?").
        password_hash: String::new(),
        created_at: now,
        disabled: false,
        phone_number: None,
        phone_number_verified: false,
        address: None,
    };
    let identity = FederatedIdentity {
        tenant_id: door.tenant.id.clone(),
        issuer: profile.issuer.clone(),
        subject: profile.subject.clone(),
        user_sub: user.sub.clone(),
        idp_id: idp.id.clone(),
        idp_name: idp.name.clone(),
        email: profile.email.clone(),
        created_at: now,
        last_used_at: now,
    };
    match state.store.create_federated_user(&user, &identity).await {
        Ok(()) => {}
        // A racing first sign-in of the same person, or an account made
        // with the address meanwhile: starting again finds either.
        Err(keygate_store::StoreError::Conflict(_)) => {
            return Err(page_error(
                door,
                StatusCode::CONFLICT,
                "Your account changed while you were signing in. Go back to the application and sign in again.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant = %door.tenant.id, idp = %idp.id, sub = %user.sub, "user created through an upstream");
    metrics::counter!("keygate_federation_total", "result" => "created").increment(1);
    crate::events::Record::new(
        &door.tenant.id,
        "user.registered",
        format!("user:{}", user.sub),
    )
    .ip(door.client_ip)
    .subject(format!("user:{}", user.sub))
    .detail(serde_json::json!({ "through": "upstream", "idp": idp.id }))
    .save(state)
    .await;
    if !user.email_verified {
        crate::email_verification::after_registration(state, door, &user).await;
    }
    continue_as(state, door, sub, &user, &[Method::Federated]).await
}

/// The rest of a sign-in, as after a password: a disabled account is
/// refused, an unverified address may be required first, then the second
/// factor or the code.
async fn continue_as(
    state: &AppState,
    door: &Door,
    sub: &Submission,
    user: &User,
    methods: &[Method],
) -> Result<Response, ApiError> {
    if user.disabled {
        return Err(page_error(
            door,
            StatusCode::FORBIDDEN,
            accounts::AccountError::Disabled.message(),
        ));
    }
    if crate::email_verification::blocks(door, user) {
        return Ok(super::verify::pending(
            state,
            door,
            &sub.headers,
            &request_query(&sub.params),
            &user.email,
            false,
            StatusCode::FORBIDDEN,
        ));
    }
    super::login::second_step(state, door, sub, user, methods).await
}

#[allow(clippy::too_many_arguments)]
fn link_page(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    idp_name: &str,
    email: &str,
    token: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let body = render::render(&FederationLinkPage {
        css: render::CSS,
        tenant_name: &door.tenant.display_name,
        idp_name,
        email,
        action: &door.url("/federation/link"),
        csrf: &csrf,
        token,
        error,
    });
    render::html(status, body, cookie.as_slice())
}

/// POST /federation/link: the local account's password links the waiting
/// upstream identity to it, and the sign-in goes on as after a password.
/// A wrong password counts against the account like any sign-in.
pub(crate) async fn link(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (headers, form) = read_page_form(&state, &door, req).await?;
    let token = form.get("link_token").unwrap_or("").to_string();
    let hash = secrets::sha256_hex(&token);
    let expired = || {
        page_error(
            &door,
            StatusCode::BAD_REQUEST,
            "This link has expired. Go back to the application and sign in again.",
        )
    };
    let Some(record) = state.store.federation_state(&hash, crate::now()).await? else {
        return Err(expired());
    };
    let pending = match serde_json::from_str::<PendingLink>(&record.payload) {
        Ok(p) if record.tenant_id == door.tenant.id && record.purpose == StatePurpose::Link => p,
        _ => return Err(expired()),
    };
    let Some(user) = state
        .store
        .get_user(&door.tenant.id, &pending.user_sub)
        .await?
    else {
        return Err(expired());
    };
    let again = |message: &str, status: StatusCode| {
        link_page(
            &state,
            &door,
            &headers,
            &pending.idp_name,
            &user.email,
            &token,
            Some(message),
            status,
        )
    };
    if !super::csrf_ok(&state, &headers, &form) {
        return Ok(again(
            "This form expired. Please try again.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let password = form.get("password").unwrap_or("");
    let user = match accounts::sign_in(&state, &door, &user.email, password).await? {
        Ok(u) if u.sub == pending.user_sub => u,
        Ok(_) => return Err(expired()),
        Err(e) if e.retry_after().is_some() => {
            return Ok(super::too_many(
                again(&e.message(), StatusCode::TOO_MANY_REQUESTS),
                e,
            ))
        }
        Err(e @ accounts::AccountError::Disabled) => {
            return Ok(again(&e.message(), StatusCode::FORBIDDEN))
        }
        Err(e) => return Ok(again(&e.message(), StatusCode::UNAUTHORIZED)),
    };
    // Once: a second submission (another tab) finds nothing to link.
    if state
        .store
        .take_federation_state(&hash, crate::now())
        .await?
        .is_none()
    {
        return Err(expired());
    }
    let now = crate::now();
    let identity = FederatedIdentity {
        tenant_id: door.tenant.id.clone(),
        issuer: pending.profile.issuer.clone(),
        subject: pending.profile.subject.clone(),
        user_sub: user.sub.clone(),
        idp_id: pending.idp_id.clone(),
        idp_name: pending.idp_name.clone(),
        email: pending.profile.email.clone(),
        created_at: now,
        last_used_at: now,
    };
    if !state.store.link_identity(&identity).await? {
        return Err(page_error(
            &door,
            StatusCode::CONFLICT,
            "This account from the identity provider was linked to another account meanwhile. \
             Go back to the application and sign in again.",
        ));
    }
    tracing::info!(tenant = %door.tenant.id, idp = %pending.idp_id, sub = %user.sub, "upstream identity linked after the password");
    metrics::counter!("keygate_federation_total", "result" => "linked").increment(1);
    let request = pending.request.unwrap_or_default();
    let (ar, client, params) =
        match validate_request(&state, &door, Params::from_urlencoded(request.as_bytes())).await? {
            Ok(v) => v,
            Err(res) => return Ok(res),
        };
    let sub = Submission {
        headers,
        form,
        request: ar,
        client,
        params,
        csrf_ok: true,
    };
    continue_as(
        &state,
        &door,
        &sub,
        &user,
        &[Method::Password, Method::Federated],
    )
    .await
}
