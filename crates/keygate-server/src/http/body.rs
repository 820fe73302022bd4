//! Request bodies of the protocol endpoints, decoded into [`Params`] by our
//! own extractor so that every malformed body still gets an RFC 6749 answer:
//! wrong content type, oversized, not UTF-8, malformed JSON, repeated
//! parameters.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use keygate_core::params::Params;
use keygate_core::OAuthError;

/// Form or JSON parameters of a POST.
pub(crate) struct Body {
    pub params: Params,
    pub json: bool,
}

pub(crate) enum Kind {
    Form,
    Json,
}

pub(crate) fn content_kind(ct: Option<&str>) -> Option<Kind> {
    let ct = ct?.split(';').next()?.trim().to_ascii_lowercase();
    match ct.as_str() {
        "application/x-www-form-urlencoded" => Some(Kind::Form),
        "application/json" => Some(Kind::Json),
        _ => None,
    }
}

/// Reads at most `limit` bytes of body; more is `PayloadTooLarge`.
pub(crate) async fn read_limited(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)
}

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET {
            let q = req.uri().query().unwrap_or("");
            return Ok(Body {
                params: Params::from_urlencoded(q.as_bytes())?,
                json: false,
            });
        }
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let kind = content_kind(ct.as_deref()).ok_or_else(|| {
            OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded or application/json",
            )
        })?;
        let bytes = read_limited(req, state.config.max_body_bytes).await?;
        Ok(match kind {
            Kind::Form => Body {
                params: Params::from_urlencoded(&bytes)?,
                json: false,
            },
            Kind::Json => Body {
                params: Params::from_json(&bytes)?,
                json: true,
            },
        })
    }
}
