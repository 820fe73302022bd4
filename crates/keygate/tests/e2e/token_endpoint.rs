//! The token endpoint as the Next Identity, Auth0 and PingOne
//! documentation calls it, the tokens it issues, and userinfo,
//! revocation, introspection and discovery around it.
//!
//! The helpers at the top are shared with `token_errors.rs`.

use crate::harness::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

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

fn str_keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

// ---------------------------------------------------------------------------
// The example requests of Next Identity's, Auth0's and PingOne's documentation
// ---------------------------------------------------------------------------

/// Next Identity Hosted Journeys, public client: `curl -X POST '{base}/token'
/// -H "Content-Type: application/x-www-form-urlencoded" -d
/// 'client_id=…&grant_type=authorization_code&code=…&redirect_uri=…&code_verifier=…'`,
/// at the root door (tenant `default`) and at the path door. The document
/// promises an id_token (14 days by default), an access_token and a refresh_token.
#[tokio::test]
async fn next_identity_public_client_with_pkce_at_root_and_path_doors() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let by_path = w.public_client(&[]);
    let at_root =
        w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    for (issuer, client) in [
        (w.issuer.clone(), by_path),
        (w.server.base.clone(), at_root),
    ] {
        let browser = Browser::new();
        let (verifier, challenge) = pkce();
        let code = obtain_code(&browser, &issuer, &client, Some(&challenge), &[]).await;
        let r = send(
            http()
                .post(format!("{issuer}/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_body(&[
                    ("client_id", &client.id),
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &client.redirect_uri),
                    ("code_verifier", &verifier),
                ])),
        )
        .await;
        let t = r.tokens();
        assert_eq!(
            str_keys(&t),
            [
                "access_token",
                "expires_in",
                "id_token",
                "refresh_token",
                "scope",
                "token_type"
            ],
            "{t}"
        );
        assert_eq!(t["scope"], SCOPE_ALL);
        assert_eq!(t["expires_in"], DAY);
        let id = claims(t["id_token"].as_str().unwrap());
        assert_eq!(id["iss"], issuer.as_str());
        assert_eq!(id["aud"], client.id.as_str());
        assert_eq!(
            id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
            14 * DAY,
            "14 days by default: {id}"
        );
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["iss"],
            issuer.as_str()
        );
        let jwks = if issuer == w.server.base {
            format!("{issuer}/.well-known/jwks.json")
        } else {
            format!("{issuer}/jwks")
        };
        verify_rs256(&jwks, t["id_token"].as_str().unwrap()).await;
        verify_rs256(&jwks, t["access_token"].as_str().unwrap()).await;
    }
    assert_no_server_error(&w.server);
}

/// Next Identity, confidential client: `-H 'Authorization: Basic …' -d
/// 'client_id=…&grant_type=authorization_code&code=…&redirect_uri=…'` (curl
/// -d sends a form), no PKCE; at both doors.
#[tokio::test]
async fn next_identity_confidential_client_with_basic_header_and_client_id_in_body() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let by_path = w.confidential_client(&[]);
    let at_root = w.db.client("default", "http://127.0.0.1:9/callback", &[]);
    for (issuer, client) in [
        (w.issuer.clone(), by_path),
        (w.server.base.clone(), at_root),
    ] {
        let browser = Browser::new();
        let code = obtain_code(&browser, &issuer, &client, None, &[]).await;
        // `Basic {{REDACTED}}=` as such integrations compute it: base64 of
        // `id:secret` as is (ids and secrets are URL-safe, so this is also
        // the RFC 6749 2.3.1 form).
        let raw_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                client.id,
                client.secret()
            ))
        );
        let r = send(
            http()
                .post(format!("{issuer}/token"))
                .header("Authorization", raw_basic)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_body(&[
                    ("client_id", &client.id),
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &client.redirect_uri),
                ])),
        )
        .await;
        let t = r.tokens();
        for field in ["id_token", "access_token", "refresh_token"] {
            assert!(
                t[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} missing: {t}"
            );
        }
        let id = claims(t["id_token"].as_str().unwrap());
        assert_eq!(
            (id["iss"].as_str(), id["aud"].as_str()),
            (Some(issuer.as_str()), Some(client.id.as_str()))
        );
        assert_eq!(
            id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
            14 * DAY
        );
    }
    assert_no_server_error(&w.server);
}

/// Next Identity refresh, public client: `client_id=…&grant_type=refresh_token&
/// refresh_token=…&redirect_uri=…&code_verifier=…` where the verifier is the
/// one of the original token request; and confidential: Basic header plus
/// `client_id=…&grant_type=refresh_token&refresh_token=…&redirect_uri=…`.
/// Each gets fresh tokens and a rotated refresh token; at both doors.
#[tokio::test]
async fn next_identity_refresh_public_with_original_verifier_and_confidential_with_basic() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let cases = [
        (w.issuer.clone(), w.public_client(&[])),
        (w.issuer.clone(), w.confidential_client(&[])),
        (
            w.server.base.clone(),
            w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]),
        ),
        (
            w.server.base.clone(),
            w.db.client("default", "http://127.0.0.1:9/callback", &[]),
        ),
    ];
    for (issuer, client) in cases {
        let browser = Browser::new();
        let public = client.secret.is_none();
        let (verifier, challenge) = pkce();
        let code = obtain_code(
            &browser,
            &issuer,
            &client,
            public.then_some(challenge.as_str()),
            &[],
        )
        .await;
        let first = exchange(&issuer, &client, &code, public.then_some(verifier.as_str()))
            .await
            .tokens();
        let old_refresh = first["refresh_token"].as_str().unwrap();
        let mut req = http()
            .post(format!("{issuer}/token"))
            .header("Content-Type", "application/x-www-form-urlencoded");
        let body = if public {
            form_body(&[
                ("client_id", &client.id),
                ("grant_type", "refresh_token"),
                ("refresh_token", old_refresh),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &verifier),
            ])
        } else {
            req = req.header(
                "Authorization",
                keygate_core::basic::encode_basic(&client.id, client.secret()),
            );
            form_body(&[
                ("client_id", &client.id),
                ("grant_type", "refresh_token"),
                ("refresh_token", old_refresh),
                ("redirect_uri", &client.redirect_uri),
            ])
        };
        let t = send(req.body(body)).await.tokens();
        for field in ["id_token", "access_token", "refresh_token"] {
            assert!(
                t[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} missing ({issuer}, public {public}): {t}"
            );
        }
        assert_ne!(t["refresh_token"], first["refresh_token"], "rotated");
        assert_ne!(t["access_token"], first["access_token"]);
        assert_eq!(t["scope"], SCOPE_ALL);
        let (a, b) = (
            claims(first["id_token"].as_str().unwrap()),
            claims(t["id_token"].as_str().unwrap()),
        );
        assert_eq!(
            (&a["sub"], &a["auth_time"], &a["iss"], &a["aud"]),
            (&b["sub"], &b["auth_time"], &b["iss"], &b["aud"])
        );
        // The next refresh in the same form works with the rotated token.
        let extra: Vec<(&str, &str)> = if public {
            vec![
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &verifier),
            ]
        } else {
            vec![("redirect_uri", &client.redirect_uri)]
        };
        refresh(
            &issuer,
            &client,
            t["refresh_token"].as_str().unwrap(),
            &extra,
        )
        .await
        .tokens();
    }
    assert_no_server_error(&w.server);
}

/// Auth0: `POST https://YOUR_AUTH0_DOMAIN/oauth/token` with `content-type:
/// application/json` and `{"grant_type":"authorization_code","code_verifier":
/// …,"code": …,"client_id": …,"redirect_uri": … }`; the response holds
/// access_token, refresh_token (offline_access granted), id_token,
/// token_type Bearer and expires_in 86400.
#[tokio::test]
async fn auth0_json_body_at_oauth_token_of_the_root() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let client = w.db.client(
        "default",
        "http://127.0.0.1:9/callback",
        &["--public", "--refresh-tokens", "offline_access"],
    );
    let base = w.server.base.clone();
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let code = obtain_code(&browser, &base, &client, Some(&challenge), &[]).await;
    let q = |s: &str| serde_json::to_string(s).unwrap();
    // The document's exact text, spaces included.
    let payload = format!(
        "{{\"grant_type\":\"authorization_code\",\"code_verifier\": {},\"code\": {},\"client_id\": {},\"redirect_uri\": {} }}",
        q(&verifier),
        q(&code),
        q(&client.id),
        q(&client.redirect_uri)
    );
    let r = send(
        http()
            .post(format!("{base}/oauth/token"))
            .header("content-type", "application/json")
            .body(payload),
    )
    .await;
    let t = r.tokens();
    for field in ["access_token", "refresh_token", "id_token"] {
        assert!(
            t[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} missing: {t}"
        );
    }
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], json!(86400));
    assert!(t["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "offline_access"));
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(
        (id["iss"].as_str(), id["aud"].as_str()),
        (Some(base.as_str()), Some(client.id.as_str()))
    );
    verify_rs256(
        &format!("{base}/.well-known/jwks.json"),
        t["id_token"].as_str().unwrap(),
    )
    .await;
    verify_rs256(
        &format!("{base}/.well-known/jwks.json"),
        t["access_token"].as_str().unwrap(),
    )
    .await;
    // The access token calls /userinfo, as the document says.
    let u = userinfo(&base, t["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (u.status, u.json["sub"].clone()),
        (200, id["sub"].clone()),
        "{}",
        u.text
    );
    // The refresh token works at the same endpoint, in JSON too.
    let again = send(http().post(format!("{base}/oauth/token")).json(&json!({
        "grant_type": "refresh_token", "client_id": client.id, "refresh_token": t["refresh_token"],
    })))
    .await
    .tokens();
    assert!(
        again["refresh_token"].is_string() && again["id_token"].is_string(),
        "{again}"
    );
    assert_no_server_error(&w.server);
}

/// PingOne: `POST {{authPath}}/{{envID}}/as/token`, form body
/// `grant_type=authorization_code&code=…&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&client_id=…&client_secret=…`
/// (client_secret_post); the response contains the access token and the ID token.
#[tokio::test]
async fn pingone_client_secret_post_at_env_path() {
    let db = Database::new();
    let env_id = "8c1f3a52-6e2b-4d7a-9f0e-2b5c7d9e1a34";
    db.tenant(env_id, &[]);
    db.user(env_id, EMAIL, PASSWORD);
    let server = Server::start(&db).await;
    let client = db.client(
        env_id,
        "http://localhost:3000/callback",
        &["--auth-method", "client_secret_post"],
    );
    let issuer = format!("{}/{env_id}/as", server.base);
    let browser = Browser::new();
    let code = obtain_code(&browser, &issuer, &client, None, &[]).await;
    let body = form_body(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "http://localhost:3000/callback"),
        ("client_id", &client.id),
        ("client_secret", client.secret()),
    ]);
    assert!(
        body.contains("redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback"),
        "{body}"
    );
    let r = send(
        http()
            .post(format!("{}/{env_id}/as/token", server.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await;
    let t = r.tokens();
    assert!(
        t["access_token"].is_string() && t["id_token"].is_string(),
        "{t}"
    );
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], issuer.as_str());
    assert_eq!(id["aud"], client.id.as_str());
    verify_rs256(&format!("{issuer}/jwks"), t["id_token"].as_str().unwrap()).await;
    assert_no_server_error(&server);
}

// ---------------------------------------------------------------------------
// The tokens
// ---------------------------------------------------------------------------

/// id_token 14 days and access token 24 hours by default; `--id-token-ttl`
/// and `--access-token-ttl` honored, on refresh too.
#[tokio::test]
async fn token_lifetimes_default_and_per_client() {
    let w = World::new().await;
    let browser = Browser::new();
    let cases = [
        (w.public_client(&[]), 14 * DAY, DAY),
        (
            w.public_client(&["--id-token-ttl", "1h", "--access-token-ttl", "15m"]),
            3600,
            900,
        ),
    ];
    for (client, id_ttl, at_ttl) in cases {
        let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
        let r = refresh(
            &w.issuer,
            &client,
            t["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await
        .tokens();
        for t in [t, r] {
            let id = claims(t["id_token"].as_str().unwrap());
            let at = claims(t["access_token"].as_str().unwrap());
            assert_eq!(
                id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
                id_ttl,
                "{id}"
            );
            assert_eq!(
                at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
                at_ttl,
                "{at}"
            );
            assert_eq!(t["expires_in"], json!(at_ttl));
            assert!((id["iat"].as_i64().unwrap() - now()).abs() <= 5);
        }
    }
}

/// RFC 9068: the access token is a JWT with `typ: at+jwt`, signed with a
/// published key, and carries iss, sub, aud, client_id, scope, exp, iat, jti.
#[tokio::test]
async fn access_token_is_an_rfc9068_jwt() {
    let w = World::new().await;
    let sub = user_sub(&w.db, "acme").await;
    let client = w.public_client(&[]);
    let browser = Browser::new();
    let (t1, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let (t2, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t1["access_token"].as_str().unwrap();
    let h = header(at);
    assert_eq!(h["typ"], "at+jwt", "{h}");
    assert_eq!(h["alg"], "RS256");
    assert!(h["kid"].is_string());
    verify_rs256(&format!("{}/jwks", w.issuer), at).await;
    let c = claims(at);
    assert_eq!(c["iss"], w.issuer.as_str());
    assert_eq!(c["sub"], sub.as_str());
    assert_eq!(c["aud"], client.id.as_str());
    assert_eq!(c["client_id"], client.id.as_str());
    assert_eq!(c["scope"], t1["scope"]);
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!((iat - now()).abs() <= 5 && exp > now(), "{c}");
    let jti = c["jti"].as_str().unwrap();
    assert!(!jti.is_empty());
    assert_ne!(
        jti,
        claims(t2["access_token"].as_str().unwrap())["jti"]
            .as_str()
            .unwrap(),
        "jti is unique"
    );
    // The id_token is a plain JWT, not an access token.
    assert_eq!(header(t1["id_token"].as_str().unwrap())["typ"], "JWT");
}

/// The id_token carries iss, sub, aud, exp, iat, auth_time, nonce and a
/// correct at_hash; e-mail and profile claims only with their scopes.
#[tokio::test]
async fn id_token_claims_and_at_hash_follow_the_scope() {
    let w = World::new().await;
    let sub = user_sub(&w.db, "acme").await;
    let client = w.public_client(&[]);
    let browser = Browser::new();
    let before = now();
    // (scope, nonce, name expected, email expected)
    let cases = [
        ("openid profile email", Some("n-456"), true, true),
        ("openid", None, false, false),
        ("openid email", Some("nonce with spaces"), false, true),
        ("openid profile", Some("n"), true, false),
    ];
    for (scope, nonce, name, email) in cases {
        let (verifier, challenge) = pkce();
        let code = code_at(
            &browser,
            &auth_url(&w.issuer, &client, scope, Some((&challenge, "S256")), nonce),
        )
        .await;
        let t = exchange(&w.issuer, &client, &code, Some(&verifier))
            .await
            .tokens();
        assert_eq!(t["scope"], scope);
        assert!(
            t.get("refresh_token").is_none(),
            "no offline_access, no refresh token: {t}"
        );
        let id_token = t["id_token"].as_str().unwrap();
        verify_rs256(&format!("{}/jwks", w.issuer), id_token).await;
        let id = claims(id_token);
        assert_eq!(id["iss"], w.issuer.as_str());
        assert_eq!(id["sub"], sub.as_str());
        assert_eq!(id["aud"], client.id.as_str());
        let (iat, exp, auth_time) = (
            id["iat"].as_i64().unwrap(),
            id["exp"].as_i64().unwrap(),
            id["auth_time"].as_i64().unwrap(),
        );
        assert!(
            exp > iat && auth_time <= iat && auth_time >= before - 1,
            "{id}"
        );
        assert_eq!(id["nonce"].as_str(), nonce, "{id}");
        assert_eq!(
            id["at_hash"].as_str().unwrap(),
            expected_at_hash(t["access_token"].as_str().unwrap())
        );
        assert_eq!(
            id["name"].as_str(),
            name.then_some("Ann Example"),
            "{scope}: {id}"
        );
        assert_eq!(
            id["email"].as_str(),
            email.then_some(EMAIL),
            "{scope}: {id}"
        );
        assert_eq!(id.get("email_verified").is_some(), email, "{scope}: {id}");
        // userinfo releases the same claims by scope.
        let u = userinfo(&w.issuer, t["access_token"].as_str().unwrap()).await;
        assert_eq!(u.status, 200, "{}", u.text);
        assert_eq!(u.json["sub"], sub.as_str());
        assert_eq!(
            u.json["name"].as_str(),
            name.then_some("Ann Example"),
            "{}",
            u.text
        );
        assert_eq!(
            u.json["email"].as_str(),
            email.then_some(EMAIL),
            "{}",
            u.text
        );
    }
    // Without openid there is no id_token.
    let (verifier, challenge) = pkce();
    let code = code_at(
        &browser,
        &auth_url(
            &w.issuer,
            &client,
            "email",
            Some((&challenge, "S256")),
            None,
        ),
    )
    .await;
    let t = exchange(&w.issuer, &client, &code, Some(&verifier))
        .await
        .tokens();
    assert!(t.get("id_token").is_none(), "{t}");
}

/// PKCE with the plain method (RFC 7636 4.2) is accepted too, from a
/// public client registered with `--pkce plain-allowed`.
#[tokio::test]
async fn pkce_plain_method_is_accepted() {
    let w = World::new().await;
    let client = w.public_client(&["--pkce", "plain-allowed"]);
    let browser = Browser::new();
    let verifier = keygate_crypto::secrets::random_token(48);
    let code = code_at(
        &browser,
        &auth_url(
            &w.issuer,
            &client,
            SCOPE_ALL,
            Some((&verifier, "plain")),
            Some("n"),
        ),
    )
    .await;
    exchange(&w.issuer, &client, &code, Some(&verifier))
        .await
        .tokens();
}

/// Refresh policies: `always` (even without offline_access), `offline_access`
/// (only when granted), `never`; and none when the client may not refresh.
#[tokio::test]
async fn refresh_token_by_client_policy() {
    let w = World::new().await;
    let browser = Browser::new();
    let cases = [
        (vec!["--refresh-tokens", "always"], "openid", true),
        (vec!["--refresh-tokens", "always"], SCOPE_ALL, true),
        (
            vec!["--refresh-tokens", "offline_access"],
            "openid email",
            false,
        ),
        (
            vec!["--refresh-tokens", "offline_access"],
            "openid offline_access",
            true,
        ),
        (vec![], "openid", false),
        (vec![], "openid offline_access", true),
        (vec!["--refresh-tokens", "never"], SCOPE_ALL, false),
        (
            vec![
                "--refresh-tokens",
                "always",
                "--grant",
                "authorization_code",
            ],
            SCOPE_ALL,
            false,
        ),
    ];
    for (extra, scope, expected) in cases {
        let client = w.public_client(&extra);
        let (verifier, challenge) = pkce();
        let code = code_at(
            &browser,
            &auth_url(&w.issuer, &client, scope, Some((&challenge, "S256")), None),
        )
        .await;
        let t = exchange(&w.issuer, &client, &code, Some(&verifier))
            .await
            .tokens();
        assert_eq!(
            t.get("refresh_token").is_some(),
            expected,
            "{extra:?} {scope}: {t}"
        );
        if expected {
            // And the policy holds on refresh as well: a successor is issued.
            let r = refresh(
                &w.issuer,
                &client,
                t["refresh_token"].as_str().unwrap(),
                &[],
            )
            .await
            .tokens();
            assert!(r["refresh_token"].is_string(), "{extra:?} {scope}: {r}");
        }
    }
}

/// Rotation: each use returns a new refresh token and kills the old one
/// (invalid_grant); scope may narrow for one access token but never widen
/// (invalid_scope, token left usable); auth_time and sub are kept.
#[tokio::test]
async fn refresh_rotates_narrows_never_widens_and_keeps_auth_time_and_sub() {
    let w = World::new().await;
    let client = w.confidential_client(&[]);
    let browser = Browser::new();
    let code = code_at(
        &browser,
        &auth_url(
            &w.issuer,
            &client,
            "openid email offline_access",
            None,
            Some("n-1"),
        ),
    )
    .await;
    let first = exchange(&w.issuer, &client, &code, None).await.tokens();
    let id0 = claims(first["id_token"].as_str().unwrap());
    let r0 = first["refresh_token"].as_str().unwrap().to_string();

    // Widening is refused and changes nothing: the same token still works.
    for wider in [
        "openid profile",
        "openid email offline_access profile",
        "api:admin",
    ] {
        refresh(&w.issuer, &client, &r0, &[("scope", wider)])
            .await
            .assert_error(400, "invalid_scope");
    }
    // Narrowing: this access token only.
    let n = refresh(&w.issuer, &client, &r0, &[("scope", "openid")])
        .await
        .tokens();
    assert_eq!(n["scope"], "openid");
    assert_eq!(
        claims(n["access_token"].as_str().unwrap())["scope"],
        "openid"
    );
    let r1 = n["refresh_token"]
        .as_str()
        .expect("the grant keeps offline_access")
        .to_string();
    assert_ne!(r1, r0);
    let id1 = claims(n["id_token"].as_str().unwrap());
    assert!(id1.get("email").is_none(), "narrowed away: {id1}");
    // The successor keeps the grant's full scope.
    let full = refresh(&w.issuer, &client, &r1, &[]).await.tokens();
    assert_eq!(full["scope"], "openid email offline_access");
    let id2 = claims(full["id_token"].as_str().unwrap());
    assert_eq!(id2["email"], EMAIL);
    for (id, t) in [(&id1, &n), (&id2, &full)] {
        assert_eq!(id["sub"], id0["sub"]);
        assert_eq!(id["auth_time"], id0["auth_time"], "original auth_time kept");
        assert!(
            id.get("nonce").is_none() || id["nonce"] == id0["nonce"],
            "{id}"
        );
        assert_eq!(
            id["at_hash"].as_str().unwrap(),
            expected_at_hash(t["access_token"].as_str().unwrap())
        );
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["auth_time"],
            id0["auth_time"]
        );
    }
    assert_eq!(
        claims(full["access_token"].as_str().unwrap())["sub"],
        id0["sub"]
    );
    let r2 = full["refresh_token"].as_str().unwrap().to_string();

    // The used tokens are dead. Presenting one is a reuse (RFC 9700 4.14.2):
    // refused, and the whole family is revoked with it.
    refresh(&w.issuer, &client, &r0, &[])
        .await
        .assert_error(400, "invalid_grant");
    refresh(&w.issuer, &client, &r2, &[])
        .await
        .assert_error(400, "invalid_grant");
    let ui = userinfo(&w.issuer, full["access_token"].as_str().unwrap()).await;
    assert_eq!(ui.status, 401, "{}", ui.text);
    assert_no_server_error(&w.server);
}

/// client_credentials with client_secret_basic and client_secret_post: an
/// access token for the client itself, no id_token, no refresh_token.
#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let w = World::new().await;
    let basic = w.confidential_client(&["--grant", "client_credentials"]);
    let post = w.confidential_client(&[
        "--grant",
        "client_credentials,authorization_code",
        "--auth-method",
        "client_secret_post",
        "--refresh-tokens",
        "always",
    ]);
    let url = format!("{}/token", w.issuer);
    let replies = [
        post_form(
            &url,
            Some((&basic.id, basic.secret())),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "api:read api:write"),
            ],
        )
        .await,
        post_form(
            &url,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &post.id),
                ("client_secret", post.secret()),
                ("scope", "api:read api:write"),
            ],
        )
        .await,
    ];
    for (r, client) in replies.iter().zip([&basic, &post]) {
        let t = r.tokens();
        assert_eq!(
            str_keys(&t),
            ["access_token", "expires_in", "scope", "token_type"],
            "{t}"
        );
        assert_eq!(t["scope"], "api:read api:write");
        let at = t["access_token"].as_str().unwrap();
        assert_eq!(header(at)["typ"], "at+jwt");
        verify_rs256(&format!("{}/jwks", w.issuer), at).await;
        let c = claims(at);
        assert_eq!(
            (
                c["sub"].as_str(),
                c["client_id"].as_str(),
                c["iss"].as_str()
            ),
            (
                Some(client.id.as_str()),
                Some(client.id.as_str()),
                Some(w.issuer.as_str())
            )
        );
        assert!(c["jti"].is_string() && c["exp"].is_i64() && c["iat"].is_i64());
        // It is active at introspection (for its own client, by either
        // secret transport), but not a person's token for userinfo.
        let i = introspect(&w.issuer, client, at).await;
        assert_eq!(i.json["active"], true, "{}", i.text);
        let u = userinfo(&w.issuer, at).await;
        assert_eq!(u.status, 403, "{}", u.text);
        assert!(u
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"insufficient_scope\""));
    }
    // JSON works as well; no client authentication at all is invalid_client.
    let j = send(http().post(&url).json(&json!({"grant_type": "client_credentials", "client_id": post.id, "client_secret": post.secret()}))).await.tokens();
    assert!(
        j.get("refresh_token").is_none() && j.get("id_token").is_none(),
        "{j}"
    );
    send(
        http()
            .post(&url)
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await
    .assert_error(401, "invalid_client");
    // Without a scope: an empty one.
    let t = post_form(
        &url,
        Some((&basic.id, basic.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await
    .tokens();
    assert!(
        t.get("refresh_token").is_none() && t.get("id_token").is_none(),
        "{t}"
    );
    assert_no_server_error(&w.server);
}

// ---------------------------------------------------------------------------
// userinfo, revocation, introspection, discovery
// ---------------------------------------------------------------------------

/// UserInfo by GET and POST (header, or form body per RFC 6750 2.2), and the
/// RFC 6750 errors: no token (401, a challenge without error code), a bad,
/// foreign or revoked token (401 `error="invalid_token"`), a token sent twice (400).
#[tokio::test]
async fn userinfo_get_and_post_with_rfc6750_errors() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let sub = user_sub(&w.db, "acme").await;
    let client = w.public_client(&[]);
    let browser = Browser::new();
    let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t["access_token"].as_str().unwrap();
    let url = format!("{}/userinfo", w.issuer);
    let expected =
        json!({"sub": sub, "name": "Ann Example", "email": EMAIL, "email_verified": false});
    let ok = [
        send(http().get(&url).bearer_auth(at)).await,
        send(http().post(&url).bearer_auth(at)).await,
        send(
            http()
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_body(&[("access_token", at)])),
        )
        .await,
    ];
    for r in &ok {
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        assert_eq!(r.json["sub"], expected["sub"]);
        assert_eq!(r.json["name"], expected["name"]);
        assert_eq!(r.json["email"], expected["email"]);
        assert!(r.json["email_verified"].is_boolean());
    }

    let no_token = send(http().get(&url)).await;
    assert_eq!(no_token.status, 401);
    let c = no_token.header("www-authenticate").unwrap();
    assert!(
        c.starts_with("Bearer") && !c.contains("error="),
        "RFC 6750 3.1: no error code without a token: {c}"
    );
    assert!(no_token.json.get("error").is_none(), "{}", no_token.json);

    let mut tampered = at.to_string();
    tampered.pop();
    tampered.push(if at.ends_with('A') { 'B' } else { 'A' });
    let root = w.server.base.clone();
    let bad = [
        send(http().get(&url).bearer_auth("not-a-jwt")).await,
        send(http().get(&url).bearer_auth(&tampered)).await,
        send(
            http()
                .get(&url)
                .bearer_auth(t["id_token"].as_str().unwrap()),
        )
        .await,
        send(http().get(format!("{root}/userinfo")).bearer_auth(at)).await,
    ];
    for r in &bad {
        assert_eq!(r.status, 401, "{}", r.text);
        let c = r.header("www-authenticate").unwrap();
        assert!(
            c.starts_with("Bearer") && c.contains("error=\"invalid_token\""),
            "{c}"
        );
        assert_eq!(r.json["error"], "invalid_token");
    }
    let twice = send(
        http()
            .post(&url)
            .bearer_auth(at)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("access_token", at)])),
    )
    .await;
    assert_eq!(twice.status, 400, "{}", twice.text);
    assert!(twice
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_request\""));

    // Revoked (RFC 7009) → invalid_token.
    let rv = post_form(
        &format!("{}/revoke", w.issuer),
        None,
        &[("token", at), ("client_id", &client.id)],
    )
    .await;
    assert_eq!(rv.status, 200, "{}", rv.text);
    let r = userinfo(&w.issuer, at).await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));

    // The root door's userinfo with a token of the root issuer.
    let rc =
        w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    let (rt, _) = fresh_tokens(&Browser::new(), &root, &rc).await;
    let r = send(
        http()
            .post(format!("{root}/userinfo"))
            .bearer_auth(rt["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_server_error(&w.server);
}

/// Revoking a refresh token (RFC 7009) ends its family: the grant's access
/// tokens become inactive at introspection, userinfo answers 401, and no
/// token of the family refreshes any more. At the path door and at the root's
/// `/oauth/revoke`.
#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let w = World::new().await;
    w.db.user("default", EMAIL, PASSWORD);
    let caller = w.confidential_client(&[]);
    let root_caller = w.db.client("default", "http://127.0.0.1:9/callback", &[]);
    let cases = [
        (w.issuer.clone(), w.public_client(&[]), caller, "revoke"),
        (
            w.server.base.clone(),
            w.db.client("default", "http://127.0.0.1:9/callback", &["--public"]),
            root_caller.clone(),
            "oauth/revoke",
        ),
        (
            w.server.base.clone(),
            root_caller.clone(),
            root_caller,
            "oauth/revoke",
        ),
    ];
    for (issuer, client, caller, path) in cases {
        let browser = Browser::new();
        let (t1, _) = fresh_tokens(&browser, &issuer, &client).await;
        let t2 = refresh(&issuer, &client, t1["refresh_token"].as_str().unwrap(), &[])
            .await
            .tokens();
        // An unrelated grant of the same client, which must stay alive.
        let (other, _) = fresh_tokens(&browser, &issuer, &client).await;
        for at in [&t1["access_token"], &t2["access_token"]] {
            let at = at.as_str().unwrap();
            assert_eq!(userinfo(&issuer, at).await.status, 200);
            // Introspection tells only the token's own client that it is active.
            assert_eq!(
                introspect(&issuer, &caller, at).await.json["active"],
                caller.id == client.id
            );
        }
        let mut form = vec![
            ("token", t2["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ];
        let basic = client.secret.as_deref().map(|s| (client.id.as_str(), s));
        if basic.is_none() {
            form.push(("client_id", &client.id));
        }
        let r = post_form(&format!("{issuer}/{path}"), basic, &form).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_no_store(&r.headers);
        for at in [&t1["access_token"], &t2["access_token"]] {
            let at = at.as_str().unwrap();
            let i = introspect(&issuer, &caller, at).await;
            assert_eq!(i.status, 200);
            assert_eq!(i.json, json!({"active": false}), "{}", i.text);
            let u = userinfo(&issuer, at).await;
            assert_eq!(u.status, 401, "{}", u.text);
            assert!(u
                .header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\""));
        }
        assert_eq!(
            introspect(&issuer, &caller, t2["refresh_token"].as_str().unwrap())
                .await
                .json,
            json!({"active": false})
        );
        refresh(&issuer, &client, t2["refresh_token"].as_str().unwrap(), &[])
            .await
            .assert_error(400, "invalid_grant");
        // Revoking again, or an unknown token: still 200 (RFC 7009 2.2).
        assert_eq!(
            post_form(&format!("{issuer}/{path}"), basic, &form)
                .await
                .status,
            200
        );
        // The other grant is untouched.
        assert_eq!(
            userinfo(&issuer, other["access_token"].as_str().unwrap())
                .await
                .status,
            200
        );
        refresh(
            &issuer,
            &client,
            other["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await
        .tokens();
    }
    assert_no_server_error(&w.server);
}

/// Revoking an access token blocks it alone; unknown tokens are answered
/// 200; another client's tokens are refused with invalid_request and left
/// alone (RFC 7009 2.1); a missing `token` is invalid_request; a failed
/// client authentication is 401 invalid_client.
#[tokio::test]
async fn revoking_an_access_token_and_revocation_errors() {
    let w = World::new().await;
    let client = w.confidential_client(&[]);
    let other = w.confidential_client(&[]);
    let browser = Browser::new();
    let url = format!("{}/revoke", w.issuer);
    let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    // Another client cannot revoke it.
    for token in [at, rt] {
        let r = post_form(&url, Some((&other.id, other.secret())), &[("token", token)]).await;
        r.assert_error(400, "invalid_request");
        assert!(r.text.contains("another client"), "{}", r.text);
    }
    assert_eq!(userinfo(&w.issuer, at).await.status, 200);
    assert_eq!(
        post_form(
            &url,
            Some((&client.id, client.secret())),
            &[("token", "no-such-token")]
        )
        .await
        .status,
        200
    );
    post_form(&url, Some((&client.id, client.secret())), &[])
        .await
        .assert_error(400, "invalid_request");
    post_form(&url, Some((&client.id, "wrong")), &[("token", at)])
        .await
        .assert_error(401, "invalid_client");
    assert_eq!(
        userinfo(&w.issuer, at).await.status,
        200,
        "nothing was revoked so far"
    );
    // The owner revokes the access token (JSON body too).
    let r = send(
        http()
            .post(&url)
            .header(
                "authorization",
                keygate_core::basic::encode_basic(&client.id, client.secret()),
            )
            .json(&json!({"token": at})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(userinfo(&w.issuer, at).await.status, 401);
    assert_eq!(
        introspect(&w.issuer, &other, at).await.json,
        json!({"active": false})
    );
    // The refresh token lives on.
    let n = refresh(&w.issuer, &client, rt, &[]).await.tokens();
    assert_eq!(
        userinfo(&w.issuer, n["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    assert_no_server_error(&w.server);
}

/// RFC 7662: active tokens with their fields, inactive ones as
/// `{"active": false}`, confidential callers only, and only the token's own
/// client learns that it is active (RFC 7662 4).
#[tokio::test]
async fn introspection_of_access_and_refresh_tokens() {
    let w = World::new().await;
    let sub = user_sub(&w.db, "acme").await;
    let client = w.confidential_client(&[]);
    let caller = client.clone();
    let public = w.public_client(&[]);
    let browser = Browser::new();
    let (t, _) = fresh_tokens(&browser, &w.issuer, &client).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let url = format!("{}/introspect", w.issuer);

    let i = introspect(&w.issuer, &caller, at).await;
    assert_eq!(i.status, 200, "{}", i.text);
    assert_no_store(&i.headers);
    let c = claims(at);
    assert_eq!(i.json["active"], true);
    for f in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "jti",
    ] {
        assert_eq!(i.json[f], c[f], "{f}: {}", i.text);
    }
    assert_eq!(i.json["sub"], sub.as_str());
    assert_eq!(i.json["client_id"], client.id.as_str());
    assert_eq!(i.json["scope"], SCOPE_ALL);

    let i = post_form(
        &url,
        None,
        &[
            ("token", rt),
            ("client_id", &client.id),
            ("client_secret", client.secret()),
        ],
    )
    .await;
    assert_eq!(i.json["active"], true, "{}", i.text);
    assert_eq!(i.json["client_id"], client.id.as_str());
    assert_eq!(i.json["sub"], sub.as_str());
    assert!(i.json["exp"].as_i64().unwrap() > now());

    for junk in ["garbage", t["id_token"].as_str().unwrap()] {
        assert_eq!(
            introspect(&w.issuer, &caller, junk).await.json,
            json!({"active": false})
        );
    }
    // Another confidential client learns nothing.
    let other = w.confidential_client(&[]);
    for token in [at, rt] {
        assert_eq!(
            introspect(&w.issuer, &other, token).await.json,
            json!({"active": false})
        );
    }
    // A public client may not introspect; a bad secret neither.
    post_form(&url, None, &[("token", at), ("client_id", &public.id)])
        .await
        .assert_error(401, "invalid_client");
    post_form(&url, Some((&caller.id, "wrong")), &[("token", at)])
        .await
        .assert_error(401, "invalid_client");
    post_form(&url, Some((&caller.id, caller.secret())), &[])
        .await
        .assert_error(400, "invalid_request");

    // After rotation the old refresh token is inactive, the new one active.
    let n = refresh(&w.issuer, &client, rt, &[]).await.tokens();
    assert_eq!(
        introspect(&w.issuer, &caller, rt).await.json,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&w.issuer, &caller, n["refresh_token"].as_str().unwrap())
            .await
            .json["active"],
        true
    );
    // A token of another issuer is not active here.
    let root_caller = w.db.client("default", "http://127.0.0.1:9/callback", &[]);
    assert_eq!(
        introspect(
            &w.server.base,
            &root_caller,
            n["access_token"].as_str().unwrap()
        )
        .await
        .json,
        json!({"active": false})
    );
    assert_no_server_error(&w.server);
}

/// Discovery advertises every token-related endpoint at both doors, and each
/// advertised endpoint answers there as the protocol endpoint it is.
#[tokio::test]
async fn discovery_advertises_every_endpoint_and_each_answers() {
    let w = World::new().await;
    let base = w.server.base.clone();
    for issuer in [w.issuer.clone(), base.clone()] {
        let d: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["issuer"], issuer.as_str());
        assert_eq!(d["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(d["userinfo_endpoint"], format!("{issuer}/userinfo"));
        assert_eq!(d["introspection_endpoint"], format!("{issuer}/introspect"));
        let revocation = if issuer == base {
            format!("{base}/oauth/revoke")
        } else {
            format!("{issuer}/revoke")
        };
        assert_eq!(d["revocation_endpoint"], revocation);
        let has = |field: &str, values: &[&str]| {
            let list: Vec<&str> = d[field]
                .as_array()
                .unwrap_or_else(|| panic!("{field} missing: {d}"))
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            for v in values {
                assert!(list.contains(v), "{field} lacks {v}: {list:?}");
            }
        };
        has(
            "grant_types_supported",
            &["authorization_code", "refresh_token", "client_credentials"],
        );
        has(
            "token_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post", "none"],
        );
        has(
            "revocation_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post"],
        );
        has(
            "introspection_endpoint_auth_methods_supported",
            &["client_secret_basic", "client_secret_post"],
        );
        has("code_challenge_methods_supported", &["S256", "plain"]);
        has("id_token_signing_alg_values_supported", &["RS256"]);
        has(
            "scopes_supported",
            &["openid", "profile", "email", "offline_access"],
        );
        has("response_types_supported", &["code"]);
        has("subject_types_supported", &["public"]);
        has(
            "claims_supported",
            &[
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "name",
                "email",
            ],
        );

        // Each advertised endpoint is there and speaks its protocol.
        let s = |u: &Value| u.as_str().unwrap().to_string();
        post_form(
            &s(&d["token_endpoint"]),
            None,
            &[("grant_type", "authorization_code")],
        )
        .await
        .assert_error(401, "invalid_client");
        post_form(&s(&d["revocation_endpoint"]), None, &[("token", "x")])
            .await
            .assert_error(401, "invalid_client");
        post_form(&s(&d["introspection_endpoint"]), None, &[("token", "x")])
            .await
            .assert_error(401, "invalid_client");
        let u = send(http().get(s(&d["userinfo_endpoint"]))).await;
        assert_eq!(u.status, 401);
        assert!(u.header("www-authenticate").unwrap().starts_with("Bearer"));
        let jwks: Value = reqwest::get(s(&d["jwks_uri"]))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!jwks["keys"].as_array().unwrap().is_empty());
    }
    // The root's extra Auth0 paths.
    post_form(
        &format!("{base}/oauth/token"),
        None,
        &[("grant_type", "authorization_code")],
    )
    .await
    .assert_error(401, "invalid_client");
    post_form(&format!("{base}/revoke"), None, &[("token", "x")])
        .await
        .assert_error(401, "invalid_client");
    assert_no_server_error(&w.server);
}

/// A tenant's own domain is a front door too: the same code exchange at
/// `{domain}/token` and `{domain}/oauth/token`, tokens issued by that origin.
#[tokio::test]
async fn own_domain_door_issues_tokens_under_its_origin() {
    let db = Database::new();
    db.tenant("acme", &["http://login.acme.test"]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start(&db).await;
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let via_domain = || {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("login.acme.test", addr)
            .build()
            .unwrap()
    };
    let issuer = "http://login.acme.test";
    for path in ["/token", "/oauth/token"] {
        let browser = Browser { http: via_domain() };
        let (verifier, challenge) = pkce();
        let code = obtain_code(&browser, issuer, &client, Some(&challenge), &[]).await;
        let r = send(via_domain().post(format!("{issuer}{path}")).form(&[
            ("client_id", client.id.as_str()),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ]))
        .await;
        let t = r.tokens();
        let id = claims(t["id_token"].as_str().unwrap());
        assert_eq!(id["iss"], issuer, "{id}");
        assert_eq!(claims(t["access_token"].as_str().unwrap())["iss"], issuer);
        // userinfo through the same door accepts it; the path door (another issuer) does not.
        let at = t["access_token"].as_str().unwrap();
        let u = send(
            via_domain()
                .get(format!("{issuer}/userinfo"))
                .bearer_auth(at),
        )
        .await;
        assert_eq!(u.status, 200, "{}", u.text);
        let u = userinfo(&server.issuer("acme"), at).await;
        assert_eq!(u.status, 401, "{}", u.text);
    }
    assert_no_server_error(&server);
}
