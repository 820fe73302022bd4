//! The console's resource pages (docs/console.md, "Pages") over HTTP, as
//! a browser uses them (cookies kept, forms with their CSRF token): an
//! admin creates a client whose secret is shown once and works at the
//! token endpoint, rotates it, disables a person who then cannot sign in,
//! and changes a tenant's settings; a viewer's changes and an admin's
//! changes outside their tenant are refused and change nothing; every
//! change leaves its `admin.*` event with the operator, the IP and the
//! subject, and no secret.

use crate::harness::*;
use crate::mfa_totp::{code, unix_now};
use crate::real_clients::run_script;

/// Every operator's password in these tests.
const OPERATOR_PASSWORD: &str = "operator password 1";

/// Creates an operator with the CLI.
fn operator(db: &Database, email: &str, role: &str, tenant: Option<&str>) {
    let mut args = vec![
        "admin",
        "create",
        "--email",
        email,
        "--password-stdin",
        "--role",
        role,
    ];
    if let Some(t) = tenant {
        args.extend(["--tenant", t]);
    }
    db.cli_json(&args, Some(&format!("{OPERATOR_PASSWORD}\n")));
}

/// Signs `email` in to the console: the password, then the enrolment of
/// an authenticator app (its secret read from the page, the code computed).
async fn sign_in(b: &Browser, base: &str, email: &str) {
    let form = b.get(&format!("{base}/admin/sign-in")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let next = b
        .submit(&form, &[("email", email), ("password", OPERATOR_PASSWORD)])
        .await;
    assert_eq!(next.status, 303, "{}", next.body);
    let enrol = b.get(&format!("{base}/admin/sign-in/second-factor")).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let i = enrol
        .body
        .find("<code id=\"secret\">")
        .expect("the secret as text")
        + "<code id=\"secret\">".len();
    let j = enrol.body[i..].find('<').unwrap() + i;
    let secret = totp_rs::Secret::try_from_base32(enrol.body[i..j].replace(' ', ""))
        .unwrap()
        .as_bytes()
        .to_vec();
    let done = b
        .submit(&enrol, &[("code", &code(&secret, unix_now()))])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(b.get(&format!("{base}/admin/")).await.status, 200);
}

/// The value of the first `name="NAME"` input of a page (`csrf`, `secret`).
fn input_value(page: &Page, name: &str) -> String {
    let pat = format!("name=\"{name}\" ");
    let i = page
        .body
        .find(&pat)
        .unwrap_or_else(|| panic!("no input {name}: {}", page.body));
    let rest = &page.body[i..];
    let v = rest.find("value=\"").unwrap() + "value=\"".len();
    let end = rest[v..].find('"').unwrap() + v;
    unescape(&rest[v..end])
}

/// POSTs a console form: the CSRF token of `from` plus `fields`.
async fn post(b: &Browser, base: &str, from: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
    let mut all = vec![("csrf".to_string(), input_value(from, "csrf"))];
    all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b.post_form(&format!("{base}{path}"), &all).await
}

/// The rows of the events table matching `where_` as "kind subject actor ip".
async fn events(db: &Database, where_: &str) -> Vec<String> {
    db.query_strings(&format!(
        "SELECT kind || ' ' || COALESCE(subject, '-') || ' ' || actor || ' ' || COALESCE(ip, '-') \
         FROM events WHERE {where_} ORDER BY id"
    ))
    .await
}

#[tokio::test]
async fn console_pages_admin_creates_a_client_and_disables_a_user() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let sub = db.user("acme", EMAIL, PASSWORD);
    let server = Server::start(&db).await;
    let base = server.base.clone();
    let issuer = server.issuer("acme");
    let b = Browser::new();
    operator(&db, "admin@example.com", "admin", None);
    sign_in(&b, &base, "admin@example.com").await;

    // A confidential client for client_credentials, made on the page.
    let list = b.get(&format!("{base}/admin/tenants/acme/clients")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    for label in [
        "for=\"name\"",
        "for=\"type\"",
        "for=\"redirect_uris\"",
        "for=\"grant_2\"",
    ] {
        assert!(list.body.contains(label), "labelled: {label}");
    }
    let created = post(
        &b,
        &base,
        &list,
        "/admin/tenants/acme/clients",
        &[
            ("name", "Console app"),
            ("type", "confidential"),
            ("auth_method", "client_secret_basic"),
            ("grant_2", "on"),
            ("refresh_tokens", "never"),
        ],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("shown once"), "{}", created.body);
    let secret = input_value(&created, "secret");
    let i = created.body.find("Client ID: ").unwrap() + "Client ID: ".len();
    let id: String = created.body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(secret.len() >= 32 && !id.is_empty(), "{id} {secret}");

    // The secret works at the token endpoint.
    let (status, _, body) = token(
        &issuer,
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string(), "{body}");

    // It is never shown again: not on the client's page, not in any event.
    let page = b
        .get(&format!("{base}/admin/tenants/acme/clients/{id}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Console app") && !page.body.contains(&secret));
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM events WHERE detail LIKE '%{secret}%' OR subject LIKE '%{secret}%'"
        ))
        .await,
        0
    );

    // Rotation: a new secret shown once; the old one stops working.
    let rotated = post(
        &b,
        &base,
        &page,
        &format!("/admin/tenants/acme/clients/{id}/secret"),
        &[],
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let fresh = input_value(&rotated, "secret");
    assert_ne!(fresh, secret);
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(token(&issuer, Some((&id, &secret)), &cc).await.0, 401);
    assert_eq!(token(&issuer, Some((&id, &fresh)), &cc).await.0, 200);

    // A bad value is a 400 page naming the field, not a 500.
    let bad = post(
        &b,
        &base,
        &page,
        &format!("/admin/tenants/acme/clients/{id}"),
        &[
            ("name", "Console app"),
            ("grant_0", "on"),
            ("redirect_uris", "not a uri"),
        ],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("redirect_uris"), "{}", bad.body);

    // Disable ann: found by her address; her sign-in is then refused.
    let found = b
        .get(&format!(
            "{base}/admin/tenants/acme/users?email=Ann%40Example.com"
        ))
        .await;
    assert_eq!(found.status, 200);
    assert!(found
        .body
        .contains(&format!("/admin/tenants/acme/users/{sub}")));
    // Or by the start of it; an address that starts otherwise is not listed.
    db.user("acme", "bob@example.com", PASSWORD);
    let started = b
        .get(&format!(
            "{base}/admin/tenants/acme/users?email=ANN&match=prefix"
        ))
        .await;
    assert_eq!(started.status, 200);
    assert!(started
        .body
        .contains(&format!("/admin/tenants/acme/users/{sub}")));
    assert!(!started.body.contains("bob@example.com"));
    let nul = b
        .get(&format!(
            "{base}/admin/tenants/acme/users?email=a%00&match=prefix"
        ))
        .await;
    assert_eq!(nul.status, 400);
    let user = b
        .get(&format!("{base}/admin/tenants/acme/users/{sub}"))
        .await;
    assert_eq!(user.status, 200, "{}", user.body);
    let disabled = post(
        &b,
        &base,
        &user,
        &format!("/admin/tenants/acme/users/{sub}/disable"),
        &[],
    )
    .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(disabled.body.contains("disabled"));
    let web = db.client("acme", "http://127.0.0.1:9/callback", &[]);
    let person = Browser::new();
    let form = person.get(&authorize_url(&issuer, &web, None, &[])).await;
    let refused = person
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // A new password, shown once, signs her in once she is enabled again.
    let enabled = post(
        &b,
        &base,
        &user,
        &format!("/admin/tenants/acme/users/{sub}/enable"),
        &[],
    )
    .await;
    assert_eq!(enabled.status, 200);
    let confirm = b
        .get(&format!(
            "{base}/admin/tenants/acme/users/{sub}/reset-password"
        ))
        .await;
    assert_eq!(confirm.status, 200);
    let reset = post(
        &b,
        &base,
        &confirm,
        &format!("/admin/tenants/acme/users/{sub}/reset-password"),
        &[],
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let password = input_value(&reset, "secret");
    let form = person.get(&authorize_url(&issuer, &web, None, &[])).await;
    let done = person
        .submit(&form, &[("email", EMAIL), ("password", &password)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);

    // Her profile: a name and a verified address; a bad address is a 400.
    let profile = format!("/admin/tenants/acme/users/{sub}/profile");
    let saved = post(
        &b,
        &base,
        &user,
        &profile,
        &[
            ("email", EMAIL),
            ("name", "Ann Edited"),
            ("email_verified", "on"),
        ],
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE name = 'Ann Edited' AND email_verified <> 0")
            .await,
        1
    );
    let bad = post(&b, &base, &user, &profile, &[("email", "not an address")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    // A tenant setting.
    let t = b.get(&format!("{base}/admin/tenants/acme")).await;
    assert_eq!(t.status, 200);
    let saved = post(
        &b,
        &base,
        &t,
        "/admin/tenants/acme",
        &[
            ("display_name", "Acme Corp"),
            ("registration", "closed"),
            ("verify_email", "optional"),
            ("mfa", "optional"),
            ("dynamic_registration", "off"),
            ("client_id_metadata_documents", "off"),
        ],
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM tenants WHERE id = 'acme' AND display_name = 'Acme Corp'")
            .await,
        1
    );

    // Deleting the client asks first, then revokes it.
    let ask = b
        .get(&format!("{base}/admin/tenants/acme/clients/{id}/delete"))
        .await;
    assert_eq!(ask.status, 200);
    let gone = post(
        &b,
        &base,
        &ask,
        &format!("/admin/tenants/acme/clients/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(gone.status, 303);
    assert_eq!(token(&issuer, Some((&id, &fresh)), &cc).await.0, 401);

    // Every change left its event: who, from where, about what.
    let who = "operator:admin@example.com 127.0.0.1";
    let mut seen = events(
        &db,
        "kind LIKE 'admin.%' AND kind NOT LIKE 'admin.sign%' AND actor <> 'cli'",
    )
    .await;
    seen.sort();
    let mut expected = vec![
        format!("admin.created client:{id} {who}"),
        format!("admin.updated client:{id} {who}"),
        format!("admin.updated user:{sub} {who}"),
        format!("admin.updated user:{sub} {who}"),
        format!("admin.updated user:{sub} {who}"),
        format!("admin.updated user:{sub} {who}"),
        format!("admin.updated tenant:acme {who}"),
        format!("admin.deleted client:{id} {who}"),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    for s in [&secret, &fresh, &password] {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM events WHERE detail LIKE '%{s}%'"
            ))
            .await,
            0,
            "no secret in an event"
        );
    }
}

#[tokio::test]
async fn console_pages_refuse_viewers_and_other_tenants() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.tenant("beta", &[]);
    let sub = db.user("beta", EMAIL, PASSWORD);
    let server = Server::start(&db).await;
    let base = server.base.clone();
    operator(&db, "viewer@example.com", "viewer", None);
    operator(&db, "acme-admin@example.com", "admin", Some("acme"));
    let viewer = Browser::new();
    sign_in(&viewer, &base, "viewer@example.com").await;
    let scoped = Browser::new();
    sign_in(&scoped, &base, "acme-admin@example.com").await;
    let clients = "SELECT COUNT(*) FROM clients";

    // The viewer reads, but has no forms to change and every change is a 403.
    let page = viewer
        .get(&format!("{base}/admin/tenants/beta/clients"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("Create client"));
    let user = viewer
        .get(&format!("{base}/admin/tenants/beta/users/{sub}"))
        .await;
    assert_eq!(user.status, 200);
    for (path, fields) in [
        (
            "/admin/tenants/beta/clients",
            vec![("name", "X"), ("grant_2", "on")],
        ),
        (
            &format!("/admin/tenants/beta/users/{sub}/disable") as &str,
            vec![],
        ),
        ("/admin/tenants/beta", vec![("display_name", "Mine")]),
        ("/admin/tenants", vec![("id", "gamma")]),
        ("/admin/admin-tokens", vec![]),
    ] {
        let r = post(&viewer, &base, &page, path, &fields).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    assert_eq!(db.count(clients).await, 0);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE disabled <> 0")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM tenants WHERE id = 'gamma'")
            .await,
        0
    );

    // The admin of acme: beta is out of reach, to read or to change.
    let own = scoped
        .get(&format!("{base}/admin/tenants/acme/clients"))
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(
        scoped
            .get(&format!("{base}/admin/tenants/beta/clients"))
            .await
            .status,
        403
    );
    assert_eq!(
        scoped
            .get(&format!("{base}/admin/tenants/beta/users/{sub}"))
            .await
            .status,
        403
    );
    let r = post(
        &scoped,
        &base,
        &own,
        "/admin/tenants/beta/clients",
        &[("name", "X"), ("grant_2", "on")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &scoped,
        &base,
        &own,
        &format!("/admin/tenants/beta/users/{sub}/delete"),
        &[],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(db.count("SELECT COUNT(*) FROM users").await, 1);
    // Its tenant list is its one tenant, and it makes no tenants.
    let tenants = scoped.get(&format!("{base}/admin/tenants")).await;
    assert!(
        tenants.body.contains("/admin/tenants/acme\"")
            && !tenants.body.contains("/admin/tenants/beta\"")
    );
    let r = post(&scoped, &base, &own, "/admin/tenants", &[("id", "gamma")]).await;
    assert_eq!(r.status, 403);
    let r = post(&scoped, &base, &own, "/admin/tenants/acme/delete", &[]).await;
    assert_eq!(r.status, 403, "an admin of one tenant does not delete it");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM tenants WHERE id = 'acme'")
            .await,
        1
    );
    // In acme it works.
    let r = post(
        &scoped,
        &base,
        &own,
        "/admin/tenants/acme/clients",
        &[
            ("name", "Mine"),
            ("type", "public"),
            ("grant_0", "on"),
            ("redirect_uris", "https://app.example/cb"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(db.count(clients).await, 1);

    // Without the CSRF token, nothing happens either.
    let r = scoped
        .post_form(
            &format!("{base}/admin/tenants/acme/clients"),
            &[
                ("name".into(), "Forged".into()),
                ("grant_2".into(), "on".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(db.count(clients).await, 1);
    // No refusal left an event; the one change did.
    assert_eq!(
        events(
            &db,
            "kind LIKE 'admin.%' AND kind NOT LIKE 'admin.sign%' AND actor <> 'cli'"
        )
        .await
        .len(),
        1
    );
}

#[tokio::test]
async fn console_pages_in_chromium() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start(&db).await;
    operator(&db, "admin@example.com", "admin", None);
    // A code issued and a wrong password before the operator arrives.
    let web = db.client("acme", "http://127.0.0.1:9/callback", &[]);
    let issuer = server.issuer("acme");
    obtain_code(&Browser::new(), &issuer, &web, None, &[]).await;
    let person = Browser::new();
    let form = person.get(&authorize_url(&issuer, &web, None, &[])).await;
    let wrong = person
        .submit(&form, &[("email", EMAIL), ("password", "not her password")])
        .await;
    assert_ne!(wrong.status, 303);
    let cross_port = free_port().to_string();
    let mut env = vec![
        ("KEYGATE_BASE", server.base.as_str()),
        ("KEYGATE_TENANT", "acme"),
        ("KEYGATE_OPERATOR", "admin@example.com"),
        ("KEYGATE_OPERATOR_PASSWORD", OPERATOR_PASSWORD),
        ("KEYGATE_USER_EMAIL", EMAIL),
        ("KEYGATE_CROSS_PORT", cross_port.as_str()),
    ];
    let shots = std::env::var("KEYGATE_SCREENSHOTS").unwrap_or_default();
    if !shots.is_empty() {
        env.push(("KEYGATE_SCREENSHOTS", shots.as_str()));
    }
    let steps = run_script("console_pages.mjs", &env, &server).await;
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["signed_in", "client", "disabled", "phone", "cross_site"]
    );
    assert_eq!(
        steps[3]["wide"],
        serde_json::json!([]),
        "readable on a phone"
    );
    assert_eq!(steps[1]["token_status"], 200, "{}", steps[1]);
    assert_eq!(steps[1]["token_type"], "Bearer", "{}", steps[1]);
    assert_eq!(steps[2]["state"], "disabled");
    assert_eq!(steps[4]["status"], 403, "{}", steps[4]);
    assert_eq!(steps[4]["body_has_refused"], true);
    // The other origin's form changed nothing: she is still disabled.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE disabled <> 0")
            .await,
        1
    );
    let id = steps[1]["client_id"].as_str().unwrap();
    assert_eq!(
        events(
            &db,
            "kind LIKE 'admin.%' AND kind NOT LIKE 'admin.sign%' AND actor <> 'cli'"
        )
        .await
        .len(),
        2,
        "the client and the disabling"
    );
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM events WHERE kind = 'admin.created' AND subject = 'client:{id}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn console_pages_tenants_apis_upstreams_keys_tokens_and_events() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start(&db).await;
    let base = server.base.clone();
    operator(&db, "owner@example.com", "owner", None);
    operator(&db, "admin@example.com", "admin", None);
    let b = Browser::new();
    sign_in(&b, &base, "owner@example.com").await;
    let home = b.get(&format!("{base}/admin/tenants")).await;
    assert_eq!(home.status, 200);

    // A tenant, made and deleted after the confirmation page.
    let made = post(
        &b,
        &base,
        &home,
        "/admin/tenants",
        &[("id", "gamma"), ("mfa", "required")],
    )
    .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(made.location().as_deref(), Some("/admin/tenants/gamma"));
    assert_eq!(
        db.count("SELECT COUNT(*) FROM tenants WHERE id = 'gamma'")
            .await,
        1
    );
    let bad = post(&b, &base, &home, "/admin/tenants", &[("id", "Not_an_id")]).await;
    assert_eq!(bad.status, 400);
    let ask = b.get(&format!("{base}/admin/tenants/gamma/delete")).await;
    assert!(ask.body.contains("cannot be undone"), "{}", ask.body);
    assert_eq!(
        post(&b, &base, &ask, "/admin/tenants/gamma/delete", &[])
            .await
            .status,
        303
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM tenants WHERE id = 'gamma'")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE subject = 'tenant:gamma' AND tenant_id = ''")
            .await,
        2,
        "a tenant made and deleted is deployment-wide"
    );

    // An API: made, renamed with fewer scopes, deleted.
    let made = post(
        &b,
        &base,
        &home,
        "/admin/tenants/acme/apis",
        &[
            ("identifier", "https://api.example.com/orders"),
            ("name", "Orders"),
            ("scopes", "read:orders\nwrite:orders"),
        ],
    )
    .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let path = made.location().unwrap();
    assert_eq!(
        path,
        "/admin/tenants/acme/apis/https%3A%2F%2Fapi%2Eexample%2Ecom%2Forders"
    );
    let page = b.get(&format!("{base}{path}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("write:orders"));
    let saved = post(
        &b,
        &base,
        &page,
        &path,
        &[("name", "Orders API"), ("scopes", "read:orders")],
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM apis WHERE name = 'Orders API'")
            .await,
        1
    );
    assert_eq!(
        post(&b, &base, &page, &format!("{path}/delete"), &[])
            .await
            .status,
        303
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM apis").await, 0);

    // An upstream provider: its secret is sealed and never shown back.
    let upstream_secret = "upstream-secret-value-123";
    let made = post(
        &b,
        &base,
        &home,
        "/admin/tenants/acme/upstreams",
        &[
            ("name", "Example"),
            ("kind", "oidc"),
            ("issuer", "https://accounts.example.com"),
            ("client_id", "keygate"),
            ("client_secret", upstream_secret),
        ],
    )
    .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let page = b.get(&format!("{base}{}", made.location().unwrap())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("set (never shown)") && !page.body.contains(upstream_secret));
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM upstream_idps WHERE client_secret_sealed IS NOT NULL \
             AND client_secret_sealed NOT LIKE '%{upstream_secret}%'"
        ))
        .await,
        1
    );

    // A key rotation.
    let keys = b.get(&format!("{base}/admin/tenants/acme/keys")).await;
    assert_eq!(keys.status, 200);
    let rotated = post(
        &b,
        &base,
        &keys,
        "/admin/tenants/acme/keys",
        &[("alg", "ES256")],
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert!(rotated.body.contains("New ES256 key"));
    assert_eq!(
        db.count("SELECT COUNT(*) FROM signing_keys WHERE tenant_id = 'acme' AND alg = 'ES256'")
            .await,
        1
    );
    let bad = post(
        &b,
        &base,
        &keys,
        "/admin/tenants/acme/keys",
        &[("alg", "HS256")],
    )
    .await;
    assert_eq!(bad.status, 400);

    // An admin token: shown once, works at the admin API, then deleted.
    let tokens = b.get(&format!("{base}/admin/admin-tokens")).await;
    assert_eq!(tokens.status, 200);
    let made = post(&b, &base, &tokens, "/admin/admin-tokens", &[]).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let token = input_value(&made, "secret");
    let i = made.body.find("Token id: ").unwrap() + "Token id: ".len();
    let id: String = made.body[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let api = |t: String| {
        let url = format!("{base}/admin/v1/tenants");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(api(token.clone()).await, 200);
    let listed = b.get(&format!("{base}/admin/admin-tokens")).await;
    assert!(listed.body.contains(&id) && !listed.body.contains(&token));
    let ask = b
        .get(&format!("{base}/admin/admin-tokens/{id}/delete"))
        .await;
    assert_eq!(ask.status, 200);
    let gone = post(
        &b,
        &base,
        &ask,
        &format!("/admin/admin-tokens/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(gone.status, 303);
    assert_eq!(api(token.clone()).await, 401);

    // An admin (not an owner) may not see or make admin tokens.
    let admin = Browser::new();
    sign_in(&admin, &base, "admin@example.com").await;
    let refused = admin.get(&format!("{base}/admin/admin-tokens")).await;
    assert_eq!(refused.status, 403);
    let r = post(
        &admin,
        &base,
        &home_of(&admin, &base).await,
        "/admin/admin-tokens",
        &[],
    )
    .await;
    assert_eq!(r.status, 403);

    // The events page, filtered by type.
    let deleted = b
        .get(&format!("{base}/admin/events?type=admin.deleted"))
        .await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body.contains("tenant:gamma"), "{}", deleted.body);
    assert!(deleted.body.contains(&format!("admin-token:{id}")));
    assert!(!deleted.body.contains("key:"), "only deletions");
    let by_actor = b
        .get(&format!(
            "{base}/admin/events?actor=operator%3Anobody%40example.com"
        ))
        .await;
    assert!(by_actor.body.contains("No events."));
    assert_eq!(
        b.get(&format!("{base}/admin/events?type=nope"))
            .await
            .status,
        400
    );

    // Every change, and nothing else, by the owner; no secret in any.
    let mut seen = events(
        &db,
        "kind LIKE 'admin.%' AND kind NOT LIKE 'admin.sign%' AND actor <> 'cli'",
    )
    .await;
    seen.sort();
    let kinds: Vec<String> = seen
        .iter()
        .map(|e| e.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "admin.created").count(),
        5,
        "{seen:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "admin.updated").count(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "admin.deleted").count(),
        3,
        "{seen:?}"
    );
    assert!(seen
        .iter()
        .all(|e| e.contains(" operator:owner@example.com 127.0.0.1")));
    for s in [upstream_secret, token.as_str()] {
        assert_eq!(
            db.count(&format!(
                "SELECT COUNT(*) FROM events WHERE detail LIKE '%{s}%'"
            ))
            .await,
            0
        );
    }
}

/// A console page of `b` (for its CSRF token).
async fn home_of(b: &Browser, base: &str) -> Page {
    b.get(&format!("{base}/admin/tenants")).await
}

/// A receiver that answers 200 to every request and counts them.
async fn ok_receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, hits)
}

#[tokio::test]
async fn console_pages_webhooks_show_their_secret_once_and_their_delivery_log() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let app = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let server = Server::start_with(
        &db,
        &[
            ("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true"),
            ("KEYGATE_WEBHOOK_POLL_INTERVAL", "1"),
        ],
    )
    .await;
    let base = server.base.clone();
    let (port, hits) = ok_receiver().await;
    operator(&db, "admin@example.com", "admin", None);
    let b = Browser::new();
    sign_in(&b, &base, "admin@example.com").await;

    let list = b.get(&format!("{base}/admin/tenants/acme/webhooks")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("<label for=\"url\">"));
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = post(
        &b,
        &base,
        &list,
        "/admin/tenants/acme/webhooks",
        &[("url", &url), ("events", "user.sign_in_failed")],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret = input_value(&created, "secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = db
        .query_strings("SELECT id FROM webhooks WHERE tenant_id = 'acme'")
        .await
        .remove(0);
    // Shown once: the list and the webhook's page never show it again.
    let list = b.get(&format!("{base}/admin/tenants/acme/webhooks")).await;
    assert!(list.body.contains(&url) && !list.body.contains(&secret));
    let page_url = format!("{base}/admin/tenants/acme/webhooks/{id}");
    assert!(!b.get(&page_url).await.body.contains(&secret));
    assert_eq!(
        events(&db, &format!("subject = 'webhook:{id}'")).await,
        vec![format!(
            "admin.created webhook:{id} operator:admin@example.com 127.0.0.1"
        )]
    );

    // A wrong password at the hosted page: the event is delivered, and the
    // log in the console says so.
    let person = Browser::new();
    let (_, challenge) = pkce();
    let page = person
        .get(&authorize_url(
            &server.issuer("acme"),
            &app,
            Some(&challenge),
            &[],
        ))
        .await;
    let refused = person
        .submit(&page, &[("email", EMAIL), ("password", "not the password")])
        .await;
    assert_eq!(refused.status, 401);
    let mut log = b.get(&page_url).await;
    for _ in 0..100 {
        if log.body.contains("<td>delivered</td>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        log = b.get(&page_url).await;
    }
    assert!(log.body.contains("<td>delivered</td>"), "{}", log.body);
    assert!(log.body.contains("<code>user.sign_in_failed</code>"));
    assert!(log.body.contains("<td>200</td>"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Deleted after the confirmation.
    let confirm = b.get(&format!("{page_url}/delete")).await;
    assert_eq!(confirm.status, 200);
    let gone = post(
        &b,
        &base,
        &confirm,
        &format!("/admin/tenants/acme/webhooks/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    assert_eq!(db.count("SELECT COUNT(*) FROM webhooks").await, 0);
}

#[tokio::test]
async fn console_pages_remove_one_factor_and_revoke_a_consent() {
    use crate::pages_helpers::{request, url_with, Setup, CALLBACK};
    let s = Setup::new().await;
    let door = s.path();
    // Ann adds an authenticator app on her account page, then allows a
    // third-party application.
    let ann = s.browser();
    crate::mfa_totp::enrol(&s, &ann, &door).await;
    let third =
        s.db.client("acme", CALLBACK, &["--public", "--third-party"]);
    let (_, challenge) = pkce();
    let mut params = request(&third, &challenge);
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", "openid email"));
    let consent = ann
        .get(&url_with(&door.issuer, "/authorize", &params))
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let allowed = ann.submit(&consent, &[("decision", "allow")]).await;
    assert_eq!(allowed.status, 303, "{}", allowed.body);
    let consents = "SELECT COUNT(*) FROM consents";
    let devices = "SELECT COUNT(*) FROM totp_devices";
    assert_eq!(
        (s.db.count(consents).await, s.db.count(devices).await),
        (1, 1)
    );

    let base = s.server.base.clone();
    operator(&s.db, "admin@example.com", "admin", None);
    let b = Browser::new();
    sign_in(&b, &base, "admin@example.com").await;
    let user = format!("/admin/tenants/acme/users/{}", door.sub);
    let page = b.get(&format!("{base}{user}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains(&format!("Revoke the consent to {}", third.id)));
    let factor =
        s.db.query_strings("SELECT id FROM totp_devices")
            .await
            .remove(0);
    let removed = post(
        &b,
        &base,
        &page,
        &format!("{user}/remove-factor"),
        &[("id", &factor)],
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.body.contains("The second factor was removed."));
    assert_eq!(s.db.count(devices).await, 0);
    let revoked = post(
        &b,
        &base,
        &removed,
        &format!("{user}/revoke-consent"),
        &[("client_id", &third.id)],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(s.db.count(consents).await, 0);
    // An unknown consent is a 404 page, not a 500.
    let again = post(
        &b,
        &base,
        &revoked,
        &format!("{user}/revoke-consent"),
        &[("client_id", &third.id)],
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
    let recorded = events(
        &s.db,
        "actor = 'operator:admin@example.com' AND kind <> 'admin.signed_in'",
    )
    .await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
}

#[tokio::test]
async fn console_pages_grant_a_client_an_api_for_client_credentials() {
    const PAY: &str = "https://pay.example/api";
    let db = Database::new();
    db.tenant("acme", &[]);
    db.cli_json(
        &[
            "api",
            "create",
            "--tenant",
            "acme",
            "--identifier",
            PAY,
            "--scope",
            "payments:read",
            "--scope",
            "payments:write",
        ],
        None,
    );
    let machine = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--grant", "client_credentials"],
    );
    let server = Server::start(&db).await;
    let base = server.base.clone();
    let issuer = server.issuer("acme");
    let ask = || {
        let (issuer, id, secret) = (
            issuer.clone(),
            machine.id.clone(),
            machine.secret().to_string(),
        );
        async move {
            token(
                &issuer,
                Some((&id, &secret)),
                &[("grant_type", "client_credentials"), ("audience", PAY)],
            )
            .await
        }
    };
    let (status, _, body) = ask().await;
    assert_eq!(status, 400, "not granted yet: {body}");

    operator(&db, "admin@example.com", "admin", None);
    let b = Browser::new();
    sign_in(&b, &base, "admin@example.com").await;
    let client = format!("/admin/tenants/acme/clients/{}", machine.id);
    let page = b.get(&format!("{base}{client}")).await;
    assert!(
        page.body.contains("<label for=\"grant_api\">"),
        "{}",
        page.body
    );
    // A scope the API does not define is refused, and nothing is granted.
    let bad = post(
        &b,
        &base,
        &page,
        &format!("{client}/api-grants"),
        &[("api", PAY), ("scopes", "payments:admin")],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let granted = post(
        &b,
        &base,
        &page,
        &format!("{client}/api-grants"),
        &[("api", PAY), ("scopes", "payments:read")],
    )
    .await;
    assert_eq!(granted.status, 303, "{}", granted.body);
    let (status, _, body) = ask().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "payments:read");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], PAY);
    let page = b.get(&format!("{base}{client}")).await;
    assert!(page.body.contains(&format!("Remove the grant of {PAY}")));
    let removed = post(
        &b,
        &base,
        &page,
        &format!("{client}/api-grants"),
        &[("api", PAY), ("revoke", "on")],
    )
    .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let (status, _, _) = ask().await;
    assert_eq!(status, 400);
    assert_eq!(
        events(&db, "actor = 'operator:admin@example.com' AND kind LIKE 'admin.%' AND kind <> 'admin.signed_in'")
            .await
            .len(),
        2
    );
}
