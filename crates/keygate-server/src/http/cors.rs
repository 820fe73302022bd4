//! CORS (the Fetch standard's CORS protocol) for the endpoints browser
//! applications call: the token endpoint, the Journeys API, revocation and
//! userinfo. Only origins a client of the tenant registered
//! (`--web-origin`) get CORS headers; any other origin gets none, and the
//! browser keeps the answer from the page.

use crate::door::Door;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use keygate_core::params::Params;

/// The request headers a preflight may ask for: `Authorization` (client
/// credentials, bearer tokens), `Content-Type` (JSON bodies) and `DPoP`
/// (RFC 9449 proofs).
const ALLOW_HEADERS: &str = "Authorization, Content-Type, DPoP";

/// The response headers a page may read beyond the CORS-safelisted ones:
/// RFC 6750's challenge on a refused bearer token, and the DPoP nonce
/// (RFC 9449 8.1).
const EXPOSE_HEADERS: &str = "WWW-Authenticate, DPoP-Nonce";

/// `Access-Control-Allow-Origin` for `origin`, and `Vary: Origin` (the
/// answer depends on it).
pub(crate) fn allow_origin(res: &mut Response, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The request's `Origin`, if it sent one.
pub(crate) fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether some client of the tenant registered `origin`.
pub(crate) async fn tenant_origin(state: &AppState, door: &Door, origin: &str) -> bool {
    state
        .store
        .is_web_origin(&door.tenant.id, origin)
        .await
        .unwrap_or(false)
}

/// Whether the client `client_id` of the tenant registered `origin`.
pub(crate) async fn client_origin(
    state: &AppState,
    door: &Door,
    client_id: &str,
    origin: &str,
) -> bool {
    state
        .client(&door.tenant.id, client_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|c| c.web_origins.iter().any(|o| o == origin))
}

/// The client a call names (Basic header, else the body's `client_id`);
/// `None` when it names none.
pub(crate) fn named_client(headers: &HeaderMap, p: &Params) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| keygate_core::basic::decode_basic(v).ok().flatten())
        .map(|(id, _)| id)
        .or_else(|| p.get("client_id").map(str::to_string))
}

/// CORS headers on an answer. A call that names a client gets them only for
/// an origin that client registered (as at /token); one that names none
/// gets none; one whose body could not be read (`caller` is `None`) names
/// no client yet, and gets them for an origin some client of the tenant
/// registered, so that application can read its 400.
pub(crate) async fn with_cors(
    state: &AppState,
    door: &Door,
    origin: Option<String>,
    caller: Option<Option<String>>,
    mut res: Response,
) -> Response {
    let Some(o) = origin else {
        return res;
    };
    let allowed = match caller {
        Some(Some(id)) => client_origin(state, door, &id, &o).await,
        Some(None) => false,
        None => tenant_origin(state, door, &o).await,
    };
    if allowed {
        allow_origin(&mut res, &o);
    }
    res
}

/// A preflight's answer: for an origin some client of this tenant
/// registered, the methods and headers that may follow; for any other
/// origin a plain 204 without CORS headers, which the browser refuses.
async fn preflight_for(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    methods: &'static str,
) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(o) = origin_of(headers) {
        if tenant_origin(state, door, &o).await {
            allow_origin(&mut res, &o);
            let h = res.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(methods),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    res
}

/// Preflight of the POST-only endpoints (token, Journeys API, revocation).
pub(crate) async fn preflight(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Response {
    preflight_for(&state, &door, &headers, "POST, OPTIONS").await
}

/// Preflight of userinfo (GET or POST, OpenID Connect Core 5.3.1).
pub(crate) async fn preflight_userinfo(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Response {
    preflight_for(&state, &door, &headers, "GET, POST, OPTIONS").await
}
