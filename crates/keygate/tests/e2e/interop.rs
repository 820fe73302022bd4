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
