//! The Journeys API at every front door, and CORS only for the web origins a
//! client registered.

use crate::harness::*;
use crate::journeys_helpers::*;

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
