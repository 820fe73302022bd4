//! The pushed authorization request endpoint (RFC 9126):
//! `POST {issuer}/par`. The client authenticates as at the token endpoint,
//! the request is checked by the rules of `/authorize` (errors in RFC 6749
//! JSON here, since no browser is involved yet), and its parameters are
//! stored under the SHA-256 of a new `request_uri`, good for
//! [`par::EXPIRES_IN`] seconds and one authorization code
//! (docs/grants.md, "Pushed authorization requests").

use crate::door::Door;
use crate::endpoints::token::authenticate_client_at;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use keygate_core::authorize::{self as az, AuthorizeError};
use keygate_core::client_auth::Methods;
use keygate_core::par;
use keygate_core::params::Params;
use keygate_core::OAuthError;
use keygate_crypto::secrets;
use keygate_store::PushedRequest;
use serde_json::json;

/// `POST /par`: answers 201 with `request_uri` and `expires_in`.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let now = crate::now();
    let res = match body {
        Ok(b) => push(&state, &door, &headers, b.params, now).await,
        Err(e) => Err(e),
    };
    let mut res = res.unwrap_or_else(|e| e.into_response());
    crate::error::no_store(&mut res);
    if crate::dpop::sent(&headers) {
        crate::dpop::add_nonce(&state, &door, &mut res, now);
    }
    res
}

async fn push(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: Params,
    now: i64,
) -> Result<Response, ApiError> {
    // A client assertion may name this endpoint as its audience (RFC 9126 2).
    let here = door.url("/par");
    let client = authenticate_client_at(
        state,
        door,
        headers,
        &p,
        Methods::Registered,
        Some(&here),
        now,
    )
    .await?;
    let mut pairs = par::pushable(&p, &client.id)?;
    // A DPoP proof here binds the code to its key as `dpop_jkt` does, and
    // the two must agree (RFC 9449 10.1). No nonce is asked for: the token
    // request that redeems the code must still carry a fresh proof with one.
    let place = crate::dpop::Place {
        method: &axum::http::Method::POST,
        paths: crate::dpop::PAR_PATHS,
        nonce_required: false,
        access_token: None,
    };
    match crate::dpop::proof(state, door, headers, &place, now).await? {
        Err(e) => return Err(e.to_oauth().into()),
        Ok(None) => {}
        Ok(Some(proof)) => match p.get("dpop_jkt") {
            Some(jkt) if jkt != proof.jkt => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt is not the thumbprint of the DPoP proof's key (RFC 9449 10.1)",
                )
                .into())
            }
            Some(_) => {}
            None => pairs.push(("dpop_jkt".into(), proof.jkt)),
        },
    }
    let pushed = Params::from_pairs(pairs)?;
    let api = state.named_api(&door.tenant.id, &pushed).await?;
    match az::validate(&pushed, Some(&client), api.as_ref()) {
        Ok(_) => {}
        Err(AuthorizeError::Page(msg)) => return Err(OAuthError::invalid_request(msg).into()),
        Err(AuthorizeError::Redirect(e)) => return Err(e.error.into()),
    }
    let request_uri = format!("{}{}", par::REQUEST_URI_PREFIX, secrets::new_secret());
    state
        .store
        .create_pushed_request(
            &secrets::sha256_hex(&request_uri),
            &PushedRequest {
                tenant_id: door.tenant.id.clone(),
                client_id: client.id.clone(),
                params: crate::pages::request_query(&pushed),
                expires_at: now + par::EXPIRES_IN,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "request_uri": request_uri, "expires_in": par::EXPIRES_IN })),
    )
        .into_response())
}
