//! The token request (RFC 6749 4.1.3, 6, 4.4) as one enum, a variant per grant.

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::scope::Scope;

/// A parsed token request: one variant per `grant_type`, holding that grant's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `grant_type=authorization_code` (RFC 6749 4.1.3).
    AuthorizationCode {
        /// The authorization code from the redirect.
        code: String,
        /// Must equal the authorization request's, if that one sent it.
        redirect_uri: Option<String>,
        /// The PKCE verifier of the code's challenge (RFC 7636 4.5).
        code_verifier: Option<String>,
    },
    /// `grant_type=refresh_token` (RFC 6749 6).
    RefreshToken {
        /// The refresh token to exchange; it is single-use, consumed by the exchange
        /// (RFC 9700 4.14.2).
        refresh_token: String,
        /// A narrower scope for the new access token; absent means all that was granted.
        scope: Option<Scope>,
        /// Next Identity clients repeat these; checked when present.
        redirect_uri: Option<String>,
        /// Must match the grant's PKCE challenge when present.
        code_verifier: Option<String>,
    },
    /// `grant_type=client_credentials` (RFC 6749 4.4).
    ClientCredentials {
        /// The scope asked for; absent means none.
        scope: Option<Scope>,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 3.4).
    DeviceCode {
        /// The device code of the device authorization response.
        device_code: String,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693 2.1).
    TokenExchange(crate::token_exchange::ExchangeRequest),
}

/// The `grant_type` of the device authorization grant (RFC 8628 3.4).
const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn required(p: &Params, name: &'static str) -> Result<String, OAuthError> {
    p.get(name)
        .map(str::to_string)
        .ok_or_else(|| OAuthError::invalid_request(format!("the '{name}' parameter is missing")))
}

fn opt(p: &Params, name: &str) -> Option<String> {
    p.get(name).map(str::to_string)
}

fn scope(p: &Params) -> Result<Option<Scope>, OAuthError> {
    p.get("scope").map(Scope::parse).transpose()
}

impl TokenRequest {
    /// Reads the request from the decoded body; an unknown `grant_type` is
    /// `unsupported_grant_type`.
    pub fn parse(p: &Params) -> Result<TokenRequest, OAuthError> {
        let grant_type = required(p, "grant_type")?;
        match grant_type.as_str() {
            "authorization_code" => Ok(TokenRequest::AuthorizationCode {
                code: required(p, "code")?,
                redirect_uri: opt(p, "redirect_uri"),
                code_verifier: opt(p, "code_verifier"),
            }),
            "refresh_token" => Ok(TokenRequest::RefreshToken {
                refresh_token: required(p, "refresh_token")?,
                scope: scope(p)?,
                redirect_uri: opt(p, "redirect_uri"),
                code_verifier: opt(p, "code_verifier"),
            }),
            "client_credentials" => Ok(TokenRequest::ClientCredentials { scope: scope(p)? }),
            DEVICE_CODE => Ok(TokenRequest::DeviceCode {
                device_code: required(p, "device_code")?,
            }),
            crate::token_exchange::GRANT_TYPE => Ok(TokenRequest::TokenExchange(
                crate::token_exchange::ExchangeRequest::parse(p)?,
            )),
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported; use authorization_code, refresh_token, client_credentials, {DEVICE_CODE} or {}",
                    other.chars().take(64).collect::<String>(),
                    crate::token_exchange::GRANT_TYPE
                ),
            )),
        }
    }

    /// The grant type of the request, to check against the client's allowed ones.
    pub fn grant_type(&self) -> crate::model::GrantType {
        use crate::model::GrantType;
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::DeviceCode { .. } => GrantType::DeviceCode,
            TokenRequest::TokenExchange(_) => GrantType::TokenExchange,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Params {
        Params::from_urlencoded(s.as_bytes()).unwrap()
    }

    #[test]
    fn each_grant() {
        assert_eq!(
            TokenRequest::parse(&p(
                "grant_type=authorization_code&code=c&redirect_uri=r&code_verifier=v"
            ))
            .unwrap(),
            TokenRequest::AuthorizationCode {
                code: "c".into(),
                redirect_uri: Some("r".into()),
                code_verifier: Some("v".into())
            }
        );
        assert!(matches!(
            TokenRequest::parse(&p("grant_type=refresh_token&refresh_token=t&scope=openid"))
                .unwrap(),
            TokenRequest::RefreshToken { scope: Some(_), .. }
        ));
        assert!(matches!(
            TokenRequest::parse(&p("grant_type=client_credentials")).unwrap(),
            TokenRequest::ClientCredentials { scope: None }
        ));
        assert_eq!(
            TokenRequest::parse(&p(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=d"
            ))
            .unwrap(),
            TokenRequest::DeviceCode {
                device_code: "d".into()
            }
        );
        assert_eq!(
            TokenRequest::parse(&p(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
            ))
            .unwrap_err()
            .code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            TokenRequest::parse(&p("code=x")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            TokenRequest::parse(&p("grant_type=password"))
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            TokenRequest::parse(&p("grant_type=authorization_code"))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            TokenRequest::parse(&p("grant_type=authorization_code&code="))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            TokenRequest::parse(&p("grant_type=refresh_token"))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            TokenRequest::parse(&p("grant_type=client_credentials&scope=a%22b"))
                .unwrap_err()
                .code,
            ErrorCode::InvalidScope
        );
    }
}
