//! The CLI covers what the admin API does: `keygate tenant|client|user
//! list|show|update|delete` print the admin API's views of the same records,
//! refuse what the API refuses (exit 2, nothing written) and change what the
//! server then does, as the API's changes do. A running server sees a change
//! made by the CLI within its cache lifetime (5 seconds).

use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "cli-admin-test-token-0d9c1b7e54a34f2c8e6b2a1d3c5e7f90";

/// The admin API's answer to a GET: (status, body).
async fn api_get(server: &Server, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}/admin/v1{path}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The admin API's 200 answer to a GET.
async fn api(server: &Server, path: &str) -> Value {
    let (s, body) = api_get(server, path).await;
    assert_eq!(s, 200, "{path}: {body}");
    body
}

async fn api_post(server: &Server, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/admin/v1{path}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    r.json().await.unwrap()
}

/// Runs a command that must be refused: exit 2, nothing on stdout, a
/// message on stderr containing `says`.
fn refused(db: &Database, args: &[&str], stdin: Option<&str>, says: &str) {
    let out = db.cli(args, stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    assert!(err.contains(says), "{args:?}: {err}");
}

/// Waits (at most 8 s: the server caches records for 5 s) until `check`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(8);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not seen within 8 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A database with tenants `acme` (one domain) and `beta`, the harness
/// user, and a server with the admin token.
async fn cli_world() -> (World, String) {
    let db = Database::new();
    db.tenant("acme", &["https://login.acme.test"]);
    db.tenant("beta", &[]);
    let sub = db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let issuer = server.issuer("acme");
    (World { db, server, issuer }, sub)
}

/// The token endpoint's error for a refresh, or "ok".
async fn refresh(w: &World, client: &TestClient, rt: &str) -> String {
    let (s, _, body) = token(
        &w.issuer,
        Some((&client.id, client.secret())),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    match s {
        200 => "ok".into(),
        _ => body["error"].as_str().unwrap_or("?").to_string(),
    }
}

#[tokio::test]
async fn cli_admin_list_and_show_print_what_the_admin_api_answers() {
    let (w, sub) = cli_world().await;
    let (db, server) = (&w.db, &w.server);
    let public_url = server.base.as_str();
    let rated =
        w.confidential_client(&["--token-rate-limit", "9", "--web-origin", "https://a.test"]);
    w.public_client(&[]);
    db.user("acme", "bob@example.com", PASSWORD);
    // More clients than one page of the API holds (200), made through it.
    for i in 0..201 {
        api_post(
            server,
            "/tenants/beta/clients",
            json!({"name": format!("App {i}"), "redirect_uris": ["https://b.test/cb"]}),
        )
        .await;
    }

    let tenants = db.cli_json(&["tenant", "list", "--public-url", public_url], None);
    assert_eq!(tenants["items"], api(server, "/tenants").await["items"]);
    assert_eq!(tenants["items"].as_array().unwrap().len(), 3);
    for id in ["acme", "beta", "default"] {
        assert_eq!(
            db.cli_json(&["tenant", "show", id, "--public-url", public_url], None),
            api(server, &format!("/tenants/{id}")).await
        );
    }

    let clients = db.cli_json(&["client", "list", "--tenant", "acme"], None);
    assert_eq!(
        clients["items"],
        api(server, "/tenants/acme/clients").await["items"]
    );
    assert_eq!(clients["items"].as_array().unwrap().len(), 2);
    let shown = db.cli_json(&["client", "show", "--tenant", "acme", &rated.id], None);
    assert_eq!(
        shown,
        api(server, &format!("/tenants/acme/clients/{}", rated.id)).await
    );
    assert_eq!(shown["token_rate_limit"], 9);
    assert!(shown.get("client_secret").is_none(), "no secret: {shown}");
    // Every page: the CLI's one list is the API's pages end to end.
    let all = db.cli_json(&["client", "list", "--tenant", "beta"], None);
    let all = all["items"].as_array().unwrap();
    assert_eq!(all.len(), 201);
    let first = api(server, "/tenants/beta/clients?limit=200").await;
    let next = first["next"].as_str().unwrap();
    let second = api(
        server,
        &format!("/tenants/beta/clients?limit=200&after={next}"),
    )
    .await;
    let api_all: Vec<Value> = [first["items"].clone(), second["items"].clone()]
        .iter()
        .flat_map(|p| p.as_array().unwrap().clone())
        .collect();
    assert_eq!(*all, api_all);

    let users = db.cli_json(&["user", "list", "--tenant", "acme"], None);
    assert_eq!(
        users["items"],
        api(server, "/tenants/acme/users").await["items"]
    );
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
    let by_email = db.cli_json(
        &[
            "user",
            "list",
            "--tenant",
            "acme",
            "--email",
            "ANN@example.com",
        ],
        None,
    );
    assert_eq!(
        by_email["items"],
        api(server, "/tenants/acme/users?email=ANN@example.com").await["items"]
    );
    assert_eq!(by_email["items"][0]["sub"], sub.as_str());
    let none = db.cli_json(
        &[
            "user",
            "list",
            "--tenant",
            "acme",
            "--email",
            "nobody@example.com",
        ],
        None,
    );
    assert_eq!(none, json!({"items": []}));
    let shown = db.cli_json(&["user", "show", "--tenant", "acme", &sub], None);
    assert_eq!(
        shown,
        api(server, &format!("/tenants/acme/users/{sub}")).await
    );
    // INTERFACE.md spells the subject as a flag too.
    assert_eq!(
        db.cli_json(&["user", "show", "--tenant", "acme", "--sub", &sub], None),
        shown
    );

    // Unknown ids: exit 2, "does not exist", as the API's 404.
    refused(
        db,
        &["tenant", "show", "nope"],
        None,
        "tenant 'nope' does not exist",
    );
    refused(
        db,
        &["client", "list", "--tenant", "nope"],
        None,
        "does not exist",
    );
    refused(
        db,
        &["client", "show", "--tenant", "acme", "nope"],
        None,
        "client 'nope' does not exist",
    );
    refused(
        db,
        &["client", "show", "--tenant", "nope", &rated.id],
        None,
        "tenant 'nope' does not exist",
    );
    refused(
        db,
        &["user", "list", "--tenant", "nope"],
        None,
        "does not exist",
    );
    refused(
        db,
        &["user", "show", "--tenant", "acme", "nope"],
        None,
        "user 'nope' does not exist",
    );
    refused(
        db,
        &["user", "show", "--tenant", "beta", &sub],
        None,
        "does not exist",
    );
    assert_eq!(api_get(server, "/tenants/acme/users/nope").await.0, 404);
}

#[tokio::test]
async fn cli_admin_updates_change_what_the_server_does() {
    let (w, _) = cli_world().await;
    let (db, server) = (&w.db, &w.server);
    let public_url = server.base.as_str();
    let client = w.public_client(&[]);
    let show = || db.cli_json(&["client", "show", "--tenant", "acme", &client.id], None);

    // A redirect URI not registered is refused (and the client is now cached).
    let other = TestClient {
        redirect_uri: "http://127.0.0.1:9/other".into(),
        ..client.clone()
    };
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let url = authorize_url(&w.issuer, &other, Some(&challenge), &[]);
    assert_eq!(browser.get(&url).await.status, 400);
    let updated = db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &client.id,
            "--redirect-uri",
            "http://127.0.0.1:9/callback",
            "--redirect-uri",
            "http://127.0.0.1:9/other",
            "--journeys-api",
            "--token-rate-limit",
            "off",
        ],
        None,
    );
    assert_eq!(
        updated["redirect_uris"],
        json!(["http://127.0.0.1:9/callback", "http://127.0.0.1:9/other"])
    );
    assert_eq!(
        (&updated["journeys_api"], &updated["token_rate_limit"]),
        (&json!(true), &json!(0))
    );
    assert_eq!(updated, show());
    assert_eq!(
        updated,
        api(server, &format!("/tenants/acme/clients/{}", client.id)).await
    );
    eventually("the new redirect URI at /authorize", || async {
        browser.get(&url).await.status == 200
    })
    .await;
    // `default` clears the setting: the view drops the field, as the API's.
    let updated = db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &client.id,
            "--token-rate-limit",
            "default",
            "--journeys-api",
            "false",
        ],
        None,
    );
    assert!(updated.get("token_rate_limit").is_none(), "{updated}");
    assert_eq!(updated["journeys_api"], false);

    // Refused changes: exit 2, the client and the table as they were.
    let before = show();
    let count = || db.count("SELECT COUNT(*) FROM clients");
    let n = count().await;
    let id = client.id.as_str();
    for (args, says) in [
        (
            vec![
                "--redirect-uri",
                "http://127.0.0.1:9/x#frag",
                "--name",
                "Renamed",
            ],
            "--redirect-uri",
        ),
        (
            vec!["--grant", "client_credentials"],
            "--grant: public clients cannot use client_credentials",
        ),
        (vec!["--auth-method", "client_secret_post"], "--auth-method"),
        (vec!["--id-token-ttl", "10x"], "--id-token-ttl"),
        (vec!["--pkce", "none"], "--pkce"),
        (vec!["--token-rate-limit", "fast"], "not a rate"),
        (vec!["--public"], "--public"),
        (vec![], "required"),
    ] {
        let mut all = vec!["client", "update", "--tenant", "acme", id];
        all.extend(args);
        refused(db, &all, None, says);
    }
    refused(
        db,
        &[
            "client", "update", "--tenant", "acme", "nope", "--name", "X",
        ],
        None,
        "does not exist",
    );
    assert_eq!(show(), before);
    assert_eq!(count().await, n);

    // Tenants: name, rate limit and domains; the domain then routes.
    let tenant = |args: &[&str]| {
        let mut all = vec!["tenant", "update", "acme", "--public-url", public_url];
        all.extend(args);
        db.cli_json(&all, None)
    };
    let t = tenant(&[
        "--display-name",
        "Acme Inc",
        "--token-rate-limit",
        "7",
        "--domain",
        "http://login.acme.test",
    ]);
    assert_eq!(t, api(server, "/tenants/acme").await);
    assert_eq!(
        (&t["display_name"], &t["token_rate_limit"], &t["domains"]),
        (
            &json!("Acme Inc"),
            &json!(7),
            &json!(["http://login.acme.test"])
        )
    );
    let http = reqwest::Client::new();
    eventually("the new domain routes to the tenant", || async {
        let r = http
            .get(format!("{}/.well-known/openid-configuration", server.base))
            .header("host", "login.acme.test")
            .send()
            .await
            .unwrap();
        let d: Value = r.json().await.unwrap();
        d["issuer"] == "http://login.acme.test"
    })
    .await;
    let t = tenant(&["--token-rate-limit", "default"]);
    assert!(t.get("token_rate_limit").is_none(), "{t}");
    assert_eq!(t["display_name"], "Acme Inc");
    // A domain of another tenant, a bad origin, a bad name: refused whole.
    let before = db.cli_json(&["tenant", "show", "beta"], None);
    let n = db.count("SELECT COUNT(*) FROM tenant_domains").await;
    for (args, says) in [
        (
            vec!["--domain", "http://login.acme.test", "--display-name", "B"],
            "login.acme.test",
        ),
        (vec!["--domain", "ftp://x.test"], "--domain"),
        (vec!["--display-name", ""], "--display-name"),
        (
            vec!["--domain", "https://b.test", "--no-domains"],
            "cannot be used",
        ),
    ] {
        let mut all = vec!["tenant", "update", "beta"];
        all.extend(args);
        refused(db, &all, None, says);
    }
    refused(
        db,
        &["tenant", "update", "nope", "--display-name", "X"],
        None,
        "does not exist",
    );
    assert_eq!(db.cli_json(&["tenant", "show", "beta"], None), before);
    assert_eq!(db.count("SELECT COUNT(*) FROM tenant_domains").await, n);
    let t = tenant(&["--no-domains"]);
    assert_eq!(t["domains"], json!([]));
}

#[tokio::test]
async fn cli_admin_user_changes_and_deletes_end_sessions_as_the_api_does() {
    let (w, sub) = cli_world().await;
    let db = &w.db;
    db.user("acme", "bob@example.com", PASSWORD);
    let client = w.confidential_client(&[]);
    let show = || db.cli_json(&["user", "show", "--tenant", "acme", &sub], None);
    let update_args = |args: &[&'static str]| {
        let mut all = vec!["user", "update", "--tenant", "acme", sub.as_str()];
        all.extend(args);
        all
    };
    let update =
        |args: &[&'static str], stdin: Option<&str>| db.cli_json(&update_args(args), stdin);
    let sessions_sql = format!("SELECT COUNT(*) FROM sessions WHERE user_sub = '{sub}'");
    let sessions = || db.count(&sessions_sql);
    let (mut email, mut password) = (EMAIL, PASSWORD);

    // A refused change ends nothing and writes nothing.
    let (_, rt) = tokens_with(&w, &client, email, password).await;
    let before = show();
    for (args, stdin, says) in [
        (
            vec!["--password-stdin"],
            Some("short\n"),
            "the password must be at least 8",
        ),
        (vec!["--email", "not-an-address"], None, "--email"),
        (
            vec!["--email", "BOB@example.com"],
            None,
            "already registered",
        ),
        (vec!["--name", "Ann", "--disabled", "maybe"], None, "maybe"),
        (vec![], None, "required"),
    ] {
        refused(db, &update_args(&args), stdin, says);
    }
    refused(
        db,
        &["user", "update", "--tenant", "acme", "nope", "--name", "X"],
        None,
        "does not exist",
    );
    assert_eq!(show(), before);
    assert_eq!(sessions().await, 1);
    assert_eq!(refresh(&w, &client, &rt).await, "ok");

    // A name or verification: nothing ends; the API shows the same user.
    let (_, rt) = tokens_with(&w, &client, email, password).await;
    let u = update(&["--name", "Ann B.", "--email-verified", "true"], None);
    assert_eq!(
        (&u["name"], &u["email_verified"]),
        (&json!("Ann B."), &json!(true))
    );
    assert_eq!(
        u,
        api(&w.server, &format!("/tenants/acme/users/{sub}")).await
    );
    assert_eq!(refresh(&w, &client, &rt).await, "ok");

    // A new password, a new e-mail address, disabling: sessions end, grants
    // are revoked; the new credentials sign in.
    for (change, args, stdin) in [
        (
            "password",
            vec!["--password-stdin"],
            Some("a brand new password\n"),
        ),
        ("email", vec!["--email", "Ann.New@example.com"], None),
        ("disabled", vec!["--disabled", "true"], None),
    ] {
        let (_, rt) = tokens_with(&w, &client, email, password).await;
        let u = update(&args, stdin);
        assert_eq!(u, show(), "{change}");
        assert_eq!(sessions().await, 0, "{change}");
        assert_eq!(refresh(&w, &client, &rt).await, "invalid_grant", "{change}");
        match change {
            "password" => password = "a brand new password",
            "email" => {
                assert_eq!(u["email"], "ann.new@example.com");
                email = "ann.new@example.com";
            }
            _ => assert_eq!(u["disabled"], true),
        }
    }
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&w.issuer, &client, None, &[]))
        .await;
    let done = browser
        .submit(&page, &[("email", email), ("password", password)])
        .await;
    assert_eq!(done.status, 403, "disabled: {}", done.body);
    assert_eq!(update(&["--disabled", "false"], None)["disabled"], false);

    // Deleting the client revokes its grants.
    let (_, rt) = tokens_with(&w, &client, email, password).await;
    let other = w.confidential_client(&[]);
    let (_, other_rt) = tokens_with(&w, &other, email, password).await;
    let d = db.cli_json(&["client", "delete", "--tenant", "acme", &client.id], None);
    assert_eq!(
        d,
        json!({"client_id": client.id, "tenant_id": "acme", "deleted": true})
    );
    assert_ne!(refresh(&w, &client, &rt).await, "ok");
    refused(
        db,
        &["client", "show", "--tenant", "acme", &client.id],
        None,
        "does not exist",
    );
    refused(
        db,
        &["client", "delete", "--tenant", "acme", &client.id],
        None,
        "does not exist",
    );
    let (s, _) = api_get(&w.server, &format!("/tenants/acme/clients/{}", client.id)).await;
    assert_eq!(s, 404);

    // Deleting the user ends their sessions and revokes their grants.
    assert_eq!(refresh(&w, &other, &other_rt).await, "ok");
    let (_, other_rt) = tokens_with(&w, &other, email, password).await;
    let d = db.cli_json(&["user", "delete", "--tenant", "acme", &sub], None);
    assert_eq!(d, json!({"sub": sub, "tenant_id": "acme", "deleted": true}));
    assert_eq!(sessions().await, 0);
    assert_eq!(refresh(&w, &other, &other_rt).await, "invalid_grant");
    refused(
        db,
        &["user", "show", "--tenant", "acme", &sub],
        None,
        "does not exist",
    );
    refused(
        db,
        &["user", "delete", "--tenant", "acme", &sub],
        None,
        "does not exist",
    );
    assert_eq!(
        api_get(&w.server, &format!("/tenants/acme/users/{sub}"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn cli_admin_rotate_secret_prints_the_new_secret_once() {
    let (w, _) = cli_world().await;
    let db = &w.db;
    let client = w.confidential_client(&["--grant", "client_credentials"]);
    let cc = |secret: String| {
        let (issuer, id) = (w.issuer.clone(), client.id.clone());
        async move {
            token(
                &issuer,
                Some((&id, &secret)),
                &[("grant_type", "client_credentials")],
            )
            .await
            .0
        }
    };
    assert_eq!(cc(client.secret().to_string()).await, 200);
    let r = db.cli_json(
        &["client", "rotate-secret", "--tenant", "acme", &client.id],
        None,
    );
    let secret = r["client_secret"].as_str().unwrap().to_string();
    assert_eq!(r, json!({"client_id": client.id, "client_secret": secret}));
    let shown = db.cli_json(&["client", "show", "--tenant", "acme", &client.id], None);
    assert!(!shown.to_string().contains(&secret));
    eventually("the new secret works and the old one not", || async {
        cc(secret.clone()).await == 200 && cc(client.secret().to_string()).await == 401
    })
    .await;
    let public = w.public_client(&[]);
    refused(
        db,
        &["client", "rotate-secret", "--tenant", "acme", &public.id],
        None,
        "public client",
    );
}

/// Signs in as `email` through the hosted page and exchanges the code:
/// (access token, refresh token).
async fn tokens_with(
    w: &World,
    client: &TestClient,
    email: &str,
    password: &str,
) -> (String, String) {
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&w.issuer, client, None, &[]))
        .await;
    let done = browser
        .submit(&page, &[("email", email), ("password", password)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.redirect_params()["code"].clone();
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
