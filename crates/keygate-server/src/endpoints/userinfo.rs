//! The UserInfo endpoint (OpenID Connect Core 5.3), a protected resource
//! taking bearer tokens (RFC 6750) and DPoP-bound tokens with their proofs
//! (RFC 9449 7).

use crate::door::Door;
use crate::error::ApiError;
use crate::http::body::Body;
use crate::jwt::mint::check_access_token_and_person;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::claims::UserClaims;
use keygate_core::scope::{self, Scope};
use keygate_core::{ErrorCode, OAuthError};
use serde_json::json;

/// How the access token was presented: which scheme a refusal answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `Authorization: Bearer` or the form body's `access_token` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` with a `DPoP` proof (RFC 9449 7.1).
    Dpop,
}

impl Scheme {
    fn refuse(self, e: OAuthError) -> ApiError {
        match self {
            Scheme::Bearer => ApiError::Bearer(Some(e)),
            Scheme::Dpop => ApiError::Dpop(e),
        }
    }

    fn invalid_token(self, d: &'static str) -> ApiError {
        self.refuse(OAuthError::new(ErrorCode::InvalidToken, d))
    }
}

/// The token of the `Authorization` header and its scheme (RFC 6750 2.1,
/// RFC 9449 7.1; scheme names are case-insensitive, RFC 9110 11.1).
fn authorization(headers: &HeaderMap) -> Option<(Scheme, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    let token = token.trim();
    (!token.is_empty()).then(|| (scheme, token.to_string()))
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
    let now = crate::now();
    let mut res = userinfo(&state, &door, &method, &headers, body, &mut client_id, now)
        .await
        .unwrap_or_else(|e| e.into_response());
    // RFC 9449 7.1: a resource taking both schemes may challenge with both.
    if res.status() == StatusCode::UNAUTHORIZED
        && !res
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .any(|v| v.as_bytes().starts_with(b"DPoP"))
    {
        let dpop = format!("DPoP algs=\"{}\"", keygate_core::dpop::ALGS_PARAM);
        res.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&dpop).expect("ASCII"),
        );
    }
    if crate::dpop::sent(&headers) {
        crate::dpop::add_nonce(&state, &door, &mut res, now);
    }
    crate::http::cors::with_cors(&state, &door, origin, client_id.map(Some), res).await
}

async fn userinfo(
    state: &AppState,
    door: &Door,
    method: &Method,
    headers: &HeaderMap,
    body: Result<Body, ApiError>,
    client_id: &mut Option<String>,
    now: i64,
) -> Result<Response, ApiError> {
    // RFC 6750 2.2: a POST may carry the token in a form body instead.
    let from_body = match (method, body) {
        (&Method::POST, Ok(b)) if !b.json => b.params.get("access_token").map(str::to_string),
        _ => None,
    };
    let (scheme, token) = match (authorization(headers), from_body) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Bearer(Some(OAuthError::invalid_request(
                "the token was sent in more than one way",
            ))))
        }
        (Some(t), None) => t,
        (None, Some(t)) => (Scheme::Bearer, t),
        (None, None) => return Err(ApiError::Bearer(None)),
    };
    // The DPoP scheme needs a proof by the token's key over this request
    // and this token (RFC 9449 7.1). No nonce is required here (the proof
    // is for one access token, and its jti is spent below); one that is
    // sent must be ours.
    let proof = match scheme {
        Scheme::Bearer => None,
        Scheme::Dpop => {
            let place = crate::dpop::Place {
                method,
                paths: crate::dpop::USERINFO_PATHS,
                nonce_required: false,
                access_token: Some(&token),
            };
            match crate::dpop::check(state, door, headers, &place, now) {
                Ok(Some(p)) => Some(p),
                Ok(None) => {
                    return Err(ApiError::Dpop(OAuthError::new(
                        ErrorCode::InvalidDpopProof,
                        "the DPoP scheme needs a DPoP proof",
                    )))
                }
                Err(e) => return Err(ApiError::Dpop(e.to_oauth())),
            }
        }
    };
    let (claims, person) = match check_access_token_and_person(state, door, &token).await? {
        Ok(c) => c,
        Err(why) => return Err(scheme.invalid_token(why.describe())),
    };
    match (claims.jkt(), &proof) {
        (None, None) => {}
        (Some(jkt), Some(p)) if jkt == p.jkt => {}
        (Some(_), Some(_)) => {
            return Err(scheme
                .invalid_token("the access token is bound to another key than the DPoP proof's"))
        }
        // RFC 9449 7.2: a bound token is never accepted as a bearer token.
        (Some(_), None) => {
            return Err(scheme.invalid_token(
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
            ))
        }
        (None, Some(_)) => {
            return Err(scheme.invalid_token(
                "the access token is not DPoP-bound: present it with the Bearer scheme",
            ))
        }
    }
    // The proof counts once the token it is for stands: only then is its
    // jti spent (a refused request writes nothing).
    if let Some(p) = &proof {
        if let Err(e) = crate::dpop::spend(state, door, p, now).await? {
            return Err(ApiError::Dpop(e.to_oauth()));
        }
    }
    *client_id = Some(claims.client_id.clone());
    let granted = Scope::parse(&claims.scope).unwrap_or_default();
    if !granted.contains(scope::OPENID) {
        return Err(scheme.refuse(OAuthError::new(
            ErrorCode::AccessDenied,
            "the token was not granted the openid scope",
        )));
    }
    let user =
        person.ok_or_else(|| scheme.invalid_token("the person of this token no longer exists"))?;
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
