//! Token introspection (RFC 7662) for confidential clients of the tenant.
//!
//! A token is `active` only to the client it was issued to. RFC 7662
//! section 4 lets the server decide which protected resources may learn
//! about which tokens, and warns that an open introspection endpoint lets
//! a caller probe tokens it was never given; RFC 9700 has every token
//! bound to its client. Any other authenticated client hears only
//! `{"active": false}`, exactly as for an unknown token, so the answer
//! does not even tell it that the token exists.

use crate::door::Door;
use crate::endpoints::token::authenticate_client;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::jwt::mint::check_access_token;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::client_auth::Methods;
use keygate_core::OAuthError;
use keygate_crypto::secrets::refresh_token_key;
use serde_json::json;

pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let p = body?.params;
    let now = crate::now();
    let caller = authenticate_client(
        &state,
        &door,
        &headers,
        &p,
        Methods::AnySecretTransport,
        now,
    )
    .await?;
    if caller.public {
        return Err(OAuthError::invalid_client("introspection is for confidential clients").into());
    }
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("the 'token' parameter is missing"))?;
    let doc = if let Some((rt, grant, _)) =
        state.store.refresh_token(&refresh_token_key(token)).await?
    {
        // A family also ends at its client's absolute lifetime, by the
        // client's setting now (a token stored before the setting was
        // shortened may carry a later expiry of its own).
        let ends = state
            .client(&door.tenant.id, &rt.client_id)
            .await?
            .map(|c| keygate_core::grant::family_ends_at(&c, &grant));
        let active = rt.tenant_id == door.tenant.id
            && rt.client_id == caller.id
            && rt.consumed_at.is_none()
            && rt.expires_at > now
            && ends.is_some_and(|end| end > now)
            && grant.revoked_at.is_none();
        if active {
            json!({"active": true, "token_type": "refresh_token", "scope": grant.scope, "client_id": rt.client_id,
                   "sub": grant.user_sub, "iss": door.issuer, "exp": rt.expires_at.min(ends.unwrap_or(0)), "iat": rt.created_at})
        } else {
            json!({"active": false})
        }
    } else {
        match check_access_token(&state, &door, token).await? {
            Ok(c) if c.client_id == caller.id => {
                let mut doc = json!({"active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id,
                            "sub": c.sub, "aud": c.aud, "iss": c.iss, "exp": c.exp, "iat": c.iat, "jti": c.jti});
                // The actor of an exchanged token (RFC 8693 4.1).
                if let Some(act) = &c.act {
                    doc["act"] = json!(act);
                }
                // A DPoP-bound token (RFC 9449 6.2): its type and key.
                if let Some(jkt) = c.jkt() {
                    doc["token_type"] = json!("DPoP");
                    doc["cnf"] = json!({ "jkt": jkt });
                }
                doc
            }
            Ok(_) | Err(_) => json!({"active": false}),
        }
    };
    let mut res = axum::Json(doc).into_response();
    crate::error::no_store(&mut res);
    Ok(res)
}
