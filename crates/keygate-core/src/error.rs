//! The OAuth error of the protocol layer: an RFC 6749 code, the description
//! sent to the client, and a private detail that is only logged.

use std::borrow::Cow;

/// Error codes of RFC 6749 (sections 4.1.2.1 and 5.2), RFC 6750, RFC 7009 and
/// OpenID Connect Core 3.1.2.6 that Keygate emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_request`: a parameter is missing, repeated, malformed or unsupported
    /// (RFC 6749 5.2).
    InvalidRequest,
    /// `invalid_client`: client authentication failed (RFC 6749 5.2); answered with 401.
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired, revoked, used, or another
    /// client's (RFC 6749 5.2).
    InvalidGrant,
    /// `unauthorized_client`: this client may not use this grant or flow (RFC 6749 5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type`: a `grant_type` Keygate does not implement (RFC 6749 5.2).
    UnsupportedGrantType,
    /// `unsupported_response_type`: any `response_type` but `code` (RFC 6749 4.1.2.1).
    UnsupportedResponseType,
    /// `unsupported_token_type`: the server cannot revoke tokens of the hinted type
    /// (RFC 7009 2.2.1).
    UnsupportedTokenType,
    /// `invalid_scope`: the scope is unknown, malformed, or exceeds what was granted
    /// (RFC 6749 5.2).
    InvalidScope,
    /// `invalid_target`: the `resource` or `audience` names no API of the
    /// tenant, or is not an absolute URI without a fragment (RFC 8707 2).
    InvalidTarget,
    /// `access_denied`: refused for what is asked rather than how (RFC 6749 4.1.2.1); userinfo's
    /// answer to a token without `openid`.
    AccessDenied,
    /// `login_required`: `prompt=none` but the person must sign in (OpenID Connect Core 3.1.2.6).
    LoginRequired,
    /// `interaction_required`: `prompt=none` but the person must act on a
    /// page, such as giving a second factor (OpenID Connect Core 3.1.2.6).
    InteractionRequired,
    /// `consent_required`: `prompt=none` but the person must allow what a
    /// third-party client asks for (OpenID Connect Core 3.1.2.6).
    ConsentRequired,
    /// `request_not_supported`: a `request` object was sent (OpenID Connect Core 3.1.2.6).
    RequestNotSupported,
    /// `request_uri_not_supported`: a `request_uri` was sent (OpenID Connect Core 3.1.2.6).
    RequestUriNotSupported,
    /// `invalid_token`: the bearer token is malformed, expired or revoked (RFC 6750 3.1); answered
    /// with 401.
    InvalidToken,
    /// `invalid_dpop_proof`: the DPoP proof is missing where required,
    /// malformed, or fails a check (RFC 9449 5 and 7.1).
    InvalidDpopProof,
    /// `use_dpop_nonce`: the DPoP proof must carry the nonce this server
    /// sends in its `DPoP-Nonce` header (RFC 9449 8).
    UseDpopNonce,
    /// `temporarily_unavailable`: the server cannot answer now and the client may retry
    /// (RFC 6749 4.1.2.1); 503.
    TemporarilyUnavailable,
    /// `authorization_pending`: the person has not yet answered the device
    /// authorization request; poll again (RFC 8628 3.5).
    AuthorizationPending,
    /// `slow_down`: still pending, and the client polled faster than its
    /// interval, which grows by 5 seconds (RFC 8628 3.5).
    SlowDown,
    /// `expired_token`: the device code expired before it was approved and
    /// redeemed; start a new device authorization (RFC 8628 3.5).
    ExpiredToken,
    /// `server_error`: an internal failure, whose cause goes to the log only (RFC 6749 4.1.2.1);
    /// 500.
    ServerError,
}

impl ErrorCode {
    /// The code as sent in the `error` parameter or field.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::ServerError => "server_error",
        }
    }

    /// The HTTP status of this error when it is the direct answer of an
    /// endpoint (token, revocation, introspection, userinfo).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

/// An OAuth error: `code` and `description` go to the client; `detail` is
/// for the log only, so it may name internals the client must not learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// The `error_description` sent to the client: readable, and safe for the client to see.
    pub description: Cow<'static, str>,
    /// What only the log sees (internal causes), if anything.
    pub detail: Option<String>,
}

impl OAuthError {
    /// An error of `code` with this description and no detail.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            detail: None,
        }
    }
    /// The same error with a detail for the log.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    /// An `invalid_request` with description `d`.
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    /// An `invalid_client` with description `d`.
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    /// An `invalid_grant` with description `d`.
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    /// An `invalid_scope` with description `d`.
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    /// An `invalid_target` with description `d` (RFC 8707).
    pub fn invalid_target(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }
    /// An `unauthorized_client` with description `d`.
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}
