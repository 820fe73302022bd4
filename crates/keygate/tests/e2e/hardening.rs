//! Hardening from a security review: which Host serves what (docs/deploying.md,
//! "Proxies, Hosts and TLS"), when an `id_token_hint` may skip the sign-out
//! confirmation, tokens naming unknown keys or algorithms, and the absolute
//! lifetime of refresh-token families.

use crate::harness::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "hardening-admin-token-2b7c9e41d05a4f8e9c3a6d1b7e0f5a2c";
const CALLBACK: &str = "http://127.0.0.1:9/callback";
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";

/// The count of store calls `op` the server has made (its Prometheus metrics).
async fn store_calls(base: &str, op: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("keygate_store_duration_seconds_count{{op=\"{op}\"}}");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|n| n.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------
// Hosts

/// GETs `path` on the node with the given Host header: (status, JSON body).
async fn get_with_host(server: &Server, path: &str, host: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .header("host", host)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn any_host_but_a_registered_domain_is_served_as_the_public_url() {
    let db = Database::new();
    db.tenant("acme", &["http://login.acme.test"]);
    let cc = db.client(
        "default",
        CALLBACK,
        &["--grant", "client_credentials,authorization_code"],
    );
    // A node behind a proxy: its own address is not the public URL.
    let public = "http://id.keygate.test";
    let server = Server::start_behind(&db, public, &[]).await;
    let own = server.base.trim_start_matches("http://").to_string();
    let long = format!("{}.test", "a".repeat(300));
    for host in [
        own.as_str(),      // a node reached directly, or nginx's default proxy_pass
        "id.keygate.test", // the public URL's own Host
        "evil.test",
        "login.acme.test.evil.test",
        long.as_str(),
        "evil test",
        "evil.test/acme",
    ] {
        let (s, d) = get_with_host(&server, "/.well-known/openid-configuration", host).await;
        assert_eq!(s, 200, "{host}: {d}");
        assert_eq!(d["issuer"], public, "{host}");
        assert_eq!(d["token_endpoint"], format!("{public}/token"), "{host}");
        // Tokens minted there carry the public URL's issuer too.
        let r = reqwest::Client::new()
            .post(format!("{}/token", server.base))
            .header("host", host)
            .basic_auth(&cc.id, Some(cc.secret()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}");
        let t: Value = r.json().await.unwrap();
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["iss"],
            public,
            "{host}"
        );
    }
    // A registered domain selects its tenant, whatever its case.
    for host in ["login.acme.test", "LOGIN.Acme.test"] {
        let (s, d) = get_with_host(&server, "/.well-known/openid-configuration", host).await;
        assert_eq!(s, 200, "{host}: {d}");
        assert_eq!(d["issuer"], "http://login.acme.test", "{host}");
    }

    // An over-long or malformed Host is never looked up in the store...
    let before = store_calls(&server.base, "tenant_by_authority").await;
    for host in [
        long.as_str(),
        "evil test",
        "evil.test/acme",
        "ann@evil.test",
    ] {
        for _ in 0..3 {
            let (s, _) = get_with_host(&server, "/.well-known/jwks.json", host).await;
            assert_eq!(s, 200, "{host}");
        }
    }
    assert_eq!(
        store_calls(&server.base, "tenant_by_authority").await,
        before
    );
    // ...while a plausible new one is, once (then cached), which shows the
    // count above would have moved.
    for _ in 0..3 {
        get_with_host(&server, "/.well-known/jwks.json", "fresh.test").await;
    }
    assert_eq!(
        store_calls(&server.base, "tenant_by_authority").await,
        before + 1
    );
}

#[tokio::test]
async fn two_nodes_behind_a_proxy_that_rewrites_host_share_the_public_issuer() {
    // nginx's default `proxy_pass http://node;` sends each node its own
    // upstream address as Host.
    let db = Database::new();
    let cc = db.client(
        "default",
        CALLBACK,
        &["--grant", "client_credentials,authorization_code"],
    );
    let public = "https://id.keygate.test";
    let a = Server::start_behind(&db, public, &[]).await;
    let b = Server::start_behind(&db, public, &[]).await;
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", a.base))
        .basic_auth(&cc.id, Some(cc.secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["iss"], public);
    let r = reqwest::Client::new()
        .post(format!("{}/introspect", b.base))
        .basic_auth(&cc.id, Some(cc.secret()))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["iss"], public);
    for node in [&a, &b] {
        let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", node.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["issuer"], public);
        assert_eq!(d["jwks_uri"], format!("{public}/.well-known/jwks.json"));
    }
}

#[tokio::test]
async fn a_tenants_domain_serves_no_other_tenant() {
    let db = Database::new();
    db.tenant("acme", &["http://login.acme.test"]);
    db.tenant("beta", &["http://login.beta.test"]);
    db.tenant("gamma", &[]);
    let server = Server::start(&db).await;
    let disco = "/.well-known/openid-configuration";
    // On acme's domain, the path doors of other tenants (with or without
    // a domain of their own, and default) are not there.
    for other in ["beta", "gamma", "default"] {
        let (s, d) =
            get_with_host(&server, &format!("/{other}/as{disco}"), "login.acme.test").await;
        assert_eq!(
            (s, d["error"].as_str()),
            (404, Some("not_found")),
            "{other}: {d}"
        );
        let (s, d) = get_with_host(&server, &format!("/{other}/as/jwks"), "login.acme.test").await;
        assert_eq!(s, 404, "{other}: {d}");
        let r = reqwest::Client::new()
            .post(format!("{}/{other}/as/token", server.base))
            .header("host", "login.acme.test")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{other}");
    }
    // acme's own path door is served there, with its path issuer (never
    // one made from the Host).
    let (s, d) = get_with_host(&server, &format!("/acme/as{disco}"), "login.acme.test").await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["issuer"], format!("{}/acme/as", server.base));
    // On the public URL and on unknown Hosts, every path door is served.
    let own = server.base.trim_start_matches("http://").to_string();
    for host in [own.as_str(), "unknown.test"] {
        for t in ["acme", "beta", "gamma", "default"] {
            let (s, d) = get_with_host(&server, &format!("/{t}/as{disco}"), host).await;
            assert_eq!(s, 200, "{host} {t}: {d}");
            assert_eq!(d["issuer"], format!("{}/{t}/as", server.base));
        }
    }
}

// ---------------------------------------------------------------------------
// RP-initiated logout

/// Signs `email` in at the hosted page and returns the tokens of the code.
async fn sign_in_tokens(
    browser: &Browser,
    issuer: &str,
    client: &TestClient,
    email: &str,
    password: &str,
) -> Value {
    let page = browser.get(&authorize_url(issuer, client, None, &[])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = browser
        .submit(&page, &[("email", email), ("password", password)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.redirect_params()["code"].clone();
    let (s, _, body) = token(
        issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body
}

fn signoff_url(issuer: &str, pairs: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{issuer}/signoff")).unwrap();
    u.query_pairs_mut().extend_pairs(pairs);
    u.to_string()
}

#[tokio::test]
async fn only_the_signed_in_persons_id_token_signs_out_without_asking() {
    let w = World::new().await;
    let bob_email = "bob@example.com";
    w.db.user("acme", bob_email, PASSWORD);
    // id_tokens live one second: the hint that finally signs out has expired.
    let client = w.confidential_client(&[
        "--post-logout-redirect-uri",
        SIGNED_OUT,
        "--id-token-ttl",
        "1s",
    ]);
    let other = w.confidential_client(&["--post-logout-redirect-uri", SIGNED_OUT]);
    let ann = Browser::new();
    let bob = Browser::new();
    let ann_tokens = sign_in_tokens(&ann, &w.issuer, &client, EMAIL, PASSWORD).await;
    let bob_tokens = sign_in_tokens(&bob, &w.issuer, &client, bob_email, PASSWORD).await;
    let ann_id = ann_tokens["id_token"].as_str().unwrap();
    let ann_access = ann_tokens["access_token"].as_str().unwrap();
    let bob_id = bob_tokens["id_token"].as_str().unwrap();
    assert_eq!(w.db.count("SELECT COUNT(*) FROM sessions").await, 2);

    let asks = [
        (
            "ann's access token",
            vec![
                ("id_token_hint", ann_access),
                ("client_id", client.id.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        ),
        (
            "ann's access token, nothing else",
            vec![("id_token_hint", ann_access)],
        ),
        (
            "bob's id_token",
            vec![
                ("id_token_hint", bob_id),
                ("client_id", client.id.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        ),
        (
            "bob's id_token, no client_id",
            vec![
                ("id_token_hint", bob_id),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        ),
        (
            "ann's id_token for another client",
            vec![
                ("id_token_hint", ann_id),
                ("client_id", other.id.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
        ),
    ];
    for (what, pairs) in &asks {
        let page = ann.get(&signoff_url(&w.issuer, pairs)).await;
        assert_eq!(page.status, 200, "{what}: {}", page.body);
        assert!(page.location().is_none(), "{what}");
        let (action, fields) = page.form();
        assert_eq!(action, format!("{}/signoff", w.issuer), "{what}");
        assert!(fields.iter().any(|(k, _)| k == "csrf"), "{what}");
        assert_eq!(
            w.db.count("SELECT COUNT(*) FROM sessions").await,
            2,
            "{what} signed someone out"
        );
    }
    // Ann is still signed in: /authorize answers with a code at once.
    let again = ann.get(&authorize_url(&w.issuer, &client, None, &[])).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(again.redirect_params().contains_key("code"));

    // Ann's own id_token, though expired, signs her out at once; Bob stays.
    while claims(ann_id)["exp"].as_i64().unwrap() >= now() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let done = ann
        .get(&signoff_url(
            &w.issuer,
            &[
                ("id_token_hint", ann_id),
                ("client_id", client.id.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
                ("state", "bye"),
            ],
        ))
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location().unwrap(), format!("{SIGNED_OUT}?state=bye"));
    assert_eq!(w.db.count("SELECT COUNT(*) FROM sessions").await, 1);
    let after = ann.get(&authorize_url(&w.issuer, &client, None, &[])).await;
    assert_eq!(after.status, 200, "signed out: the sign-in page");
}

// ---------------------------------------------------------------------------
// Unknown keys and algorithms

/// Calls userinfo with a bearer token: (status, WWW-Authenticate, body).
async fn userinfo(issuer: &str, bearer: &str) -> (u16, String, Value) {
    let r = reqwest::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, r.json().await.unwrap_or(Value::Null))
}

/// `token` with its JOSE header replaced.
fn with_header(token: &str, header: Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
    )
}

#[tokio::test]
async fn tokens_with_unknown_algorithms_or_keys_are_refused_without_a_store_storm() {
    let w = World::new().await;
    let client = w.confidential_client(&[]);
    let browser = Browser::new();
    let tokens = sign_in_tokens(&browser, &w.issuer, &client, EMAIL, PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let kid = header(&access)["kid"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&w.issuer, &access).await.0, 200);

    let unsupported = [
        json!({"alg": "HS256", "kid": kid, "typ": "at+jwt"}),
        json!({"alg": "none", "kid": kid, "typ": "at+jwt"}),
        json!({"alg": "RS512", "kid": kid, "typ": "at+jwt"}),
        json!({"alg": "PS256", "kid": kid, "typ": "at+jwt"}),
        json!({"alg": "RS256", "typ": "at+jwt"}),
    ];
    for h in &unsupported {
        let (s, challenge, body) = userinfo(&w.issuer, &with_header(&access, h.clone())).await;
        assert_eq!(s, 401, "{h}: {body}");
        assert_eq!(body["error"], "invalid_token", "{h}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("algorithm or key id"),
            "{h}: {body}"
        );
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    let unknown_kid = with_header(
        &access,
        json!({"alg": "RS256", "kid": "made-up", "typ": "at+jwt"}),
    );
    let (s, _, body) = userinfo(&w.issuer, &unknown_kid).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );

    // Algorithms we never use cause no key reload at all, however spaced
    // out (a reload for an unknown kid is allowed every 5 ms; one may come
    // from the key cache's own expiry).
    let base = &w.server.base;
    let before = store_calls(base, "signing_keys").await;
    let hs256 = with_header(&access, unsupported[0].clone());
    for _ in 0..10 {
        assert_eq!(userinfo(&w.issuer, &hs256).await.0, 401);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let after_alg = store_calls(base, "signing_keys").await;
    assert!(after_alg - before <= 1, "{before} -> {after_alg}");
    // Unknown kids, many at once: each refused (no 500), with few reloads
    // (at most one runs at a time; see the keyring's unit tests).
    let answers = join_all(
        (0..40)
            .map(|_| {
                let (issuer, token) = (w.issuer.clone(), unknown_kid.clone());
                async move { userinfo(&issuer, &token).await }
            })
            .collect(),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|(s, _, b)| *s == 401 && b["error"] == "invalid_token"),
        "{answers:?}"
    );
    let after_kid = store_calls(base, "signing_keys").await;
    assert!(
        after_kid - after_alg <= 5,
        "40 unknown kids read the keys {} times",
        after_kid - after_alg
    );
    // The real token still works, and nothing failed on our side.
    assert_eq!(userinfo(&w.issuer, &access).await.0, 200);
    assert!(!w.server.log_text().contains("internal error"));
}

// ---------------------------------------------------------------------------
// Refresh-token families

#[tokio::test]
async fn refresh_token_families_end_at_their_absolute_lifetime() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let issuer = server.issuer("acme");
    let max_ttl = 4;
    let client = db.client(
        "acme",
        CALLBACK,
        &[
            "--refresh-tokens",
            "always",
            "--refresh-token-max-ttl",
            "4s",
        ],
    );
    let basic = Some((client.id.as_str(), client.secret()));
    let browser = Browser::new();
    let tokens = sign_in_tokens(&browser, &issuer, &client, EMAIL, PASSWORD).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();

    // Rotation works within the lifetime...
    let (s, _, body) = token(
        &issuer,
        basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_string();
    // ...and no token of the family is stored to outlive it.
    let created = db.count("SELECT MIN(created_at) FROM grants").await;
    assert_eq!(db.count("SELECT COUNT(*) FROM refresh_tokens").await, 2);
    assert_eq!(
        db.count("SELECT MAX(expires_at) FROM refresh_tokens").await,
        created + max_ttl
    );

    // Past it, the latest token of the family is refused, clearly.
    while now() < created + max_ttl {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (s, headers, body) = token(
        &issuer,
        basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &second)],
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("maximum lifetime"),
        "{body}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(db.count("SELECT COUNT(*) FROM refresh_tokens").await, 2);

    // The admin API shows and changes the setting (seconds, or a DURATION).
    let http = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut r = http
            .request(method, format!("{}/admin/v1{path}", server.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let path = format!("/tenants/acme/clients/{}", client.id);
    let (s, c) = admin(reqwest::Method::GET, path.clone(), None).await;
    assert_eq!(
        (s, c["refresh_token_max_ttl"].as_i64()),
        (200, Some(4)),
        "{c}"
    );
    let (s, c) = admin(
        reqwest::Method::PATCH,
        path.clone(),
        Some(json!({"refresh_token_max_ttl": "30d"})),
    )
    .await;
    assert_eq!(
        (s, c["refresh_token_max_ttl"].as_i64()),
        (200, Some(30 * 86400)),
        "{c}"
    );
    let (s, c) = admin(
        reqwest::Method::PATCH,
        path.clone(),
        Some(json!({"refresh_token_max_ttl": 0})),
    )
    .await;
    assert_eq!(
        (s, c["error"].as_str()),
        (400, Some("invalid_request")),
        "{c}"
    );
    assert!(c["error_description"]
        .as_str()
        .unwrap()
        .contains("refresh_token_max_ttl"));
    let (s, c) = admin(
        reqwest::Method::POST,
        "/tenants/acme/clients".into(),
        Some(json!({"name": "B", "redirect_uris": [CALLBACK]})),
    )
    .await;
    assert_eq!(
        (s, c["refresh_token_max_ttl"].as_i64()),
        (201, Some(90 * 86400)),
        "{c}"
    );
    let doc = admin(reqwest::Method::GET, "/openapi.json".into(), None)
        .await
        .1;
    assert!(doc.to_string().contains("refresh_token_max_ttl"));

    // The CLI refuses a bad DURATION and writes nothing.
    let clients = db.count("SELECT COUNT(*) FROM clients").await;
    for bad in ["0s", "5w", "soon"] {
        let out = db.cli(
            &[
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "C",
                "--redirect-uri",
                CALLBACK,
                "--refresh-token-max-ttl",
                bad,
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--refresh-token-max-ttl"),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, clients);
}

#[tokio::test]
async fn shortening_a_clients_refresh_token_max_ttl_ends_its_existing_families() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let issuer = server.issuer("acme");
    let client = db.client("acme", CALLBACK, &["--refresh-tokens", "always"]);
    let basic = Some((client.id.as_str(), client.secret()));
    let browser = Browser::new();
    let tokens = sign_in_tokens(&browser, &issuer, &client, EMAIL, PASSWORD).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let introspect = || async {
        let r = reqwest::Client::new()
            .post(format!("{issuer}/introspect"))
            .basic_auth(&client.id, Some(client.secret()))
            .form(&[("token", &refresh)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    // The default: a 90-day family, in which the token itself slides 30 days.
    let created = db.count("SELECT MIN(created_at) FROM grants").await;
    let v = introspect().await;
    assert_eq!(v["active"], true, "{v}");
    assert!(
        v["exp"].as_i64().unwrap() >= created + 30 * 86400 - 5,
        "{v}"
    );

    let r = reqwest::Client::new()
        .patch(format!(
            "{}/admin/v1/tenants/acme/clients/{}",
            server.base, client.id
        ))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"refresh_token_max_ttl": "1s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    while now() < created + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The token stored with a 30-day expiry is past its family's end now.
    assert_eq!(introspect().await, json!({"active": false}));
    let (s, _, body) = token(
        &issuer,
        basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("maximum lifetime"));
}
