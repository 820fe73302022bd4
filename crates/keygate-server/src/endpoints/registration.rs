//! Dynamic client registration (RFC 7591) and its management (RFC 7592):
//! `POST {issuer}/oauth/register` and `GET|PUT|DELETE
//! {issuer}/oauth/register/{client_id}` with the client's registration
//! access token (docs/apis.md, "Clients that register themselves").
//!
//! Off unless the tenant's `dynamic_registration` is `open` or `token`
//! (an initial access token from `keygate tenant registration-token`).
//! Metadata are checked by the rules of `keygate client create`
//! (`provisioning::client_from_spec`); a registered client is always
//! third-party (people allow it on the consent page) and never uses the
//! Journeys API. Registrations are limited per IP, and the sweeper deletes
//! registered clients never used in their first 30 days.

use crate::door::Door;
use crate::error::ApiError;
use crate::provisioning::{self as provision, NewClient, ProvisionError};
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use keygate_core::model::{Client, DynamicRegistration, GrantType};
use keygate_core::{ErrorCode, OAuthError};
use keygate_crypto::secrets;
use serde::Deserialize;
use serde_json::{json, Value};

/// Registrations one IP address may make per hour.
const REGISTRATIONS_PER_IP_HOUR: i64 = 20;

/// The client metadata Keygate reads (RFC 7591 2); others are ignored,
/// as the RFC allows, and not echoed back.
#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    id_token_signed_response_alg: Option<String>,
    /// OpenID Connect Back-Channel Logout 2.2.
    #[serde(default)]
    backchannel_logout_uri: Option<String>,
    /// Back-Channel Logout 2.2; every logout token carries `sid`, so either
    /// value is met (read only to refuse a non-boolean).
    #[serde(default)]
    #[allow(dead_code)]
    backchannel_logout_session_required: Option<bool>,
    /// RFC 9449 5.2: the client always uses DPoP at the token endpoint.
    #[serde(default)]
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 9126 6: the client's authorization requests must be pushed.
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    /// `private_key_jwt`: the client's JWK Set (RFC 7591 2).
    #[serde(default)]
    jwks: Option<Value>,
    /// `private_key_jwt`: where the client publishes its JWK Set.
    #[serde(default)]
    jwks_uri: Option<String>,
    /// The JWS algorithm of the client's assertions (RFC 7591 2): checked
    /// against the method, not stored (each assertion names its own).
    #[serde(default)]
    token_endpoint_auth_signing_alg: Option<String>,
    /// RFC 7592: a PUT names the client it replaces.
    #[serde(default)]
    client_id: Option<String>,
}

fn error(status: StatusCode, code: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::Json {
        status,
        error: code,
        description: description.into(),
    }
}

fn metadata_error(e: ProvisionError) -> ApiError {
    match e {
        ProvisionError::Invalid {
            field: Some("redirect_uris"),
            message,
        } => error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            format!("redirect_uris: {message}"),
        ),
        ProvisionError::Store(e) => e.into(),
        other => error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            other.describe(provision::Front::Api),
        ),
    }
}

/// Reads the JSON metadata of a registration (bounded).
async fn read_metadata(state: &AppState, req: Request) -> Result<(HeaderMap, Metadata), ApiError> {
    let headers = req.headers().clone();
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !matches!(
        crate::http::body::content_kind(ct),
        Some(crate::http::body::Kind::Json)
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "the body must be application/json",
        ));
    }
    let bytes = crate::http::body::read_limited(req, state.config.max_body_bytes).await?;
    let metadata: Metadata = serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            format!("the metadata are not a JSON object of the right types: {e}"),
        )
    })?;
    Ok((headers, metadata))
}

/// The request `keygate client create` would make for these metadata.
fn spec_of(m: &Metadata) -> Result<NewClient, ApiError> {
    if let Some(types) = &m.response_types {
        if types.iter().any(|t| t != "code") {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                "response_types: only code is supported",
            ));
        }
    }
    let method = m
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| "client_secret_basic".into());
    let public = method == "none";
    if let Some(alg) = &m.token_endpoint_auth_signing_alg {
        let fits = match method.as_str() {
            "private_key_jwt" => {
                keygate_core::client_assertion::PUBLIC_KEY_ALGS.contains(&alg.as_str())
            }
            "client_secret_jwt" => {
                keygate_core::client_assertion::HMAC_ALGS.contains(&alg.as_str())
            }
            _ => false,
        };
        if !fits {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                format!("token_endpoint_auth_signing_alg: '{alg}' is not one of {method}'s algorithms (RS256, ES256, EdDSA for private_key_jwt; HS256, HS384, HS512 for client_secret_jwt)"),
            ));
        }
    }
    let grant_types = m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    Ok(NewClient {
        name: m
            .client_name
            .clone()
            .unwrap_or_else(|| "Registered application".into()),
        redirect_uris: m.redirect_uris.clone(),
        public,
        auth_method: (!public).then_some(method),
        jwks: m.jwks.clone(),
        jwks_uri: m.jwks_uri.clone(),
        grant_types,
        post_logout_redirect_uris: m.post_logout_redirect_uris.clone(),
        id_token_signed_response_alg: m.id_token_signed_response_alg.clone(),
        backchannel_logout_uri: m.backchannel_logout_uri.clone(),
        require_dpop: m.dpop_bound_access_tokens.unwrap_or(false),
        third_party: true,
        require_par: m.require_pushed_authorization_requests,
        ..NewClient::default()
    })
}

/// The registered metadata of a client, as RFC 7591 3.2.1 answers them.
fn metadata_of(door: &Door, c: &Client) -> Value {
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    let mut v = json!({
        "client_id": c.id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": grants,
        "response_types": if c.allows(GrantType::AuthorizationCode) { vec!["code"] } else { vec![] },
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "id_token_signed_response_alg": c.signing_alg.as_str(),
        "dpop_bound_access_tokens": c.require_dpop,
        "require_pushed_authorization_requests": c.require_par,
        "registration_client_uri": door.url(&format!("/oauth/register/{}", c.id)),
    });
    if let Some(uri) = &c.backchannel_logout_uri {
        v["backchannel_logout_uri"] = json!(uri);
        v["backchannel_logout_session_required"] = json!(true);
    }
    if c.secret_hash.is_some() && !c.public {
        v["client_secret_expires_at"] = json!(0);
    }
    if let Some(jwks) = c
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
    {
        v["jwks"] = jwks;
    }
    if let Some(uri) = &c.jwks_uri {
        v["jwks_uri"] = json!(uri);
    }
    v
}

/// Whether this tenant registers clients, and the caller may.
async fn admit(state: &AppState, door: &Door, headers: &HeaderMap) -> Result<(), ApiError> {
    match door.tenant.dynamic_registration {
        DynamicRegistration::Off => Err(error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "this tenant does not register clients dynamically",
        )),
        DynamicRegistration::Open => Ok(()),
        DynamicRegistration::Token => {
            let token = crate::jwt::mint::bearer(headers).ok_or_else(|| {
                ApiError::Bearer(Some(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "an initial access token is required",
                )))
            })?;
            let ok = token.len() <= 256
                && state
                    .store
                    .registration_token_valid(
                        &secrets::sha256_hex(&token),
                        &door.tenant.id,
                        crate::now(),
                    )
                    .await?;
            if ok {
                Ok(())
            } else {
                Err(ApiError::Bearer(Some(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the initial access token is not valid",
                ))))
            }
        }
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    crate::error::no_store(&mut res);
    res
}

/// POST /oauth/register (RFC 7591 3).
pub(crate) async fn register(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    admit(&state, &door, req.headers()).await?;
    // Each registration, good or bad, counts (reserved before the
    // metadata are read).
    if let Some(ip) = door.client_ip {
        let key = crate::limits::kind_ip_key("register-client", ip);
        let policy = keygate_store::LimitPolicy {
            max_failures: REGISTRATIONS_PER_IP_HOUR,
            window: 3600,
            base_block: 3600,
            max_block: 3600,
        };
        if let Err(secs) = crate::limits::reserve(&state, &key, &policy).await? {
            return Err(ApiError::RateLimited {
                retry_after: secs.max(1) as u64,
                json: true,
            });
        }
    }
    let (_, metadata) = read_metadata(&state, req).await?;
    let spec = spec_of(&metadata)?;
    let now = crate::now();
    let (mut client, secret) =
        provision::new_client(&door.tenant.id, &spec, now, state.keys.master())
            .map_err(metadata_error)?;
    let registration_token = secrets::new_secret();
    client.registration_token_hash = Some(secrets::sha256_hex(&registration_token));
    provision::create_client(state.store.as_ref(), &client)
        .await
        .map_err(metadata_error)?;
    tracing::info!(tenant = %door.tenant.id, client_id = %client.id, "client registered dynamically");
    let mut body = metadata_of(&door, &client);
    body["registration_access_token"] = json!(registration_token);
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
    }
    Ok(answer(StatusCode::CREATED, body))
}

/// The registered client a management request (RFC 7592) is about, and
/// the registration access token presented, if that token is right.
async fn managed(
    state: &AppState,
    door: &Door,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<(Client, String), ApiError> {
    let refused = || {
        ApiError::Bearer(Some(OAuthError::new(
            ErrorCode::InvalidToken,
            "the registration access token is not valid for this client",
        )))
    };
    let token = crate::jwt::mint::bearer(headers).ok_or_else(refused)?;
    let client = state
        .client(&door.tenant.id, client_id)
        .await?
        .ok_or_else(refused)?;
    let hash = client
        .registration_token_hash
        .as_deref()
        .ok_or_else(refused)?;
    if !secrets::ct_eq(secrets::sha256_hex(&token).as_bytes(), hash.as_bytes()) {
        return Err(refused());
    }
    Ok((client, token))
}

/// The client information response of a read or an update (RFC 7592 3):
/// the metadata with `registration_access_token`, which that section
/// requires. Only its hash is stored, so the answer carries the token the
/// caller presented (the RFC lets the server hand out a new one instead;
/// Keygate keeps the token unchanged).
fn information(door: &Door, client: &Client, registration_token: &str) -> Response {
    let mut body = metadata_of(door, client);
    body["registration_access_token"] = json!(registration_token);
    answer(StatusCode::OK, body)
}

/// GET /oauth/register/{client_id} (RFC 7592 2.1).
pub(crate) async fn read(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    let (client, token) = managed(&state, &door, &headers, client_id).await?;
    Ok(information(&door, &client, &token))
}

/// PUT /oauth/register/{client_id} (RFC 7592 2.2): the metadata replace
/// the registered ones, by the same rules.
pub(crate) async fn update(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    req: Request,
) -> Result<Response, ApiError> {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    let (client, token) = managed(&state, &door, req.headers(), client_id).await?;
    let (_, metadata) = read_metadata(&state, req).await?;
    if metadata
        .client_id
        .as_deref()
        .is_some_and(|c| c != client.id)
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "client_id: not this client's",
        ));
    }
    let spec = spec_of(&metadata)?;
    let switches_to_jwt = spec.auth_method.as_deref() == Some("client_secret_jwt")
        && client.auth_method != keygate_core::model::AuthMethod::ClientSecretJwt;
    if switches_to_jwt {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "token_endpoint_auth_method: a client cannot switch to client_secret_jwt (its secret is kept only as a hash)",
        ));
    }
    if spec.public != client.public {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "token_endpoint_auth_method: a client stays public or confidential",
        ));
    }
    let (checked, _) = provision::client_from_spec(&door.tenant.id, &spec, client.created_at)
        .map_err(metadata_error)?;
    let after = Client {
        id: client.id.clone(),
        tenant_id: client.tenant_id.clone(),
        public: client.public,
        secret_hash: client.secret_hash.clone(),
        created_at: client.created_at,
        registration_token_hash: client.registration_token_hash.clone(),
        first_used_at: client.first_used_at,
        secret_sealed: client
            .secret_sealed
            .clone()
            .filter(|_| checked.auth_method == keygate_core::model::AuthMethod::ClientSecretJwt),
        ..checked
    };
    state.store.update_client(&after).await?;
    state
        .clients
        .remove(&(door.tenant.id.clone(), client.id.clone()));
    tracing::info!(tenant = %door.tenant.id, client_id = %client.id, "registered client updated");
    Ok(information(&door, &after, &token))
}

/// DELETE /oauth/register/{client_id} (RFC 7592 2.3): the client and its
/// grants go.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    let (client, _) = managed(&state, &door, &headers, client_id).await?;
    state
        .store
        .delete_client(&door.tenant.id, &client.id, crate::now())
        .await?;
    state
        .clients
        .remove(&(door.tenant.id.clone(), client.id.clone()));
    tracing::info!(tenant = %door.tenant.id, client_id = %client.id, "registered client deleted itself");
    Ok(StatusCode::NO_CONTENT.into_response())
}
