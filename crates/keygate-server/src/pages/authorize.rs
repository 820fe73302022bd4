//! `/authorize` (GET and POST): validate, then either issue a code to a
//! signed-in person or show the sign-in page.

use super::{login, validate_request};
use crate::accounts;
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use keygate_core::authorize::{next_step, NextStep};
use keygate_core::error::ErrorCode;
use keygate_core::model::VerifyEmail;
use keygate_core::params::Params;
use keygate_core::OAuthError;

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let params = Params::from_urlencoded(req.uri().query().unwrap_or("").as_bytes());
    handle(&state, &door, req.headers(), params).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = match crate::http::body::content_kind(ct) {
        Some(crate::http::body::Kind::Form) => super::read_form(&state, req).await?,
        _ => Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )),
    };
    handle(&state, &door, &headers, params).await
}

async fn handle(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    params: Result<Params, OAuthError>,
) -> Result<Response, ApiError> {
    let (req, client, params) = match validate_request(state, door, params).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let session = accounts::current_session(state, door, headers).await?;
    let needs_mfa = crate::mfa::needs_mfa(door, &req);
    let amr = session
        .as_ref()
        .map(|(_, s)| s.amr.clone())
        .unwrap_or_default();
    let sid = session.as_ref().map(|(_, s)| s.sid.as_str());
    match next_step(
        &req,
        session.as_ref().map(|(_, s)| s),
        accounts::now(),
        needs_mfa,
    ) {
        NextStep::SecondFactor { user_sub } => {
            crate::mfa::step_up(
                state, door, headers, &client, &params, &req, &user_sub, &amr,
            )
            .await
        }
        NextStep::IssueCode {
            user_sub,
            auth_time,
        } => {
            // A session of a person whose address is not verified (the
            // account page's sign-in lets them in, docs/account.md) gives
            // no code while the tenant requires a verified address.
            if door.tenant.verify_email == VerifyEmail::Required {
                let user = state.store.get_user(&door.tenant.id, &user_sub).await?;
                if let Some(user) = user.filter(|u| crate::email_verification::blocks(door, u)) {
                    if req.prompt_none {
                        return Ok(super::error_redirect(
                            door,
                            &req.error_redirect(OAuthError::new(
                                ErrorCode::LoginRequired,
                                "the user must verify their e-mail address",
                            )),
                        ));
                    }
                    return Ok(super::verify::pending(
                        state,
                        door,
                        headers,
                        &super::request_query(&params),
                        &user.email,
                        false,
                        axum::http::StatusCode::FORBIDDEN,
                    ));
                }
            }
            if super::consent::needed(state, door, &client, &req, &user_sub).await? {
                if req.prompt_none {
                    return Ok(super::consent::required(door, &req));
                }
                if let Some(user) = state.store.get_user(&door.tenant.id, &user_sub).await? {
                    return super::consent::page(
                        state,
                        door,
                        headers,
                        &client,
                        &params,
                        &req,
                        &user,
                        &[],
                    )
                    .await;
                }
            }
            let (code, _) =
                accounts::issue_code(state, door, &req, &user_sub, auth_time, &amr, sid, false)
                    .await?;
            Ok(super::send_code(door, &req, &code, &[]))
        }
        NextStep::Fail(e) => Ok(super::error_redirect(door, &e)),
        NextStep::SignIn => {
            // `connection` (Auth0) or `idp_hint` names an upstream: straight
            // there (docs/federation.md).
            match super::federation::named(state, door, &params).await? {
                Ok(Some(idp)) => return super::federation::go(state, door, &idp, &params).await,
                Ok(None) => {}
                Err(e) => return Ok(super::error_redirect(door, &req.error_redirect(e))),
            }
            login::show(
                state,
                door,
                headers,
                &client,
                &params,
                req.login_hint.as_deref().unwrap_or(""),
                None,
                axum::http::StatusCode::OK,
            )
            .await
        }
    }
}
