//! Token revocation (RFC 7009). Revoking a refresh token ends its whole
//! grant; revoking an access token blocks its `jti` until it expires.
//! Unknown tokens are answered 200 (RFC 7009 section 2.2: the client cannot
//! do anything about them). A token issued to another client is refused
//! with `invalid_request` and left alone, as section 2.1 asks ("If this
//! validation fails, the request is refused"); telling the caller so
//! reveals nothing it could use, since finding the token at all already
//! took holding it.

use crate::door::Door;
use crate::endpoints::token::authenticate_client;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::jwt::mint::check_access_token;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::client_auth::Methods;
use keygate_core::OAuthError;
use keygate_crypto::secrets::refresh_token_key;

/// Answers, with CORS headers for an origin the calling client registered
/// (browser applications revoke their tokens on sign-out).
pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let origin = crate::http::cors::origin_of(&headers);
    let (caller, res) = match body {
        Ok(b) => {
            let caller = crate::http::cors::named_client(&headers, &b.params);
            (
                Some(caller),
                revoke(&state, &door, &headers, b.params).await,
            )
        }
        Err(e) => (None, Err(e)),
    };
    let res = res.unwrap_or_else(|e| e.into_response());
    crate::http::cors::with_cors(&state, &door, origin, caller, res).await
}

async fn revoke(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    p: keygate_core::params::Params,
) -> Result<Response, ApiError> {
    let now = crate::now();
    let client =
        authenticate_client(state, door, headers, &p, Methods::AnySecretTransport, now).await?;
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("the 'token' parameter is missing"))?;
    let not_yours =
        || OAuthError::invalid_request("the token was issued to another client; it is left alone");
    if let Some((rt, _, _)) = state.store.refresh_token(&refresh_token_key(token)).await? {
        if rt.tenant_id == door.tenant.id {
            if rt.client_id != client.id {
                return Err(not_yours().into());
            }
            state.store.revoke_grant(&rt.grant_id, now).await?;
        }
    } else if let Ok(claims) = check_access_token(state, door, token).await? {
        if claims.client_id != client.id {
            return Err(not_yours().into());
        }
        state.store.revoke_jti(&claims.jti, claims.exp).await?;
    }
    let mut res = StatusCode::OK.into_response();
    crate::error::no_store(&mut res);
    Ok(res)
}
