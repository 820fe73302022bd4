//! The Journeys API: sign-in and registration as JSON for applications that
//! draw their own screens, ending in an authorization code bound exactly
//! like one from /authorize. It shares every rule with the hosted pages
//! through [`crate::accounts`] and `keygate_core::authorize`.

use crate::accounts::{self, AccountError};
use crate::door::Door;
use crate::endpoints::token::authenticate_client;
use crate::error::ApiError;
use crate::http::cors::{named_client, origin_of, with_cors};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::authorize::{self as az, AuthorizeError};
use keygate_core::client_auth::Methods;
use keygate_core::model::Registration;
use keygate_core::params::Params;
use keygate_core::{ErrorCode, OAuthError};
use serde_json::json;

pub(super) fn journeys_error(
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

fn from_oauth(e: OAuthError) -> ApiError {
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let status = if e.code == ErrorCode::UnauthorizedClient {
        StatusCode::FORBIDDEN
    } else {
        status
    };
    ApiError::OAuth(OAuthError {
        code: e.code,
        description: e.description,
        detail: e.detail,
    })
    .into_status(status)
}

impl ApiError {
    fn into_status(self, status: StatusCode) -> ApiError {
        match self {
            ApiError::OAuth(e) if e.code != ErrorCode::InvalidClient => {
                let code: &'static str = e.code.as_str();
                journeys_error(status, code, e.description)
            }
            other => other,
        }
    }
}

/// Reads a JSON body (bounded); anything else is a Journeys-format 400.
pub(super) async fn read_json(
    state: &AppState,
    req: Request,
) -> Result<(HeaderMap, Params), ApiError> {
    let headers = req.headers().clone();
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !matches!(
        crate::http::body::content_kind(ct),
        Some(crate::http::body::Kind::Json)
    ) {
        return Err(journeys_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/json",
        ));
    }
    let bytes = crate::http::body::read_limited(req, state.config.max_body_bytes).await?;
    let p = Params::from_json(&bytes)
        .map_err(|e| journeys_error(StatusCode::BAD_REQUEST, "invalid_request", e.description))?;
    Ok((headers, p))
}

/// The authorization request inside a Journeys call, validated with the
/// same rules as /authorize, and its parameters (urlencoded) so that a
/// second step can finish it.
pub(super) async fn authorization(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: &Params,
) -> Result<(az::AuthorizeRequest, String), ApiError> {
    let client = authenticate_client(state, door, headers, p, Methods::Registered, crate::now())
        .await
        .map_err(|e| e.into_status(StatusCode::UNAUTHORIZED))?;
    if !client.journeys_api {
        return Err(journeys_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "this client may not use the Journeys API",
        ));
    }
    let mut pairs: Vec<(String, String)> = p
        .iter()
        .filter(|(k, _)| {
            !matches!(
                *k,
                "email" | "password" | "name" | "client_secret" | "response_type"
            )
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.push(("response_type".into(), "code".into()));
    let az_params = Params::from_pairs(pairs).map_err(from_oauth)?;
    let api = state.named_api(&door.tenant.id, &az_params).await?;
    let ar = az::validate(&az_params, Some(&client), api.as_ref()).map_err(|e| match e {
        AuthorizeError::Page(msg) => {
            journeys_error(StatusCode::BAD_REQUEST, "invalid_request", msg)
        }
        AuthorizeError::Redirect(r) => from_oauth(r.error),
    })?;
    Ok((ar, crate::pages::request_query(&az_params)))
}

pub(super) fn success(
    status: StatusCode,
    state_param: Option<&str>,
    code: String,
    to: String,
) -> Response {
    let mut res = (
        status,
        axum::Json(json!({"code": code, "state": state_param, "redirect_to": to})),
    )
        .into_response();
    crate::error::no_store(&mut res);
    res
}

pub(super) fn account_error(e: AccountError) -> ApiError {
    if let Some(secs) = e.retry_after() {
        return ApiError::RateLimited {
            retry_after: secs.max(1) as u64,
            json: true,
        };
    }
    let status = match e {
        AccountError::InvalidCredentials | AccountError::InvalidCode => StatusCode::UNAUTHORIZED,
        AccountError::Disabled | AccountError::RegistrationClosed => StatusCode::FORBIDDEN,
        AccountError::EmailTaken => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    journeys_error(status, e.code(), e.message())
}

/// 403 `email_not_verified` when the tenant requires a verified address
/// and the person's is not (docs/account.md, "Verifying the e-mail
/// address").
fn not_verified(door: &Door, user: &keygate_core::model::User) -> Result<(), ApiError> {
    if crate::email_verification::blocks(door, user) {
        return Err(journeys_error(
            StatusCode::FORBIDDEN,
            "email_not_verified",
            crate::email_verification::NOT_VERIFIED,
        ));
    }
    Ok(())
}

pub(super) fn required<'a>(p: &'a Params, name: &'static str) -> Result<&'a str, ApiError> {
    p.get(name).ok_or_else(|| {
        journeys_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("'{name}' is missing"),
        )
    })
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Response {
    let origin = origin_of(req.headers());
    let mut caller = None;
    let res = async {
        let (headers, p) = read_json(&state, req).await?;
        caller = Some(named_client(&headers, &p));
        let (ar, request) = authorization(&state, &door, &headers, &p).await?;
        let (email, password) = (required(&p, "email")?, required(&p, "password")?);
        let user = accounts::sign_in(&state, &door, email, password)
            .await?
            .map_err(account_error)?;
        not_verified(&door, &user)?;
        // A second factor may come next (`POST {issuer}/journeys/mfa`).
        if let Some(res) =
            super::journeys_mfa::second_step(&state, &door, &ar, &user, request).await?
        {
            return Ok(res);
        }
        let amr = keygate_core::amr::amr(&[keygate_core::amr::Method::Password]);
        let (code, to) = accounts::issue_code(
            &state,
            &door,
            &ar,
            &user.sub,
            accounts::now(),
            &amr,
            None,
            true,
        )
        .await?;
        crate::events::signed_in(&state, &door, &user.sub, &amr, Some(&ar.client_id)).await;
        Ok::<_, ApiError>(success(StatusCode::OK, ar.state.as_deref(), code, to))
    }
    .await;
    with_cors(
        &state,
        &door,
        origin,
        caller,
        res.unwrap_or_else(|e| e.into_response()),
    )
    .await
}

pub(crate) async fn register(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Response {
    let origin = origin_of(req.headers());
    let mut caller = None;
    let res = async {
        let (headers, p) = read_json(&state, req).await?;
        caller = Some(named_client(&headers, &p));
        let (ar, request) = authorization(&state, &door, &headers, &p).await?;
        // Refused once the client is known, before the person's details
        // are read (accounts::register refuses it as well).
        if door.tenant.registration == Registration::Closed {
            return Err(account_error(AccountError::RegistrationClosed));
        }
        let (email, password) = (required(&p, "email")?, required(&p, "password")?);
        let user = accounts::register(&state, &door, email, password, p.get("name"))
            .await?
            .map_err(account_error)?;
        // The account exists and its message is queued; with a required
        // verification no code is given yet (docs/account.md).
        not_verified(&door, &user)?;
        // A tenant or client requiring a second factor: the new person
        // must enrol one (on the account page) before a code is given.
        if let Some(res) =
            super::journeys_mfa::second_step(&state, &door, &ar, &user, request).await?
        {
            return Ok(res);
        }
        let amr = keygate_core::amr::amr(&[keygate_core::amr::Method::Password]);
        let (code, to) = accounts::issue_code(
            &state,
            &door,
            &ar,
            &user.sub,
            accounts::now(),
            &amr,
            None,
            true,
        )
        .await?;
        crate::events::signed_in(&state, &door, &user.sub, &amr, Some(&ar.client_id)).await;
        Ok::<_, ApiError>(success(StatusCode::CREATED, ar.state.as_deref(), code, to))
    }
    .await;
    with_cors(
        &state,
        &door,
        origin,
        caller,
        res.unwrap_or_else(|e| e.into_response()),
    )
    .await
}

/// POST /journeys/password-reset `{"client_id", "email"}`: 202 for every
/// address; the account's owner, if there is one, gets the same message as
/// from the hosted page (its link under this issuer). Too many requests for
/// one address or from one IP: 429 with `Retry-After`, whether or not the
/// account exists (and no message).
pub(crate) async fn password_reset(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Response {
    mail_request(state, door, req, Sends::PasswordReset).await
}

/// POST /journeys/verify-email `{"client_id", "email"}`: sends the e-mail
/// verification message again; 202 for every address, and the account's
/// owner, if there is one whose address is not verified yet, gets the same
/// message as from the hosted page (its link under this issuer). Too many
/// requests for one address or from one IP: 429 with `Retry-After`, whether
/// or not the account exists (and no message).
pub(crate) async fn verify_email_resend(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Response {
    mail_request(state, door, req, Sends::Verification).await
}

/// Which message a Journeys request for mail asks for.
#[derive(Clone, Copy)]
enum Sends {
    PasswordReset,
    Verification,
}

/// A Journeys request that sends a message to an address: the client is
/// authenticated and must use the Journeys API; the answer is 202 for every
/// address, or 429 past the address's or the IP's limit.
async fn mail_request(state: AppState, door: Door, req: Request, sends: Sends) -> Response {
    let origin = origin_of(req.headers());
    let mut caller = None;
    let res = async {
        let (headers, p) = read_json(&state, req).await?;
        caller = Some(named_client(&headers, &p));
        let client = authenticate_client(
            &state,
            &door,
            &headers,
            &p,
            Methods::Registered,
            crate::now(),
        )
        .await
        .map_err(|e| e.into_status(StatusCode::UNAUTHORIZED))?;
        if !client.journeys_api {
            return Err(journeys_error(
                StatusCode::FORBIDDEN,
                "unauthorized_client",
                "this client may not use the Journeys API",
            ));
        }
        let email = required(&p, "email")?;
        let limited = match sends {
            Sends::PasswordReset => {
                match crate::password_reset::request(&state, &door, email).await? {
                    crate::password_reset::Requested::Accepted => None,
                    crate::password_reset::Requested::Limited(secs) => Some(secs),
                }
            }
            Sends::Verification => {
                match crate::email_verification::resend(&state, &door, email).await? {
                    crate::email_verification::Resent::Accepted => None,
                    crate::email_verification::Resent::Limited(secs) => Some(secs),
                }
            }
        };
        match limited {
            None => {
                let mut res = (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response();
                crate::error::no_store(&mut res);
                Ok::<_, ApiError>(res)
            }
            Some(secs) => Err(ApiError::RateLimited {
                retry_after: secs as u64,
                json: true,
            }),
        }
    }
    .await;
    with_cors(
        &state,
        &door,
        origin,
        caller,
        res.unwrap_or_else(|e| e.into_response()),
    )
    .await
}
