//! Errors of the admin API: always JSON `{"error", "error_description"}`,
//! never cached. They become responses in [`crate::error`], with every other
//! error of the server.

use crate::provisioning::{Front, ProvisionError};
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
    /// What was wrong, in words; a refused field is named first, as in `redirect_uris: ...`.
    #[schema(
        example = "redirect_uris: redirect URI 'x' is malformed: relative URL without a base"
    )]
    pub error_description: String,
}

/// Why an admin API request failed; each becomes an HTTP status and an [`ErrorBody`].
#[derive(Debug)]
pub enum AdminError {
    /// No admin token was sent (`sent: false`) or it is not valid.
    Unauthorized {
        /// Whether a bearer token was sent: the 401's `WWW-Authenticate` challenge
        /// carries an error code only then (RFC 6750 3.1).
        sent: bool,
    },
    /// A request the API cannot accept (400 `invalid_request`); the message says why.
    BadRequest(String),
    /// A tenant, client, user or admin endpoint that does not exist (404 `not_found`).
    NotFound(String),
    /// The request contradicts what is stored, such as a taken id, e-mail address or
    /// domain (409 `conflict`).
    Conflict(String),
    /// A route exists for the path but not for the method (405 `invalid_request`).
    MethodNotAllowed,
    /// A fault of ours, logged with its sources; answered `server_error`.
    Internal(crate::error::Fault),
}

impl From<ProvisionError> for AdminError {
    fn from(e: ProvisionError) -> Self {
        let message = e.describe(Front::Api);
        match e {
            ProvisionError::Invalid { .. } => AdminError::BadRequest(message),
            ProvisionError::NotFound(_) => AdminError::NotFound(message),
            ProvisionError::Conflict(_) => AdminError::Conflict(message),
            ProvisionError::Store(e) => {
                AdminError::Internal(crate::error::Fault::caused_by("provisioning failed", e))
            }
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        ProvisionError::from(e).into()
    }
}
