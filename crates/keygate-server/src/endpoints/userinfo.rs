//! The UserInfo endpoint (OpenID Connect Core 5.3), a bearer-protected
//! resource (RFC 6750).

use crate::door::Door;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::jwt::mint::{bearer, check_access_token_and_person};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::claims::UserClaims;
use keygate_core::scope::{self, Scope};
use keygate_core::{ErrorCode, OAuthError};
use serde_json::json;

fn invalid_token(d: &'static str) -> ApiError {
    ApiError::Bearer(Some(OAuthError::new(ErrorCode::InvalidToken, d)))
}

/// Answers, with CORS headers for a registered web origin: browser
/// applications (oidc-client-ts) call userinfo themselves. A token's answer
/// is readable only from an origin its own client registered; a refusal
/// (no client known yet) from one some client of the tenant registered, so
/// the application can read why.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    method: Method,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Response {
    let origin = crate::http::cors::origin_of(&headers);
    let mut client_id = None;
    let res = userinfo(&state, &door, &method, &headers, body, &mut client_id)
        .await
        .unwrap_or_else(|e| e.into_response());
    crate::http::cors::with_cors(&state, &door, origin, client_id.map(Some), res).await
}

async fn userinfo(
    state: &AppState,
    door: &Door,
    method: &Method,
    headers: &HeaderMap,
    body: Result<Body, ApiError>,
    client_id: &mut Option<String>,
) -> Result<Response, ApiError> {
    // RFC 6750 2.2: a POST may carry the token in a form body instead.
    let from_body = match (method, body) {
        (&Method::POST, Ok(b)) if !b.json => b.params.get("access_token").map(str::to_string),
        _ => None,
    };
    let token = match (bearer(headers), from_body) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Bearer(Some(OAuthError::invalid_request(
                "the token was sent in more than one way",
            ))))
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(ApiError::Bearer(None)),
    };
    let (claims, person) = match check_access_token_and_person(state, door, &token).await? {
        Ok(c) => c,
        Err(why) => return Err(invalid_token(why.describe())),
    };
    *client_id = Some(claims.client_id.clone());
    let granted = Scope::parse(&claims.scope).unwrap_or_default();
    if !granted.contains(scope::OPENID) {
        return Err(ApiError::Bearer(Some(OAuthError::new(
            ErrorCode::AccessDenied,
            "the token was not granted the openid scope",
        ))));
    }
    let user = person.ok_or_else(|| invalid_token("the person of this token no longer exists"))?;
    let mut doc = json!({ "sub": user.sub });
    // The claims the `claims` parameter named for userinfo travel in the
    // access token (signed by us), so no grant need be read here.
    let named: Vec<String> = claims
        .userinfo_claims
        .split(' ')
        .filter(|c| keygate_core::claims_request::RELEASABLE.contains(c))
        .map(str::to_string)
        .collect();
    if let serde_json::Value::Object(extra) =
        serde_json::to_value(UserClaims::released(&user, &granted, &named)).unwrap_or_default()
    {
        doc.as_object_mut().expect("object").extend(extra);
    }
    let mut res = axum::Json(doc).into_response();
    crate::error::no_store(&mut res);
    Ok(res)
}
