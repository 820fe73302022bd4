//! Security: brute-force limits, secrets kept out of logs, HTTP hardening,
//! redirect safety.

use crate::harness::*;
use serde_json::Value;

#[tokio::test]
async fn sign_in_failures_per_account_lead_to_429_with_retry_after() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_SIGNIN_MAX_FAILURES", "3")]).await;
    let issuer = server.issuer("acme");
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&issuer, &client, Some(&challenge), &[]))
        .await;
    for _ in 0..3 {
        let p = browser
            .submit(&page, &[("email", EMAIL), ("password", "wrong password")])
            .await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("incorrect"));
    }
    // Now even the right password is refused for a while, with a clear message.
    let p = browser
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    let retry: u64 = p.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(
        p.body.contains("Too many failed sign-in attempts"),
        "{}",
        p.body
    );
    assert!(p.location().is_none());
    // Another account from elsewhere is not affected by this account's lock.
    db.user("acme", "bob@example.com", PASSWORD);
    let other = Browser::new();
    let page = other
        .get(&authorize_url(&issuer, &client, Some(&challenge), &[]))
        .await;
    let ok = other
        .submit(
            &page,
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(ok.status, 303);
    // The Journeys API shares the limit.
    let api = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let r = reqwest::Client::new()
        .post(format!("{issuer}/journeys/sign-in"))
        .json(&serde_json::json!({"client_id": api.id, "redirect_uri": api.redirect_uri, "scope": "openid",
            "code_challenge": challenge, "code_challenge_method": "S256", "email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn sign_in_failures_per_ip_are_limited_across_accounts() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_SIGNIN_IP_MAX_FAILURES", "4")]).await;
    let issuer = server.issuer("acme");
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&issuer, &client, Some(&challenge), &[]))
        .await;
    for i in 0..4 {
        let p = browser
            .submit(
                &page,
                &[
                    ("email", &format!("nobody{i}@example.com")),
                    ("password", "guess-guess"),
                ],
            )
            .await;
        assert_eq!(p.status, 401);
    }
    let p = browser
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, 429);
}

#[tokio::test]
async fn failed_client_authentication_is_limited_per_client() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start_with(&db, &[("KEYGATE_CLIENT_AUTH_MAX_FAILURES", "3")]).await;
    let issuer = server.issuer("acme");
    let c = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials"],
    );
    for _ in 0..2 {
        let (s, h, body) = token(
            &issuer,
            Some((&c.id, "wrong-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
        assert!(h.contains_key("www-authenticate"));
    }
    // The third failure reaches the limit: 429 with a growing Retry-After.
    let (s, h, body) = token(
        &issuer,
        Some((&c.id, "wrong-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 429, "{body}");
    let first: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(first >= 1);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Try again"));
    let (s, h, _) = token(
        &issuer,
        Some((&c.id, "wrong-again")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 429);
    assert!(
        h["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > first,
        "the delay grows"
    );
    // Whoever holds the right secret is never locked out by others' failures.
    let (s, _, body) = token(
        &issuer,
        Some((&c.id, c.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn no_secret_code_or_token_appears_in_the_log_of_a_full_flow() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("RUST_LOG", "debug")]).await;
    let issuer = server.issuer("acme");
    let c = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &[
            "--grant",
            "authorization_code,refresh_token,client_credentials",
        ],
    );
    let (verifier, challenge) = pkce();
    let browser = Browser::new();
    // One failed sign-in too: the wrong password must not be logged either.
    let page = browser
        .get(&authorize_url(&issuer, &c, Some(&challenge), &[]))
        .await;
    let wrong = "Wrong-Password-123";
    assert_eq!(
        browser
            .submit(&page, &[("email", EMAIL), ("password", wrong)])
            .await
            .status,
        401
    );
    let code = obtain_code(&browser, &issuer, &c, Some(&challenge), &[]).await;
    let (s, _, t) = token(
        &issuer,
        Some((&c.id, c.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &c.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let rt = t["refresh_token"].as_str().unwrap();
    let (s, _, t2) = token(
        &issuer,
        Some((&c.id, c.secret())),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(s, 200);
    let at = t2["access_token"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .post(format!("{issuer}/revoke"))
        .basic_auth(&c.id, Some(c.secret()))
        .form(&[("token", t2["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A replay, to log the warning path too.
    let (s, _, _) = token(
        &issuer,
        Some((&c.id, c.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &c.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 400);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = server.log_text();
    assert!(log.contains("request"), "the log is captured: {log}");
    let secrets: Vec<(&str, &str)> = vec![
        ("password", PASSWORD),
        ("wrong password", wrong),
        ("client secret", c.secret()),
        ("code", &code),
        ("code_verifier", &verifier),
        ("refresh token", rt),
        (
            "rotated refresh token",
            t2["refresh_token"].as_str().unwrap(),
        ),
        ("access token", at),
        ("id token", t["id_token"].as_str().unwrap()),
        ("master key", MASTER_KEY),
    ];
    for (what, s) in secrets {
        assert!(!log.contains(s), "the log contains the {what}");
        // Nor any long fragment of it (a token split over fields).
        if s.len() > 40 {
            assert!(
                !log.contains(&s[..32]),
                "the log contains part of the {what}"
            );
        }
    }
    let cookie_values: Vec<String> = db.query_strings("SELECT id_hash FROM sessions").await;
    assert!(!cookie_values.is_empty());
}

#[tokio::test]
async fn hosted_pages_send_security_headers_and_secure_host_cookies_over_https() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    // The public URL is https (a TLS proxy in front); the server itself listens on plain HTTP here.
    let server = Server::start_behind(&db, "https://login.acme.test", &[]).await;
    let port = server.port;
    let issuer = "https://login.acme.test/acme/as";
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let (_, challenge) = pkce();
    let url = authorize_url(
        &format!("http://127.0.0.1:{port}/acme/as"),
        &client,
        Some(&challenge),
        &[],
    );
    let browser = Browser::new();
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200);
    let h = &page.headers;
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-"), "{cookie}");
    assert!(
        cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    // Sign in: the session cookie is __Host- too, and the redirect carries the https issuer.
    let (action, mut fields) = page.form();
    assert!(
        action.starts_with("https://login.acme.test/acme/as/login"),
        "{action}"
    );
    for f in fields.iter_mut() {
        match f.0.as_str() {
            "email" => f.1 = EMAIL.into(),
            "password" => f.1 = PASSWORD.into(),
            _ => {}
        }
    }
    let csrf_cookie = cookie.split(';').next().unwrap().to_string();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/acme/as/login"))
        .header("cookie", csrf_cookie)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r.headers()["set-cookie"].to_str().unwrap();
    assert!(session.starts_with("__Host-kg_session_acme="), "{session}");
    assert!(session.contains("Secure"));
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(
        loc.contains(&format!("iss={}", url_escape(issuer))),
        "{loc}"
    );
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413_in_the_protocols_format() {
    let w = World::new().await;
    let c = w.confidential_client(&[]);
    let big = "x".repeat(70 * 1024);
    let r = reqwest::Client::new()
        .post(format!("{}/token", w.issuer))
        .basic_auth(&c.id, Some(c.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&pad={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    // The hosted sign-in form, too.
    let r = reqwest::Client::new()
        .post(format!("{}/login", w.issuer))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=a&pad={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn no_open_redirect_from_authorize_or_sign_out() {
    let w = World::new().await;
    let c = w.public_client(&["--post-logout-redirect-uri", "http://127.0.0.1:9/bye"]);
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let evil = "https://evil.example/cb";
    // An unregistered redirect URI is never redirected to, even with an error.
    let mut u = url::Url::parse(&authorize_url(&w.issuer, &c, Some(&challenge), &[])).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "redirect_uri" {
                evil.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    u.query_pairs_mut().append_pair("prompt", "bogus");
    let p = browser.get(u.as_str()).await;
    assert_eq!(p.status, 400);
    assert!(p.location().is_none());
    // Sign-out to an unregistered URI: a page, no redirect.
    let p = browser
        .get(&format!(
            "{}/signoff?client_id={}&post_logout_redirect_uri={}",
            w.issuer,
            c.id,
            url_escape(evil)
        ))
        .await;
    assert_eq!(p.status, 400);
    assert!(p.location().is_none());
    // A registered one: the confirmation form, then the redirect with state.
    let p = browser
        .get(&format!(
            "{}/signoff?client_id={}&post_logout_redirect_uri={}&state=s9",
            w.issuer,
            c.id,
            url_escape("http://127.0.0.1:9/bye")
        ))
        .await;
    assert_eq!(p.status, 200);
    let done = browser.submit(&p, &[]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location().unwrap(), "http://127.0.0.1:9/bye?state=s9");
}
