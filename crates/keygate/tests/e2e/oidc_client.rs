//! A real OpenID Connect client library (`openidconnect` 4, on its
//! reqwest async client) against Keygate: discovery, the code flow with PKCE
//! through the hosted sign-in, the id_token verified against the JWKS with
//! the nonce and at_hash, userinfo, refresh and revocation; and then the
//! proof that the revoked refresh token no longer works.

use crate::harness::*;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::reqwest;
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    ProviderMetadata, RedirectUrl, RequestTokenError, RevocationUrl, Scope, TokenResponse,
    UserInfoError,
};

/// Discovery fields the core metadata type does not model.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
struct Rfc7009And7662 {
    revocation_endpoint: String,
    introspection_endpoint: String,
}
impl AdditionalProviderMetadata for Rfc7009And7662 {}

type Metadata = ProviderMetadata<
    Rfc7009And7662,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

async fn full_flow(issuer: &str, registered: &TestClient, sub: &str) {
    // As the openidconnect docs advise: never follow redirects.
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Discovery, and the JWKS with it.
    let meta = Metadata::discover_async(IssuerUrl::new(issuer.to_string()).unwrap(), &http)
        .await
        .unwrap_or_else(|e| panic!("discovery of {issuer}: {e:?}"));
    assert_eq!(meta.issuer().as_str(), issuer);
    assert!(!meta.jwks().keys().is_empty());
    let extra = meta.additional_metadata().clone();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(registered.id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(registered.redirect_uri.clone()).unwrap())
    // oauth2 refuses a revocation URL that is not https (RFC 7009 2: "Clients
    // MUST verify that the URL is an HTTPS URL"); these tests run without
    // TLS, so the library gets the https form of the discovered endpoint
    // and `loopback` below carries that one request over plain http.
    .set_revocation_url(
        RevocationUrl::new(extra.revocation_endpoint.replacen("http://", "https://", 1)).unwrap(),
    );
    let loopback = |mut req: openidconnect::HttpRequest| {
        let http = http.clone();
        async move {
            let plain = req.uri().to_string().replacen("https://", "http://", 1);
            *req.uri_mut() = plain.parse().unwrap();
            http.call(req).await
        }
    };
    let revocation_path = if issuer.ends_with("/as") {
        "/revoke"
    } else {
        "/oauth/revoke"
    };
    assert_eq!(
        extra.revocation_endpoint,
        format!("{issuer}{revocation_path}")
    );
    assert_eq!(extra.introspection_endpoint, format!("{issuer}/introspect"));

    // The authorization URL the library builds, driven through the hosted sign-in.
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::new();
    let page = browser.get(auth_url.as_str()).await;
    assert_eq!(page.status, 200, "the sign-in page: {}", page.body);
    let done = browser
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let location = done.location().unwrap();
    assert!(
        location.starts_with(&format!("{}?", registered.redirect_uri)),
        "{location}"
    );
    let params = done.redirect_params();
    assert_eq!(params.get("state"), Some(csrf.secret()), "state comes back");
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(issuer),
        "RFC 9207 iss"
    );
    let code = AuthorizationCode::new(params["code"].clone());

    // The exchange.
    let tokens = client
        .exchange_code(code)
        .expect("a token endpoint was discovered")
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    assert_eq!(tokens.token_type().as_ref(), "bearer");
    assert_eq!(
        tokens.expires_in(),
        Some(std::time::Duration::from_secs(86400))
    );

    // The id_token: signature (JWKS), iss, aud, exp, nonce; then at_hash.
    let id_token = tokens.id_token().expect("an id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("id_token verification: {e:?}"));
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(claims.issuer().as_str(), issuer);
    assert_eq!(claims.email().map(|e| e.as_str()), Some(EMAIL));
    assert!(claims.auth_time().is_some());
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    let sub_id = claims.subject().clone();
    let auth_time = claims.auth_time();

    // A wrong nonce is caught by the library (so the check above meant something).
    assert!(id_token
        .claims(&verifier, &Nonce::new("another".into()))
        .is_err());

    // userinfo, bound to the id_token's subject.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(sub_id.clone()))
        .expect("a userinfo endpoint was discovered")
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("userinfo: {e:?}"));
    assert_eq!(info.email().map(|e| e.as_str()), Some(EMAIL));
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Ann Example")
    );

    // Refresh: rotated, and a new id_token for the same person and sign-in.
    let rt1 = tokens
        .refresh_token()
        .expect("a refresh token (offline_access)")
        .clone();
    let refreshed = client
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let rt2 = refreshed
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(rt1.secret(), rt2.secret());
    let original_nonce = nonce.secret().clone();
    let claims2 = refreshed
        .id_token()
        .expect("an id_token on refresh")
        .claims(&verifier, |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(n) if *n.secret() == original_nonce => Ok(()),
            Some(n) => Err(format!("unexpected nonce {}", n.secret())),
        })
        .unwrap_or_else(|e| panic!("refreshed id_token: {e:?}"));
    assert_eq!(claims2.subject(), &sub_id);
    assert_eq!(claims2.auth_time(), auth_time);
    let info: CoreUserInfoClaims = client
        .user_info(refreshed.access_token().clone(), Some(sub_id.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject(), &sub_id);

    // The used refresh token is dead.
    match client
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), CoreErrorResponseType::InvalidGrant)
        }
        other => panic!("a used refresh token must be refused: {other:?}"),
    }
    // ... and that reuse revoked the family (RFC 9700): start a new one.
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let done = browser.get(auth_url.as_str()).await;
    assert_eq!(done.status, 303, "signed in already: {}", done.body);
    let code = AuthorizationCode::new(done.redirect_params()["code"].clone());
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .unwrap();
    tokens
        .id_token()
        .unwrap()
        .claims(&verifier, &nonce)
        .unwrap();
    let rt = tokens.refresh_token().unwrap().clone();
    let refreshed = client
        .exchange_refresh_token(&rt)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let live_rt = refreshed.refresh_token().unwrap().clone();
    let live_at = refreshed.access_token().clone();

    // Revocation (RFC 7009) through the library.
    let revocable: CoreRevocableToken = (&live_rt).into();
    client
        .revoke_token(revocable)
        .unwrap()
        .request_async(&loopback)
        .await
        .unwrap_or_else(|e| panic!("revocation: {e:?}"));

    // The revoked refresh token no longer works, nor does its family's access token.
    match client
        .exchange_refresh_token(&live_rt)
        .unwrap()
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), CoreErrorResponseType::InvalidGrant, "{e:?}")
        }
        other => panic!("a revoked refresh token must be refused: {other:?}"),
    }
    let r: Result<CoreUserInfoClaims, _> = client
        .user_info(live_at.clone(), None)
        .unwrap()
        .request_async(&http)
        .await;
    match r {
        Err(UserInfoError::Response(status, _, _)) => assert_eq!(status.as_u16(), 401),
        other => panic!("userinfo with a revoked family's access token: {other:?}"),
    }
    let raw = reqwest::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(live_at.secret())
        .send()
        .await
        .unwrap();
    assert!(raw.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    // Revoking it again is still a success (RFC 7009 2.2).
    client
        .revoke_token((&live_rt).into())
        .unwrap()
        .request_async(&loopback)
        .await
        .unwrap();
}

/// A confidential client (openidconnect's default: client_secret_basic,
/// with PKCE as well) at the path issuer.
#[tokio::test]
async fn openidconnect_confidential_client_full_flow_at_path_issuer() {
    let w = World::new().await;
    let sub =
        w.db.query_strings(&format!("SELECT sub FROM users WHERE email = '{EMAIL}'"))
            .await
            .remove(0);
    let client = w.confidential_client(&[]);
    full_flow(&w.issuer, &client, &sub).await;
}

/// A public client (no secret: openidconnect sends client_id in the body)
/// at the root issuer of the default tenant.
#[tokio::test]
async fn openidconnect_public_client_full_flow_at_root_issuer() {
    let w = World::new().await;
    let sub = w.db.user("default", EMAIL, PASSWORD);
    let client =
        w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    full_flow(&w.server.base, &client, &sub).await;
}
