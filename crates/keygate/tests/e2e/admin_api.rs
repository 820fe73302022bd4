//! The admin API's bearer tokens, its tenants and its OpenAPI document.

use crate::admin_helpers::*;
use crate::harness::*;
use serde_json::{json, Value};

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
        ("GET", "/tenants/acme/users/x/factors"),
        ("DELETE", "/tenants/acme/users/x/factors"),
        ("DELETE", "/tenants/acme/users/x/factors/y"),
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
    let expected: [(&str, &[&str]); 22] = [
        ("/admin/v1/events", &["get"]),
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
        ("/admin/v1/tenants/{tenant}/apis", &["get", "post"]),
        (
            "/admin/v1/tenants/{tenant}/apis/{identifier}",
            &["get", "patch", "delete"],
        ),
        (
            "/admin/v1/tenants/{tenant}/clients/{client_id}/grants",
            &["get", "put"],
        ),
        (
            "/admin/v1/tenants/{tenant}/clients/{client_id}/grants/{identifier}",
            &["delete"],
        ),
        (
            "/admin/v1/tenants/{tenant}/users/{sub}/factors",
            &["get", "delete"],
        ),
        (
            "/admin/v1/tenants/{tenant}/users/{sub}/factors/{id}",
            &["delete"],
        ),
        ("/admin/v1/tenants/{tenant}/users/{sub}/consents", &["get"]),
        (
            "/admin/v1/tenants/{tenant}/users/{sub}/consents/{client_id}",
            &["delete"],
        ),
        ("/admin/v1/tenants/{tenant}/idps", &["get", "post"]),
        (
            "/admin/v1/tenants/{tenant}/idps/{id}",
            &["get", "patch", "delete"],
        ),
        ("/admin/v1/tenants/{tenant}/webhooks", &["get", "post"]),
        (
            "/admin/v1/tenants/{tenant}/webhooks/{id}",
            &["get", "delete"],
        ),
        (
            "/admin/v1/tenants/{tenant}/webhooks/{id}/deliveries",
            &["get"],
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
    assert_eq!(n, 41);
    // Request and response shapes come from the code.
    let schemas = &doc["components"]["schemas"];
    for name in [
        "NewClient",
        "ClientPatch",
        "ClientView",
        "NewTenant",
        "NewUser",
        "UserView",
        "FactorList",
        "FactorView",
        "NewIdp",
        "IdpPatch",
        "IdpView",
        "NewWebhook",
        "WebhookView",
        "CreatedWebhook",
        "DeliveryList",
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
