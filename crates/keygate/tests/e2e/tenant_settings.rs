//! A tenant's settings (docs/cli.md, "keygate tenant update"): registration
//! open|closed, verify-email off|optional|required, mfa off|optional|required.
//! Their defaults, changes through the CLI and the admin API (each sees
//! what the other wrote), refusals of unknown values naming the field, and
//! what `registration closed` does to the hosted pages and the Journeys API.

use crate::admin_helpers::*;
use crate::harness::*;
use crate::journeys_helpers::{assert_journeys_error, code_of, credentials, post_json, Via};
use crate::pages_helpers::link;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The three settings of a tenant as the CLI or the admin API shows it.
fn settings(v: &Value) -> (&str, &str, &str) {
    (
        v["registration"].as_str().unwrap_or_else(|| panic!("{v}")),
        v["verify_email"].as_str().unwrap_or_else(|| panic!("{v}")),
        v["mfa"].as_str().unwrap_or_else(|| panic!("{v}")),
    )
}

const DEFAULTS: (&str, &str, &str) = ("open", "optional", "optional");

/// Runs a command that must be refused: exit 2, nothing on stdout, a
/// message on stderr containing each of `says`.
fn refused(db: &Database, args: &[&str], says: &[&str]) {
    let out = db.cli(args, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    for s in says {
        assert!(err.contains(s), "{args:?}: {err:?} lacks {s:?}");
    }
}

/// Waits (at most 8 s: a server caches tenants for 5 s) until `check`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(8);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not seen within 8 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn settings_have_their_defaults_and_change_through_the_cli_and_the_admin_api() {
    let (w, admin) = admin_world().await;
    let db = &w.db;

    // Defaults: every tenant, `default` included, in show, list and the API.
    for id in ["acme", "default"] {
        let shown = db.cli_json(&["tenant", "show", id], None);
        assert_eq!(settings(&shown), DEFAULTS, "{id}: {shown}");
        let api = admin.get(&format!("/tenants/{id}")).await;
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(settings(&api.body), DEFAULTS, "{id}: {}", api.body);
    }
    let listed = db.cli_json(&["tenant", "list"], None);
    for t in listed["items"].as_array().unwrap() {
        assert_eq!(settings(t), DEFAULTS, "{t}");
    }

    // Created with every setting: printed by create, kept by show.
    let created = db.cli_json(
        &[
            "tenant",
            "create",
            "strict",
            "--registration",
            "closed",
            "--verify-email",
            "required",
            "--mfa",
            "off",
        ],
        None,
    );
    assert_eq!(settings(&created), ("closed", "required", "off"));
    let shown = db.cli_json(&["tenant", "show", "strict"], None);
    assert_eq!(settings(&shown), ("closed", "required", "off"));
    let api = admin.get("/tenants/strict").await;
    assert_eq!(settings(&api.body), ("closed", "required", "off"));

    // One setting changed by the CLI; the others stay, and so does the rest.
    let updated = db.cli_json(
        &["tenant", "update", "acme", "--verify-email", "required"],
        None,
    );
    assert_eq!(settings(&updated), ("open", "required", "optional"));
    assert_eq!(updated["display_name"], "acme");
    let shown = db.cli_json(&["tenant", "show", "acme"], None);
    assert_eq!(shown, updated);
    // The admin API reads what the CLI wrote.
    let api = admin.get("/tenants/acme").await;
    assert_eq!(settings(&api.body), ("open", "required", "optional"));
    let updated = db.cli_json(
        &[
            "tenant",
            "update",
            "acme",
            "--registration",
            "closed",
            "--mfa",
            "required",
            "--verify-email",
            "off",
        ],
        None,
    );
    assert_eq!(settings(&updated), ("closed", "off", "required"));

    // The admin API changes them; the CLI reads what it wrote.
    let patched = admin
        .patch(
            "/tenants/acme",
            json!({"registration": "open", "verify_email": "optional"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(settings(&patched.body), ("open", "optional", "required"));
    let patched = admin
        .patch(
            "/tenants/acme",
            json!({"mfa": "off", "display_name": "Acme"}),
        )
        .await;
    assert_eq!(settings(&patched.body), ("open", "optional", "off"));
    assert_eq!(admin.get("/tenants/acme").await.body, patched.body);
    let shown = db.cli_json(&["tenant", "show", "acme"], None);
    assert_eq!(settings(&shown), ("open", "optional", "off"));
    assert_eq!(shown["display_name"], "Acme");
    // A null or absent setting leaves it as it is.
    let same = admin
        .patch("/tenants/acme", json!({"registration": null}))
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(settings(&same.body), ("open", "optional", "off"));

    // Created through the admin API: the given settings, defaults for the rest.
    let made = admin
        .post(
            "/tenants",
            json!({"id": "api-made", "verify_email": "off", "registration": "closed"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(settings(&made.body), ("closed", "off", "optional"));
    let shown = db.cli_json(&["tenant", "show", "api-made"], None);
    assert_eq!(settings(&shown), ("closed", "off", "optional"));
    let plain = admin.post("/tenants", json!({"id": "api-plain"})).await;
    assert_eq!(settings(&plain.body), DEFAULTS);
}

#[tokio::test]
async fn unknown_values_are_refused_naming_the_field_and_nothing_is_written() {
    let (w, admin) = admin_world().await;
    let db = &w.db;
    let tenants = || db.count("SELECT COUNT(*) FROM tenants");
    let before = tenants().await;

    // The CLI: exit 2, the flag and the values it takes, nothing written.
    refused(
        db,
        &["tenant", "create", "new", "--registration", "maybe"],
        &["--registration", "'maybe'", "open, closed"],
    );
    refused(
        db,
        &["tenant", "create", "new", "--verify-email", "yes"],
        &["--verify-email", "'yes'", "off, optional, required"],
    );
    refused(
        db,
        &["tenant", "create", "new", "--mfa", "on"],
        &["--mfa", "'on'", "off, optional, required"],
    );
    assert_eq!(tenants().await, before, "a refused create wrote a tenant");
    refused(
        db,
        &["tenant", "update", "acme", "--registration", "Closed"],
        &["--registration", "'Closed'", "open, closed"],
    );
    refused(
        db,
        &["tenant", "update", "acme", "--verify-email", ""],
        &["--verify-email", "off, optional, required"],
    );
    // One bad value refuses the whole change.
    refused(
        db,
        &[
            "tenant",
            "update",
            "acme",
            "--registration",
            "closed",
            "--mfa",
            "REQUIRED",
        ],
        &["--mfa", "'REQUIRED'", "off, optional, required"],
    );
    refused(
        db,
        &["tenant", "update", "nobody", "--mfa", "off"],
        &["does not exist"],
    );
    let shown = db.cli_json(&["tenant", "show", "acme"], None);
    assert_eq!(settings(&shown), DEFAULTS, "a refused update changed it");

    // The admin API: 400 invalid_request, the description names the field.
    let bad = admin
        .post("/tenants", json!({"id": "new", "registration": "maybe"}))
        .await;
    assert_error(&bad, 400, "invalid_request");
    let d = bad.body["error_description"].as_str().unwrap();
    assert!(
        d.starts_with("registration:") && d.contains("open, closed"),
        "{d}"
    );
    for (field, value) in [
        ("verify_email", json!("sometimes")),
        ("mfa", json!("Optional")),
        ("registration", json!("")),
    ] {
        let bad = admin
            .patch("/tenants/acme", json!({"display_name": "X", field: value}))
            .await;
        assert_error(&bad, 400, "invalid_request");
        let d = bad.body["error_description"].as_str().unwrap();
        assert!(d.starts_with(&format!("{field}:")), "{field}: {d}");
    }
    // Not a string: refused as the body's shape, naming the field.
    let bad = admin.patch("/tenants/acme", json!({"mfa": 1})).await;
    assert_error(&bad, 400, "invalid_request");
    assert!(
        bad.body["error_description"]
            .as_str()
            .unwrap()
            .contains("mfa"),
        "{}",
        bad.body
    );
    assert_eq!(tenants().await, before, "a refused request wrote a tenant");
    let api = admin.get("/tenants/acme").await;
    assert_eq!(settings(&api.body), DEFAULTS);
    assert_eq!(
        api.body["display_name"], "acme",
        "a refused PATCH changed it"
    );
}

#[tokio::test]
async fn closed_registration_hides_the_link_refuses_the_page_and_the_journeys_api_until_reopened() {
    let (w, admin) = admin_world().await;
    let client = w.public_client(&["--journeys-api"]);
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let authorize = authorize_url(&w.issuer, &client, Some(&challenge), &[]);
    let journeys = |email: &str| {
        let mut body = crate::journeys_helpers::request(
            &client,
            Some(&challenge),
            &credentials(email, "a long enough password"),
        );
        body["name"] = json!("Someone");
        body
    };
    let register_api = format!("{}/journeys/register", w.issuer);
    let sign_in_api = format!("{}/journeys/sign-in", w.issuer);
    let users = || w.db.count("SELECT COUNT(*) FROM users");

    // Open (the default): the sign-in page links to registration.
    let page = browser.get(&authorize).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let register = link(&page, "/register");
    let form = browser.get(&register).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("name=\"password\""), "{}", form.body);

    // Closed through the admin API (this node forgets its cached tenant).
    let closed = admin
        .patch("/tenants/acme", json!({"registration": "closed"}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let before = users().await;

    let page = browser.get(&authorize).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("name=\"password\""),
        "still a sign-in page"
    );
    assert!(
        !page.body.contains("/register"),
        "a registration link while closed: {}",
        page.body
    );
    // The registration page and its form: 403, an HTML page that says so.
    let refused = browser.get(&register).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        refused.body.contains("Registration is closed"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("<form"), "{}", refused.body);
    // The form fetched while it was open, submitted now.
    let posted = browser
        .submit(
            &form,
            &[
                ("email", "late@example.com"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(posted.status, 403, "{}", posted.body);
    assert!(
        posted.location().is_none(),
        "redirected: {:?}",
        posted.location()
    );
    assert!(
        posted.body.contains("Registration is closed"),
        "{}",
        posted.body
    );
    // The Journeys API: 403 registration_closed.
    let r = post_json(&register_api, &journeys("api@example.com"), Via::default()).await;
    assert_journeys_error(&r, 403, "registration_closed", "journeys register");
    assert_eq!(
        users().await,
        before,
        "a refused registration created a user"
    );

    // Signing in still works, and administrators still create users, who
    // can then sign in.
    let r = post_json(
        &sign_in_api,
        &crate::journeys_helpers::request(&client, Some(&challenge), &credentials(EMAIL, PASSWORD)),
        Via::default(),
    )
    .await;
    code_of(&r, 200, &client, &w.issuer);
    w.db.user("acme", "by-cli@example.com", "a long enough password");
    let made = admin
        .post(
            "/tenants/acme/users",
            json!({"email": "by-api@example.com", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    for email in ["by-cli@example.com", "by-api@example.com"] {
        let r = post_json(
            &sign_in_api,
            &crate::journeys_helpers::request(
                &client,
                Some(&challenge),
                &credentials(email, "a long enough password"),
            ),
            Via::default(),
        )
        .await;
        code_of(&r, 200, &client, &w.issuer);
    }

    // Re-opened through the CLI: the server sees it within its 5-second
    // cache of tenants.
    let reopened = w.db.cli_json(
        &["tenant", "update", "acme", "--registration", "open"],
        None,
    );
    assert_eq!(reopened["registration"], "open");
    eventually("the registration page open again", || async {
        browser.get(&register).await.status == 200
    })
    .await;
    let page = browser.get(&authorize).await;
    assert_eq!(link(&page, "/register"), register);
    let form = browser.get(&register).await;
    let done = browser
        .submit(
            &form,
            &[
                ("email", "page@example.com"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.redirect_params().contains_key("code"));
    let r = post_json(&register_api, &journeys("api@example.com"), Via::default()).await;
    code_of(&r, 201, &client, &w.issuer);
}

/// The schema a property refers to (`$ref`, directly or inside `oneOf`).
fn referred<'a>(doc: &'a Value, property: &'a Value) -> &'a Value {
    fn find_ref(v: &Value) -> Option<&str> {
        match v {
            Value::Object(m) => m
                .get("$ref")
                .and_then(Value::as_str)
                .or_else(|| m.values().find_map(find_ref)),
            Value::Array(a) => a.iter().find_map(find_ref),
            _ => None,
        }
    }
    let r = find_ref(property).unwrap_or_else(|| panic!("no $ref in {property}"));
    let name = r.trim_start_matches("#/components/schemas/");
    &doc["components"]["schemas"][name]
}

#[tokio::test]
async fn the_openapi_document_lists_each_settings_values() {
    let (_w, admin) = admin_world().await;
    let doc = admin.get("/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    for (field, values) in [
        ("registration", json!(["open", "closed"])),
        ("verify_email", json!(["off", "optional", "required"])),
        ("mfa", json!(["off", "optional", "required"])),
    ] {
        for schema in ["NewTenant", "TenantPatch", "TenantView"] {
            let property = &schemas[schema]["properties"][field];
            assert!(property.is_object(), "{schema}.{field} missing");
            let target = referred(&doc, property);
            assert_eq!(target["enum"], values, "{schema}.{field}: {target}");
        }
    }
    // The view always answers them; the requests may leave them out.
    let required = schemas["TenantView"]["required"].as_array().unwrap();
    for field in ["registration", "verify_email", "mfa"] {
        assert!(required.contains(&json!(field)), "{required:?}");
    }
}
