//! The one place where errors become HTTP responses.

use crate::admin::error::{AdminError, ErrorBody};
use crate::pages::render;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keygate_core::{ErrorCode, OAuthError};
use keygate_store::StoreError;

/// Every way a request can fail, and the response each one becomes (see its `IntoResponse`).
#[derive(Debug)]
pub enum ApiError {
    /// RFC 6749 5.2 JSON (token, revocation, introspection).
    OAuth(OAuthError),
    /// RFC 6750 3: a protected resource (userinfo) refusing a bearer token.
    /// `None` when no token was sent (no error code then, 3.1).
    Bearer(Option<OAuthError>),
    /// RFC 9449 7.1: a protected resource (userinfo) refusing a request
    /// made with the `DPoP` scheme: the same as [`ApiError::Bearer`] with a
    /// `DPoP` challenge naming the proof algorithms accepted.
    Dpop(OAuthError),
    /// A JSON error with a code of the endpoint's own (the Journeys API's
    /// `invalid_credentials`, client registration's
    /// `invalid_client_metadata`, the passkey ceremonies' errors, ...):
    /// `{"error", "error_description"}` with the status chosen per code.
    Json {
        /// The HTTP status, chosen per code.
        status: StatusCode,
        /// The error code, in the `error` member.
        error: &'static str,
        /// Human-readable detail, in the `error_description` member.
        description: String,
    },
    /// An HTML page where a redirect would be unsafe.
    Page {
        /// The HTTP status of the page.
        status: StatusCode,
        /// The tenant's display name, shown on the page.
        tenant_name: String,
        /// What went wrong, in words for the person at the browser.
        message: String,
    },
    /// The path or Host names no tenant: 404 `not_found`.
    UnknownTenant,
    /// No route matches: 404 `not_found`.
    NotFound,
    /// The request body is over its limit: 413 `invalid_request`.
    PayloadTooLarge,
    /// Too many attempts; retry after this many seconds.
    RateLimited {
        /// Seconds until another attempt may succeed (the `Retry-After` header, RFC 9110 10.2.3).
        retry_after: u64,
        /// Answer in JSON (an API) rather than with an HTML page (a hosted page).
        json: bool,
    },
    /// A fault of ours: logged in full, answered as `server_error`.
    Internal(Fault),
}

/// A fault of ours: what failed and, when another error made it fail, that
/// error with its own sources, so the log shows the whole chain. It is
/// never shown to the caller.
#[derive(Debug)]
pub struct Fault {
    what: std::borrow::Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Fault {
    /// A fault with no underlying error.
    pub fn new(what: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Fault {
            what: what.into(),
            source: None,
        }
    }

    /// A fault that `source` caused.
    pub fn caused_by(
        what: impl Into<std::borrow::Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Fault {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The fault and every source below it, for the log.
    pub fn chain(&self) -> String {
        let mut out = self.what.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ApiError {
    /// A fault of ours with no underlying error.
    pub fn internal(what: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        ApiError::Internal(Fault::new(what))
    }

    /// A fault of ours that `source` caused.
    pub fn fault(
        what: impl Into<std::borrow::Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ApiError::Internal(Fault::caused_by(what, source))
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        ApiError::OAuth(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::fault("the store failed", e)
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    no_store(&mut res);
    res
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 5.1).
pub fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn oauth_body(e: &OAuthError) -> serde_json::Value {
    serde_json::json!({ "error": e.code.as_str(), "error_description": e.description })
}

/// A quoted-string for a header parameter: no quotes, backslashes or controls.
fn header_text(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::OAuth(e) => {
                if let Some(detail) = &e.detail {
                    tracing::info!(error = e.code.as_str(), detail = %detail, "request refused");
                }
                let status =
                    StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                let mut res = json(status, oauth_body(&e));
                if e.code == ErrorCode::InvalidClient {
                    res.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"keygate\""),
                    );
                }
                res
            }
            ApiError::Bearer(e) => {
                let (status, challenge, body) = match &e {
                    // RFC 6750 3.1: no token sent, no error information.
                    None => (
                        StatusCode::UNAUTHORIZED,
                        "Bearer realm=\"keygate\"".to_string(),
                        serde_json::json!({}),
                    ),
                    Some(e) => {
                        let status = match e.code {
                            ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
                            ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
                            _ => StatusCode::BAD_REQUEST,
                        };
                        let code = if e.code == ErrorCode::AccessDenied {
                            "insufficient_scope"
                        } else {
                            e.code.as_str()
                        };
                        (status,
                            format!("Bearer realm=\"keygate\", error=\"{code}\", error_description=\"{}\"", header_text(&e.description)),
                            serde_json::json!({"error": code, "error_description": e.description}))
                    }
                };
                let mut res = json(status, body);
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                res
            }
            ApiError::Dpop(e) => {
                let status = match e.code {
                    ErrorCode::InvalidToken
                    | ErrorCode::InvalidDpopProof
                    | ErrorCode::UseDpopNonce => StatusCode::UNAUTHORIZED,
                    ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
                    _ => StatusCode::BAD_REQUEST,
                };
                let code = if e.code == ErrorCode::AccessDenied {
                    "insufficient_scope"
                } else {
                    e.code.as_str()
                };
                let challenge = format!(
                    "DPoP algs=\"{}\", error=\"{code}\", error_description=\"{}\"",
                    keygate_core::dpop::ALGS_PARAM,
                    header_text(&e.description)
                );
                let mut res = json(
                    status,
                    serde_json::json!({"error": code, "error_description": e.description}),
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                res
            }
            ApiError::Json {
                status,
                error,
                description,
            } => json(
                status,
                serde_json::json!({"error": error, "error_description": description}),
            ),
            ApiError::Page {
                status,
                tenant_name,
                message,
            } => {
                let mut res = render::error_page(&tenant_name, &message);
                *res.status_mut() = status;
                res
            }
            ApiError::UnknownTenant => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "not_found", "error_description": "no such tenant"}),
            ),
            ApiError::NotFound => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}),
            ),
            ApiError::PayloadTooLarge => json(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"error": "invalid_request", "error_description": "the request body is too large"}),
            ),
            ApiError::RateLimited {
                retry_after,
                json: as_json,
            } => {
                let msg = format!("Too many attempts. Try again in {retry_after} seconds.");
                let mut res = if as_json {
                    json(
                        StatusCode::TOO_MANY_REQUESTS,
                        serde_json::json!({"error": "too_many_requests", "error_description": msg}),
                    )
                } else {
                    let mut r = render::error_page("Keygate", &msg);
                    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                    r
                };
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                res
            }
            ApiError::Internal(fault) => {
                tracing::error!(error = %fault.chain(), "internal error");
                json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({"error": "server_error", "error_description": "the server failed to handle the request"}),
                )
            }
        }
    }
}

/// The fallback of the routers: a 404 `not_found` for any unrouted path.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The admin API's errors: its own codes, the same JSON shape, RFC 6750
/// challenges on 401.
impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        // RFC 6750 3: a challenge on every 401, with an error code only
        // when a token was sent.
        let (status, error, description, challenge) = match self {
            AdminError::Unauthorized { sent: false } => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the admin API needs an admin bearer token".to_string(),
                Some("Bearer realm=\"keygate-admin\""),
            ),
            AdminError::Unauthorized { sent: true } => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the admin token is not valid".to_string(),
                Some("Bearer realm=\"keygate-admin\", error=\"invalid_token\""),
            ),
            AdminError::BadRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d, None),
            AdminError::NotFound(d) => (StatusCode::NOT_FOUND, "not_found", d, None),
            AdminError::Conflict(d) => (StatusCode::CONFLICT, "conflict", d, None),
            AdminError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "this endpoint does not accept this method".to_string(),
                None,
            ),
            AdminError::Internal(fault) => {
                tracing::error!(error = %fault.chain(), "admin API: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the server failed to handle the request".to_string(),
                    None,
                )
            }
        };
        let mut res = (
            status,
            axum::Json(ErrorBody {
                error,
                error_description: description,
            }),
        )
            .into_response();
        if let Some(c) = challenge {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        res
    }
}
