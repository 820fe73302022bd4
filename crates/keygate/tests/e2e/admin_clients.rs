//! Clients through the admin API: their settings, changes that take effect at
//! once, secret rotation, and what deleting one does to its tokens.

use crate::admin_helpers::*;
use crate::harness::*;
use serde_json::{json, Value};

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
