//! The admin REST API under /admin/v1 (tenants, clients, users,
//! secret rotation, OpenAPI document), its bearer token, and what deleting a
//! client or a user does to their tokens and sessions.

use crate::harness::*;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "admin-test-token-6f1e0c55a2b94d0e8c7d3b1a9f2e4c6d";

/// An HTTP client of the admin API with a bearer token.
struct Admin {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Admin {
    fn new(server: &Server, token: Option<&str>) -> Admin {
        Admin {
            http: reqwest::Client::new(),
            base: format!("{}/admin/v1", server.base),
            token: token.map(str::to_string),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path} answered {status} with no JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Answer {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

/// A database with tenant `acme` and the harness user, and a server with
/// the admin token configured.
async fn admin_world() -> (World, Admin) {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let issuer = server.issuer("acme");
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));
    (World { db, server, issuer }, admin)
}

fn assert_error(a: &Answer, status: u16, error: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"], error, "{}", a.body);
    assert!(
        a.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        a.body
    );
}

/// Every id of a list, reading it page by page with `limit`.
async fn all_pages(admin: &Admin, path: &str, limit: usize, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let url = match &after {
            None => format!("{path}?limit={limit}"),
            Some(a) => format!("{path}?limit={limit}&after={a}"),
        };
        let page = admin.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(|i| i[key].as_str().unwrap().to_string()));
        match page.body["next"].as_str() {
            Some(n) => {
                assert_eq!(items.len(), limit, "a page before the last is full");
                after = Some(n.to_string());
            }
            None => return ids,
        }
    }
    panic!("paging did not end");
}

async fn client_credentials(issuer: &str, id: &str, secret: &str) -> (u16, Value) {
    let (s, _, body) = token(
        issuer,
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    (s, body)
}

async fn userinfo(issuer: &str, access_token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn introspect(issuer: &str, caller: &TestClient, tok: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{issuer}/introspect"))
        .basic_auth(&caller.id, Some(caller.secret()))
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// Signs in through the hosted page and exchanges the code: (access, refresh).
async fn tokens_for(w: &World, browser: &Browser, client: &TestClient) -> (String, String) {
    let code = obtain_code(browser, &w.issuer, client, None, &[]).await;
    let (s, _, body) = token(
        &w.issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn refresh(w: &World, client: &TestClient, rt: &str) -> (u16, Value) {
    let (s, _, body) = token(
        &w.issuer,
        Some((&client.id, client.secret())),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    (s, body)
}

#[tokio::test]
async fn admin_api_refuses_requests_without_a_valid_admin_token() {
    let (w, admin) = admin_world().await;
    let paths = [
        ("GET", "/tenants"),
        ("POST", "/tenants"),
        ("GET", "/tenants/acme"),
        ("PATCH", "/tenants/acme"),
        ("DELETE", "/tenants/acme"),
        ("GET", "/tenants/acme/clients"),
        ("GET", "/tenants/acme/users"),
        ("DELETE", "/tenants/acme/users/x"),
        ("POST", "/tenants/acme/clients/x/secret"),
        ("GET", "/openapi.json"),
        ("GET", "/no-such-endpoint"),
    ];
    let anonymous = Admin::new(&w.server, None);
    let wrong = Admin::new(
        &w.server,
        Some("admin-test-token-6f1e0c55a2b94d0e8c7d3b1a9f2e4c6e"),
    );
    let prefix = Admin::new(&w.server, Some(&ADMIN_TOKEN[..20]));
    for (method, path) in paths {
        let m: reqwest::Method = method.parse().unwrap();
        for (who, caller) in [
            ("no token", &anonymous),
            ("wrong token", &wrong),
            ("a prefix", &prefix),
        ] {
            let a = caller
                .call(m.clone(), path, Some(json!({"id": "evil"})))
                .await;
            assert_error(&a, 401, "invalid_token");
            let challenge = a.headers["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.starts_with("Bearer"),
                "{who} {method} {path}: {challenge}"
            );
        }
    }
    // Basic credentials, or the token in the query, are not a bearer token.
    let r = reqwest::Client::new()
        .get(format!(
            "{}/admin/v1/tenants?access_token={ADMIN_TOKEN}",
            w.server.base
        ))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Nothing was written by the refused requests.
    assert_eq!(w.db.count("SELECT COUNT(*) FROM tenants").await, 2);
    assert_eq!(w.db.count("SELECT COUNT(*) FROM users").await, 1);

    // With the token: answers, never cached.
    let ok = admin.get("/tenants").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.headers["cache-control"], "no-store");
    let unknown = admin.get("/no-such-endpoint").await;
    assert_error(&unknown, 404, "not_found");
    let wrong_method = admin.call(reqwest::Method::PUT, "/tenants", None).await;
    assert_error(&wrong_method, 405, "invalid_request");
}

#[tokio::test]
async fn without_any_admin_token_the_api_is_closed_and_cli_tokens_open_it() {
    let db = Database::new();
    let server = Server::start(&db).await;
    for token in [None, Some(""), Some("anything"), Some(ADMIN_TOKEN)] {
        let a = Admin::new(&server, token).get("/tenants").await;
        assert_eq!(a.status, 401, "token {token:?}: {}", a.body);
        assert!(a.headers.contains_key("www-authenticate"));
    }
    // A token made by the CLI while the server runs works at once.
    let made = db.cli_json(&["admin-token", "create"], None);
    let token = made["token"].as_str().unwrap().to_string();
    let id = made["id"].as_str().unwrap().to_string();
    assert!(token.len() >= 43, "256-bit token: {token}");
    let admin = Admin::new(&server, Some(&token));
    let a = admin.get("/tenants").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["items"][0]["id"], "default");
    // Only its SHA-256 is stored.
    let hashes = db.query_strings("SELECT hash FROM admin_tokens").await;
    assert_eq!(hashes, vec![keygate_crypto::secrets::sha256_hex(&token)]);
    // Listed by id; revoked by id, after which it is refused.
    let listed = db.cli_json(&["admin-token", "list"], None);
    assert_eq!(listed["tokens"][0]["id"], id.as_str());
    assert!(!listed.to_string().contains(&token));
    db.cli_json(&["admin-token", "revoke", &id], None);
    assert_eq!(admin.get("/tenants").await.status, 401);
    let again = db.cli(&["admin-token", "revoke", &id], None);
    assert_eq!(again.status.code(), Some(2));
}

#[tokio::test]
async fn tenants_create_read_list_update_delete() {
    let (w, admin) = admin_world().await;
    for i in 1..=5 {
        let a = admin
            .post(
                "/tenants",
                json!({"id": format!("t{i}"), "display_name": format!("Tenant {i}")}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(
            a.headers["location"],
            format!("/admin/v1/tenants/t{i}").as_str()
        );
        assert_eq!(a.body["id"], format!("t{i}").as_str());
        assert_eq!(
            a.body["issuer"],
            format!("{}/t{i}/as", w.server.base).as_str()
        );
    }
    // Refusals: the CLI's rules, in the API's error shape; nothing written.
    assert_error(
        &admin.post("/tenants", json!({"id": "t1"})).await,
        409,
        "conflict",
    );
    assert_error(
        &admin.post("/tenants", json!({"id": "Bad_Id"})).await,
        400,
        "invalid_request",
    );
    assert_error(
        &admin
            .post(
                "/tenants",
                json!({"id": "x1", "domains": ["https://a.test/path"]}),
            )
            .await,
        400,
        "invalid_request",
    );
    assert_error(
        &admin
            .post("/tenants", json!({"id": "x2", "colour": "red"}))
            .await,
        400,
        "invalid_request",
    );
    assert_error(
        &admin
            .post("/tenants", json!({"display_name": "no id"}))
            .await,
        400,
        "invalid_request",
    );
    let raw = reqwest::Client::new()
        .post(format!("{}/admin/v1/tenants", w.server.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let raw: Value = raw.json().await.unwrap();
    assert_eq!(raw["error"], "invalid_request");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM tenants").await, 7);

    // Paging: every tenant once, in the same order whatever the page size.
    let whole = all_pages(&admin, "/tenants", 200, "id").await;
    let mut sorted = whole.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["acme", "default", "t1", "t2", "t3", "t4", "t5"]
    );
    for limit in [1, 2, 3, 7] {
        assert_eq!(
            all_pages(&admin, "/tenants", limit, "id").await,
            whole,
            "limit {limit}"
        );
    }
    for bad in ["limit=0", "limit=201", "limit=abc"] {
        assert_error(
            &admin.get(&format!("/tenants?{bad}")).await,
            400,
            "invalid_request",
        );
    }

    // Read.
    let t = admin.get("/tenants/t3").await;
    assert_eq!(t.status, 200);
    assert_eq!(t.body["display_name"], "Tenant 3");
    assert_eq!(t.body["domains"], json!([]));
    assert_error(&admin.get("/tenants/nope").await, 404, "not_found");
    assert_error(&admin.get("/tenants/Not_An_Id").await, 404, "not_found");

    // Update: a domain added through the API routes at once on this node,
    // although the Host was just looked up (and found unknown, so served as
    // the public URL).
    let http = reqwest::Client::new();
    let issuer_at = |host: &'static str| {
        let r = http
            .get(format!(
                "{}/.well-known/openid-configuration",
                w.server.base
            ))
            .header("host", host)
            .send();
        async move {
            let d: Value = r.await.unwrap().json().await.unwrap();
            d["issuer"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(issuer_at("login.t3.test").await, w.server.base);
    let u = admin
        .patch(
            "/tenants/t3",
            json!({"display_name": "Tenant Three", "domains": ["http://login.t3.test"]}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["display_name"], "Tenant Three");
    assert_eq!(u.body["domains"], json!(["http://login.t3.test"]));
    assert_eq!(issuer_at("login.t3.test").await, "http://login.t3.test");
    // A domain of another tenant is a conflict; the tenant is unchanged.
    assert_error(
        &admin
            .patch("/tenants/t4", json!({"domains": ["http://login.t3.test"]}))
            .await,
        409,
        "conflict",
    );
    assert_eq!(admin.get("/tenants/t4").await.body["domains"], json!([]));
    // Moving the domain away makes the old Host unknown at once.
    let u = admin.patch("/tenants/t3", json!({"domains": []})).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(issuer_at("login.t3.test").await, w.server.base);
    assert_error(
        &admin.patch("/tenants/nope", json!({})).await,
        404,
        "not_found",
    );

    // Delete: the tenant, its clients and users go; its issuer is gone at once.
    let client = w.db.client(
        "t5",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials,authorization_code"],
    );
    w.db.user("t5", "someone@example.com", "a long password");
    let t5 = w.server.issuer("t5");
    assert_eq!(
        client_credentials(&t5, &client.id, client.secret()).await.0,
        200
    );
    let del = admin.delete("/tenants/t5").await;
    assert_eq!(del.status, 204, "{}", del.body);
    assert_error(&admin.get("/tenants/t5").await, 404, "not_found");
    assert_error(&admin.delete("/tenants/t5").await, 404, "not_found");
    let r = reqwest::get(format!("{t5}/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM clients WHERE tenant_id = 't5'")
            .await,
        0
    );
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM users WHERE tenant_id = 't5'")
            .await,
        0
    );
    assert_error(&admin.delete("/tenants/default").await, 409, "conflict");

    // A tenant named like the API's own path segment is still served by path.
    assert_eq!(
        admin.post("/tenants", json!({"id": "admin"})).await.status,
        201
    );
    let r = reqwest::get(format!(
        "{}/admin/as/.well-known/openid-configuration",
        w.server.base
    ))
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn clients_create_read_list_update_delete() {
    let (w, admin) = admin_world().await;
    let created = admin
        .post(
            "/tenants/acme/clients",
            json!({
                "name": "Web app",
                "redirect_uris": ["http://127.0.0.1:9/callback"],
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "auth_method": "client_secret_post",
                "refresh_tokens": "always",
                "id_token_ttl": "15m",
                "access_token_ttl": 3600,
                "journeys_api": true,
                "web_origins": ["http://app.test:3000"],
                "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
                "id_token_signed_response_alg": "ES256"
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let c = &created.body;
    let id = c["client_id"].as_str().unwrap().to_string();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43);
    assert_eq!(
        created.headers["location"],
        format!("/admin/v1/tenants/acme/clients/{id}").as_str()
    );
    assert_eq!(c["auth_method"], "client_secret_post");
    assert_eq!(c["refresh_tokens"], "always");
    assert_eq!(c["id_token_ttl"], 900);
    assert_eq!(c["access_token_ttl"], 3600);
    assert_eq!(c["journeys_api"], true);
    assert_eq!(c["web_origins"], json!(["http://app.test:3000"]));
    assert_eq!(c["id_token_signed_response_alg"], "ES256");
    assert_eq!(
        w.db.query_strings(&format!(
            "SELECT secret_hash FROM clients WHERE id = '{id}'"
        ))
        .await,
        vec![keygate_crypto::secrets::sha256_hex(&secret)]
    );
    // The client works at once (client_secret_post, as registered).
    let (s, _, body) = token(
        &w.issuer,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Reading never shows the secret or its hash.
    let read = admin.get(&format!("/tenants/acme/clients/{id}")).await;
    assert_eq!(read.status, 200);
    assert!(read.body.get("client_secret").is_none());
    assert!(!read
        .body
        .to_string()
        .contains(&keygate_crypto::secrets::sha256_hex(&secret)));
    assert_eq!(read.body["name"], "Web app");

    // A public client: no secret.
    let public = admin
        .post("/tenants/acme/clients", json!({"name": "SPA", "public": true, "redirect_uris": ["http://127.0.0.1:9/callback"]}))
        .await;
    assert_eq!(public.status, 201, "{}", public.body);
    assert!(public.body.get("client_secret").is_none());
    assert_eq!(public.body["auth_method"], "none");

    // The CLI's rules and messages, field names as in JSON.
    let cases = [
        (
            json!({"name": "A", "redirect_uris": ["notauri"]}),
            "malformed",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb#frag"]}),
            "fragment",
        ),
        (json!({"name": "A"}), "redirect_uris"),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "grant_types": ["password"]}),
            "grant_types: unknown grant",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "public": true, "auth_method": "client_secret_post"}),
            "auth_method",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "public": true, "grant_types": ["client_credentials"]}),
            "client_credentials",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "id_token_ttl": "10x"}),
            "id_token_ttl",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "access_token_ttl": 0}),
            "access_token_ttl",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "web_origins": ["https://a.test/x"]}),
            "web_origins",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "id_token_signed_response_alg": "HS256"}),
            "id_token_signed_response_alg",
        ),
        (
            json!({"name": "", "redirect_uris": ["https://a.test/cb"]}),
            "name",
        ),
        (
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"], "secret": "mine"}),
            "unknown field",
        ),
    ];
    for (spec, needle) in cases {
        let a = admin.post("/tenants/acme/clients", spec.clone()).await;
        assert_error(&a, 400, "invalid_request");
        let d = a.body["error_description"].as_str().unwrap();
        assert!(d.contains(needle), "{spec}: {d:?} lacks {needle:?}");
    }
    let none = admin
        .post(
            "/tenants/nope/clients",
            json!({"name": "A", "redirect_uris": ["https://a.test/cb"]}),
        )
        .await;
    assert_error(&none, 404, "not_found");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM clients").await, 2);

    // Paging over the tenant's clients only.
    w.db.client("default", "https://elsewhere.test/cb", &[]);
    for _ in 0..3 {
        w.confidential_client(&[]);
    }
    let mut expected =
        w.db.query_strings("SELECT id FROM clients WHERE tenant_id = 'acme'")
            .await;
    expected.sort();
    assert_eq!(expected.len(), 5);
    let whole = all_pages(&admin, "/tenants/acme/clients", 200, "client_id").await;
    let mut sorted = whole.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    for limit in [1, 2, 5] {
        assert_eq!(
            all_pages(&admin, "/tenants/acme/clients", limit, "client_id").await,
            whole
        );
    }
    assert_error(&admin.get("/tenants/nope/clients").await, 404, "not_found");
    assert_error(
        &admin.get("/tenants/acme/clients/nope").await,
        404,
        "not_found",
    );
    // A client is found only under its own tenant.
    assert_error(
        &admin.get(&format!("/tenants/default/clients/{id}")).await,
        404,
        "not_found",
    );

    // Delete: gone at once, also from this node's cache.
    let del = admin
        .delete(&format!(
            "/tenants/acme/clients/{}",
            public.body["client_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(del.status, 204);
    let again = admin
        .delete(&format!(
            "/tenants/acme/clients/{}",
            public.body["client_id"].as_str().unwrap()
        ))
        .await;
    assert_error(&again, 404, "not_found");
}

#[tokio::test]
async fn client_updates_take_effect_at_once() {
    let (w, admin) = admin_world().await;
    let client = w.public_client(&[]);
    let path = format!("/tenants/acme/clients/{}", client.id);
    let browser = Browser::new();
    let (_, challenge) = pkce();

    // A redirect URI not registered: refused (and the client is now cached).
    let other = TestClient {
        redirect_uri: "http://127.0.0.1:9/other".into(),
        ..client.clone()
    };
    let page = browser
        .get(&authorize_url(&w.issuer, &other, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    let u = admin
        .patch(
            &path,
            json!({"redirect_uris": ["http://127.0.0.1:9/callback", "http://127.0.0.1:9/other"]}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["redirect_uris"].as_array().unwrap().len(), 2);
    let page = browser
        .get(&authorize_url(&w.issuer, &other, Some(&challenge), &[]))
        .await;
    assert_eq!(
        page.status, 200,
        "the new redirect URI is accepted at once: {}",
        page.body
    );

    // The Journeys API and a web origin, switched on through the API.
    let journeys = |body: Value| {
        reqwest::Client::new()
            .post(format!("{}/journeys/sign-in", w.issuer))
            .header("origin", "http://spa.test:3000")
            .json(&body)
            .send()
    };
    let sign_in = json!({
        "client_id": client.id, "redirect_uri": client.redirect_uri, "scope": "openid",
        "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256",
        "email": EMAIL, "password": PASSWORD
    });
    let r = journeys(sign_in.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let u = admin
        .patch(
            &path,
            json!({"journeys_api": true, "web_origins": ["http://spa.test:3000"]}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    let r = journeys(sign_in).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://spa.test:3000"
    );

    // Lifetimes.
    let u = admin
        .patch(
            &path,
            json!({"access_token_ttl": "10m", "refresh_tokens": "never"}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    let (verifier, challenge) = pkce();
    let code = obtain_code(&browser, &w.issuer, &client, Some(&challenge), &[]).await;
    let (s, _, body) = token(
        &w.issuer,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client.id),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["expires_in"], 600);
    assert!(body.get("refresh_token").is_none(), "{body}");

    // Bad changes are refused whole; the client stays as it was.
    let before = admin.get(&path).await.body;
    for (patch, status) in [
        (
            json!({"redirect_uris": ["http://127.0.0.1:9/x#frag"], "name": "Renamed"}),
            400,
        ),
        (json!({"redirect_uris": []}), 400),
        (json!({"grant_types": []}), 400),
        (json!({"auth_method": "client_secret_post"}), 400),
        (json!({"public": false}), 400),
        (json!({"client_id": "mine"}), 400),
        (json!({"id_token_ttl": -1}), 400),
    ] {
        let a = admin.patch(&path, patch.clone()).await;
        assert_eq!(a.status, status, "{patch}: {}", a.body);
        assert_eq!(a.body["error"], "invalid_request");
    }
    assert_eq!(admin.get(&path).await.body, before);
    assert_error(
        &admin
            .patch("/tenants/acme/clients/nope", json!({"name": "x"}))
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn rotating_a_client_secret_retires_the_old_one_at_once() {
    let (w, admin) = admin_world().await;
    let client = w.confidential_client(&["--grant", "client_credentials"]);
    assert_eq!(
        client_credentials(&w.issuer, &client.id, client.secret())
            .await
            .0,
        200
    );
    let r = admin
        .post(
            &format!("/tenants/acme/clients/{}/secret", client.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["client_id"], client.id.as_str());
    let new_secret = r.body["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, client.secret());
    let (s, body) = client_credentials(&w.issuer, &client.id, client.secret()).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (s, body) = client_credentials(&w.issuer, &client.id, new_secret).await;
    assert_eq!(s, 200, "{body}");
    // A public client has no secret to rotate; an unknown one is not found.
    let public = w.public_client(&[]);
    assert_error(
        &admin
            .post(
                &format!("/tenants/acme/clients/{}/secret", public.id),
                json!({}),
            )
            .await,
        409,
        "conflict",
    );
    assert_error(
        &admin
            .post("/tenants/acme/clients/nope/secret", json!({}))
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn deleting_a_client_revokes_its_tokens() {
    let (w, admin) = admin_world().await;
    let client = w.confidential_client(&[
        "--grant",
        "authorization_code,refresh_token,client_credentials",
    ]);
    let resource = w.confidential_client(&["--grant", "client_credentials"]);
    let browser = Browser::new();
    let (access, refresh_token) = tokens_for(&w, &browser, &client).await;
    let (_, cc) = client_credentials(&w.issuer, &client.id, client.secret()).await;
    let cc_access = cc["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&w.issuer, &access).await, 200);
    // Introspection tells only the tokens' own client that they are active.
    for t in [&access, &refresh_token, &cc_access] {
        assert_eq!(introspect(&w.issuer, &client, t).await["active"], true);
        assert_eq!(introspect(&w.issuer, &resource, t).await["active"], false);
    }

    let del = admin
        .delete(&format!("/tenants/acme/clients/{}", client.id))
        .await;
    assert_eq!(del.status, 204, "{}", del.body);

    // At once, on this node: every token of the client stops working.
    assert_eq!(userinfo(&w.issuer, &access).await, 401);
    for t in [&access, &refresh_token, &cc_access] {
        assert_eq!(introspect(&w.issuer, &resource, t).await["active"], false);
    }
    let (s, body) = refresh(&w, &client, &refresh_token).await;
    assert!(
        (s == 401 && body["error"] == "invalid_client")
            || (s == 400 && body["error"] == "invalid_grant"),
        "{s} {body}"
    );
    assert_eq!(
        client_credentials(&w.issuer, &client.id, client.secret())
            .await
            .0,
        401
    );
    // Its grants are revoked in the store (so no other node honours them either).
    assert_eq!(
        w.db.count(&format!(
            "SELECT COUNT(*) FROM grants WHERE client_id = '{}' AND revoked_at IS NULL",
            client.id
        ))
        .await,
        0
    );
    assert!(
        w.db.count(&format!(
            "SELECT COUNT(*) FROM grants WHERE client_id = '{}'",
            client.id
        ))
        .await
            >= 1
    );
    // The other client is untouched.
    assert_eq!(
        client_credentials(&w.issuer, &resource.id, resource.secret())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn users_create_read_list_update_delete() {
    let (w, admin) = admin_world().await;
    let created = admin
        .post(
            "/tenants/acme/users",
            json!({"email": "Bea@Example.com", "password": "a long password", "name": "Bea"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let sub = created.body["sub"].as_str().unwrap().to_string();
    assert_eq!(created.body["email"], "bea@example.com");
    assert_eq!(created.body["email_verified"], false);
    assert!(created.body.get("password").is_none() && created.body.get("password_hash").is_none());
    assert_eq!(
        created.headers["location"],
        format!("/admin/v1/tenants/acme/users/{sub}").as_str()
    );
    let pw =
        w.db.query_strings(&format!(
            "SELECT password_hash FROM users WHERE sub = '{sub}'"
        ))
        .await;
    assert!(pw[0].starts_with("$argon2id$"));

    for (spec, status, error, needle) in [
        (
            json!({"email": "BEA@example.com", "password": "another password"}),
            409,
            "conflict",
            "already registered",
        ),
        (
            json!({"email": "not-an-email", "password": "another password"}),
            400,
            "invalid_request",
            "e-mail",
        ),
        (
            json!({"email": "new@example.com", "password": "short"}),
            400,
            "invalid_request",
            "at least 8",
        ),
        (
            json!({"email": "new@example.com"}),
            400,
            "invalid_request",
            "password",
        ),
        (
            json!({"email": "new@example.com", "password": "long enough", "role": "admin"}),
            400,
            "invalid_request",
            "unknown field",
        ),
    ] {
        let a = admin.post("/tenants/acme/users", spec.clone()).await;
        assert_error(&a, status, error);
        let d = a.body["error_description"].as_str().unwrap();
        assert!(d.contains(needle), "{spec}: {d:?} lacks {needle:?}");
    }
    assert_error(
        &admin
            .post(
                "/tenants/nope/users",
                json!({"email": "new@example.com", "password": "long enough"}),
            )
            .await,
        404,
        "not_found",
    );
    assert_eq!(w.db.count("SELECT COUNT(*) FROM users").await, 2);

    // Paging and the e-mail filter.
    for i in 0..4 {
        let a = admin
            .post("/tenants/acme/users", json!({"email": format!("u{i}@example.com"), "password": "long enough", "email_verified": true}))
            .await;
        assert_eq!(a.status, 201);
        assert_eq!(a.body["email_verified"], true);
    }
    w.db.user("default", "elsewhere@example.com", "long enough");
    let mut expected =
        w.db.query_strings("SELECT sub FROM users WHERE tenant_id = 'acme'")
            .await;
    expected.sort();
    assert_eq!(expected.len(), 6);
    let whole = all_pages(&admin, "/tenants/acme/users", 50, "sub").await;
    let mut sorted = whole.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    for limit in [1, 4, 6] {
        assert_eq!(
            all_pages(&admin, "/tenants/acme/users", limit, "sub").await,
            whole
        );
    }
    let found = admin
        .get("/tenants/acme/users?email=BEA%40example.com")
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["items"][0]["sub"], sub.as_str());
    let none = admin
        .get("/tenants/acme/users?email=nobody%40example.com")
        .await;
    assert_eq!(none.body["items"], json!([]));

    // Read and update.
    let path = format!("/tenants/acme/users/{sub}");
    assert_eq!(admin.get(&path).await.body["name"], "Bea");
    assert_error(
        &admin.get("/tenants/acme/users/nope").await,
        404,
        "not_found",
    );
    assert_error(
        &admin.get(&format!("/tenants/default/users/{sub}")).await,
        404,
        "not_found",
    );
    let u = admin
        .patch(
            &path,
            json!({"name": "Beatrice", "email_verified": true, "password": "a brand new password"}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["name"], "Beatrice");
    assert_eq!(u.body["email_verified"], true);
    assert_error(
        &admin.patch(&path, json!({"email": "u0@example.com"})).await,
        409,
        "conflict",
    );
    assert_error(
        &admin.patch(&path, json!({"password": "short"})).await,
        400,
        "invalid_request",
    );
    assert_error(
        &admin
            .patch("/tenants/acme/users/nope", json!({"name": "x"}))
            .await,
        404,
        "not_found",
    );
    // The new password signs in on the hosted page; the old one does not.
    let client = w.public_client(&[]);
    let (_, challenge) = pkce();
    for (password, signs_in) in [("a long password", false), ("a brand new password", true)] {
        let browser = Browser::new();
        let page = browser
            .get(&authorize_url(&w.issuer, &client, Some(&challenge), &[]))
            .await;
        let done = browser
            .submit(
                &page,
                &[("email", "bea@example.com"), ("password", password)],
            )
            .await;
        assert_eq!(done.status == 303, signs_in, "{password}: {}", done.body);
        assert_eq!(done.location().is_some(), signs_in);
    }
    // The e-mail changes.
    let u = admin
        .patch(&path, json!({"email": "Beatrice@Example.com"}))
        .await;
    assert_eq!(u.status, 200);
    assert_eq!(u.body["email"], "beatrice@example.com");
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions_and_tokens() {
    let (w, admin) = admin_world().await;
    let client = w.confidential_client(&[]);
    let browser = Browser::new();
    let (access, refresh_token) = tokens_for(&w, &browser, &client).await;
    // The session signs in silently.
    let page = browser
        .get(&authorize_url(&w.issuer, &client, None, &[]))
        .await;
    assert_eq!(
        page.status, 303,
        "the session signs in silently: {}",
        page.body
    );
    assert_eq!(userinfo(&w.issuer, &access).await, 200);
    let sub = claims(&access)["sub"].as_str().unwrap().to_string();
    assert!(w.db.count("SELECT COUNT(*) FROM sessions").await >= 1);

    let del = admin.delete(&format!("/tenants/acme/users/{sub}")).await;
    assert_eq!(del.status, 204, "{}", del.body);
    assert_error(
        &admin.get(&format!("/tenants/acme/users/{sub}")).await,
        404,
        "not_found",
    );
    assert_error(
        &admin.delete(&format!("/tenants/acme/users/{sub}")).await,
        404,
        "not_found",
    );

    // The browser's session no longer signs in: the sign-in page is shown.
    let page = browser
        .get(&authorize_url(&w.issuer, &client, None, &[]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("name=\"password\""));
    assert_eq!(
        w.db.count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE user_sub = '{sub}'"
        ))
        .await,
        0
    );
    // Their tokens stop working.
    assert_eq!(userinfo(&w.issuer, &access).await, 401);
    assert_eq!(
        introspect(&w.issuer, &client, &access).await["active"],
        false
    );
    assert_eq!(
        introspect(&w.issuer, &client, &refresh_token).await["active"],
        false
    );
    let (s, body) = refresh(&w, &client, &refresh_token).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // And the password no longer signs in.
    let fresh = Browser::new();
    let page = fresh
        .get(&authorize_url(&w.issuer, &client, None, &[]))
        .await;
    let done = fresh
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_ne!(done.status, 303, "{}", done.body);
    assert!(done.location().is_none());
    assert!(done.body.contains("incorrect"), "{}", done.body);
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let (w, admin) = admin_world().await;
    let a = admin.get("/openapi.json").await;
    assert_eq!(a.status, 200);
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc = &a.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].as_str().is_some());
    let expected: [(&str, &[&str]); 8] = [
        ("/admin/v1/tenants", &["get", "post"]),
        ("/admin/v1/tenants/{tenant}", &["get", "patch", "delete"]),
        ("/admin/v1/tenants/{tenant}/clients", &["get", "post"]),
        (
            "/admin/v1/tenants/{tenant}/clients/{client_id}",
            &["get", "patch", "delete"],
        ),
        (
            "/admin/v1/tenants/{tenant}/clients/{client_id}/secret",
            &["post"],
        ),
        ("/admin/v1/tenants/{tenant}/users", &["get", "post"]),
        (
            "/admin/v1/tenants/{tenant}/users/{sub}",
            &["get", "patch", "delete"],
        ),
        ("/admin/v1/openapi.json", &["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        expected.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, methods) in expected {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        for m in methods {
            let op = &item[*m];
            assert!(op.is_object(), "{m} {path} missing");
            assert!(op["responses"]["401"].is_object(), "{m} {path}: no 401");
        }
    }
    // Operation ids are unique (client generators name methods after them).
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "{ids:?}");
    assert_eq!(n, 17);
    // Request and response shapes come from the code.
    let schemas = &doc["components"]["schemas"];
    for name in [
        "NewClient",
        "ClientPatch",
        "ClientView",
        "NewTenant",
        "NewUser",
        "UserView",
        "ErrorBody",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    assert!(schemas["NewClient"]["properties"]["journeys_api"].is_object());
    assert!(schemas["NewClient"]["properties"]["web_origins"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
    // The paths it names are the ones served.
    assert_eq!(admin.get("/tenants/acme/clients").await.status, 200);
    drop(w);
}

#[tokio::test]
async fn a_new_password_or_email_or_disabling_ends_sessions_and_grants() {
    let (w, admin) = admin_world().await;
    let client = w.confidential_client(&[]);
    let sub = {
        let (access, _) = tokens_for(&w, &Browser::new(), &client).await;
        claims(&access)["sub"].as_str().unwrap().to_string()
    };
    let path = format!("/tenants/acme/users/{sub}");
    // A change of name leaves everything as it was.
    let browser = Browser::new();
    let (access, rt) = tokens_for(&w, &browser, &client).await;
    let a = admin.patch(&path, json!({"name": "Ann B."})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(userinfo(&w.issuer, &access).await, 200);
    let (s, body) = refresh(&w, &client, &rt).await;
    assert_eq!(s, 200, "{body}");

    let mut email = EMAIL.to_string();
    let mut password = PASSWORD.to_string();
    for (change, patch) in [
        ("password", json!({"password": "a brand new password"})),
        ("email", json!({"email": "ann.new@example.com"})),
        ("disabled", json!({"disabled": true})),
    ] {
        let browser = Browser::new();
        let code = obtain_code_as(&browser, &w, &client, &email, &password).await;
        let (access, rt) = exchange(&w, &client, &code).await;
        assert_eq!(userinfo(&w.issuer, &access).await, 200, "{change}");
        let a = admin.patch(&path, patch.clone()).await;
        assert_eq!(a.status, 200, "{change}: {}", a.body);
        if change == "password" {
            password = "a brand new password".into();
        }
        if change == "email" {
            email = "ann.new@example.com".into();
        }
        assert_eq!(
            w.db.count(&format!(
                "SELECT COUNT(*) FROM sessions WHERE user_sub = '{sub}'"
            ))
            .await,
            0,
            "{change}: sessions end"
        );
        assert_eq!(
            userinfo(&w.issuer, &access).await,
            401,
            "{change}: access token"
        );
        let (s, body) = refresh(&w, &client, &rt).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{change}: refresh token: {body}"
        );
        let page = browser
            .get(&authorize_url(&w.issuer, &client, None, &[]))
            .await;
        assert_eq!(page.status, 200, "{change}: the session no longer signs in");
    }
    // A disabled person cannot sign in, even with the right password.
    assert_eq!(admin.get(&path).await.body["disabled"], true);
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&w.issuer, &client, None, &[]))
        .await;
    let done = browser
        .submit(
            &page,
            &[("email", email.as_str()), ("password", password.as_str())],
        )
        .await;
    assert_eq!(done.status, 403, "{}", done.body);
    assert!(done.body.contains("disabled"), "{}", done.body);
    // Enabled again, they can.
    let a = admin.patch(&path, json!({"disabled": false})).await;
    assert_eq!(a.body["disabled"], false);
    let code = obtain_code_as(&Browser::new(), &w, &client, &email, &password).await;
    exchange(&w, &client, &code).await;
}

async fn obtain_code_as(
    browser: &Browser,
    w: &World,
    client: &TestClient,
    email: &str,
    password: &str,
) -> String {
    let page = browser
        .get(&authorize_url(&w.issuer, client, None, &[]))
        .await;
    let done = browser
        .submit(&page, &[("email", email), ("password", password)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    done.redirect_params()["code"].clone()
}

async fn exchange(w: &World, client: &TestClient, code: &str) -> (String, String) {
    let (s, _, body) = token(
        &w.issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}
