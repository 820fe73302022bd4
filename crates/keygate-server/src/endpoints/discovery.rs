//! OpenID Connect Discovery 1.0 / RFC 8414 metadata and the JWKS, per front door.

use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

/// Lists exactly what this server implements.
pub(crate) async fn openid_configuration(Extension(door): Extension<Door>) -> Response {
    // The algorithms of client assertions (RFC 7523): private_key_jwt's
    // signatures, then client_secret_jwt's HMACs; never `none`.
    let assertion_algs: Vec<&str> = keygate_core::client_assertion::PUBLIC_KEY_ALGS
        .into_iter()
        .chain(keygate_core::client_assertion::HMAC_ALGS)
        .collect();
    let mut doc = json!({
        "issuer": door.issuer,
        "authorization_endpoint": door.url("/authorize"),
        "token_endpoint": door.url("/token"),
        "userinfo_endpoint": door.url("/userinfo"),
        "jwks_uri": door.jwks_uri(),
        "revocation_endpoint": door.revocation_endpoint(),
        "introspection_endpoint": door.url("/introspect"),
        "device_authorization_endpoint": door.url("/device_authorization"),
        "end_session_endpoint": door.url("/signoff"),
        "scopes_supported": keygate_core::scope::USER_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": keygate_core::authorize::ResponseMode::ALL,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code", keygate_core::token_exchange::GRANT_TYPE],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256", "plain"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "acr", "amr", "name", "email", "email_verified", "phone_number", "phone_number_verified", "address", "sid"],
        "acr_values_supported": keygate_core::amr::MFA_ACR_VALUES,
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": keygate_core::dpop::ALGS.map(|a| a.as_str()),
        "pushed_authorization_request_endpoint": door.url("/par"),
        "require_pushed_authorization_requests": false,
        // OpenID Connect Back-Channel Logout 1.0, section 2.1: logout
        // tokens carry `sid`, as id_tokens do (docs/logout.md).
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    if door.tenant.dynamic_registration != keygate_core::model::DynamicRegistration::Off {
        doc["registration_endpoint"] = serde_json::json!(door.url("/oauth/register"));
    }
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// The tenant's published keys. A tenant gets its RS256 key on first need,
/// which may be this request.
pub(crate) async fn jwks(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
) -> Result<Response, ApiError> {
    let (_, keys) = state
        .keys
        .signer(&door.tenant.id, keygate_core::model::SigningAlg::RS256)
        .await?;
    let mut res = (*keys.jwks).clone().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    Ok(res)
}
