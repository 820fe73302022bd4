//! `POST {issuer}/device_authorization`, the device authorization endpoint
//! (RFC 8628 3.1, 3.2): a client allowed the device_code grant (public, or
//! confidential and authenticated as at the token endpoint) gets a device
//! code to poll with and a user code for the person, with where to enter
//! it. Errors are RFC 6749 5.2 JSON (RFC 8628 3.2).

use crate::door::Door;
use crate::endpoints::token::authenticate_client;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use keygate_core::client_auth::Methods;
use keygate_core::device::{
    check_request, display_user_code, DeviceAuthorization, DeviceStatus, DEFAULT_INTERVAL,
    DEVICE_CODE_TTL,
};
use keygate_core::params::Params;
use serde_json::json;

/// How many user codes are drawn before giving up: a collision with a live
/// code is about one in ten million per draw even with thousands live.
const USER_CODE_DRAWS: usize = 8;

/// Answers one device authorization request.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let result = match body {
        Ok(body) => authorize(&state, &door, &headers, &body.params).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| e.into_response())
}

async fn authorize(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Response, ApiError> {
    let now = crate::now();
    let client = authenticate_client(state, door, headers, p, Methods::Registered, now).await?;
    // The token endpoint's per-client bucket: each request stores a row.
    let per_second = client
        .token_rate_limit
        .or(door.tenant.token_rate_limit)
        .unwrap_or(state.config.token_rate_limit);
    if let Err(retry_after) = state
        .throttle
        .check(&door.tenant.id, &client.id, per_second)
    {
        return Err(ApiError::RateLimited {
            retry_after,
            json: true,
        });
    }
    let api = state.named_api(&door.tenant.id, p).await?;
    let request = check_request(p, &client, api.as_ref())?;
    let device_code = keygate_crypto::secrets::new_secret();
    let device_hash = crate::device::device_code_hash(&device_code);
    let record = DeviceAuthorization {
        tenant_id: door.tenant.id.clone(),
        client_id: client.id.clone(),
        scope: request.scope.to_string(),
        resource: request.resource,
        created_at: now,
        expires_at: now + DEVICE_CODE_TTL,
        interval: DEFAULT_INTERVAL,
        last_polled_at: None,
        status: DeviceStatus::Pending,
        user_sub: None,
    };
    let mut user_code = None;
    for _ in 0..USER_CODE_DRAWS {
        let code = crate::device::new_user_code();
        let hash = crate::device::user_code_hash(state, &code);
        if state
            .store
            .create_device_authorization(&device_hash, &hash, &record)
            .await?
        {
            user_code = Some(code);
            break;
        }
    }
    let user_code =
        user_code.ok_or_else(|| ApiError::internal("no free user code after several draws"))?;
    if client.registration_token_hash.is_some() && client.first_used_at.is_none() {
        crate::accounts::mark_used(state, door, &client.id).await?;
    }
    tracing::info!(tenant = %door.tenant.id, client_id = %client.id, "device authorization started");
    let shown = display_user_code(&user_code);
    let verification_uri = door.url("/device");
    let complete = format!("{verification_uri}?user_code={shown}");
    let mut res = Json(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": DEVICE_CODE_TTL,
        "interval": DEFAULT_INTERVAL,
    }))
    .into_response();
    crate::error::no_store(&mut res);
    Ok(res)
}
