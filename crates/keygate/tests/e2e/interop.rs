//! Interoperability and hardening from the security review: introspection
//! answers only the token's own client (RFC 7662 4), revocation and
//! introspection take either secret transport, client authentication
//! failures read the same, CORS at userinfo and revocation, S256 for public
//! clients (RFC 9700 2.1.1), the optional OpenID parameters the conformance
//! suite sends, plain http redirect URIs only on loopback hosts, and the
//! hosted pages' `form-action`.

use crate::harness::*;
use serde_json::{json, Value};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let r = req.send().await.unwrap();
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

/// How a confidential client sends its secret.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Basic,
    Post,
}

/// POSTs a form to `url`, the client authenticating by `how`.
async fn post_as(url: &str, client: &TestClient, how: Transport, form: &[(&str, &str)]) -> Reply {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut req = reqwest::Client::new().post(url);
    match how {
        Transport::Basic => req = req.basic_auth(&client.id, Some(client.secret())),
        Transport::Post => {
            form.push(("client_id", &client.id));
            form.push(("client_secret", client.secret()));
        }
    }
    send(req.form(&form)).await
}

/// A person's access and refresh tokens for a confidential client.
async fn tokens(w: &World, client: &TestClient, how: Transport) -> (String, String) {
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let code = obtain_code(&browser, &w.issuer, client, Some(&challenge), &[]).await;
    let r = post_as(
        &format!("{}/token", w.issuer),
        client,
        how,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        r.body["access_token"].as_str().unwrap().to_string(),
        r.body["refresh_token"].as_str().unwrap().to_string(),
    )
}

// ---------------------------------------------------------------------------
// 1. Introspection answers only the client the token was issued to.

#[tokio::test]
async fn introspection_is_active_only_for_the_tokens_own_client() {
    let w = World::new().await;
    let owner = w.confidential_client(&[]);
    let other = w.confidential_client(&[]);
    let (access, refresh) = tokens(&w, &owner, Transport::Basic).await;
    let url = format!("{}/introspect", w.issuer);
    for t in [&access, &refresh] {
        let mine = post_as(&url, &owner, Transport::Basic, &[("token", t)]).await;
        assert_eq!(mine.status, 200, "{}", mine.body);
        assert_eq!(mine.body["active"], true, "{}", mine.body);
        assert_eq!(mine.body["client_id"], owner.id.as_str());
        // Another client of the tenant learns nothing, not even that the
        // token exists: the same answer as for garbage.
        let theirs = post_as(&url, &other, Transport::Basic, &[("token", t)]).await;
        assert_eq!(theirs.status, 200, "{}", theirs.body);
        assert_eq!(theirs.body, json!({"active": false}));
        assert_eq!(theirs.header("cache-control"), Some("no-store"));
    }
    let unknown = post_as(&url, &other, Transport::Basic, &[("token", "garbage")]).await;
    assert_eq!(unknown.body, json!({"active": false}));
}

// ---------------------------------------------------------------------------
// 2. Revocation and introspection take either secret transport.

#[tokio::test]
async fn revocation_and_introspection_take_basic_or_post_whatever_the_registered_method() {
    let w = World::new().await;
    for (registered, other) in [
        ("client_secret_basic", Transport::Post),
        ("client_secret_post", Transport::Basic),
    ] {
        let client = w.confidential_client(&["--auth-method", registered]);
        let native = match other {
            Transport::Post => Transport::Basic,
            Transport::Basic => Transport::Post,
        };
        let (access, refresh) = tokens(&w, &client, native).await;

        // The token endpoint keeps enforcing the registered method.
        let refused = post_as(
            &format!("{}/token", w.issuer),
            &client,
            other,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(
            (refused.status, refused.body["error"].as_str()),
            (401, Some("invalid_client")),
            "{registered}: {}",
            refused.body
        );

        // Introspection and revocation accept the other transport.
        let i = post_as(
            &format!("{}/introspect", w.issuer),
            &client,
            other,
            &[("token", &access)],
        )
        .await;
        assert_eq!(
            (i.status, &i.body["active"]),
            (200, &json!(true)),
            "{registered}: {}",
            i.body
        );
        let r = post_as(
            &format!("{}/revoke", w.issuer),
            &client,
            other,
            &[("token", &refresh)],
        )
        .await;
        assert_eq!(r.status, 200, "{registered}: {}", r.body);
        let after = post_as(
            &format!("{}/introspect", w.issuer),
            &client,
            native,
            &[("token", &refresh)],
        )
        .await;
        assert_eq!(after.body["active"], false, "{registered}: revoked");

        // A wrong secret is still refused, by either transport.
        let wrong = TestClient {
            secret: Some("not-the-secret".into()),
            ..client.clone()
        };
        for how in [Transport::Basic, Transport::Post] {
            let r = post_as(
                &format!("{}/revoke", w.issuer),
                &wrong,
                how,
                &[("token", &access)],
            )
            .await;
            assert_eq!(r.status, 401, "{registered} {how:?}: {}", r.body);
        }
    }
}

// ---------------------------------------------------------------------------
// 3. No client-existence oracle in the error text.

#[tokio::test]
async fn unknown_client_and_wrong_method_read_the_same() {
    let w = World::new().await;
    let client = w.confidential_client(&[]); // client_secret_basic
    let unknown = TestClient {
        id: "no-such-client".into(),
        ..client.clone()
    };
    let form = [("grant_type", "client_credentials"), ("scope", "openid")];
    let url = format!("{}/token", w.issuer);
    let a = post_as(&url, &unknown, Transport::Post, &form).await;
    let b = post_as(&url, &client, Transport::Post, &form).await;
    for r in [&a, &b] {
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.body["error"], "invalid_client");
    }
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("www-authenticate"), b.header("www-authenticate"));
    // The reason is kept for the operator (the log is written behind).
    let mut log = String::new();
    for _ in 0..50 {
        log = w.server.log_text();
        if log.contains("must authenticate with client_secret_basic") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        log.contains("must authenticate with client_secret_basic"),
        "{log}"
    );
}

// ---------------------------------------------------------------------------
// 4. CORS at userinfo and revocation.

const SPA_ORIGIN: &str = "https://spa.example.test";
const OTHER_ORIGIN: &str = "https://evil.example.test";

async fn preflight(url: &str, origin: &str, method: &str) -> Reply {
    send(
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization"),
    )
    .await
}

#[tokio::test]
async fn userinfo_and_revocation_answer_cors_for_registered_web_origins() {
    let w = World::new().await;
    let spa = w.public_client(&["--web-origin", SPA_ORIGIN]);
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let code = obtain_code(&browser, &w.issuer, &spa, Some(&challenge), &[]).await;
    let t = send(
        reqwest::Client::new()
            .post(format!("{}/token", w.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", spa.redirect_uri.as_str()),
                ("client_id", spa.id.as_str()),
                ("code_verifier", verifier.as_str()),
            ]),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let access = t.body["access_token"].as_str().unwrap();
    let refresh = t.body["refresh_token"].as_str().unwrap();

    // Preflights.
    for (path, method) in [
        ("/userinfo", "GET"),
        ("/userinfo", "POST"),
        ("/revoke", "POST"),
        ("/oauth/revoke", "POST"),
    ] {
        let url = format!("{}{path}", w.issuer);
        let ok = preflight(&url, SPA_ORIGIN, method).await;
        assert!(ok.status < 300, "{path}: {}", ok.status);
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some(SPA_ORIGIN),
            "{path}"
        );
        let methods = ok
            .header("access-control-allow-methods")
            .unwrap_or_default();
        assert!(methods.contains(method), "{path}: {methods}");
        let headers = ok
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("dpop"),
            "{path}: {headers}"
        );
        let refused = preflight(&url, OTHER_ORIGIN, method).await;
        for h in [
            "access-control-allow-origin",
            "access-control-allow-methods",
            "access-control-allow-headers",
        ] {
            assert!(
                refused.header(h).is_none(),
                "{path}: {h} for a foreign origin"
            );
        }
    }

    // The actual answers.
    let userinfo = |origin: &'static str, token: String| {
        let url = format!("{}/userinfo", w.issuer);
        async move {
            send(
                reqwest::Client::new()
                    .get(url)
                    .header("origin", origin)
                    .bearer_auth(token),
            )
            .await
        }
    };
    let ok = userinfo(SPA_ORIGIN, access.to_string()).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SPA_ORIGIN));
    let foreign = userinfo(OTHER_ORIGIN, access.to_string()).await;
    assert_eq!(foreign.status, 200);
    assert!(foreign.header("access-control-allow-origin").is_none());
    // A refusal is readable too, with its challenge.
    let bad = userinfo(SPA_ORIGIN, "not-a-token".to_string()).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.header("access-control-allow-origin"), Some(SPA_ORIGIN));
    assert!(bad
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .contains("WWW-Authenticate"));

    let revoke = |origin: &'static str| {
        let url = format!("{}/revoke", w.issuer);
        let form = vec![
            ("token".to_string(), refresh.to_string()),
            ("client_id".to_string(), spa.id.clone()),
        ];
        async move {
            send(
                reqwest::Client::new()
                    .post(url)
                    .header("origin", origin)
                    .form(&form),
            )
            .await
        }
    };
    let foreign = revoke(OTHER_ORIGIN).await;
    assert_eq!(foreign.status, 200);
    assert!(foreign.header("access-control-allow-origin").is_none());
    let ok = revoke(SPA_ORIGIN).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SPA_ORIGIN));
}

// ---------------------------------------------------------------------------
// 5. PKCE: S256 for public clients unless registered `--pkce plain-allowed`.

/// The authorization URL with a PKCE challenge by `method` (`None`: no
/// `code_challenge_method`, which RFC 7636 reads as plain).
fn url_with_method(
    w: &World,
    client: &TestClient,
    challenge: &str,
    method: Option<&str>,
) -> String {
    let mut u = url::Url::parse(&authorize_url(&w.issuer, client, None, &[])).unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("code_challenge", challenge);
        if let Some(m) = method {
            q.append_pair("code_challenge_method", m);
        }
    }
    u.to_string()
}

#[tokio::test]
async fn public_clients_must_use_s256_unless_registered_plain_allowed() {
    let w = World::new().await;
    let strict = w.public_client(&["--journeys-api"]);
    let lenient = w.public_client(&["--pkce", "plain-allowed"]);
    let confidential = w.confidential_client(&[]);
    let verifier = keygate_crypto::secrets::random_token(32);

    // /authorize redirects the refusal to the (valid) redirect URI.
    for method in [Some("plain"), None] {
        let b = Browser::new();
        let page = b
            .get(&url_with_method(&w, &strict, &verifier, method))
            .await;
        assert_eq!(page.status, 303, "{method:?}: {}", page.body);
        assert!(page.location().unwrap().starts_with(&strict.redirect_uri));
        let p = page.redirect_params();
        assert_eq!(p["error"], "invalid_request", "{method:?}");
        assert!(p["error_description"].contains("S256"), "{p:?}");
        assert_eq!(p["state"], "st-123");
        assert!(!p.contains_key("code"));
    }

    // The Journeys API answers its JSON error.
    let mut body = json!({
        "client_id": strict.id, "redirect_uri": strict.redirect_uri, "scope": "openid",
        "state": "s", "code_challenge": verifier, "code_challenge_method": "plain",
        "email": EMAIL, "password": PASSWORD,
    });
    for method in [Some("plain"), None] {
        match method {
            Some(m) => body["code_challenge_method"] = json!(m),
            None => {
                body.as_object_mut()
                    .unwrap()
                    .remove("code_challenge_method");
            }
        }
        let r = send(
            reqwest::Client::new()
                .post(format!("{}/journeys/sign-in", w.issuer))
                .json(&body),
        )
        .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("invalid_request")),
            "{method:?}: {}",
            r.body
        );
        assert!(r.body.get("code").is_none());
    }

    // A client registered with --pkce plain-allowed, and a confidential
    // client, may use plain through to the token endpoint.
    for (client, basic) in [(&lenient, None), (&confidential, Some(()))] {
        for method in [Some("plain"), None] {
            let b = Browser::new();
            let page = b.get(&url_with_method(&w, client, &verifier, method)).await;
            assert_eq!(page.status, 200, "{method:?}: {:?}", page.location());
            let done = b
                .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
                .await;
            let code = done.redirect_params()["code"].clone();
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", client.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ];
            if basic.is_none() {
                form.push(("client_id", client.id.as_str()));
            }
            let creds = basic.map(|_| (client.id.as_str(), client.secret()));
            let (status, _, t) = token(&w.issuer, creds, &form).await;
            assert_eq!(status, 200, "{method:?}: {t}");
        }
    }
}

#[tokio::test]
async fn the_pkce_policy_is_set_and_shown_by_cli_and_admin_api() {
    const ADMIN_TOKEN: &str = "interop-admin-token-0f9e8d7c6b5a49382716";
    let db = Database::new();
    db.tenant("acme", &[]);
    let bad = db.cli(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "A",
            "--redirect-uri",
            "https://a.test/cb",
            "--public",
            "--pkce",
            "sha1",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--pkce") && stderr.contains("plain-allowed"),
        "{stderr}"
    );
    assert!(bad.stdout.is_empty());

    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let http = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}/admin/v1{path}", server.base))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
    };
    let c = send(admin(
        reqwest::Method::POST,
        "/tenants/acme/clients",
        json!({"name": "SPA", "public": true, "redirect_uris": ["https://a.test/cb"]}),
    ))
    .await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["pkce"], "s256");
    let id = c.body["client_id"].as_str().unwrap().to_string();
    let p = send(admin(
        reqwest::Method::PATCH,
        &format!("/tenants/acme/clients/{id}"),
        json!({"pkce": "plain-allowed"}),
    ))
    .await;
    assert_eq!(
        (p.status, &p.body["pkce"]),
        (200, &json!("plain-allowed")),
        "{}",
        p.body
    );
    let g = send(admin(
        reqwest::Method::GET,
        &format!("/tenants/acme/clients/{id}"),
        Value::Null,
    ))
    .await;
    assert_eq!(g.body["pkce"], "plain-allowed");
    let wrong = send(admin(
        reqwest::Method::PATCH,
        &format!("/tenants/acme/clients/{id}"),
        json!({"pkce": "plain"}),
    ))
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(wrong.body["error"], "invalid_request");
    assert!(wrong.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("pkce:"));
    let doc = send(admin(reqwest::Method::GET, "/openapi.json", Value::Null)).await;
    assert_eq!(doc.status, 200);
    let text = doc.body.to_string();
    assert!(
        text.contains("plain-allowed"),
        "the OpenAPI document lists the values"
    );
}

// ---------------------------------------------------------------------------
// 6. The optional parameters of OpenID Connect's Basic OP tests.

#[tokio::test]
async fn authorize_accepts_the_optional_openid_parameters() {
    let w = World::new().await;
    let client = w.confidential_client(&[]);
    let hint = "ann\"><script>alert(1)</script>@example.com";
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("prompt", "consent")],
        vec![("prompt", "select_account")],
        vec![("prompt", "login consent")],
        vec![("display", "page")],
        vec![("display", "popup")],
        vec![("ui_locales", "se en-US")],
        vec![("claims_locales", "de")],
        vec![("acr_values", "urn:mace:incommon:iap:silver 1")],
        vec![("unknown_parameter", "whatever"), ("another", "")],
        vec![("login_hint", hint)],
    ];
    for extra in &cases {
        let b = Browser::new();
        let page = b.get(&authorize_url(&w.issuer, &client, None, extra)).await;
        assert_eq!(
            page.status,
            200,
            "{extra:?}: {:?} {}",
            page.location(),
            page.body
        );
        assert!(page.body.contains("name=\"password\""), "{extra:?}");
        let done = b
            .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await;
        assert_eq!(done.status, 303, "{extra:?}: {}", done.body);
        let p = done.redirect_params();
        assert!(
            p.contains_key("code") && !p.contains_key("error"),
            "{extra:?}: {p:?}"
        );
        // With the session: consent and select_account go straight on
        // (login asks again, as before).
        let again = b.get(&authorize_url(&w.issuer, &client, None, extra)).await;
        let expect = if extra[0].1.contains("login") {
            200
        } else {
            303
        };
        assert_eq!(again.status, expect, "{extra:?} with a session");
    }

    // login_hint fills in the e-mail field, escaped.
    let b = Browser::new();
    let page = b
        .get(&authorize_url(
            &w.issuer,
            &client,
            None,
            &[("login_hint", hint)],
        ))
        .await;
    assert!(!page.body.contains("<script>"), "{}", page.body);
    let (_, fields) = page.form();
    let email = fields.iter().find(|(k, _)| k == "email").unwrap();
    assert_eq!(email.1, hint);

    // Discovery lists the prompt values /authorize accepts.
    let d =
        send(reqwest::Client::new().get(format!("{}/.well-known/openid-configuration", w.issuer)))
            .await;
    assert_eq!(
        d.body["prompt_values_supported"],
        json!(["none", "login", "consent", "select_account"])
    );

    // prompt=none still refuses to be combined, and still needs a session.
    for (prompt, error) in [
        ("none consent", "invalid_request"),
        ("none", "login_required"),
    ] {
        let page = Browser::new()
            .get(&authorize_url(
                &w.issuer,
                &client,
                None,
                &[("prompt", prompt)],
            ))
            .await;
        assert_eq!(page.status, 303, "{prompt}");
        assert_eq!(page.redirect_params()["error"], error, "{prompt}");
    }
}

// ---------------------------------------------------------------------------
// 7. Plain http redirect URIs only on loopback hosts.

#[tokio::test]
async fn http_redirect_uris_are_only_for_loopback_hosts() {
    const ADMIN_TOKEN: &str = "interop-admin-token-a1b2c3d4e5f60718293a";
    let db = Database::new();
    db.tenant("acme", &[]);
    for (flag, uri) in [
        ("--redirect-uri", "http://app.example.test/cb"),
        ("--redirect-uri", "http://10.1.2.3:8080/cb"),
        ("--post-logout-redirect-uri", "http://app.example.test/bye"),
    ] {
        let mut args = vec![
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "A",
            "--redirect-uri",
            "https://app.example.test/cb",
        ];
        if flag == "--redirect-uri" {
            args.truncate(args.len() - 2);
        }
        args.extend([flag, uri]);
        let out = db.cli(&args, None);
        assert_eq!(out.status.code(), Some(2), "{uri}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains(uri) && stderr.contains("loopback"),
            "{uri}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, 0);
    for ok in [
        "http://localhost:3000/cb",
        "http://127.0.0.1:9/cb",
        "http://[::1]:8080/cb",
        "https://app.example.test/cb",
    ] {
        db.client("acme", ok, &["--post-logout-redirect-uri", ok]);
    }

    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let http = reqwest::Client::new();
    for (field, body) in [
        (
            "redirect_uris",
            json!({"name": "A", "redirect_uris": ["http://app.example.test/cb"]}),
        ),
        (
            "post_logout_redirect_uris",
            json!({"name": "A", "redirect_uris": ["https://app.example.test/cb"],
                   "post_logout_redirect_uris": ["http://app.example.test/bye"]}),
        ),
    ] {
        let r = send(
            http.post(format!("{}/admin/v1/tenants/acme/clients", server.base))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["error"], "invalid_request");
        let d = r.body["error_description"].as_str().unwrap();
        assert!(d.starts_with(field) && d.contains("loopback"), "{d}");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, 4);
}

// ---------------------------------------------------------------------------
// 8. form-action on the hosted pages.

fn csp(page: &Page) -> String {
    page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn hosted_pages_allow_forms_only_to_self_and_the_redirect_that_follows() {
    let w = World::new().await;
    let client = w.db.client(
        "acme",
        "https://app.example.test/callback",
        &[
            "--public",
            "--post-logout-redirect-uri",
            "https://app.example.test/bye",
        ],
    );
    let (_, challenge) = pkce();
    let b = Browser::new();
    let sign_in = b
        .get(&authorize_url(&w.issuer, &client, Some(&challenge), &[]))
        .await;
    assert_eq!(sign_in.status, 200);
    let policy = csp(&sign_in);
    assert!(
        policy.contains("form-action 'self' https://app.example.test;"),
        "{policy}"
    );
    // A wrong password shows the page again, with the same policy.
    let again = b
        .submit(
            &sign_in,
            &[("email", EMAIL), ("password", "wrong password")],
        )
        .await;
    assert_eq!(again.status, 401);
    assert!(csp(&again).contains("form-action 'self' https://app.example.test;"));
    let register = b
        .get(&format!(
            "{}/register?{}",
            w.issuer,
            url::Url::parse(&authorize_url(&w.issuer, &client, Some(&challenge), &[]))
                .unwrap()
                .query()
                .unwrap()
        ))
        .await;
    assert!(csp(&register).contains("form-action 'self' https://app.example.test;"));

    let signoff = b
        .get(&format!(
            "{}/signoff?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.test%2Fbye",
            w.issuer, client.id
        ))
        .await;
    assert_eq!(signoff.status, 200, "{}", signoff.body);
    assert!(csp(&signoff).contains("form-action 'self' https://app.example.test;"));

    // Pages with no redirect after them: forms only to ourselves.
    let plain = b.get(&format!("{}/signoff", w.issuer)).await;
    assert!(
        csp(&plain).contains("form-action 'self';"),
        "{}",
        csp(&plain)
    );
    let error = b
        .get(&format!("{}/authorize?client_id=nope", w.issuer))
        .await;
    assert_eq!(error.status, 400);
    assert!(
        csp(&error).contains("form-action 'self';"),
        "{}",
        csp(&error)
    );
}
