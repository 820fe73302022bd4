//! Talking to an upstream: where to send the person, and what its answer
//! says about them.
//!
//! `oidc` upstreams go through the `openidconnect` crate: discovery from
//! the issuer (whose document must name that same issuer), the keys from
//! its `jwks_uri`, the code redeemed with the PKCE verifier, and the
//! id_token verified: signature by the upstream's keys (an asymmetric
//! algorithm it lists, or HMAC with the client secret), `iss`, `aud`
//! (and `azp`), `exp` and `nonce`. When the id_token holds no e-mail (an
//! OpenID provider may keep profile claims for its userinfo endpoint, as
//! node oidc-provider does), userinfo is read too, and its `sub` must be
//! the id_token's (OpenID Connect Core 5.3.2).
//!
//! `oauth2` upstreams (GitHub-shaped) go through the `oauth2` crate: the
//! configured endpoints, the code redeemed, then the userinfo URL read with
//! the access token, and the person found in its answer by the claim map.
//!
//! Every request goes through the node's bounded HTTP client (no redirect
//! followed, 3 s to connect, 5 s in all), so an upstream that is down costs
//! a sign-in at most a few seconds and then a clear page.

use super::Federation;
use crate::fetch::FetchError;
use crate::AppState;
use keygate_core::federation::{self as fed, IdpKind, Profile, UpstreamIdp};
use openidconnect::core::{
    CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType,
};
use openidconnect::http::{header, HeaderValue, Method, Request};
use openidconnect::{
    AuthType, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest answer read from an upstream (discovery, keys, tokens,
/// userinfo).
const MAX_ANSWER: usize = 256 * 1024;

/// How long a discovered document and its keys are used before they are
/// fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(10 * 60);

/// How soon keys may be fetched again for an id_token signed by a key
/// they do not hold (a rotation at the upstream).
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// Why a round trip with an upstream failed. Shown to the person by kind
/// only; the detail goes to the log (it never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// The upstream could not be reached, or answered too slowly.
    #[error("the upstream could not be reached: {0}")]
    Unreachable(String),
    /// The upstream refused (an OAuth error from its token endpoint).
    #[error("the upstream refused: {0}")]
    Refused(String),
    /// An answer that does not verify or cannot be read.
    #[error("the upstream's answer is not valid: {0}")]
    Invalid(String),
    /// Keygate's settings for the upstream cannot be used.
    #[error("the upstream's settings cannot be used: {0}")]
    Settings(String),
}

impl UpstreamError {
    /// The sentence for the page, naming the upstream.
    pub(crate) fn message(&self, name: &str) -> String {
        match self {
            UpstreamError::Unreachable(_) => format!(
                "{name} could not be reached. Try again in a moment, or sign in another way."
            ),
            UpstreamError::Refused(_) => format!(
                "{name} did not complete the sign-in. Go back to the application and try again."
            ),
            UpstreamError::Invalid(_) => format!(
                "The answer from {name} could not be verified, so you were not signed in. \
                 Go back to the application and try again."
            ),
            UpstreamError::Settings(_) => format!(
                "Signing in with {name} is not set up correctly. Contact the administrator of this service."
            ),
        }
    }
}

impl From<FetchError> for UpstreamError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Failed(_) | FetchError::NoPublicAddress | FetchError::Status(_) => {
                UpstreamError::Unreachable(e.to_string())
            }
            FetchError::Refused(_) => UpstreamError::Settings(e.to_string()),
            FetchError::TooLarge(_) => UpstreamError::Invalid(e.to_string()),
        }
    }
}

/// An upstream's discovered document (with its keys), and when it was
/// fetched.
pub(crate) struct Discovered {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// The client secret, unsealed (`None` for a public client).
fn secret(state: &AppState, idp: &UpstreamIdp) -> Result<Option<String>, UpstreamError> {
    let Some(sealed) = &idp.client_secret_sealed else {
        return Ok(None);
    };
    let plain = state
        .keys
        .master()
        .open(fed::SECRET_LABEL, sealed)
        .map_err(|_| UpstreamError::Settings("the client secret cannot be unsealed".into()))?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| UpstreamError::Settings("the client secret is not text".into()))
}

/// An answer of the node's bounded fetcher, as the crates expect it.
type Answer<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<openidconnect::http::Response<Vec<u8>>, FetchError>>
            + Send
            + 'a,
    >,
>;

/// The HTTP client the crates call, over the node's bounded fetcher (a
/// type rather than a closure, so that the futures that hold it stay
/// `Send` for every lifetime, as axum's handlers need).
struct Http<'a>(&'a crate::fetch::Fetcher);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http<'_> {
    type Error = FetchError;
    type Future = Answer<'c>;

    fn call(&'c self, request: Request<Vec<u8>>) -> Answer<'c> {
        Box::pin(self.0.send(request, MAX_ANSWER))
    }
}

fn client_of(fed: &Federation) -> Http<'_> {
    Http(fed.fetcher())
}

/// The cache key of an upstream's discovery: its settings may change.
fn cache_key(idp: &UpstreamIdp) -> String {
    format!("{}\n{}\n{}", idp.tenant_id, idp.id, idp.issuer)
}

/// The upstream's document and keys: cached for [`DISCOVERY_TTL`], or
/// fetched again when `fresh_keys` asks for keys older than
/// [`REFETCH_AFTER`].
async fn discover(
    state: &AppState,
    idp: &UpstreamIdp,
    fresh_keys: bool,
) -> Result<Arc<Discovered>, UpstreamError> {
    let key = cache_key(idp);
    let cached = state
        .federation
        .discovered
        .lock()
        .ok()
        .and_then(|m| m.get(&key).cloned());
    if let Some(d) = &cached {
        let age = d.fetched.elapsed();
        if age < DISCOVERY_TTL && (!fresh_keys || age < REFETCH_AFTER) {
            return Ok(d.clone());
        }
    }
    let issuer = IssuerUrl::new(idp.issuer.clone())
        .map_err(|e| UpstreamError::Settings(format!("the issuer is not a URL: {e}")))?;
    let http = client_of(&state.federation);
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| match e {
            openidconnect::DiscoveryError::Request(f) => UpstreamError::from(f),
            openidconnect::DiscoveryError::Response(status, _, _) => {
                UpstreamError::Unreachable(format!("discovery answered HTTP {status}"))
            }
            other => UpstreamError::Invalid(format!("discovery: {other}")),
        })?;
    let found = Arc::new(Discovered {
        metadata,
        fetched: Instant::now(),
    });
    if let Ok(mut m) = state.federation.discovered.lock() {
        // A handful of upstreams per tenant: drop stale entries as they go.
        m.retain(|_, d| d.fetched.elapsed() < DISCOVERY_TTL);
        m.insert(key, found.clone());
    }
    Ok(found)
}

/// The values a round trip sends, derived from its `state`.
pub(crate) struct TripSecrets<'a> {
    pub state: &'a str,
    pub nonce: String,
    pub verifier: String,
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, UpstreamError> {
    RedirectUrl::new(redirect_uri.to_string())
        .map_err(|e| UpstreamError::Settings(format!("the callback URL: {e}")))
}

fn url_of<T>(
    value: Option<&String>,
    what: &str,
    make: fn(String) -> Result<T, url::ParseError>,
) -> Result<T, UpstreamError> {
    let v = value.ok_or_else(|| UpstreamError::Settings(format!("no {what} is set")))?;
    make(v.clone()).map_err(|e| UpstreamError::Settings(format!("the {what}: {e}")))
}

/// Where to send the person: the upstream's authorization endpoint with
/// the client, the callback, the scopes, `state`, `nonce` (OpenID) and the
/// S256 PKCE challenge.
pub(crate) async fn authorization_url(
    state: &AppState,
    idp: &UpstreamIdp,
    redirect_uri: &str,
    trip: &TripSecrets<'_>,
) -> Result<String, UpstreamError> {
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(trip.verifier.clone()));
    let csrf = trip.state.to_string();
    let url = match idp.kind {
        IdpKind::Oidc => {
            let found = discover(state, idp, false).await?;
            let client = CoreClient::from_provider_metadata(
                found.metadata.clone(),
                ClientId::new(idp.client_id.clone()),
                None,
            )
            .set_redirect_uri(redirect_url(redirect_uri)?);
            let nonce = trip.nonce.clone();
            let mut req = client.authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(csrf),
                move || Nonce::new(nonce),
            );
            // `openid` is always sent by the crate; the others as set.
            for s in idp.scopes.iter().filter(|s| *s != "openid") {
                req = req.add_scope(Scope::new(s.clone()));
            }
            req.set_pkce_challenge(challenge).url().0
        }
        IdpKind::Oauth2 => {
            let client = oauth2::basic::BasicClient::new(ClientId::new(idp.client_id.clone()))
                .set_auth_uri(url_of(
                    idp.authorize_url.as_ref(),
                    "authorization URL",
                    openidconnect::AuthUrl::new,
                )?)
                .set_redirect_uri(redirect_url(redirect_uri)?);
            let mut req = client.authorize_url(move || CsrfToken::new(csrf));
            for s in &idp.scopes {
                req = req.add_scope(Scope::new(s.clone()));
            }
            req.set_pkce_challenge(challenge).url().0
        }
    };
    Ok(url.to_string())
}

/// How the client authenticates at the token endpoint: HTTP Basic unless
/// the upstream lists only `client_secret_post`; always the body for
/// `oauth2` upstreams (GitHub reads the secret there).
fn auth_type(idp: &UpstreamIdp, metadata: Option<&CoreProviderMetadata>) -> AuthType {
    use openidconnect::core::CoreClientAuthMethod as M;
    match (
        idp.kind,
        metadata.and_then(|m| m.token_endpoint_auth_methods_supported()),
    ) {
        (IdpKind::Oauth2, _) => AuthType::RequestBody,
        (IdpKind::Oidc, Some(methods))
            if !methods.contains(&M::ClientSecretBasic)
                && methods.contains(&M::ClientSecretPost) =>
        {
            AuthType::RequestBody
        }
        _ => AuthType::BasicAuth,
    }
}

/// What a failed token request means.
fn token_error<T: openidconnect::ErrorResponse + 'static>(
    e: openidconnect::RequestTokenError<FetchError, T>,
) -> UpstreamError {
    use openidconnect::RequestTokenError as R;
    match e {
        R::ServerResponse(r) => UpstreamError::Refused(format!("token endpoint: {r}")),
        R::Request(f) => f.into(),
        R::Parse(p, _) => UpstreamError::Invalid(format!("token answer: {p}")),
        R::Other(o) => UpstreamError::Invalid(format!("token answer: {o}")),
    }
}

/// The signing algorithms accepted on id_tokens: what the upstream lists,
/// never `none` (RFC 8725 3.1).
fn algorithms(metadata: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|a| **a != CoreJwsSigningAlgorithm::None)
        .cloned()
        .collect()
}

/// Redeems the upstream's `code` and returns the person it vouches for.
pub(crate) async fn redeem(
    state: &AppState,
    idp: &UpstreamIdp,
    redirect_uri: &str,
    code: &str,
    trip: &TripSecrets<'_>,
) -> Result<Profile, UpstreamError> {
    let secret = secret(state, idp)?;
    let http = client_of(&state.federation);
    let verifier = PkceCodeVerifier::new(trip.verifier.clone());
    let claims = match idp.kind {
        IdpKind::Oidc => {
            let found = discover(state, idp, false).await?;
            let client = CoreClient::from_provider_metadata(
                found.metadata.clone(),
                ClientId::new(idp.client_id.clone()),
                secret.clone().map(ClientSecret::new),
            )
            .set_redirect_uri(redirect_url(redirect_uri)?)
            .set_auth_type(auth_type(idp, Some(&found.metadata)));
            let answer = client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .map_err(|e| UpstreamError::Settings(e.to_string()))?
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .map_err(token_error)?;
            let id_token = answer
                .id_token()
                .ok_or_else(|| UpstreamError::Invalid("the token answer has no id_token".into()))?;
            let nonce = Nonce::new(trip.nonce.clone());
            let verify = |d: &Discovered| {
                let verifier: CoreIdTokenVerifier<'_> = match &secret {
                    Some(s) => CoreIdTokenVerifier::new_confidential_client(
                        ClientId::new(idp.client_id.clone()),
                        ClientSecret::new(s.clone()),
                        d.metadata.issuer().clone(),
                        d.metadata.jwks().clone(),
                    ),
                    None => CoreIdTokenVerifier::new_public_client(
                        ClientId::new(idp.client_id.clone()),
                        d.metadata.issuer().clone(),
                        d.metadata.jwks().clone(),
                    ),
                }
                .set_allowed_algs(algorithms(&d.metadata));
                id_token
                    .claims(&verifier, &nonce)
                    .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
            };
            let mut claims = match verify(&found) {
                Ok(c) => c,
                // Signed by a key not in the cached set: the upstream may
                // have rotated; fetch its keys again (rarely) and retry.
                Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                    openidconnect::SignatureVerificationError::NoMatchingKey,
                )) => {
                    let again = discover(state, idp, true).await?;
                    verify(&again).map_err(|e| UpstreamError::Invalid(format!("id_token: {e}")))?
                }
                Err(e) => return Err(UpstreamError::Invalid(format!("id_token: {e}"))),
            };
            let subject = claims.get("sub").cloned();
            if claims.get("email").is_none() {
                let token = answer.access_token().secret();
                if let Some(extra) = userinfo_claims(state, &found.metadata, token, subject).await?
                {
                    merge(&mut claims, extra);
                }
            }
            claims
        }
        IdpKind::Oauth2 => {
            let mut client = oauth2::basic::BasicClient::new(ClientId::new(idp.client_id.clone()))
                .set_token_uri(url_of(
                    idp.token_url.as_ref(),
                    "token URL",
                    openidconnect::TokenUrl::new,
                )?)
                .set_redirect_uri(redirect_url(redirect_uri)?)
                .set_auth_type(auth_type(idp, None));
            if let Some(s) = &secret {
                client = client.set_client_secret(ClientSecret::new(s.clone()));
            }
            let answer = client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .map_err(token_error)?;
            let url = idp
                .userinfo_url
                .as_deref()
                .ok_or_else(|| UpstreamError::Settings("no userinfo URL is set".into()))?;
            read_userinfo(state, url, answer.access_token().secret()).await?
        }
    };
    fed::profile(&idp.issuer, &claims, &idp.claims)
        .map_err(|e| UpstreamError::Invalid(e.to_string()))
}

/// Adds to `claims` the members of `extra` it does not have.
fn merge(claims: &mut Value, extra: Value) {
    if let (Value::Object(have), Value::Object(more)) = (claims, extra) {
        for (k, v) in more {
            have.entry(k).or_insert(v);
        }
    }
}

/// The OpenID provider's userinfo claims, when it has the endpoint; their
/// `sub` must be the id_token's.
async fn userinfo_claims(
    state: &AppState,
    metadata: &CoreProviderMetadata,
    access_token: &str,
    subject: Option<Value>,
) -> Result<Option<Value>, UpstreamError> {
    let Some(endpoint) = metadata.userinfo_endpoint() else {
        return Ok(None);
    };
    let claims = read_userinfo(state, endpoint.url().as_str(), access_token).await?;
    if claims.get("sub") != subject.as_ref() {
        return Err(UpstreamError::Invalid(
            "the userinfo answer is about another subject".into(),
        ));
    }
    Ok(Some(claims))
}

/// GETs a userinfo URL with the access token; the answer must be a JSON
/// object.
async fn read_userinfo(
    state: &AppState,
    url: &str,
    access_token: &str,
) -> Result<Value, UpstreamError> {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(url)
        .header(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {access_token}")) {
        req = req.header(header::AUTHORIZATION, v);
    }
    let req = req
        .body(Vec::new())
        .map_err(|e| UpstreamError::Settings(format!("the userinfo URL: {e}")))?;
    let res = state.federation.fetcher().send(req, MAX_ANSWER).await?;
    if !res.status().is_success() {
        return Err(UpstreamError::Refused(format!(
            "userinfo answered HTTP {}",
            res.status().as_u16()
        )));
    }
    match serde_json::from_slice::<Value>(res.body()) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(UpstreamError::Invalid(
            "the userinfo answer is not a JSON object".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_what_the_id_token_said() {
        let mut a = serde_json::json!({"sub": "s", "name": "From id_token"});
        merge(
            &mut a,
            serde_json::json!({"sub": "other", "name": "From userinfo", "email": "a@b.example"}),
        );
        assert_eq!(a["sub"], "s");
        assert_eq!(a["name"], "From id_token");
        assert_eq!(a["email"], "a@b.example");
    }

    #[test]
    fn every_failure_has_a_sentence_naming_the_upstream() {
        for e in [
            UpstreamError::Unreachable("x".into()),
            UpstreamError::Refused("x".into()),
            UpstreamError::Invalid("x".into()),
            UpstreamError::Settings("x".into()),
        ] {
            assert!(e.message("Acme").contains("Acme"));
            assert!(!e.message("Acme").contains('x'));
        }
    }
}
