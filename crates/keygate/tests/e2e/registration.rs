//! Dynamic client registration (RFC 7591) and management (RFC 7592),
//! docs/apis.md: off by default, open, or with an initial access token;
//! metadata checked like `keygate client create`; registered clients are
//! third-party; registration limited per IP.

use crate::harness::*;
use crate::journeys_helpers::{post_json, reply, Reply, Via};
use crate::pages_helpers::*;
use serde_json::{json, Value};

async fn setup(mode: &str) -> Setup {
    let s = Setup::new().await;
    s.db.cli_json(
        &["tenant", "update", "acme", "--dynamic-registration", mode],
        None,
    );
    let server = Server::start_with(&s.db, &[]).await;
    Setup { server, ..s }
}

fn endpoint(s: &Setup) -> String {
    format!("{}/oauth/register", s.path().issuer)
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut r = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    reply(r).await
}

fn public_app() -> Value {
    json!({
        "client_name": "Agent",
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "logo_uri": "https://agent.example/logo.png"
    })
}

#[tokio::test]
async fn a_client_registers_itself_signs_a_person_in_through_consent_and_manages_itself() {
    let s = setup("open").await;
    let door = s.path();
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", door.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["registration_endpoint"], endpoint(&s));
    let r = post_json(&endpoint(&s), &public_app(), Via::default()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let id = r.body["client_id"].as_str().unwrap().to_string();
    let rat = r.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.body["token_endpoint_auth_method"], "none");
    assert!(r.body.get("client_secret").is_none());
    assert!(r.body.get("logo_uri").is_none(), "ignored, not echoed");
    let uri = r.body["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(uri, format!("{}/{id}", endpoint(&s)));
    // Stored as a hash only.
    let stored =
        s.db.query_strings(&format!(
            "SELECT registration_token_hash FROM clients WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&rat));

    // It is third-party: the person allows it, then the code is exchanged.
    let client = TestClient {
        id: id.clone(),
        secret: None,
        redirect_uri: CALLBACK.into(),
    };
    let app = Door { client, ..s.path() };
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let page = sign_in(
        &b,
        &app,
        &url_with(&app.issuer, "/authorize", &request(&app.client, &challenge)),
    )
    .await;
    assert!(page.body.contains(">Allow</button>"), "{}", page.body);
    assert!(page.body.contains("Agent"));
    let code = assert_code(
        &b.submit(&page, &[("decision", "allow")]).await,
        &app,
        "allowed",
    );
    let (status, tokens) = s.exchange(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let used = s
        .db
        .query_strings(&format!(
            "SELECT CAST(first_used_at AS TEXT) FROM clients WHERE id = '{id}' AND first_used_at IS NOT NULL"
        ))
        .await;
    assert_eq!(used.len(), 1, "its first use is recorded");

    // RFC 7592: read, update, delete with the registration access token.
    let r = call(reqwest::Method::GET, &uri, Some(&rat), None).await;
    assert_eq!((r.status, &r.body["client_name"]), (200, &json!("Agent")));
    // The client information response (RFC 7592 3) requires the
    // registration access token and URI: the same token, still valid.
    assert_eq!(r.body["registration_access_token"], rat.as_str());
    assert_eq!(r.body["registration_client_uri"], uri.as_str());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = call(reqwest::Method::GET, &uri, Some("wrong"), None).await;
    assert_eq!(r.refusal(), (401, Some("invalid_token")));
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = call(reqwest::Method::GET, &uri, None, None).await;
    assert_eq!(r.status, 401);
    let mut changed = public_app();
    changed["client_name"] = json!("Agent 2");
    changed["client_id"] = json!(id);
    let r = call(
        reqwest::Method::PUT,
        &uri,
        Some(&rat),
        Some(changed.clone()),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["client_name"]),
        (200, &json!("Agent 2")),
        "{}",
        r.body
    );
    assert_eq!(r.body["registration_access_token"], rat.as_str());
    changed["redirect_uris"] = json!(["http://evil.example/cb"]);
    let r = call(reqwest::Method::PUT, &uri, Some(&rat), Some(changed)).await;
    assert_eq!(r.refusal(), (400, Some("invalid_redirect_uri")));
    let r = call(reqwest::Method::DELETE, &uri, Some(&rat), None).await;
    assert_eq!(r.status, 204);
    let r = call(reqwest::Method::GET, &uri, Some(&rat), None).await;
    assert_eq!(r.status, 401, "gone");
    assert_eq!(
        s.db.count(&format!("SELECT COUNT(*) FROM clients WHERE id = '{id}'"))
            .await,
        0
    );
}

#[tokio::test]
async fn bad_metadata_are_refused_in_the_rfc_7591_format_and_nothing_is_stored() {
    let s = setup("open").await;
    let before = s.db.count("SELECT COUNT(*) FROM clients").await;
    for (body, error) in [
        (
            json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt_x"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "id_token_signed_response_alg": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": "not a list"}),
            "invalid_client_metadata",
        ),
        (json!(["an", "array"]), "invalid_client_metadata"),
    ] {
        let r = post_json(&endpoint(&s), &body, Via::default()).await;
        assert_eq!(r.refusal(), (400, Some(error)), "{body}: {}", r.body);
        assert!(r.body["error_description"].as_str().is_some());
    }
    let r =
        crate::journeys_helpers::post_raw(&endpoint(&s), Some("text/plain"), b"x".to_vec()).await;
    assert_eq!(r.refusal(), (400, Some("invalid_client_metadata")));
    assert_eq!(s.db.count("SELECT COUNT(*) FROM clients").await, before);
    // A confidential client gets a secret (shown once).
    let r = post_json(
        &endpoint(&s),
        &json!({"redirect_uris": ["https://app.example/cb"], "client_name": "Server app"}),
        Via::default(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(r.body["client_secret_expires_at"], 0);
    assert!(r.body["client_secret"].as_str().unwrap().len() >= 43);
}

#[tokio::test]
async fn registration_is_off_by_default_needs_a_token_when_so_set_and_is_limited_per_ip() {
    // Off (the default): refused, and not in discovery.
    let s = Setup::new().await;
    let r = post_json(&endpoint(&s), &public_app(), Via::default()).await;
    assert_eq!(r.refusal(), (403, Some("access_denied")));
    let doc: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        s.path().issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(doc.get("registration_endpoint").is_none());

    // Token: an initial access token from the CLI is needed.
    let s = setup("token").await;
    let r = post_json(&endpoint(&s), &public_app(), Via::default()).await;
    assert_eq!(r.refusal(), (401, Some("invalid_token")));
    let minted =
        s.db.cli_json(&["tenant", "registration-token", "acme"], None);
    let iat = minted["token"].as_str().unwrap();
    let r = call(
        reqwest::Method::POST,
        &endpoint(&s),
        Some("not-it"),
        Some(public_app()),
    )
    .await;
    assert_eq!(r.refusal(), (401, Some("invalid_token")));
    let r = call(
        reqwest::Method::POST,
        &endpoint(&s),
        Some(iat),
        Some(public_app()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Another tenant's door does not take it.
    let r = call(
        reqwest::Method::POST,
        &format!("{}/oauth/register", s.server.base),
        Some(iat),
        Some(public_app()),
    )
    .await;
    assert_eq!(r.status, 403, "the default tenant registers nothing");

    // Open, but at most 20 registrations per IP and hour.
    let s = setup("open").await;
    for i in 0..20 {
        let r = post_json(&endpoint(&s), &public_app(), Via::default()).await;
        assert_eq!(r.status, 201, "{i}: {}", r.body);
    }
    let r = post_json(&endpoint(&s), &public_app(), Via::default()).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
}
