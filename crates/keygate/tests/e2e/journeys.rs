//! The Journeys API. Applications that draw their own sign-in and
//! registration screens POST what the user typed as JSON and get back an
//! authorization code that they exchange at /token exactly as in Next
//! Identity's documentation: PKCE for public clients, HTTP
//! Basic for confidential ones, and a refresh that repeats `redirect_uri`
//! and `code_verifier`.

use crate::harness::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const SCOPE: &str = "openid profile email offline_access";
const APP_ORIGIN: &str = "http://app.example.test";
const OTHER_ORIGIN: &str = "http://evil.example.test";

/// A response: status, headers and the JSON body (`Null` when not JSON).
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }

    /// `(status, error)`, for compact assertions on refusals.
    fn refusal(&self) -> (u16, Option<&str>) {
        (self.status, self.error())
    }
}

/// How a request is sent besides its body.
#[derive(Default, Clone, Copy)]
struct Via<'a> {
    basic: Option<(&'a str, &'a str)>,
    origin: Option<&'a str>,
    host: Option<&'a str>,
}

impl<'a> Via<'a> {
    fn basic(id: &'a str, secret: &'a str) -> Self {
        Via {
            basic: Some((id, secret)),
            ..Via::default()
        }
    }
    fn origin(origin: &'a str) -> Self {
        Via {
            origin: Some(origin),
            ..Via::default()
        }
    }
    fn host(host: &'a str) -> Self {
        Via {
            host: Some(host),
            ..Via::default()
        }
    }

    fn apply(self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some((id, secret)) = self.basic {
            req = req.header(
                "authorization",
                keygate_core::basic::encode_basic(id, secret),
            );
        }
        if let Some(o) = self.origin {
            req = req.header("origin", o);
        }
        if let Some(h) = self.host {
            req = req.header("host", h);
        }
        req
    }
}

async fn reply(r: reqwest::RequestBuilder) -> Reply {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// POSTs a JSON body (a Journeys call).
async fn post_json(url: &str, body: &Value, via: Via<'_>) -> Reply {
    reply(via.apply(reqwest::Client::new().post(url).json(body))).await
}

/// POSTs raw bytes with the given Content-Type (or none).
async fn post_raw(url: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    reply(req).await
}

/// POSTs a form to an issuer's token endpoint.
async fn token_at(url: &str, form: &[(&str, &str)], via: Via<'_>) -> Reply {
    reply(via.apply(reqwest::Client::new().post(url).form(form))).await
}

/// The body of a Journeys call for `client`: the authorization request
/// (with a PKCE challenge when given) plus `extra` (e-mail, password, ...).
fn request(client: &TestClient, challenge: Option<&str>, extra: &[(&str, &str)]) -> Value {
    let mut v = json!({
        "client_id": client.id,
        "redirect_uri": client.redirect_uri,
        "scope": SCOPE,
        "state": "st-9",
        "nonce": "n-9",
    });
    if let Some(c) = challenge {
        v["code_challenge"] = json!(c);
        v["code_challenge_method"] = json!("S256");
    }
    for (k, val) in extra {
        v[*k] = json!(val);
    }
    v
}

fn credentials<'a>(email: &'a str, password: &'a str) -> [(&'a str, &'a str); 2] {
    [("email", email), ("password", password)]
}

/// Checks a successful Journeys answer and returns its code.
fn code_of(r: &Reply, status: u16, client: &TestClient, issuer: &str) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let code = r.body["code"].as_str().expect("a code").to_string();
    assert!(code.len() >= 20, "{code}");
    assert_eq!(r.body["state"], "st-9");
    // redirect_to is what /authorize would have redirected to.
    let to = url::Url::parse(r.body["redirect_to"].as_str().unwrap()).unwrap();
    let base = to.as_str().split('?').next().unwrap();
    assert_eq!(base, client.redirect_uri);
    let q: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("code"), Some(&code));
    assert_eq!(q.get("state").map(String::as_str), Some("st-9"));
    assert_eq!(q.get("iss").map(String::as_str), Some(issuer));
    code
}

fn assert_journeys_error(r: &Reply, status: u16, error: &str, what: &str) {
    assert_eq!(r.refusal(), (status, Some(error)), "{what}: {}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {}",
        r.body
    );
    assert!(r.body.get("code").is_none(), "{what}: a code on failure");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
}

async fn sub_of(db: &Database, email: &str) -> String {
    db.query_strings(&format!("SELECT sub FROM users WHERE email = '{email}'"))
        .await
        .pop()
        .unwrap_or_else(|| panic!("no user {email}"))
}

#[tokio::test]
async fn public_client_registers_exchanges_with_pkce_and_refreshes_as_next_identity_documents() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api"]);
    let (verifier, challenge) = pkce();

    // Register: 201 with the code, state and redirect_to.
    let r = post_json(
        &format!("{}/journeys/register", w.issuer),
        &request(
            &client,
            Some(&challenge),
            &[
                ("email", "Bea@Example.com"),
                ("password", "a long enough password"),
                ("name", "Bea Example"),
            ],
        ),
        Via::default(),
    )
    .await;
    let code = code_of(&r, 201, &client, &w.issuer);
    let sub = sub_of(&w.db, "bea@example.com").await;

    // Seed 000/001: the public client's exchange, form-encoded, with PKCE.
    let t = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.body["token_type"], "Bearer");
    let id = claims(t.body["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], w.issuer.as_str());
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["aud"], client.id.as_str());
    assert_eq!(id["nonce"], "n-9");
    assert_eq!(id["email"], "bea@example.com");
    assert_eq!(id["name"], "Bea Example");
    assert!(id["auth_time"].as_i64().is_some());
    let refresh = t.body["refresh_token"].as_str().unwrap().to_string();

    // The refresh is checked against what it repeats: a wrong verifier or an
    // unregistered redirect_uri is invalid_grant (and consumes nothing).
    let (other_verifier, _) = pkce();
    for (what, redirect, v) in [
        (
            "wrong code_verifier",
            client.redirect_uri.as_str(),
            other_verifier.as_str(),
        ),
        (
            "unregistered redirect_uri",
            "http://127.0.0.1:9/elsewhere",
            verifier.as_str(),
        ),
    ] {
        let bad = token_at(
            &format!("{}/token", w.issuer),
            &[
                ("client_id", &client.id),
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("redirect_uri", redirect),
                ("code_verifier", v),
            ],
            Via::default(),
        )
        .await;
        assert_eq!(bad.refusal(), (400, Some("invalid_grant")), "{what}");
    }

    // Seed 001: the refresh as Next Identity documents it.
    let t2 = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t2.status, 200, "{}", t2.body);
    let refresh2 = t2.body["refresh_token"].as_str().unwrap();
    assert_ne!(refresh2, refresh, "rotated");
    assert_eq!(
        claims(t2.body["access_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );
    assert_eq!(
        claims(t2.body["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );

    // The access token works at userinfo.
    let ui: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", w.issuer))
        .bearer_auth(t2.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["email"], "bea@example.com");

    // Sign in with the new account: 200, and the code belongs to the same person.
    let (verifier2, challenge2) = pkce();
    let r = post_json(
        &format!("{}/journeys/sign-in", w.issuer),
        &request(
            &client,
            Some(&challenge2),
            &credentials("bea@example.com", "a long enough password"),
        ),
        Via::default(),
    )
    .await;
    let code2 = code_of(&r, 200, &client, &w.issuer);
    let form = [
        ("client_id", client.id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", &code2),
        ("redirect_uri", &client.redirect_uri),
        ("code_verifier", &verifier2),
    ];
    let t3 = token_at(&format!("{}/token", w.issuer), &form, Via::default()).await;
    assert_eq!(t3.status, 200, "{}", t3.body);
    assert_eq!(
        claims(t3.body["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );
    assert_eq!(w.db.count("SELECT COUNT(*) FROM users").await, 2);
}

#[tokio::test]
async fn journeys_codes_are_single_use_and_bound_to_their_request() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api"]);
    let other = w.public_client(&["--journeys-api"]);
    let (verifier, challenge) = pkce();
    let r = post_json(
        &format!("{}/journeys/sign-in", w.issuer),
        &request(&client, Some(&challenge), &credentials(EMAIL, PASSWORD)),
        Via::default(),
    )
    .await;
    let code = code_of(&r, 200, &client, &w.issuer);
    let url = format!("{}/token", w.issuer);
    let exchange = |client_id: String, verifier: String, redirect: String| {
        let url = url.clone();
        let code = code.clone();
        async move {
            token_at(
                &url,
                &[
                    ("client_id", &client_id),
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &redirect),
                    ("code_verifier", &verifier),
                ],
                Via::default(),
            )
            .await
        }
    };
    // Bound exactly like a code from /authorize: the verifier, the redirect
    // URI and the client must match.
    let (wrong_verifier, _) = pkce();
    let r = exchange(
        client.id.clone(),
        wrong_verifier,
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_grant")), "wrong verifier");
    let r = exchange(
        client.id.clone(),
        verifier.clone(),
        "http://127.0.0.1:9/other".into(),
    )
    .await;
    assert_eq!(
        r.refusal(),
        (400, Some("invalid_grant")),
        "other redirect_uri"
    );
    let r = exchange(
        other.id.clone(),
        verifier.clone(),
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_grant")), "another client");

    let first = exchange(
        client.id.clone(),
        verifier.clone(),
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = exchange(
        client.id.clone(),
        verifier.clone(),
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(
        second.refusal(),
        (400, Some("invalid_grant")),
        "code reused"
    );
    // The replay revoked what the first exchange issued.
    let refresh = first.body["refresh_token"].as_str().unwrap();
    let r = token_at(
        &url,
        &[
            ("client_id", &client.id),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_grant")), "family revoked");
}

#[tokio::test]
async fn confidential_client_authenticates_with_http_basic_on_journeys_and_at_token() {
    let w = World::new().await;
    let client = w.confidential_client(&["--journeys-api"]);
    let secret = client.secret().to_string();
    let sign_in = format!("{}/journeys/sign-in", w.issuer);
    let body = request(&client, None, &credentials(EMAIL, PASSWORD));

    // Wrong secret, no secret, or the secret in the body of a
    // client_secret_basic client: 401 invalid_client, as at /token.
    for (what, via, body) in [
        (
            "wrong secret",
            Via::basic(&client.id, "not-the-secret"),
            body.clone(),
        ),
        ("no credentials", Via::default(), body.clone()),
        ("secret in the body", Via::default(), {
            let mut b = body.clone();
            b["client_secret"] = json!(secret);
            b
        }),
    ] {
        let r = post_json(&sign_in, &body, via).await;
        assert_eq!(
            r.refusal(),
            (401, Some("invalid_client")),
            "{what}: {}",
            r.body
        );
        assert!(r.header("www-authenticate").is_some(), "{what}");
        assert!(r.body.get("code").is_none());
    }
    assert_eq!(w.db.count("SELECT COUNT(*) FROM grants").await, 0);

    // No PKCE needed: the client proves itself with Basic.
    let r = post_json(&sign_in, &body, Via::basic(&client.id, &secret)).await;
    let code = code_of(&r, 200, &client, &w.issuer);

    // Seed 000/001: the confidential exchange with a Basic header.
    let t = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ],
        Via::basic(&client.id, &secret),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let sub = sub_of(&w.db, EMAIL).await;
    assert_eq!(
        claims(t.body["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );

    // Seed 001: the confidential refresh with redirect_uri and Basic.
    let t2 = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "refresh_token"),
            ("refresh_token", t.body["refresh_token"].as_str().unwrap()),
            ("redirect_uri", &client.redirect_uri),
        ],
        Via::basic(&client.id, &secret),
    )
    .await;
    assert_eq!(t2.status, 200, "{}", t2.body);
    assert!(t2.body["refresh_token"].as_str().is_some());

    // A client_secret_post client sends its secret in the JSON body.
    let post_client =
        w.confidential_client(&["--journeys-api", "--auth-method", "client_secret_post"]);
    let mut body = request(&post_client, None, &credentials(EMAIL, PASSWORD));
    body["client_secret"] = json!(post_client.secret());
    let r = post_json(&sign_in, &body, Via::default()).await;
    let code = code_of(&r, 200, &post_client, &w.issuer);
    let t = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &post_client.id),
            ("client_secret", post_client.secret()),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &post_client.redirect_uri),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    // ...and must not switch to Basic.
    let r = post_json(
        &sign_in,
        &request(&post_client, None, &credentials(EMAIL, PASSWORD)),
        Via::basic(&post_client.id, post_client.secret()),
    )
    .await;
    assert_eq!(r.refusal(), (401, Some("invalid_client")));
}

#[tokio::test]
async fn every_refusal_has_its_stable_error_and_a_failed_registration_creates_nothing() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api"]);
    let sign_in = format!("{}/journeys/sign-in", w.issuer);
    let register = format!("{}/journeys/register", w.issuer);
    let (_, challenge) = pkce();
    let with = |extra: &[(&str, &str)]| request(&client, Some(&challenge), extra);

    // Sign-in: a wrong password and an unknown e-mail are indistinguishable.
    let wrong = post_json(
        &sign_in,
        &with(&credentials(EMAIL, "not the password")),
        Via::default(),
    )
    .await;
    assert_journeys_error(&wrong, 401, "invalid_credentials", "wrong password");
    let unknown = post_json(
        &sign_in,
        &with(&credentials("nobody@example.com", PASSWORD)),
        Via::default(),
    )
    .await;
    assert_journeys_error(&unknown, 401, "invalid_credentials", "unknown e-mail");
    assert_eq!(wrong.body, unknown.body, "the same answer for both");
    let malformed = post_json(
        &sign_in,
        &with(&credentials("not-an-email", PASSWORD)),
        Via::default(),
    )
    .await;
    assert_eq!(
        malformed.body, unknown.body,
        "a malformed e-mail signs in as unknown"
    );
    // Repeated failures answer 429 with Retry-After: tested with the hosted
    // pages in security::sign_in_failures_per_account_lead_to_429_with_retry_after.

    // Registration refusals, each with an e-mail that is still free, so that
    // only the refusal stops the account from being created.
    let users = w.db.count("SELECT COUNT(*) FROM users").await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "taken e-mail",
            with(&credentials(EMAIL, "another long password")),
            409,
            "email_taken",
        ),
        (
            "taken e-mail, other case",
            with(&credentials("ANN@Example.COM", "another long password")),
            409,
            "email_taken",
        ),
        (
            "weak password",
            with(&credentials("weak@example.com", "short")),
            400,
            "weak_password",
        ),
        (
            "invalid e-mail",
            with(&credentials("not-an-email", "a long enough password")),
            400,
            "invalid_email",
        ),
        (
            "missing e-mail",
            with(&[("password", "a long enough password")]),
            400,
            "invalid_request",
        ),
        (
            "missing password",
            with(&[("email", "nopass@example.com")]),
            400,
            "invalid_request",
        ),
        (
            "an object for a string",
            {
                let mut b = with(&credentials("number@example.com", "a long enough password"));
                b["name"] = json!({"first": "Bea"});
                b
            },
            400,
            "invalid_request",
        ),
        (
            "no PKCE from a public client",
            request(
                &client,
                None,
                &credentials("nopkce@example.com", "a long enough password"),
            ),
            400,
            "invalid_request",
        ),
        (
            "unregistered redirect_uri",
            {
                let mut b = with(&credentials(
                    "redirect@example.com",
                    "a long enough password",
                ));
                b["redirect_uri"] = json!("http://127.0.0.1:9/elsewhere");
                b
            },
            400,
            "invalid_request",
        ),
        (
            "bad code_challenge_method",
            {
                let mut b = with(&credentials("method@example.com", "a long enough password"));
                b["code_challenge_method"] = json!("S512");
                b
            },
            400,
            "invalid_request",
        ),
        (
            "name with control characters",
            with(&[
                ("email", "name@example.com"),
                ("password", "a long enough password"),
                ("name", "Bea\u{7}"),
            ]),
            400,
            "invalid_request",
        ),
    ];
    for (what, body, status, error) in &cases {
        let r = post_json(&register, body, Via::default()).await;
        assert_journeys_error(&r, *status, error, what);
    }
    // The sign-in endpoint refuses the same malformed requests the same way
    // (it reads no name).
    for (what, body, status, error) in cases
        .iter()
        .filter(|c| c.3 == "invalid_request" && !c.0.starts_with("name"))
    {
        let r = post_json(&sign_in, body, Via::default()).await;
        assert_journeys_error(&r, *status, error, &format!("sign-in: {what}"));
    }

    // Bodies that are not a JSON object of strings, or too large.
    let valid = serde_json::to_vec(&with(&credentials(
        "raw@example.com",
        "a long enough password",
    )))
    .unwrap();
    for url in [&sign_in, &register] {
        // (what, Content-Type, body, status); each error is invalid_request.
        let raw_cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
            (
                "malformed JSON",
                Some("application/json"),
                br#"{"client_id": "#.to_vec(),
                400,
            ),
            (
                "a JSON array",
                Some("application/json"),
                b"[1, 2]".to_vec(),
                400,
            ),
            (
                "trailing garbage",
                Some("application/json"),
                [valid.clone(), b"}".to_vec()].concat(),
                400,
            ),
            (
                "a form",
                Some("application/x-www-form-urlencoded"),
                format!(
                    "client_id={}&email=raw%40example.com&password=a+long+enough+password",
                    client.id
                )
                .into_bytes(),
                400,
            ),
            ("text/plain JSON", Some("text/plain"), valid.clone(), 400),
            ("no content type", None, valid.clone(), 400),
            (
                "over 64 KiB",
                Some("application/json"),
                {
                    let mut b = with(&credentials("big@example.com", "a long enough password"));
                    b["name"] = json!("x".repeat(65 * 1024));
                    serde_json::to_vec(&b).unwrap()
                },
                413,
            ),
        ];
        for (what, ct, body, status) in raw_cases {
            let r = post_raw(url, ct, body).await;
            assert_eq!(
                r.refusal(),
                (status, Some("invalid_request")),
                "{url} {what}: {}",
                r.body
            );
            assert!(r.body.get("code").is_none());
        }
    }

    // Clients: one without --journeys-api (public or confidential) is 403;
    // an unknown one is 401 invalid_client.
    let plain_public = w.public_client(&[]);
    let plain_conf = w.confidential_client(&[]);
    for url in [&sign_in, &register] {
        let body = request(
            &plain_public,
            Some(&challenge),
            &credentials("plain@example.com", "a long enough password"),
        );
        let r = post_json(url, &body, Via::default()).await;
        assert_journeys_error(
            &r,
            403,
            "unauthorized_client",
            "public client without --journeys-api",
        );
        let body = request(
            &plain_conf,
            None,
            &credentials("plain@example.com", "a long enough password"),
        );
        let r = post_json(url, &body, Via::basic(&plain_conf.id, plain_conf.secret())).await;
        assert_journeys_error(
            &r,
            403,
            "unauthorized_client",
            "confidential client without --journeys-api",
        );
        let mut body = with(&credentials("plain@example.com", "a long enough password"));
        body["client_id"] = json!("no-such-client");
        let r = post_json(url, &body, Via::default()).await;
        assert_eq!(r.refusal(), (401, Some("invalid_client")), "unknown client");
    }

    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM users").await,
        users,
        "a refused registration created an account"
    );
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM grants").await,
        0,
        "a refused call issued a code"
    );
}

#[tokio::test]
async fn journeys_at_the_root_door_serve_tenant_default_and_at_a_tenants_own_domain() {
    let w = World::new().await;
    let base = w.server.base.clone();
    let client = w.db.client(
        "default",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let (verifier, challenge) = pkce();
    let r = post_json(
        &format!("{base}/journeys/register"),
        &request(
            &client,
            Some(&challenge),
            &credentials("root@example.com", "a long enough password"),
        ),
        Via::default(),
    )
    .await;
    let code = code_of(&r, 201, &client, &base);
    let tenants =
        w.db.query_strings("SELECT tenant_id FROM users WHERE email = 'root@example.com'")
            .await;
    assert_eq!(tenants, vec!["default"]);
    let t = token_at(
        &format!("{base}/token"),
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(
        claims(t.body["id_token"].as_str().unwrap())["iss"],
        base.as_str()
    );

    let (verifier, challenge) = pkce();
    let r = post_json(
        &format!("{base}/journeys/sign-in"),
        &request(
            &client,
            Some(&challenge),
            &credentials("root@example.com", "a long enough password"),
        ),
        Via::default(),
    )
    .await;
    let code = code_of(&r, 200, &client, &base);
    let t = token_at(
        &format!("{base}/oauth/token"),
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);

    // Tenants stay apart: acme's person is unknown at the root door, and
    // acme's client does not exist there.
    let r = post_json(
        &format!("{base}/journeys/sign-in"),
        &request(&client, Some(&challenge), &credentials(EMAIL, PASSWORD)),
        Via::default(),
    )
    .await;
    assert_journeys_error(
        &r,
        401,
        "invalid_credentials",
        "acme's person at the root door",
    );
    let acme_client = w.public_client(&["--journeys-api"]);
    let r = post_json(
        &format!("{base}/journeys/sign-in"),
        &request(
            &acme_client,
            Some(&challenge),
            &credentials(EMAIL, PASSWORD),
        ),
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (401, Some("invalid_client")));

    // A tenant's own domain, matched on Host.
    w.db.tenant("beta", &["http://login.beta.test"]);
    w.db.user("beta", "bo@example.com", PASSWORD);
    let beta = w.db.client(
        "beta",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let (verifier, challenge) = pkce();
    let r = post_json(
        &format!("{base}/journeys/sign-in"),
        &request(
            &beta,
            Some(&challenge),
            &credentials("bo@example.com", PASSWORD),
        ),
        Via::host("login.beta.test"),
    )
    .await;
    let code = code_of(&r, 200, &beta, "http://login.beta.test");
    let t = token_at(
        &format!("{base}/token"),
        &[
            ("client_id", &beta.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &beta.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::host("login.beta.test"),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(
        claims(t.body["id_token"].as_str().unwrap())["iss"],
        "http://login.beta.test"
    );
}

/// `Access-Control-Request-*` preflight of `url` from `origin`.
async fn preflight(url: &str, origin: &str) -> Reply {
    reply(
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await
}

#[tokio::test]
async fn cors_headers_only_for_the_web_origins_a_client_registered() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api", "--web-origin", APP_ORIGIN]);
    let sign_in = format!("{}/journeys/sign-in", w.issuer);
    let register = format!("{}/journeys/register", w.issuer);
    let token_url = format!("{}/token", w.issuer);

    // Preflight: the registered origin gets it, another origin gets nothing.
    for url in [&sign_in, &register, &token_url] {
        let ok = preflight(url, APP_ORIGIN).await;
        assert!(ok.status < 300, "{url}: {}", ok.status);
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "{url}"
        );
        let methods = ok
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_ascii_uppercase();
        assert!(methods.contains("POST"), "{url}: {methods}");
        let headers = ok
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(headers.contains("content-type"), "{url}: {headers}");
        let refused = preflight(url, OTHER_ORIGIN).await;
        for h in [
            "access-control-allow-origin",
            "access-control-allow-methods",
            "access-control-allow-headers",
        ] {
            assert!(
                refused.header(h).is_none(),
                "{url}: {h} for a foreign origin"
            );
        }
    }

    // The actual calls: from the registered origin with the header, from
    // another without (the browser then withholds the answer).
    let (verifier, challenge) = pkce();
    let r = post_json(
        &register,
        &request(
            &client,
            Some(&challenge),
            &credentials("cors@example.com", "a long enough password"),
        ),
        Via::origin(APP_ORIGIN),
    )
    .await;
    let code = code_of(&r, 201, &client, &w.issuer);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP_ORIGIN));
    let t = token_at(
        &token_url,
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::origin(APP_ORIGIN),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.header("access-control-allow-origin"), Some(APP_ORIGIN));
    // An application reads refusals too.
    let wrong = post_json(
        &sign_in,
        &request(
            &client,
            Some(&challenge),
            &credentials("cors@example.com", "not the password"),
        ),
        Via::origin(APP_ORIGIN),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );

    let (verifier, challenge) = pkce();
    let r = post_json(
        &sign_in,
        &request(
            &client,
            Some(&challenge),
            &credentials("cors@example.com", "a long enough password"),
        ),
        Via::origin(OTHER_ORIGIN),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    let code = r.body["code"].as_str().unwrap().to_string();
    let t = token_at(
        &token_url,
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::origin(OTHER_ORIGIN),
    )
    .await;
    assert_eq!(t.status, 200);
    assert!(t.header("access-control-allow-origin").is_none());

    // An origin is the registering client's, not every client's: another
    // client of the tenant called from it gets no CORS headers.
    let other = w.public_client(&["--journeys-api"]);
    let (verifier, challenge) = pkce();
    let r = post_json(
        &sign_in,
        &request(
            &other,
            Some(&challenge),
            &credentials("cors@example.com", "a long enough password"),
        ),
        Via::origin(APP_ORIGIN),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("access-control-allow-origin").is_none(),
        "another client's origin"
    );
    let code = r.body["code"].as_str().unwrap().to_string();
    let t = token_at(
        &token_url,
        &[
            ("client_id", &other.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &other.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::origin(APP_ORIGIN),
    )
    .await;
    assert_eq!(t.status, 200);
    assert!(
        t.header("access-control-allow-origin").is_none(),
        "another client's origin at /token"
    );
}
