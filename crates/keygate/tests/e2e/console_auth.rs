//! The admin console's sign-in, sessions, roles, CSRF and dashboard
//! (docs/console.md), driven over HTTP by a cookie-keeping client: an
//! operator made with `keygate admin create` signs in with its password,
//! enrols an authenticator app on the first sign-in and gives a code each
//! time; codes work once; wrong passwords are limited; a viewer cannot
//! change anything; a request from another site or without the session's
//! form token is refused; the dashboard draws the events and tokens of
//! the last day.

use crate::harness::*;
use crate::mfa_totp::{code, unix_now};

const OWNER: &str = "owner@example.com";
const OWNER_PW: &str = "owner password one";

pub(crate) fn make_operator(
    db: &Database,
    email: &str,
    pw: &str,
    role: &str,
    tenant: Option<&str>,
) -> String {
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
    let v = db.cli_json(&args, Some(&format!("{pw}\n")));
    assert_eq!(v["email"], email);
    assert_eq!(v["role"], role);
    assert_eq!(
        v["tenant"],
        tenant.map_or(serde_json::Value::Null, |t| t.into())
    );
    v["id"].as_str().unwrap().to_string()
}

/// The value of the hidden `csrf` input of a page's first form.
pub(crate) fn csrf_of(page: &Page) -> String {
    page.form()
        .1
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no csrf input: {}", page.body))
}

/// The console session cookie a response set.
fn session_cookie(page: &Page) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("kg_console="))
        .unwrap_or_else(|| panic!("no console cookie: {:?}", page.headers))
}

/// E-mail and password at the sign-in page.
pub(crate) async fn password_step(b: &Browser, base: &str, email: &str, pw: &str) -> Page {
    let form = b.get(&format!("{base}/admin/sign-in")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    b.submit(&form, &[("email", email), ("password", pw)]).await
}

/// The secret shown on the enrolment page, in base32.
fn secret_text(page: &Page) -> String {
    let i = page
        .body
        .find("id=\"secret\">")
        .expect("the secret as text")
        + 12;
    let j = page.body[i..].find('<').unwrap() + i;
    page.body[i..j].to_string()
}

/// The secret shown on the enrolment page.
fn secret_on(page: &Page) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(secret_text(page))
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// Signs in for the first time: password, enrolment, first code. Returns
/// the TOTP secret.
pub(crate) async fn first_sign_in(b: &Browser, base: &str, email: &str, pw: &str) -> Vec<u8> {
    let done = password_step(b, base, email, pw).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let enrol = b.get(&format!("{base}/admin/sign-in/second-factor")).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let secret = secret_on(&enrol);
    let signed_in = b
        .submit(&enrol, &[("code", &code(&secret, unix_now()))])
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location().as_deref(), Some("/admin/"));
    secret
}

/// Every `<input>` that is not hidden has a `<label for=...>`.
pub(crate) fn assert_inputs_labelled(page: &Page) {
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("<input") {
        let tag = &rest[i..i + rest[i..].find('>').unwrap()];
        rest = &rest[i + 6..];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split(" id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("an input without an id: {tag}"));
        assert!(
            page.body.contains(&format!("<label for=\"{id}\"")),
            "no label for {id}"
        );
    }
}

fn assert_console_headers(page: &Page) {
    let h = |n: &str| {
        page.headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let csp = h("content-security-policy");
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("cache-control"), "no-store");
    assert!(!page.body.contains("<script"));
}

pub async fn execute(db: &Database, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_with_a_password_and_a_code_enrolled_on_first_sign_in() {
    let db = Database::new();
    make_operator(&db, OWNER, OWNER_PW, "owner", None);
    let listed = db.cli_json(&["admin", "list"], None);
    assert_eq!(listed["items"][0]["email"], OWNER);
    assert_eq!(listed["items"][0]["totp"], false);
    assert!(!listed.to_string().contains("argon2"));
    let server = Server::start(&db).await;
    let base = &server.base;
    let b = Browser::new();

    // No session: pages go to the sign-in page.
    let home = b.get(&format!("{base}/admin/")).await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location().as_deref(), Some("/admin/sign-in"));
    let bare = b.get(&format!("{base}/admin")).await;
    assert_eq!(bare.location().as_deref(), Some("/admin/"));

    let form = b.get(&format!("{base}/admin/sign-in")).await;
    assert_console_headers(&form);
    assert_inputs_labelled(&form);
    let after_password = b
        .submit(
            &form,
            &[("email", "Owner@Example.com"), ("password", OWNER_PW)],
        )
        .await;
    assert_eq!(after_password.status, 303, "{}", after_password.body);
    assert_eq!(
        after_password.location().as_deref(),
        Some("/admin/sign-in/second-factor")
    );
    let cookie = session_cookie(&after_password);
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    // The password alone opens nothing.
    let pending = b.get(&format!("{base}/admin/")).await;
    assert_eq!(
        pending.location().as_deref(),
        Some("/admin/sign-in/second-factor")
    );

    let enrol = b.get(&format!("{base}/admin/sign-in/second-factor")).await;
    assert_eq!(enrol.status, 200);
    assert!(enrol.body.contains("otpauth://totp/"), "{}", enrol.body);
    assert!(enrol.body.contains("<svg"), "the QR code");
    assert_console_headers(&enrol);
    assert_inputs_labelled(&enrol);
    let secret = secret_on(&enrol);
    // Shown again until confirmed: the same secret.
    let again = b.get(&format!("{base}/admin/sign-in/second-factor")).await;
    assert_eq!(secret_on(&again), secret);
    // Stored sealed, not as the secret.
    let shown = secret_text(&enrol);
    let sealed = db
        .query_strings("SELECT totp_secret_sealed FROM operators")
        .await;
    assert!(!sealed[0].contains(shown.trim_end_matches('=')));

    let wrong = b
        .submit(&enrol, &[("code", &code(&secret, unix_now() - 3600))])
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let now = unix_now();
    let first_code = code(&secret, now);
    let signed_in = b.submit(&enrol, &[("code", &first_code)]).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location().as_deref(), Some("/admin/"));

    let dashboard = b.get(&format!("{base}/admin/")).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(dashboard.body.contains("<svg"));
    assert!(dashboard.body.contains(OWNER));
    for entry in [
        "Dashboard",
        "Tenants",
        "Clients",
        "Users",
        "APIs",
        "Upstreams",
        "Keys",
        "Admin tokens",
        "Events",
        "Operators",
        "Sign out",
    ] {
        assert!(dashboard.body.contains(&format!(">{entry}<")), "{entry}");
    }
    assert_console_headers(&dashboard);
    assert_eq!(
        db.cli_json(&["admin", "list"], None)["items"][0]["totp"],
        true
    );

    // A second browser: the code form (no enrolment); the code just used
    // is refused, the next one works.
    let b2 = Browser::new();
    let step = password_step(&b2, base, OWNER, OWNER_PW).await;
    assert_eq!(step.status, 303);
    let code_page = b2.get(&format!("{base}/admin/sign-in/second-factor")).await;
    assert!(!code_page.body.contains("otpauth://"));
    let used = b2.submit(&code_page, &[("code", &first_code)]).await;
    assert_eq!(used.status, 401, "a code works once: {}", used.body);
    let next = b2
        .submit(&code_page, &[("code", &code(&secret, now + 30))])
        .await;
    assert_eq!(next.status, 303, "{}", next.body);

    // Events: who, from where; never a secret.
    let signed = "SELECT COUNT(*) FROM events WHERE kind = 'admin.signed_in' \
        AND actor = 'operator:owner@example.com' AND ip = '127.0.0.1' AND tenant_id = ''";
    assert_eq!(db.count(signed).await, 2);
    let failed = "SELECT COUNT(*) FROM events WHERE kind = 'admin.sign_in_failed' \
        AND actor = 'operator:owner@example.com'";
    assert_eq!(db.count(failed).await, 2);
    for detail in db.query_strings("SELECT detail FROM events").await {
        assert!(
            !detail.contains(OWNER_PW) && !detail.contains(&first_code),
            "{detail}"
        );
    }

    // Signing out ends the session on the server, not only in the browser.
    let csrf = csrf_of(&b.get(&format!("{base}/admin/")).await);
    let raw = session_cookie(&after_password);
    let value = raw.split(';').next().unwrap().to_string();
    let out = b
        .post_form(
            &format!("{base}/admin/sign-out"),
            &[("csrf".to_string(), csrf)],
        )
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.location().as_deref(), Some("/admin/sign-in"));
    assert_eq!(
        b.get(&format!("{base}/admin/")).await.location().as_deref(),
        Some("/admin/sign-in")
    );
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/admin/"))
        .header("cookie", value)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 303);
    // The other browser is still signed in.
    assert_eq!(b2.get(&format!("{base}/admin/")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_and_then_limited() {
    let db = Database::new();
    make_operator(&db, OWNER, OWNER_PW, "owner", None);
    // Refused before anything is written.
    let short = db.cli(
        &[
            "admin",
            "create",
            "--email",
            "x@example.com",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert_eq!(short.status.code(), Some(2));
    let bad_role = db.cli(
        &[
            "admin",
            "create",
            "--email",
            "x@example.com",
            "--password-stdin",
            "--role",
            "root",
        ],
        Some("long enough password\n"),
    );
    assert_eq!(bad_role.status.code(), Some(2));
    let no_tenant = db.cli(
        &[
            "admin",
            "create",
            "--email",
            "x@example.com",
            "--password-stdin",
            "--role",
            "viewer",
            "--tenant",
            "nope",
        ],
        Some("long enough password\n"),
    );
    assert_eq!(no_tenant.status.code(), Some(2));
    let taken = db.cli(
        &["admin", "create", "--email", OWNER, "--password-stdin"],
        Some("long enough password\n"),
    );
    assert_eq!(taken.status.code(), Some(2));
    assert_eq!(db.count("SELECT COUNT(*) FROM operators").await, 1);

    let server = Server::start(&db).await;
    let base = &server.base;
    let b = Browser::new();
    for _ in 0..5 {
        let refused = password_step(&b, base, OWNER, "wrong password").await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.body.contains("Wrong e-mail or password"));
        assert!(!refused.headers.contains_key("location"));
    }
    // An unknown e-mail is answered the same way.
    let unknown = password_step(&b, base, "nobody@example.com", OWNER_PW).await;
    assert_eq!(unknown.status, 401);
    // Past the limit even the right password waits.
    let limited = password_step(&b, base, OWNER, OWNER_PW).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(db.count("SELECT COUNT(*) FROM operator_sessions").await, 0);
    let failed = "SELECT COUNT(*) FROM events WHERE kind = 'admin.sign_in_failed' \
        AND actor = 'operator:owner@example.com'";
    assert_eq!(db.count(failed).await, 6);
    for detail in db.query_strings("SELECT detail FROM events").await {
        assert!(!detail.contains("wrong password") && !detail.contains(OWNER_PW));
    }

    // The sign-in form's own token: a post without it is refused.
    let no_token = b
        .post_form(
            &format!("{base}/admin/sign-in"),
            &[
                ("email".to_string(), OWNER.to_string()),
                ("password".to_string(), OWNER_PW.to_string()),
            ],
        )
        .await;
    assert_eq!(no_token.status, 403);

    // CLI deletion by e-mail ends it.
    let gone = db.cli_json(&["admin", "delete", "--email", OWNER], None);
    assert_eq!(gone["deleted"], true);
    let again = db.cli(&["admin", "delete", "--email", OWNER], None);
    assert_eq!(again.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_cannot_change_and_other_sites_cannot_post() {
    let db = Database::new();
    db.tenant("acme", &[]);
    make_operator(&db, OWNER, OWNER_PW, "owner", None);
    make_operator(
        &db,
        "viewer@example.com",
        "viewer password",
        "viewer",
        Some("acme"),
    );
    let server = Server::start(&db).await;
    let base = &server.base;

    let viewer = Browser::new();
    first_sign_in(&viewer, base, "viewer@example.com", "viewer password").await;
    let home = viewer.get(&format!("{base}/admin/")).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("tenant acme"));
    let csrf = csrf_of(&home);
    // The operators page is the owner's.
    assert_eq!(
        viewer.get(&format!("{base}/admin/operators")).await.status,
        403
    );
    let refused = viewer
        .post_form(
            &format!("{base}/admin/operators"),
            &[
                ("csrf".to_string(), csrf.clone()),
                ("email".to_string(), "new@example.com".to_string()),
                ("role".to_string(), "owner".to_string()),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("cannot do this"));

    let owner = Browser::new();
    first_sign_in(&owner, base, OWNER, OWNER_PW).await;
    let page = owner.get(&format!("{base}/admin/operators")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("viewer@example.com"));
    assert_inputs_labelled(&page);
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let fields = |token: &str| {
        vec![
            ("csrf".to_string(), token.to_string()),
            ("email".to_string(), "new@example.com".to_string()),
            ("role".to_string(), "admin".to_string()),
            ("tenant".to_string(), "acme".to_string()),
            ("password".to_string(), String::new()),
        ]
    };
    let url = format!("{base}/admin/operators");
    // Without the form token, with another session's, from another origin,
    // or marked cross-site by the browser: refused, nothing written.
    assert_eq!(owner.post_form(&url, &fields("")).await.status, 403);
    assert_eq!(
        owner.post_form(&url, &fields(&csrf_of(&home))).await.status,
        403
    );
    let cross = owner
        .http
        .post(&url)
        .header("origin", "http://evil.example")
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let fetch_site = owner
        .http
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_site.status(), 403);
    // `Origin: null` (what no-referrer pages send) only beside
    // `Sec-Fetch-Site: same-origin`.
    let null_origin = owner
        .http
        .post(&url)
        .header("origin", "null")
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(null_origin.status(), 403);
    let same_site = owner
        .http
        .post(&url)
        .header("sec-fetch-site", "same-site")
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 403);
    assert_eq!(db.count("SELECT COUNT(*) FROM operators").await, 2);

    // From the console itself: made, its password shown once.
    let made = owner
        .http
        .post(&url)
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let body = made.text().await.unwrap();
    assert!(body.contains("id=\"new-password\""), "{body}");
    assert_eq!(db.count("SELECT COUNT(*) FROM operators").await, 3);
    let created = "SELECT COUNT(*) FROM events WHERE kind = 'admin.created' \
        AND actor = 'operator:owner@example.com' AND subject = 'operator:new@example.com'";
    assert_eq!(db.count(created).await, 1);
    // Taken e-mail: a clear refusal, not a 500 (and the own origin passes).
    let taken = owner
        .http
        .post(&url)
        .header("origin", base.as_str())
        .form(&fields(&csrf))
        .send()
        .await
        .unwrap();
    let taken = Page {
        status: taken.status().as_u16(),
        url: url.clone(),
        headers: taken.headers().clone(),
        body: taken.text().await.unwrap(),
    };
    assert_eq!(taken.status, 409, "{}", taken.body);

    let id = db
        .query_strings("SELECT id FROM operators WHERE email = 'new@example.com'")
        .await
        .remove(0);
    let deleted = owner
        .post_form(
            &format!("{base}/admin/operators/delete"),
            &[("csrf".to_string(), csrf.clone()), ("id".to_string(), id)],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(db.count("SELECT COUNT(*) FROM operators").await, 2);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM events WHERE kind = 'admin.deleted'")
            .await,
        1
    );

    // Without a session a POST is refused, not redirected.
    let anonymous = Browser::new();
    assert_eq!(anonymous.post_form(&url, &fields(&csrf)).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_keeps_its_tokens_and_a_users_session_opens_no_console() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    make_operator(&db, OWNER, OWNER_PW, "owner", None);
    let token = db.cli_json(&["admin-token", "create"], None)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let server = Server::start(&db).await;
    let base = &server.base;

    // A person signed in at the hosted pages has a session cookie there;
    // it opens nothing in the console.
    let person = Browser::new();
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let (_, challenge) = pkce();
    obtain_code(
        &person,
        &server.issuer("acme"),
        &client,
        Some(&challenge),
        &[],
    )
    .await;
    let home = person.get(&format!("{base}/admin/")).await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location().as_deref(), Some("/admin/sign-in"));

    // The admin API answers its bearer tokens as before, and a console
    // session is no credential there.
    let owner = Browser::new();
    first_sign_in(&owner, base, OWNER, OWNER_PW).await;
    let api = reqwest::Client::new()
        .get(format!("{base}/admin/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    let by_cookie = owner.get(&format!("{base}/admin/v1/tenants")).await;
    assert_eq!(by_cookie.status, 401, "{}", by_cookie.body);

    // A tenant named "admin" keeps its path door beside the console.
    db.tenant("admin", &[]);
    let discovery = reqwest::get(format!("{base}/admin/as/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_the_sign_ins_failures_and_tokens_of_the_last_day() {
    let world = World::new().await;
    let db = &world.db;
    let base = &world.server.base;
    make_operator(db, OWNER, OWNER_PW, "owner", None);

    // Two failed sign-ins at the hosted page (recorded by the server).
    let client = world.public_client(&[]);
    let person = Browser::new();
    let (_, challenge) = pkce();
    for _ in 0..2 {
        let page = person
            .get(&authorize_url(
                &world.issuer,
                &client,
                Some(&challenge),
                &[],
            ))
            .await;
        let refused = person
            .submit(&page, &[("email", EMAIL), ("password", "not the password")])
            .await;
        assert_eq!(refused.status, 401, "{}", refused.body);
    }
    // One code issued (a grant).
    obtain_code(&person, &world.issuer, &client, Some(&challenge), &[]).await;
    // Three sign-ins this hour and one a week ago, in the event log.
    let now = unix_now() as i64;
    for (i, at) in [now - 5, now - 4, now - 3, now - 6 * 86400]
        .iter()
        .enumerate()
    {
        execute(
            db,
            &format!(
                "INSERT INTO events (id, tenant_id, at, kind, actor, ip, subject, detail, expires_at) \
                 VALUES ('test-{i}', 'acme', {at}, 'user.signed_in', 'user:x', NULL, NULL, '{{}}', {})",
                now + 86400
            ),
        )
        .await;
    }

    let b = Browser::new();
    first_sign_in(&b, base, OWNER, OWNER_PW).await;
    let day = b.get(&format!("{base}/admin/")).await;
    assert_eq!(day.status, 200, "{}", day.body);
    // The three inserted, and the real one that issued the code.
    assert!(day.body.contains("id=\"total-signins\">4<"), "{}", day.body);
    assert!(day.body.contains("id=\"total-failures\">2<"));
    assert!(day.body.contains("id=\"total-tokens\">1<"));
    let svg = &day.body[day.body.find("<svg").unwrap()..day.body.find("</svg>").unwrap()];
    assert!(svg.contains("role=\"img\"") && svg.contains("<desc"));
    assert!(svg.contains(": 4 sign-ins</title>"), "{svg}");
    assert!(svg.contains(": 2 failed sign-ins</title>"), "{svg}");
    assert!(svg.contains(": 1 tokens issued</title>"), "{svg}");
    assert!(svg.matches("<rect").count() >= 3, "{svg}");
    // The latest events, newest first.
    assert!(day.body.contains("<code>user.sign_in_failed</code>"));

    let week = b.get(&format!("{base}/admin/?range=7d")).await;
    assert!(
        week.body.contains("id=\"total-signins\">5<"),
        "{}",
        week.body
    );
    assert!(week.body.contains("Last 7 days"));

    // A viewer of another tenant sees none of acme's numbers.
    world.db.tenant("other", &[]);
    let other = Browser::new();
    make_operator(
        db,
        "o2@example.com",
        "other password",
        "viewer",
        Some("other"),
    );
    first_sign_in(&other, base, "o2@example.com", "other password").await;
    let theirs = other.get(&format!("{base}/admin/")).await;
    assert!(theirs.body.contains("id=\"total-signins\">0<"));
    assert!(!theirs.body.contains("user.sign_in_failed"));
}
