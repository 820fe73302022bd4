//! The form_post response mode (OAuth 2.0 Form Post Response Mode,
//! docs/form-post.md): in Chromium (`tests/browser/form_post.mjs`) a
//! person signs in to an application asking for it and the application
//! receives the code and state in a POST body, with scripts and without;
//! the codes are redeemed. Over HTTP: the page itself (its form, hidden
//! fields escaped, its Content-Security-Policy), errors posted the same
//! way, and the `response_mode` values that are refused.

use crate::harness::*;
use crate::real_clients::run_script;
use crate::token_helpers::*;
use std::collections::HashMap;

/// An authorization URL of `client` asking for `response_mode` (if any),
/// with `state`; the PKCE verifier.
fn request(
    issuer: &str,
    client: &TestClient,
    mode: Option<&str>,
    state: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(m) = mode {
            q.append_pair("response_mode", m);
        }
        if !extra.iter().any(|(k, _)| *k == "scope") {
            q.append_pair("scope", "openid email");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    (u.to_string(), verifier)
}

/// The posting page's form: its action and fields, checked to be the
/// page of docs/form-post.md (CSP, no-store, the script allowed by hash).
fn posted(page: &Page, redirect_uri: &str) -> HashMap<String, String> {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location().is_none());
    let header = |n: &str| page.headers.get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(header("cache-control").as_deref(), Some("no-store"));
    let csp = header("content-security-policy").expect("a CSP");
    let origin = url::Url::parse(redirect_uri)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(csp.contains(&format!("form-action {origin};")), "{csp}");
    assert!(
        !csp.contains("'self'"),
        "the page posts only to the application: {csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    // The one inline script is allowed by its own hash.
    let start = page.body.find("<script>").expect("a script") + "<script>".len();
    let end = page.body[start..].find("</script>").unwrap() + start;
    let hash = keygate_crypto::secrets::sha256_base64(&page.body[start..end]);
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}';")),
        "{csp}"
    );
    assert_eq!(page.body.matches("<script").count(), 1);
    assert!(
        page.body.contains("<noscript>"),
        "a button where scripts do not run"
    );
    assert!(page.body.contains("<form method=\"post\""), "{}", page.body);
    let (action, fields) = page.form();
    assert_eq!(action, redirect_uri);
    fields.into_iter().collect()
}

#[tokio::test]
async fn the_answer_is_a_page_posting_to_the_redirect_uri() {
    let w = World::new().await;
    let client = w.public_client(&[]);
    let b = Browser::new();
    // A state that would break out of an attribute, were it not escaped.
    let state = "s\"><script>alert(1)</script>&x=<y>'";
    let (url, verifier) = request(&w.issuer, &client, Some("form_post"), state, &[]);
    let page = b.get(&url).await;
    assert_eq!(page.status, 200, "the sign-in page");
    let done = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    let fields = posted(&done, &client.redirect_uri);
    assert!(!done.body.contains("<script>alert"), "{}", done.body);
    assert!(!done.body.contains("s\"><"), "{}", done.body);
    assert_eq!(fields["state"], state);
    assert_eq!(fields["iss"], w.issuer);
    assert_eq!(fields.len(), 3, "{fields:?}");
    let tokens = exchange(&w.issuer, &client, &fields["code"], Some(&verifier))
        .await
        .tokens();
    assert!(tokens["id_token"].is_string());

    // With the session, /authorize answers with the page at once.
    let (url, verifier) = request(&w.issuer, &client, Some("form_post"), "again", &[]);
    let fields = posted(&b.get(&url).await, &client.redirect_uri);
    assert_eq!(fields["state"], "again");
    exchange(&w.issuer, &client, &fields["code"], Some(&verifier))
        .await
        .tokens();

    // query stays a redirect.
    let (url, _) = request(&w.issuer, &client, Some("query"), "q", &[]);
    let page = b.get(&url).await;
    assert_eq!(page.status, 303);
    assert!(page.redirect_params().contains_key("code"));

    // Discovery says so.
    let d: serde_json::Value = http()
        .get(format!("{}/.well-known/openid-configuration", w.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn errors_are_posted_and_unknown_modes_refused() {
    let w = World::new().await;
    let client = w.public_client(&[]);
    let b = Browser::new();

    // An error of a form_post request goes back the same way.
    let (url, _) = request(
        &w.issuer,
        &client,
        Some("form_post"),
        "e1",
        &[("scope", "openid admin")],
    );
    let fields = posted(&b.get(&url).await, &client.redirect_uri);
    assert_eq!(fields["error"], "invalid_scope", "{fields:?}");
    assert_eq!(fields["state"], "e1");
    assert_eq!(fields["iss"], w.issuer);
    assert!(!fields["error_description"].is_empty());
    assert!(!fields.contains_key("code"));
    // prompt=none without a session.
    let (url, _) = request(
        &w.issuer,
        &client,
        Some("form_post"),
        "e2",
        &[("prompt", "none")],
    );
    let fields = posted(&b.get(&url).await, &client.redirect_uri);
    assert_eq!(fields["error"], "login_required");

    // Modes Keygate does not answer in: invalid_request, by query.
    for mode in [
        "fragment",
        "form_post.jwt",
        "jwt",
        "FORM_POST",
        "web_message",
    ] {
        let (url, _) = request(&w.issuer, &client, Some(mode), "m", &[]);
        let page = b.get(&url).await;
        assert_eq!(page.status, 303, "{mode}: {}", page.body);
        let p = page.redirect_params();
        assert_eq!(p["error"], "invalid_request", "{mode}");
        assert!(
            p["error_description"].contains("response_mode"),
            "{mode}: {p:?}"
        );
        assert_eq!(p["state"], "m");
        assert!(page.location().unwrap().starts_with(&client.redirect_uri));
    }
    // A redirect URI that is not registered gets the error page, whatever the mode.
    let (url, _) = request(&w.issuer, &client, Some("form_post"), "x", &[]);
    let url = url.replace("127.0.0.1%3A9", "127.0.0.2%3A9");
    let page = b.get(&url).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!page
        .body
        .contains("<form method=\"post\" action=\"http://127.0.0.2:9"));
    // A native app's private-use scheme cannot be posted to.
    let app = w.db.client("acme", "com.example.app:/cb", &["--public"]);
    let (url, _) = request(&w.issuer, &app, Some("form_post"), "n", &[]);
    let page = b.get(&url).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let loc = page.location().unwrap();
    assert!(
        loc.starts_with("com.example.app:/cb?") && loc.contains("error=invalid_request"),
        "{loc}"
    );
    assert_no_server_error(&w.server);
}

/// In Chromium: a sign-in, a request with the session and one without
/// scripts each post the code to the application, which redeems it.
#[tokio::test]
async fn a_person_signs_in_and_the_application_receives_a_post_in_chromium() {
    let w = World::new().await;
    let callback = format!("http://127.0.0.1:{}/callback", free_port());
    let client = w.db.client("acme", &callback, &["--public"]);
    let requests: Vec<(String, String)> = ["first", "second", "third"]
        .iter()
        .map(|state| request(&w.issuer, &client, Some("form_post"), state, &[]))
        .collect();
    let urls: Vec<&str> = requests.iter().map(|(u, _)| u.as_str()).collect();
    let urls_json = serde_json::to_string(&urls).unwrap();
    let steps = run_script(
        "form_post.mjs",
        &[
            ("KEYGATE_AUTHORIZE_URLS", &urls_json),
            ("KEYGATE_CALLBACK", &callback),
            ("KEYGATE_EMAIL", EMAIL),
            ("KEYGATE_PASSWORD", PASSWORD),
        ],
        &w.server,
    )
    .await;
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, ["signed_in", "session", "noscript"]);
    for (s, ((_, verifier), state)) in steps
        .iter()
        .zip(requests.iter().zip(["first", "second", "third"]))
    {
        assert_eq!(s["method"], "POST", "{s}");
        assert_eq!(
            s["content_type"], "application/x-www-form-urlencoded",
            "{s}"
        );
        assert_eq!(s["query"], "", "nothing in the URL: {s}");
        assert_eq!(s["params"]["state"], state, "{s}");
        assert_eq!(s["params"]["iss"], w.issuer.as_str(), "{s}");
        let code = s["params"]["code"].as_str().unwrap();
        let tokens = exchange(&w.issuer, &client, code, Some(verifier))
            .await
            .tokens();
        assert!(tokens["id_token"].is_string(), "{tokens}");
    }
    // The session's request showed no sign-in page.
    assert!(
        !steps[1]["pages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().ends_with("/login")),
        "{}",
        steps[1]
    );
    assert_no_server_error(&w.server);
}

/// The mode is kept through the consent page of a third-party client:
/// "Deny" posts `access_denied`, "Allow" posts the code.
#[tokio::test]
async fn consent_answers_are_posted() {
    let w = World::new().await;
    let client = w.db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--third-party"],
    );
    let b = Browser::new();
    let (url, _) = request(&w.issuer, &client, Some("form_post"), "deny-me", &[]);
    let page = b.get(&url).await;
    let consent = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains(">Allow</button>"), "{}", consent.body);
    let denied = b.submit(&consent, &[("decision", "deny")]).await;
    let fields = posted(&denied, &client.redirect_uri);
    assert_eq!(fields["error"], "access_denied", "{fields:?}");
    assert_eq!(fields["state"], "deny-me");

    let (url, verifier) = request(&w.issuer, &client, Some("form_post"), "allow-me", &[]);
    let consent = b.get(&url).await;
    assert!(consent.body.contains(">Allow</button>"), "{}", consent.body);
    let allowed = b.submit(&consent, &[("decision", "allow")]).await;
    let fields = posted(&allowed, &client.redirect_uri);
    assert_eq!(fields["state"], "allow-me");
    exchange(&w.issuer, &client, &fields["code"], Some(&verifier))
        .await
        .tokens();
    assert_no_server_error(&w.server);
}

/// The TOTP secret in an enrolment page's `otpauth://` URI.
fn totp_secret(page: &Page) -> Vec<u8> {
    let i = page.body.find("otpauth://totp/").expect("the URI as text");
    let j = page.body[i..].find('<').unwrap() + i;
    let url = url::Url::parse(&unescape(&page.body[i..j])).unwrap();
    let b32 = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.to_string())
        .unwrap();
    totp_rs::Secret::try_from_base32(&b32)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// The mode is kept through the second factor: a first enrolment's
/// recovery codes page posts the code with its "Continue" button, and a
/// later sign-in's second step answers with the posting page.
#[tokio::test]
async fn second_factor_answers_are_posted() {
    use crate::mfa_totp::{code, unix_now};
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    db.cli_json(&["tenant", "update", "acme", "--mfa", "required"], None);
    let server = Server::start(&db).await;
    let issuer = server.issuer("acme");
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);

    // Enrolment at the first sign-in, then the codes page's form.
    let b = Browser::new();
    let (url, verifier) = request(&issuer, &client, Some("form_post"), "mfa-1", &[]);
    let page = b.get(&url).await;
    let enrol = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let secret = totp_secret(&enrol);
    let codes = b
        .submit(
            &enrol,
            &[("code", &code(&secret, unix_now())), ("name", "Phone")],
        )
        .await;
    assert_eq!(codes.status, 200, "{}", codes.body);
    assert_eq!(codes.body.matches("<code>").count(), 10, "{}", codes.body);
    assert!(
        !codes.body.contains("code="),
        "no code in a link: {}",
        codes.body
    );
    let csp = codes.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9;"),
        "{csp}"
    );
    let (action, fields) = codes.form();
    assert_eq!(action, client.redirect_uri);
    let fields: HashMap<String, String> = fields.into_iter().collect();
    assert_eq!(fields["state"], "mfa-1");
    assert_eq!(fields["iss"], issuer);
    exchange(&issuer, &client, &fields["code"], Some(&verifier))
        .await
        .tokens();

    // A later sign-in: the second step's answer is the posting page.
    let other = Browser::new();
    let (url, verifier) = request(&issuer, &client, Some("form_post"), "mfa-2", &[]);
    let page = other.get(&url).await;
    let step = other
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(!step.body.contains("otpauth://"), "asked, not enrolled");
    let done = other
        .submit(&step, &[("code", &code(&secret, unix_now() + 30))])
        .await;
    let fields = posted(&done, &client.redirect_uri);
    assert_eq!(fields["state"], "mfa-2");
    let tokens = exchange(&issuer, &client, &fields["code"], Some(&verifier))
        .await
        .tokens();
    let amr = claims(tokens["id_token"].as_str().unwrap())["amr"].clone();
    assert_eq!(amr, serde_json::json!(["pwd", "otp", "mfa"]));
    assert_no_server_error(&server);
}
