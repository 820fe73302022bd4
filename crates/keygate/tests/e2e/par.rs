//! Pushed authorization requests (RFC 9126, docs/grants.md): a real client
//! (openid-client, `tests/browser/par.mjs`) pushes its request and a person
//! signs in in Chromium; over HTTP, the endpoint's refusals in RFC 6749
//! JSON, `--require-par`, the hosted forms carrying only the
//! `request_uri`, and a pushed request giving exactly one code.

use crate::harness::*;
use crate::real_clients::run_script;
use serde_json::Value;

/// POSTs to `{issuer}/par` with Basic credentials (if any).
async fn push(
    issuer: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{issuer}/par"))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            keygate_core::basic::encode_basic(id, secret),
        );
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn request<'a>(client: &'a TestClient, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", "openid email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

fn authorize(issuer: &str, client_id: &str, request_uri: &str) -> String {
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_pushes_its_request_and_a_person_signs_in_in_chromium() {
    let w = World::new().await;
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let c = w.db.client("acme", &redirect, &["--require-par"]);
    let steps = run_script(
        "par.mjs",
        &[
            ("KEYGATE_ISSUER", &w.issuer),
            ("KEYGATE_CLIENT_ID", &c.id),
            ("KEYGATE_CLIENT_SECRET", c.secret()),
            ("KEYGATE_REDIRECT_PORT", &port.to_string()),
            ("KEYGATE_EMAIL", EMAIL),
            ("KEYGATE_PASSWORD", PASSWORD),
        ],
        &w.server,
    )
    .await;
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no {name} step: {steps:?}"))
            .clone()
    };
    let d = step("discovered");
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        format!("{}/par", w.issuer)
    );
    assert_eq!(d["require_pushed_authorization_requests"], false);
    // The authorization URL holds only the client and the request_uri.
    let pushed = step("pushed");
    let params = pushed["params"].as_object().unwrap();
    let mut names: Vec<&str> = params.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["client_id", "request_uri"]);
    assert!(params["request_uri"]
        .as_str()
        .unwrap()
        .starts_with("urn:ietf:params:oauth:request_uri:"));
    let tokens = step("tokens");
    assert_eq!(tokens["id_token"]["aud"], c.id.as_str());
    assert_eq!(tokens["id_token"]["email"], EMAIL);
    // The same request_uri again: refused on a page, no second code.
    let reused = step("reused");
    assert_eq!(reused["status"], 400);
    assert!(
        reused["text"].as_str().unwrap().contains("already used"),
        "{reused}"
    );
    assert!(!reused["url"].as_str().unwrap().contains("/callback"));
    assert_eq!(w.db.count("SELECT COUNT(*) FROM grants").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_forms_carry_only_the_request_uri_and_one_code_is_issued() {
    let w = World::new().await;
    let c = w.confidential_client(&["--require-par"]);
    let (verifier, challenge) = pkce();
    let (status, headers, body) = push(
        &w.issuer,
        Some((&c.id, c.secret())),
        &request(&c, &challenge),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));

    let b = Browser::new();
    // Parameters beside client_id and request_uri are ignored (RFC 9126 4):
    // this redirect_uri and state change nothing.
    let url = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=other",
        authorize(&w.issuer, &c.id, &request_uri)
    );
    let page = b.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (_, fields) = page.form();
    let carried = fields
        .iter()
        .find(|(k, _)| k == "request")
        .map(|(_, v)| v.clone())
        .unwrap();
    let carried: Vec<(String, String)> = url::form_urlencoded::parse(carried.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        carried,
        vec![
            ("client_id".to_string(), c.id.clone()),
            ("request_uri".to_string(), request_uri.clone())
        ]
    );
    let done = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location().unwrap().starts_with(&c.redirect_uri));
    let params = done.redirect_params();
    assert_eq!(params["state"], "st-123");
    let (status, _, tokens) = token(
        &w.issuer,
        Some((&c.id, c.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", &c.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-456"
    );

    // Submitting the same form again (the session is live now): no second code.
    let again = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.location().is_none());
    assert_eq!(w.db.count("SELECT COUNT(*) FROM grants").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_must_push_cannot_send_its_request_to_authorize() {
    let w = World::new().await;
    let c = w.confidential_client(&["--require-par"]);
    let (_, challenge) = pkce();
    let page = Browser::new()
        .get(&authorize_url(&w.issuer, &c, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let params = page.redirect_params();
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("push"));
    assert_eq!(params["state"], "st-123");
    // The setting is shown and can be turned off.
    let shown =
        w.db.cli_json(&["client", "show", "--tenant", "acme", &c.id], None);
    assert_eq!(shown["require_par"], true);
    let updated = w.db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &c.id,
            "--require-par",
            "false",
        ],
        None,
    );
    assert_eq!(updated["require_par"], false, "{updated}");
    // A client without the requirement may send its request directly.
    let free = w.confidential_client(&[]);
    let page = Browser::new()
        .get(&authorize_url(&w.issuer, &free, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_refuses_bad_pushes_in_rfc_6749_json_and_stores_nothing() {
    let w = World::new().await;
    let c = w.confidential_client(&[]);
    let other = w.confidential_client(&[]);
    let (_, challenge) = pkce();
    let base = request(&c, &challenge);
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.clone();
        for (k, val) in extra {
            v.retain(|(name, _)| name != k);
            v.push((k, val));
        }
        v
    };
    // No credentials, wrong secret.
    let (s, _, b) = push(&w.issuer, None, &with(&[("client_id", "nobody")])).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_client")),
        "{b}"
    );
    let (s, _, b) = push(&w.issuer, Some((&c.id, "wrong")), &base).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_client")),
        "{b}"
    );
    // A request_uri may not be pushed; request objects are not supported.
    let (s, _, b) = push(
        &w.issuer,
        Some((&c.id, c.secret())),
        &with(&[("request_uri", "urn:ietf:params:oauth:request_uri:x")]),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_request")),
        "{b}"
    );
    let (s, _, b) = push(
        &w.issuer,
        Some((&c.id, c.secret())),
        &with(&[("request", "eyJhbGciOiJub25lIn0.e30.")]),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("request_not_supported")),
        "{b}"
    );
    // The rules of /authorize, answered in JSON: an unregistered redirect
    // URI, an unknown scope, another client's id in the body.
    let (s, _, b) = push(
        &w.issuer,
        Some((&c.id, c.secret())),
        &with(&[("redirect_uri", "https://evil.example/cb")]),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_request")),
        "{b}"
    );
    let (s, _, b) = push(
        &w.issuer,
        Some((&c.id, c.secret())),
        &with(&[("scope", "openid launch-missiles")]),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_scope")),
        "{b}"
    );
    let mut foreign = base.clone();
    foreign.push(("client_id", other.id.as_str()));
    let (s, _, b) = push(&w.issuer, Some((&c.id, c.secret())), &foreign).await;
    assert!(s == 400 || s == 401, "{s} {b}");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM pushed_requests").await, 0);

    // A good push; then /authorize with it as another client, with an
    // unknown request_uri, with one not issued here: error pages, no redirect.
    let (s, _, b) = push(&w.issuer, Some((&c.id, c.secret())), &base).await;
    assert_eq!(s, 201, "{b}");
    let request_uri = b["request_uri"].as_str().unwrap();
    let browser = Browser::new();
    for (url, what) in [
        (
            authorize(&w.issuer, &other.id, request_uri),
            "another client",
        ),
        (
            authorize(
                &w.issuer,
                &c.id,
                "urn:ietf:params:oauth:request_uri:unknown",
            ),
            "unknown",
        ),
        (
            authorize(&w.issuer, &c.id, "https://evil.example/request.jwt"),
            "not ours",
        ),
        (
            format!(
                "{}/authorize?request_uri={}",
                w.issuer,
                urlencoding(request_uri)
            ),
            "no client_id",
        ),
    ] {
        let page = browser.get(&url).await;
        assert_eq!(page.status, 400, "{what}: {}", page.body);
        assert!(page.location().is_none(), "{what}");
    }
    // The stored request was not used by those attempts.
    let page = browser.get(&authorize(&w.issuer, &c.id, request_uri)).await;
    assert_eq!(page.status, 200, "{}", page.body);
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
