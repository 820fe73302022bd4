//! Managing upstream identity providers: `keygate idp ...` and
//! `/admin/v1/tenants/{tenant}/idps` (docs/cli.md and docs/admin-api.md,
//! "Upstream identity providers"): the views, the callback URIs per front
//! door, the client secret sealed under the master key and never shown,
//! and refusals that write nothing.

use crate::admin_helpers::*;
use crate::harness::*;
use keygate_crypto::sealing::MasterKey;
use serde_json::{json, Value};

const SECRET: &str = "upstream-secret-9f8e7d6c5b4a";

/// Runs a command that must be refused: exit 2, nothing on stdout, a
/// message on stderr containing `says`.
fn refused(db: &Database, args: &[&str], stdin: Option<&str>, says: &str) {
    let out = db.cli(args, stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    assert!(err.contains(says), "{args:?}: {err}");
}

/// The CLI's stdout and stderr, which must succeed and print one JSON object.
fn run(db: &Database, args: &[&str], stdin: Option<&str>) -> (Value, String) {
    let out = db.cli(args, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "keygate {args:?} failed: {stderr}");
    assert_eq!(stdout.trim_end().lines().count(), 1, "{stdout}");
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (v, format!("{stdout}{stderr}"))
}

/// The sealed client secret of an upstream, read from its row.
async fn sealed_secret_of(db: &Database, id: &str) -> Vec<String> {
    db.query_strings(&format!(
        "SELECT client_secret_sealed FROM upstream_idps WHERE id = '{id}' \
         AND client_secret_sealed IS NOT NULL"
    ))
    .await
}

fn open_sealed(sealed: &str) -> String {
    let master = MasterKey::from_hex(MASTER_KEY).unwrap();
    String::from_utf8(
        master
            .open(keygate_core::federation::SECRET_LABEL, sealed)
            .unwrap(),
    )
    .unwrap()
}

const GITHUB: &[&str] = &[
    "--name",
    "GitHub",
    "--issuer",
    "https://github.com",
    "--client-id",
    "Iv1.0123456789abcdef",
    "--kind",
    "oauth2",
    "--authorize-url",
    "https://github.com/login/oauth/authorize",
    "--token-url",
    "https://github.com/login/oauth/access_token",
    "--userinfo-url",
    "https://api.github.com/user",
    "--claim",
    "sub=id",
    "--claim",
    "name=login",
    "--scope",
    "read:user",
    "--scope",
    "user:email",
];

#[tokio::test]
async fn idp_cli_creates_lists_shows_updates_and_deletes_upstreams() {
    let db = Database::new();
    db.tenant("acme", &["https://login.acme.test"]);

    // An OIDC upstream with the defaults, a secret from stdin.
    let (google, printed) = run(
        &db,
        &[
            "idp",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Google",
            "--issuer",
            "https://accounts.google.com",
            "--client-id",
            "abc.apps.googleusercontent.com",
            "--client-secret-stdin",
            "--public-url",
            "https://id.example.com",
        ],
        Some(&format!("{SECRET}\n")),
    );
    assert!(!printed.contains(SECRET), "{printed}");
    let gid = google["id"].as_str().unwrap().to_string();
    assert!(gid.len() >= 22, "{gid}");
    assert_eq!(google["tenant"], "acme");
    assert_eq!(google["kind"], "oidc");
    assert_eq!(google["issuer"], "https://accounts.google.com");
    assert_eq!(google["client_id"], "abc.apps.googleusercontent.com");
    assert_eq!(google["has_client_secret"], true);
    assert_eq!(google["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(google["authorize_url"], Value::Null);
    assert_eq!(google["token_url"], Value::Null);
    assert_eq!(google["userinfo_url"], Value::Null);
    assert_eq!(
        google["claims"],
        json!({"sub": "sub", "email": "email", "email_verified": "email_verified", "name": "name"})
    );
    assert!(google["created_at"].as_i64().unwrap() > 1_700_000_000);
    // One callback URI per front door: the tenant's domain first, then its
    // path door under the public URL.
    assert_eq!(
        google["callback_uris"],
        json!([
            format!("https://login.acme.test/federation/{gid}/callback"),
            format!("https://id.example.com/acme/as/federation/{gid}/callback"),
        ])
    );
    assert_eq!(google["callback_uri"], google["callback_uris"][0]);
    // Sealed at rest under the master key, with the line ending trimmed.
    let sealed = sealed_secret_of(&db, &gid).await;
    assert_eq!(sealed.len(), 1);
    assert!(!sealed[0].contains(SECRET));
    assert_eq!(open_sealed(&sealed[0]), SECRET);

    // An OAuth 2.0 upstream (GitHub) with its endpoints and claim paths,
    // and no secret (a public client there).
    let mut args = vec!["idp", "create", "--tenant", "acme"];
    args.extend(GITHUB);
    let (github, _) = run(&db, &args, None);
    let hid = github["id"].as_str().unwrap().to_string();
    assert_eq!(github["kind"], "oauth2");
    assert_eq!(github["has_client_secret"], false);
    assert_eq!(github["scopes"], json!(["read:user", "user:email"]));
    assert_eq!(
        github["authorize_url"],
        "https://github.com/login/oauth/authorize"
    );
    assert_eq!(
        github["token_url"],
        "https://github.com/login/oauth/access_token"
    );
    assert_eq!(github["userinfo_url"], "https://api.github.com/user");
    assert_eq!(
        github["claims"],
        json!({"sub": "id", "email": "email", "email_verified": "email_verified", "name": "login"})
    );
    // Without --public-url, the server's default public URL.
    assert_eq!(
        github["callback_uris"][1],
        format!("http://127.0.0.1:8080/acme/as/federation/{hid}/callback")
    );
    assert!(sealed_secret_of(&db, &hid).await.is_empty());

    // The `default` tenant is reached at the root of the public URL too.
    let (d, _) = run(
        &db,
        &[
            "idp",
            "create",
            "--tenant",
            "default",
            "--name",
            "Corp",
            "--issuer",
            "http://127.0.0.1:9/realms/corp",
            "--client-id",
            "keygate",
        ],
        None,
    );
    let did = d["id"].as_str().unwrap();
    assert_eq!(
        d["callback_uri"],
        format!("http://127.0.0.1:8080/federation/{did}/callback")
    );
    assert_eq!(
        d["callback_uris"],
        json!([
            format!("http://127.0.0.1:8080/federation/{did}/callback"),
            format!("http://127.0.0.1:8080/default/as/federation/{did}/callback"),
        ])
    );

    // List (by name) and show never print the secret.
    let (list, printed) = run(&db, &["idp", "list", "--tenant", "acme"], None);
    assert!(!printed.contains(SECRET));
    let names: Vec<&str> = list["idps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GitHub", "Google"]);
    let (shown, printed) = run(
        &db,
        &[
            "idp",
            "show",
            "--tenant",
            "acme",
            "--id",
            &gid,
            "--public-url",
            "https://id.example.com",
        ],
        None,
    );
    assert!(!printed.contains(SECRET));
    assert_eq!(shown, google);

    // Update: rename, change one claim path, remove the secret.
    let (updated, _) = run(
        &db,
        &[
            "idp",
            "update",
            "--tenant",
            "acme",
            "--id",
            &gid,
            "--name",
            "Google Workspace",
            "--claim",
            "email_verified=",
            "--no-client-secret",
        ],
        None,
    );
    assert_eq!(updated["id"], gid.as_str());
    assert_eq!(updated["name"], "Google Workspace");
    assert_eq!(updated["has_client_secret"], false);
    assert_eq!(updated["claims"]["email_verified"], "");
    assert_eq!(updated["claims"]["sub"], "sub");
    assert_eq!(updated["created_at"], google["created_at"]);
    assert!(sealed_secret_of(&db, &gid).await.is_empty());
    // A new secret from stdin.
    let (updated, printed) = run(
        &db,
        &[
            "idp",
            "update",
            "--tenant",
            "acme",
            "--id",
            &gid,
            "--client-secret-stdin",
        ],
        Some("another-secret\n"),
    );
    assert!(!printed.contains("another-secret"));
    assert_eq!(updated["has_client_secret"], true);
    assert_eq!(
        open_sealed(&sealed_secret_of(&db, &gid).await[0]),
        "another-secret"
    );
    // The name is another upstream's: refused, nothing changed.
    refused(
        &db,
        &[
            "idp",
            "update",
            "--tenant",
            "acme",
            "--id",
            &hid,
            "--name",
            "Google Workspace",
        ],
        None,
        "already has an upstream named 'Google Workspace'",
    );
    refused(
        &db,
        &["idp", "update", "--tenant", "acme", "--id", &hid],
        None,
        "--name",
    );
    let (shown, _) = run(
        &db,
        &["idp", "show", "--tenant", "acme", "--id", &hid],
        None,
    );
    assert_eq!(shown["name"], "GitHub");

    // Delete; then it is gone.
    let (deleted, _) = run(
        &db,
        &["idp", "delete", "--tenant", "acme", "--id", &gid],
        None,
    );
    assert_eq!(deleted, json!({"deleted": true}));
    refused(
        &db,
        &["idp", "show", "--tenant", "acme", "--id", &gid],
        None,
        "does not exist",
    );
    refused(
        &db,
        &["idp", "delete", "--tenant", "acme", "--id", &gid],
        None,
        "does not exist",
    );
    let (list, _) = run(&db, &["idp", "list", "--tenant", "acme"], None);
    assert_eq!(list["idps"].as_array().unwrap().len(), 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM upstream_idps").await,
        2,
        "GitHub and Corp"
    );
}

#[tokio::test]
async fn idp_cli_refuses_bad_arguments_and_writes_nothing() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let base = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![
            "idp",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Up",
            "--client-id",
            "kg",
        ];
        v.extend(extra);
        v
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            base(&[
                "--issuer",
                "https://github.com",
                "--kind",
                "oauth2",
                "--authorize-url",
                "https://github.com/login/oauth/authorize",
                "--userinfo-url",
                "https://api.github.com/user",
            ]),
            "--token-url: kind oauth2 needs",
        ),
        (
            base(&["--issuer", "http://idp.example.com"]),
            "--issuer: 'http://idp.example.com': the URL must be https",
        ),
        (
            base(&["--issuer", "https://idp.example.com", "--claim", "phone=x"]),
            "unknown claim 'phone'",
        ),
        (
            base(&["--issuer", "https://idp.example.com", "--claim", "sub"]),
            "expected KEY=PATH",
        ),
        (
            base(&["--issuer", "https://idp.example.com", "--claim", "sub=a..b"]),
            "--claim: the claim path 'a..b'",
        ),
        (
            base(&[
                "--issuer",
                "https://idp.example.com",
                "--authorize-url",
                "https://idp.example.com/auth",
            ]),
            "oidc discovers its endpoints from the issuer",
        ),
        (
            base(&["--issuer", "https://idp.example.com", "--scope", "email"]),
            "--scope: an oidc upstream must be asked for the openid scope",
        ),
        (
            base(&["--issuer", "https://idp.example.com", "--kind", "saml"]),
            "--kind: 'saml': use oidc or oauth2",
        ),
        (
            vec![
                "idp",
                "create",
                "--tenant",
                "nope",
                "--name",
                "Up",
                "--client-id",
                "kg",
                "--issuer",
                "https://idp.example.com",
            ],
            "tenant 'nope' does not exist",
        ),
    ];
    for (args, says) in &cases {
        refused(&db, args, None, says);
    }
    // An empty secret on stdin.
    refused(
        &db,
        &base(&[
            "--issuer",
            "https://idp.example.com",
            "--client-secret-stdin",
        ]),
        Some("\n"),
        "--client-secret-stdin: ",
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM upstream_idps").await, 0);
    // A taken name.
    db.cli_json(&base(&["--issuer", "https://idp.example.com"]), None);
    refused(
        &db,
        &base(&["--issuer", "https://other.example.com"]),
        None,
        "already has an upstream named 'Up'",
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM upstream_idps").await, 1);
    // Unknown ids and tenants, and --no-client-secret with a new one.
    refused(
        &db,
        &["idp", "show", "--tenant", "acme", "--id", "-nope"],
        None,
        "upstream identity provider '-nope' does not exist",
    );
    refused(
        &db,
        &["idp", "list", "--tenant", "nope"],
        None,
        "tenant 'nope' does not exist",
    );
    let out = db.cli(
        &[
            "idp",
            "update",
            "--tenant",
            "acme",
            "--id",
            "x",
            "--client-secret-stdin",
            "--no-client-secret",
        ],
        Some("s\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn idp_admin_api_manages_upstreams_and_never_answers_the_secret() {
    let (w, admin) = admin_world().await;
    w.db.tenant("beta", &["https://login.beta.test"]);
    let public = w.server.base.clone();

    let a = admin
        .post(
            "/tenants/acme/idps",
            json!({
                "name": "Google",
                "issuer": "https://accounts.google.com",
                "client_id": "abc.apps.googleusercontent.com",
                "client_secret": SECRET,
            }),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        a.headers["location"].to_str().unwrap(),
        format!("/admin/v1/tenants/acme/idps/{id}")
    );
    assert!(!a.body.to_string().contains(SECRET));
    assert_eq!(a.body["has_client_secret"], true);
    assert_eq!(a.body["kind"], "oidc");
    assert_eq!(a.body["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(
        a.body["callback_uri"],
        format!("{public}/acme/as/federation/{id}/callback")
    );
    assert_eq!(a.body["callback_uris"].as_array().unwrap().len(), 1);
    // Sealed at rest: not the secret, and it opens with the master key.
    let sealed = sealed_secret_of(&w.db, &id).await;
    assert_eq!(sealed.len(), 1);
    assert_ne!(sealed[0], SECRET);
    assert!(!sealed[0].contains(SECRET));
    assert_eq!(open_sealed(&sealed[0]), SECRET);

    // GitHub, with partial claims merged over the defaults.
    let gh = admin
        .post(
            "/tenants/beta/idps",
            json!({
                "name": "GitHub",
                "issuer": "https://github.com",
                "client_id": "Iv1.0123",
                "kind": "oauth2",
                "scopes": ["read:user", "user:email"],
                "authorize_url": "https://github.com/login/oauth/authorize",
                "token_url": "https://github.com/login/oauth/access_token",
                "userinfo_url": "https://api.github.com/user",
                "claims": {"sub": "id", "name": "login"},
            }),
        )
        .await;
    assert_eq!(gh.status, 201, "{}", gh.body);
    let ghid = gh.body["id"].as_str().unwrap().to_string();
    assert_eq!(gh.body["has_client_secret"], false);
    assert_eq!(
        gh.body["claims"],
        json!({"sub": "id", "email": "email", "email_verified": "email_verified", "name": "login"})
    );
    assert_eq!(
        gh.body["callback_uris"],
        json!([
            format!("https://login.beta.test/federation/{ghid}/callback"),
            format!("{public}/beta/as/federation/{ghid}/callback"),
        ])
    );

    // Read and list.
    let r = admin.get(&format!("/tenants/acme/idps/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, a.body);
    let l = admin.get("/tenants/acme/idps").await;
    assert_eq!(l.status, 200);
    assert_eq!(l.body, json!({"idps": [a.body.clone()]}));
    assert!(!l.body.to_string().contains(SECRET));
    // The other tenant's upstream is not found through this one.
    assert_error(
        &admin.get(&format!("/tenants/acme/idps/{ghid}")).await,
        404,
        "not_found",
    );

    // Update: rename and a claim path; the secret stays until null.
    let p = admin
        .patch(
            &format!("/tenants/acme/idps/{id}"),
            json!({"name": "Google Workspace", "claims": {"name": "given_name"}}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["name"], "Google Workspace");
    assert_eq!(p.body["claims"]["name"], "given_name");
    assert_eq!(p.body["claims"]["sub"], "sub");
    assert_eq!(p.body["has_client_secret"], true);
    let p = admin
        .patch(
            &format!("/tenants/acme/idps/{id}"),
            json!({"client_secret": "rotated-secret"}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(!p.body.to_string().contains("rotated-secret"));
    assert_eq!(
        open_sealed(&sealed_secret_of(&w.db, &id).await[0]),
        "rotated-secret"
    );
    let p = admin
        .patch(
            &format!("/tenants/acme/idps/{id}"),
            json!({"client_secret": null}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["has_client_secret"], false);
    assert!(sealed_secret_of(&w.db, &id).await.is_empty());
    // Switching to oidc keeps the rules: its scopes must include openid.
    let bad = admin
        .patch(
            &format!("/tenants/beta/idps/{ghid}"),
            json!({"kind": "oidc", "scopes": ["user"]}),
        )
        .await;
    assert_error(&bad, 400, "invalid_request");
    assert!(bad.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("scopes: "));

    // Neither the secret nor its rotation reached the server's log.
    let log = w.server.log_text();
    assert!(!log.contains(SECRET) && !log.contains("rotated-secret"));

    // Delete.
    let d = admin.delete(&format!("/tenants/acme/idps/{id}")).await;
    assert_eq!(d.status, 204);
    assert_error(
        &admin.get(&format!("/tenants/acme/idps/{id}")).await,
        404,
        "not_found",
    );
    assert_error(
        &admin.delete(&format!("/tenants/acme/idps/{id}")).await,
        404,
        "not_found",
    );
    assert_eq!(
        admin.get("/tenants/acme/idps").await.body,
        json!({"idps": []})
    );
}

#[tokio::test]
async fn idp_admin_api_refuses_bad_requests_with_the_field_named() {
    let (w, admin) = admin_world().await;
    let ok = || {
        json!({
            "name": "Up",
            "issuer": "https://idp.example.com",
            "client_id": "kg",
        })
    };
    let with = |k: &str, v: Value| {
        let mut b = ok();
        b[k] = v;
        b
    };
    let cases = [
        (with("issuer", json!("http://idp.example.com")), "issuer: "),
        (with("issuer", json!("not a url")), "issuer: "),
        (with("client_id", json!("")), "client_id: "),
        (
            with("client_secret", json!("x".repeat(1025))),
            "client_secret: ",
        ),
        (with("scopes", json!(["email"])), "scopes: "),
        (with("scopes", json!(["a\"b"])), "scopes: "),
        (with("kind", json!("saml")), "kind: "),
        (
            with("authorize_url", json!("https://idp.example.com/a")),
            "authorize_url: oidc discovers its endpoints from the issuer",
        ),
        (
            with("kind", json!("oauth2")),
            "authorize_url: kind oauth2 needs",
        ),
        (with("claims", json!({"phone": "x"})), "claims"),
        (with("claims", json!({"sub": ""})), "claims: "),
        (with("name", json!("")), "name: "),
        (with("surprise", json!(1)), "surprise"),
        (json!({"name": "Up"}), "issuer"),
        (json!("nope"), ""),
    ];
    for (body, says) in cases {
        let a = admin.post("/tenants/acme/idps", body.clone()).await;
        assert_error(&a, 400, "invalid_request");
        assert!(
            a.body["error_description"].as_str().unwrap().contains(says),
            "{body}: {}",
            a.body
        );
    }
    // Not JSON at all.
    let r = admin
        .http
        .post(format!("{}/tenants/acme/idps", admin.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM upstream_idps").await, 0);

    // Unknown tenant and id: 404; a taken name: 409 (also by renaming).
    assert_error(
        &admin.post("/tenants/nope/idps", ok()).await,
        404,
        "not_found",
    );
    assert_error(&admin.get("/tenants/nope/idps").await, 404, "not_found");
    assert_error(
        &admin.get("/tenants/acme/idps/nope").await,
        404,
        "not_found",
    );
    assert_error(
        &admin
            .patch("/tenants/acme/idps/nope", json!({"name": "X"}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &admin.delete("/tenants/acme/idps/nope").await,
        404,
        "not_found",
    );
    assert_eq!(admin.post("/tenants/acme/idps", ok()).await.status, 201);
    let dup = admin.post("/tenants/acme/idps", ok()).await;
    assert_error(&dup, 409, "conflict");
    assert!(dup.body["error_description"]
        .as_str()
        .unwrap()
        .contains("'Up'"));
    let other = admin
        .post("/tenants/acme/idps", with("name", json!("Other")))
        .await;
    let oid = other.body["id"].as_str().unwrap();
    assert_error(
        &admin
            .patch(&format!("/tenants/acme/idps/{oid}"), json!({"name": "Up"}))
            .await,
        409,
        "conflict",
    );
    let bad = admin
        .patch(
            &format!("/tenants/acme/idps/{oid}"),
            json!({"token_url": "https://idp.example.com/t"}),
        )
        .await;
    assert_error(&bad, 400, "invalid_request");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM upstream_idps").await, 2);
    assert_eq!(
        w.db.query_strings(&format!(
            "SELECT name FROM upstream_idps WHERE id = '{oid}'"
        ))
        .await,
        ["Other"]
    );
}
