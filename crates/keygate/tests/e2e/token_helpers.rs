//! Helpers of the token-endpoint tests: requests, replies and the checks
//! every test makes of them.
//!
//! Shared by the token-endpoint test files and the error fixture.

use crate::harness::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const SCOPE_ALL: &str = "openid profile email offline_access";
pub const DAY: i64 = 86400;

/// An HTTP answer: status, headers, the body as text and (when it is) JSON.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts an RFC 6749 5.2 error: status, `error`, a description, JSON, no-store.
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(
            (self.status, self.json["error"].as_str()),
            (status, Some(error)),
            "{}",
            self.text
        );
        assert!(
            self.json["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "error_description missing: {}",
            self.text
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{:?}",
            self.headers
        );
        assert_no_store(&self.headers);
        if error == "invalid_client" && status == 401 {
            let challenge = self
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("401 without WWW-Authenticate: {}", self.text));
            assert!(challenge.starts_with("Basic realm="), "{challenge}");
        }
    }

    /// Asserts a successful token response and returns its body.
    pub fn tokens(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        assert!(self
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")));
        assert_no_store(&self.headers);
        assert_eq!(self.json["token_type"], "Bearer", "{}", self.text);
        assert!(
            self.json["expires_in"].as_i64().is_some_and(|e| e > 0),
            "{}",
            self.text
        );
        assert!(
            self.json["access_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{}",
            self.text
        );
        self.json.clone()
    }
}

pub fn assert_no_store(headers: &HeaderMap) {
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "{headers:?}"
    );
    assert_eq!(
        headers.get("pragma").and_then(|v| v.to_str().ok()),
        Some("no-cache"),
        "{headers:?}"
    );
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

/// `application/x-www-form-urlencoded` text of pairs, in the order given.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// POSTs a form body, as `curl -d` does, with optional Basic credentials.
pub async fn post_form(url: &str, basic: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> Reply {
    let mut req = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(pairs));
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            keygate_core::basic::encode_basic(id, secret),
        );
    }
    send(req).await
}

/// An authorization URL with an explicit scope, optional PKCE (challenge,
/// method) and nonce.
pub fn auth_url(
    issuer: &str,
    client: &TestClient,
    scope: &str,
    pkce: Option<(&str, &str)>,
    nonce: Option<&str>,
) -> String {
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", "st-123");
        if let Some(n) = nonce {
            q.append_pair("nonce", n);
        }
        if let Some((c, m)) = pkce {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", m);
        }
    }
    u.to_string()
}

/// Follows an authorization URL through the hosted sign-in; returns the code.
pub async fn code_at(browser: &Browser, url: &str) -> String {
    let page = browser.get(url).await;
    let done = if page.status == 200 {
        browser
            .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await
    } else {
        page
    };
    assert_eq!(done.status, 303, "sign-in did not redirect: {}", done.body);
    let params = done.redirect_params();
    assert_eq!(params.get("state").map(String::as_str), Some("st-123"));
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {params:?}"))
        .clone()
}

/// The usual code exchange of a public (PKCE) or Basic-authenticated client.
pub async fn exchange(
    issuer: &str,
    client: &TestClient,
    code: &str,
    verifier: Option<&str>,
) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", client.redirect_uri.as_str()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let basic = client.secret.as_deref().map(|s| (client.id.as_str(), s));
    if basic.is_none() {
        form.push(("client_id", &client.id));
    }
    post_form(&format!("{issuer}/token"), basic, &form).await
}

/// Signs in (all scopes, PKCE S256) and exchanges the code: a fresh token
/// response of `client`, and the verifier used.
pub async fn fresh_tokens(browser: &Browser, issuer: &str, client: &TestClient) -> (Value, String) {
    let (verifier, challenge) = pkce();
    let code = obtain_code(browser, issuer, client, Some(&challenge), &[]).await;
    (
        exchange(issuer, client, &code, Some(&verifier))
            .await
            .tokens(),
        verifier,
    )
}

/// A refresh of a public or Basic-authenticated client.
pub async fn refresh(
    issuer: &str,
    client: &TestClient,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    let basic = client.secret.as_deref().map(|s| (client.id.as_str(), s));
    if basic.is_none() {
        form.push(("client_id", &client.id));
    }
    post_form(&format!("{issuer}/token"), basic, &form).await
}

/// Introspects with a confidential (Basic) caller.
pub async fn introspect(issuer: &str, caller: &TestClient, token: &str) -> Reply {
    post_form(
        &format!("{issuer}/introspect"),
        Some((&caller.id, caller.secret())),
        &[("token", token)],
    )
    .await
}

pub async fn userinfo(issuer: &str, access_token: &str) -> Reply {
    send(
        http()
            .get(format!("{issuer}/userinfo"))
            .bearer_auth(access_token),
    )
    .await
}

/// Verifies an RS256 JWT's signature with the published JWKS, independently
/// of the server's code (aws-lc-rs from `n` and `e`).
pub async fn verify_rs256(jwks_url: &str, jwt: &str) {
    let jwks: Value = reqwest::get(jwks_url).await.unwrap().json().await.unwrap();
    let h = header(jwt);
    assert_eq!(h["alg"], "RS256", "{h}");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == h["kid"])
        .unwrap_or_else(|| panic!("kid {} is not published at {jwks_url}: {jwks}", h["kid"]));
    let b64 = |f: &str| B64.decode(key[f].as_str().unwrap()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let comps = aws_lc_rs::rsa::PublicKeyComponents {
        n: b64("n"),
        e: b64("e"),
    };
    comps
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &B64.decode(sig).unwrap(),
        )
        .unwrap_or_else(|_| panic!("signature of {jwt} does not verify with {jwks_url}"));
}

/// OpenID Connect Core 3.1.3.6: base64url of the left half of SHA-256.
pub fn expected_at_hash(access_token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    B64.encode(&d.as_ref()[..16])
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub async fn user_sub(db: &Database, tenant: &str) -> String {
    db.query_strings(&format!(
        "SELECT sub FROM users WHERE tenant_id = '{tenant}' AND email = '{EMAIL}'"
    ))
    .await
    .remove(0)
}

/// No request of the test made the server fail.
pub fn assert_no_server_error(server: &Server) {
    let log = server.log_text();
    assert!(
        !log.contains("internal error") && !log.contains("panicked"),
        "the server failed: {log}"
    );
}

pub fn str_keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

// ---------------------------------------------------------------------------
// The example requests of Next Identity's, Auth0's and PingOne's documentation
// ---------------------------------------------------------------------------
