//! The Journeys API's second step: a sign-in whose password was right but
//! which needs a second factor answers 200 `{"mfa_required": true,
//! "mfa_token", "methods"}`; `POST {issuer}/journeys/mfa` with the
//! `mfa_token` and a `code` (an authenticator app's or a recovery code)
//! finishes it with the usual `{"code", "state", "redirect_to"}`.
//!
//! The waiting sign-in keeps the authorization request it started with, so
//! the second call names only the client, the token and the code. The
//! client authenticates again and must be the one that started it; the
//! token is single use and lives five minutes; wrong codes count against
//! the person and the IP exactly as on the hosted pages.

use super::journeys::{account_error, authorization, journeys_error, read_json, required, success};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::http::cors::{named_client, origin_of, with_cors};
use crate::mfa::{self, SecondStep};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::amr::{self, Method};
use keygate_core::authorize::AuthorizeRequest;
use keygate_core::model::User;
use keygate_core::params::Params;
use serde_json::json;

/// The methods a Journeys second step accepts, as `methods` lists them:
/// codes only (`otp`: an authenticator app's or a recovery code).
const METHODS: [&str; 1] = ["otp"];

/// After the right password: `None` when the sign-in is done, else the
/// answer that asks for the second factor (or refuses).
pub(super) async fn second_step(
    state: &AppState,
    door: &Door,
    ar: &AuthorizeRequest,
    user: &User,
    request: String,
) -> Result<Option<Response>, ApiError> {
    match mfa::second_step(state, door, Some(ar), &user.sub).await? {
        SecondStep::None => Ok(None),
        SecondStep::Ask => {
            // Only codes are taken here (an app's or a recovery code); a
            // person whose only factor is a passkey signs in on the hosted
            // pages, where the browser can use it.
            let codes = mfa::offers(state, &door.tenant.id, &user.sub).await?.code
                || crate::recovery::remaining(state, &door.tenant.id, &user.sub).await? > 0;
            if !codes {
                return Err(journeys_error(
                    StatusCode::FORBIDDEN,
                    "mfa_required",
                    "This account's second factor is a passkey, which only the hosted sign-in page can use.",
                ));
            }
            let token =
                mfa::start_pending(state, door, &user.sub, &[Method::Password], Some(request))
                    .await?;
            tracing::info!(tenant = %door.tenant.id, sub = %user.sub, "Journeys: password right, second factor asked");
            let mut res = (
                StatusCode::OK,
                axum::Json(json!({
                    "mfa_required": true,
                    "mfa_token": token,
                    "methods": METHODS,
                })),
            )
                .into_response();
            crate::error::no_store(&mut res);
            Ok(Some(res))
        }
        SecondStep::Enrol => Err(journeys_error(
            StatusCode::FORBIDDEN,
            "mfa_enrollment_required",
            "A second factor is required and this account has none: add one on the account page, then sign in again.",
        )),
        SecondStep::Refuse => Err(journeys_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "A second factor is required and this tenant offers none.",
        )),
    }
}

fn bad_token() -> ApiError {
    journeys_error(
        StatusCode::BAD_REQUEST,
        "invalid_mfa_token",
        "The mfa_token is unknown, used or expired: sign in again.",
    )
}

/// POST /journeys/mfa `{"client_id", "mfa_token", "code"}` (plus the
/// client's credentials when it is confidential).
pub(crate) async fn finish(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Response {
    let origin = origin_of(req.headers());
    let mut caller = None;
    let res = async {
        let (headers, p) = read_json(&state, req).await?;
        caller = Some(named_client(&headers, &p));
        let token = required(&p, "mfa_token")?;
        let code = required(&p, "code")?;
        let pending = mfa::pending_person(&state, &door, token)
            .await?
            .ok_or_else(bad_token)?;
        // Only a Journeys sign-in keeps its request; the hosted pages'
        // tokens are not accepted here.
        let stored = pending.request.as_deref().ok_or_else(bad_token)?;
        let stored = Params::from_urlencoded(stored.as_bytes()).map_err(|_| bad_token())?;
        // Another client's token is unknown to this one (a client sending
        // only HTTP Basic credentials is checked by authenticating it
        // against the stored request's client_id below).
        if stored.get("client_id").is_none()
            || p.get("client_id")
                .is_some_and(|c| Some(c) != stored.get("client_id"))
        {
            return Err(bad_token());
        }
        // The stored request, with this call's client credentials.
        let mut pairs: Vec<(String, String)> = stored
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in p.iter() {
            if matches!(
                k,
                "client_secret" | "client_assertion" | "client_assertion_type"
            ) {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        let merged = Params::from_pairs(pairs).map_err(|_| bad_token())?;
        let (ar, _) = authorization(&state, &door, &headers, &merged).await?;
        let factor = mfa::check_code(&state, &door, &pending.sub, code)
            .await?
            .map_err(account_error)?;
        if !mfa::finish_pending(&state, token).await? {
            return Err(bad_token());
        }
        let amr = amr::amr(&pending.with(factor));
        let (code, to) = accounts::issue_code(
            &state,
            &door,
            &ar,
            &pending.sub,
            accounts::now(),
            &amr,
            None,
            true,
        )
        .await?;
        crate::events::signed_in(&state, &door, &pending.sub, &amr, Some(&ar.client_id)).await;
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
