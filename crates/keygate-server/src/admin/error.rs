//! Errors of the admin API: always JSON `{"error", "error_description"}`,
//! never cached.

use crate::provisioning::{Front, ProvisionError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keygate_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every admin API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_request` (400), `invalid_token` (401), `not_found` (404),
    /// `conflict` (409) or `server_error` (500).
    #[schema(example = "invalid_request")]
    pub error: &'static str,
    #[schema(
        example = "redirect_uris: redirect URI 'x' is malformed: relative URL without a base"
    )]
    pub error_description: String,
}

#[derive(Debug)]
pub enum AdminError {
    /// No admin token was sent (`sent: false`) or it is not valid.
    Unauthorized {
        sent: bool,
    },
    BadRequest(String),
    NotFound(String),
    Conflict(String),
    MethodNotAllowed,
    Internal(String),
}

impl From<ProvisionError> for AdminError {
    fn from(e: ProvisionError) -> Self {
        let message = e.describe(Front::Api);
        match e {
            ProvisionError::Invalid { .. } => AdminError::BadRequest(message),
            ProvisionError::NotFound(_) => AdminError::NotFound(message),
            ProvisionError::Conflict(_) => AdminError::Conflict(message),
            ProvisionError::Store(_) => AdminError::Internal(message),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        ProvisionError::from(e).into()
    }
}

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
            AdminError::Internal(detail) => {
                tracing::error!(detail = %detail, "admin API: internal error");
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
