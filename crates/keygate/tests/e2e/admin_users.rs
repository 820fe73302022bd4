//! People through the admin API, and the changes that end their sessions and
//! revoke their grants: deletion, a new password or e-mail address, disabling.

use crate::admin_helpers::*;
use crate::harness::*;
use serde_json::json;

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
