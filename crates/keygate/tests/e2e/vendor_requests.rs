//! The token requests that applications written for Next Identity, Auth0 and
//! PingOne send, unchanged, at the doors each vendor's documentation uses.

use crate::harness::*;
use crate::token_helpers::*;
use base64::Engine;
use serde_json::json;

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
