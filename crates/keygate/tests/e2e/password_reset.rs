//! Password reset and the mail that carries it (INTERFACE.md "Account
//! lifecycle", "E-mail"): the forgot page, the link, the new password, the
//! limits, the Journeys call, and delivery through a real SMTP server
//! (`mail.rs`), retried while it is down and across a restart.

use crate::harness::*;
use crate::journeys_helpers::{post_json, Via};
use crate::mail::{SmtpServer, MAIL_FROM};
use serde_json::json;
use std::time::Duration;

const NEW_PASSWORD: &str = "a brand new passphrase";
const UNKNOWN: &str = "nobody@example.com";

struct Setup {
    db: Database,
    server: Server,
    smtp: SmtpServer,
    issuer: String,
    client: TestClient,
}

/// Tenant `acme` ("Acme Shop") with the usual person and a public client,
/// a running SMTP server and keygate sending through it.
async fn setup(extra: &[(&str, &str)]) -> Setup {
    let smtp = SmtpServer::started().await;
    let db = Database::new();
    db.cli_json(
        &["tenant", "create", "acme", "--display-name", "Acme Shop"],
        None,
    );
    db.user("acme", EMAIL, PASSWORD);
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let mut env: Vec<(String, String)> = smtp.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&db, &env).await;
    let issuer = server.issuer("acme");
    Setup {
        db,
        server,
        smtp,
        issuer,
        client,
    }
}

/// The absolute URL of the first `href` containing `needle`.
fn href_containing(page: &Page, needle: &str) -> String {
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let end = rest.find('"').unwrap();
        let href = unescape(&rest[..end]);
        if href.contains(needle) {
            return url::Url::parse(&page.url)
                .unwrap()
                .join(&href)
                .unwrap()
                .to_string();
        }
    }
    panic!("no link containing {needle:?}: {}", page.body)
}

/// The forgot page, reached as a person does: /authorize shows sign-in,
/// whose "forgot" link leads there.
async fn forgot_page(b: &Browser, issuer: &str, client: &TestClient) -> Page {
    // One challenge for every visit, so that answers can be compared whole.
    let challenge =
        keygate_core::pkce::s256_challenge("a-fixed-verifier-for-the-forgot-page-visits");
    let login = b
        .get(&authorize_url(issuer, client, Some(&challenge), &[]))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let page = b.get(&href_containing(&login, "forgot")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.form().1.iter().any(|(n, _)| n == "email"),
        "{}",
        page.body
    );
    page
}

/// Asks for a reset of `email` through the hosted page; the answer.
async fn ask(b: &Browser, issuer: &str, client: &TestClient, email: &str) -> Page {
    let page = forgot_page(b, issuer, client).await;
    b.submit(&page, &[("email", email)]).await
}

/// Asks, waits for the `n`th message and returns its link.
async fn link_by_mail(s: &Setup, n: usize) -> String {
    let b = Browser::new();
    let answer = ask(&b, &s.issuer, &s.client, EMAIL).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    s.smtp.wait_for(n, 20).await[n - 1].link()
}

/// Signs in through the hosted page with `password`; the final status
/// (303 to the application, or the page again).
async fn sign_in_status(s: &Setup, password: &str) -> u16 {
    let b = Browser::new();
    let (_, challenge) = pkce();
    let page = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    b.submit(&page, &[("email", EMAIL), ("password", password)])
        .await
        .status
}

/// Opens a reset link and submits the new password (twice, as the form asks).
async fn set_password(b: &Browser, link: &str, password: &str) -> Page {
    let page = b.get(link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    b.submit(
        &page,
        &[("password", password), ("password_confirm", password)],
    )
    .await
}

#[tokio::test]
async fn forgot_page_answers_alike_for_known_and_unknown_addresses_and_mails_only_the_known() {
    let s = setup(&[]).await;
    let b = Browser::new();
    let page = forgot_page(&b, &s.issuer, &s.client).await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!page.body.contains("cannot send e-mail"), "{}", page.body);

    let known = b.submit(&page, &[("email", EMAIL)]).await;
    let page = forgot_page(&b, &s.issuer, &s.client).await;
    let unknown = b.submit(&page, &[("email", UNKNOWN)]).await;
    assert_eq!(known.status, 200, "{}", known.body);
    assert_eq!(
        (known.status, &known.body),
        (unknown.status, &unknown.body),
        "the answer must not tell whether the account exists"
    );
    assert!(!known.body.contains(EMAIL) && !unknown.body.contains(UNKNOWN));

    let got = s.smtp.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_all = s.smtp.messages();
    assert_eq!(
        got_all.len(),
        1,
        "only the existing account gets mail: {got_all:?}"
    );
    let m = &got[0];
    assert_eq!(m.rcpt_tos, vec![EMAIL.to_string()]);
    assert!(m.to.contains(EMAIL), "{}", m.to);
    assert_eq!(m.from, MAIL_FROM);
    assert!(m.subject.contains("Acme Shop"), "{}", m.subject);
    assert_eq!(m.content_type, "multipart/alternative");
    let text = m.text.as_deref().unwrap();
    let html = m.html.as_deref().unwrap();
    assert!(text.contains("Acme Shop") && html.contains("Acme Shop"));
    let link = m.link();
    assert!(
        link.starts_with(&format!("{}/reset-password?token=", s.issuer)),
        "the link is absolute, under the issuer used: {link}"
    );
    assert!(html.contains(&link.replace('&', "&amp;")) || html.contains(&link));
    // Stored only as a hash.
    let token = link.split("token=").nth(1).unwrap();
    assert_eq!(
        s.db.count(&format!(
            "SELECT COUNT(*) FROM reset_tokens WHERE hash = '{}'",
            keygate_crypto::secrets::sha256_hex(token)
        ))
        .await,
        1
    );
    assert_eq!(
        s.db.count(&format!(
            "SELECT COUNT(*) FROM reset_tokens WHERE hash = '{token}'"
        ))
        .await,
        0
    );
    // The log names neither the link nor the address.
    let log = s.server.log_text();
    assert!(!log.contains(token), "the token reached the log");
    assert!(!log.contains(EMAIL), "the address reached the log");
    assert!(
        log.contains("example.com"),
        "the recipient's domain is logged"
    );
}

#[tokio::test]
async fn reset_link_under_the_root_door_is_under_the_root_issuer() {
    let smtp = SmtpServer::started().await;
    let db = Database::new();
    db.user("default", EMAIL, PASSWORD);
    let client = db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    let env = smtp.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&db, &env).await;
    let b = Browser::new();
    ask(&b, &server.base, &client, EMAIL).await;
    let link = smtp.wait_for(1, 20).await[0].link();
    assert!(
        link.starts_with(&format!("{}/reset-password?token=", server.base)),
        "{link}"
    );
}

#[tokio::test]
async fn reset_sets_the_password_ends_sessions_and_revokes_refresh_tokens() {
    let s = setup(&[]).await;
    // A session and a refresh token from before the reset.
    let b = Browser::new();
    let (verifier, challenge) = pkce();
    let code = obtain_code(&b, &s.issuer, &s.client, Some(&challenge), &[]).await;
    let (status, _, tokens) = token(
        &s.issuer,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &s.client.redirect_uri),
            ("client_id", &s.client.id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let silent = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    assert_eq!(silent.status, 303, "the session signs in silently before");

    let link = link_by_mail(&s, 1).await;
    let other = Browser::new();
    let done = set_password(&other, &link, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Password changed"), "{}", done.body);

    assert_eq!(
        sign_in_status(&s, PASSWORD).await,
        401,
        "the old password fails"
    );
    assert_eq!(
        sign_in_status(&s, NEW_PASSWORD).await,
        303,
        "the new one works"
    );
    let again = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    assert_eq!(again.status, 200, "the old session ended: {}", again.body);
    let (status, _, body) = token(
        &s.issuer,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &s.client.id),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn reset_link_works_once_even_under_a_race() {
    let s = setup(&[]).await;
    let link = link_by_mail(&s, 1).await;
    // Two forms from the same link, submitted at once: one winner.
    let (b1, b2) = (Browser::new(), Browser::new());
    let (p1, p2) = (b1.get(&link).await, b2.get(&link).await);
    let (r1, r2) = tokio::join!(
        b1.submit(
            &p1,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD)
            ]
        ),
        b2.submit(
            &p2,
            &[
                ("password", "another new password"),
                ("password_confirm", "another new password")
            ]
        ),
    );
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", r1.body, r2.body);
    // Used: neither the form nor a replay works.
    let used = Browser::new().get(&link).await;
    assert_eq!(used.status, 400, "{}", used.body);
    assert!(used.body.contains("already used"), "{}", used.body);
    let replay = b1
        .submit(
            &p1,
            &[
                ("password", "third password!"),
                ("password_confirm", "third password!"),
            ],
        )
        .await;
    assert_eq!(replay.status, 400);
    assert_eq!(sign_in_status(&s, "third password!").await, 401);
    // A newer link of the same person still works after an older one was
    // asked for; using one uses up the others.
    let l2 = link_by_mail(&s, 2).await;
    let l3 = link_by_mail(&s, 3).await;
    assert_eq!(
        set_password(&Browser::new(), &l3, "fourth password")
            .await
            .status,
        200
    );
    assert_eq!(Browser::new().get(&l2).await.status, 400);
}

#[tokio::test]
async fn reset_link_expires() {
    let s = setup(&[("KEYGATE_PASSWORD_RESET_TTL", "2")]).await;
    let link = link_by_mail(&s, 1).await;
    let b = Browser::new();
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "fresh: {}", page.body);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let expired = Browser::new().get(&link).await;
    assert_eq!(expired.status, 400, "{}", expired.body);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let late = b
        .submit(
            &page,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert_eq!(
        sign_in_status(&s, PASSWORD).await,
        303,
        "the password stays"
    );
}

#[tokio::test]
async fn reset_pages_refuse_bad_input_with_a_page_not_an_error() {
    let s = setup(&[]).await;
    let b = Browser::new();
    let reset = format!("{}/reset-password", s.issuer);
    for url in [
        reset.clone(),
        format!("{reset}?token="),
        format!("{reset}?token=%FF%FE"),
        format!("{reset}?token=short"),
        format!("{reset}?token={}", "A".repeat(300)),
        format!("{reset}?token=not+a+token+at+all+really"),
        format!("{reset}?token={}", keygate_crypto::secrets::new_secret()),
        format!("{reset}?token=a&token=b"),
    ] {
        let page = b.get(&url).await;
        assert_eq!(page.status, 400, "{url}: {}", page.body);
        assert!(page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(
            page.body.contains("forgot-password"),
            "offers a new link: {}",
            page.body
        );
    }
    // Forms without their CSRF token, fields or matching confirmation.
    let link = link_by_mail(&s, 1).await;
    let page = b.get(&link).await;
    let (action, fields) = page.form();
    let without_csrf: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .chain([
            ("password".to_string(), NEW_PASSWORD.to_string()),
            ("password_confirm".to_string(), NEW_PASSWORD.to_string()),
        ])
        .collect();
    let r = Browser::new().post_form(&action, &without_csrf).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = b
        .submit(
            &page,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("differ"), "{}", r.body);
    let r = b
        .submit(
            &page,
            &[("password", "short"), ("password_confirm", "short")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("at least 8"), "{}", r.body);
    let no_password: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k != "password" && k != "password_confirm")
        .cloned()
        .collect();
    assert_eq!(b.post_form(&action, &no_password).await.status, 400);
    // The link survived every refusal.
    assert_eq!(set_password(&b, &link, NEW_PASSWORD).await.status, 200);

    let forgot = forgot_page(&b, &s.issuer, &s.client).await;
    let (action, fields) = forgot.form();
    let r = b.submit(&forgot, &[("email", "")]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let no_csrf: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| {
            if k == "email" {
                (k, EMAIL.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let r = Browser::new().post_form(&action, &no_csrf).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = Browser::new()
        .http
        .post(&action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a&email=b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn reset_requests_are_rate_limited_per_address_without_telling() {
    let s = setup(&[("KEYGATE_RESET_MAX", "2")]).await;
    let b = Browser::new();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(ask(&b, &s.issuer, &s.client, EMAIL).await);
    }
    for a in &answers {
        assert_eq!((a.status, &a.body), (answers[0].status, &answers[0].body));
    }
    s.smtp.wait_for(2, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        s.smtp.messages().len(),
        2,
        "over the limit, nothing is sent"
    );
    // The Journeys call says so with 429, for any address alike.
    let journeys = s.db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let url = format!("{}/journeys/password-reset", s.issuer);
    let r = post_json(
        &url,
        &json!({"client_id": journeys.id, "email": EMAIL}),
        Via::default(),
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    for _ in 0..2 {
        let r = post_json(
            &url,
            &json!({"client_id": journeys.id, "email": UNKNOWN}),
            Via::default(),
        )
        .await;
        assert_eq!(r.status, 202);
    }
    let r = post_json(
        &url,
        &json!({"client_id": journeys.id, "email": UNKNOWN}),
        Via::default(),
    )
    .await;
    assert_eq!(r.status, 429);
}

#[tokio::test]
async fn journeys_password_reset_answers_202_for_every_address() {
    let s = setup(&[]).await;
    let journeys = s.db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let url = format!("{}/journeys/password-reset", s.issuer);
    let known = post_json(
        &url,
        &json!({"client_id": journeys.id, "email": EMAIL}),
        Via::default(),
    )
    .await;
    let unknown = post_json(
        &url,
        &json!({"client_id": journeys.id, "email": UNKNOWN}),
        Via::default(),
    )
    .await;
    assert_eq!((known.status, &known.body), (202, &json!({})));
    assert_eq!((unknown.status, &unknown.body), (202, &json!({})));
    let got = s.smtp.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.smtp.messages().len(), 1);
    assert_eq!(got[0].rcpt_tos, vec![EMAIL.to_string()]);
    let link = got[0].link();
    assert!(
        link.starts_with(&format!("{}/reset-password?token=", s.issuer)),
        "{link}"
    );
    assert_eq!(
        set_password(&Browser::new(), &link, NEW_PASSWORD)
            .await
            .status,
        200
    );
    assert_eq!(sign_in_status(&s, NEW_PASSWORD).await, 303);

    // Only Journeys clients; the e-mail is required; JSON only.
    let r = post_json(
        &url,
        &json!({"client_id": s.client.id, "email": EMAIL}),
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (403, Some("unauthorized_client")));
    let r = post_json(&url, &json!({"client_id": journeys.id}), Via::default()).await;
    assert_eq!(r.refusal(), (400, Some("invalid_request")));
    let r = post_json(
        &url,
        &json!({"client_id": "no-such-client", "email": EMAIL}),
        Via::default(),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = crate::journeys_helpers::post_raw(&url, Some("text/plain"), b"email=x".to_vec()).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_is_delivered_once_it_starts() {
    let mut smtp = SmtpServer::reserved();
    let db = Database::new();
    db.user("default", EMAIL, PASSWORD);
    let client = db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    let env = smtp.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&db, &env).await;
    let issuer = server.issuer("default");
    let answer = ask(&Browser::new(), &issuer, &client, EMAIL).await;
    assert_eq!(answer.status, 200);
    // Tried, failed, kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while db
        .count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts >= 1")
        .await
        < 1
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    smtp.start().await;
    let got = smtp.wait_for(1, 40).await;
    assert_eq!(got[0].rcpt_tos, vec![EMAIL.to_string()]);
    assert!(got[0]
        .link()
        .starts_with(&format!("{issuer}/reset-password?token=")));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while db
        .count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
        .await
        < 1
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once");
    assert!(server.log_text().contains("will retry"));
}

#[tokio::test]
async fn mail_queued_on_a_node_without_smtp_is_sent_after_a_restart_with_it() {
    let smtp = SmtpServer::started().await;
    let db = Database::new();
    db.user("default", EMAIL, PASSWORD);
    let client = db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    let mut server = Server::start(&db).await;
    assert!(
        server.log_text().contains("KEYGATE_SMTP_URL is not set"),
        "a warning at start-up: {}",
        server.log_text()
    );
    let issuer = server.issuer("default");
    let b = Browser::new();
    let page = forgot_page(&b, &issuer, &client).await;
    assert!(
        page.body.contains("cannot send e-mail"),
        "the page says so: {}",
        page.body
    );
    let answer = b.submit(&page, &[("email", EMAIL)]).await;
    assert_eq!(answer.status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db.count("SELECT COUNT(*) FROM outbox").await < 1 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox WHERE attempts = 0")
            .await,
        1,
        "a node without SMTP leaves the queue alone"
    );
    assert!(smtp.messages().is_empty());
    server.extra_env = smtp.env();
    server.restart().await;
    let got = smtp.wait_for(1, 20).await;
    assert!(got[0]
        .link()
        .starts_with(&format!("{issuer}/reset-password?token=")));
    assert_eq!(
        set_password(&Browser::new(), &got[0].link(), NEW_PASSWORD)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bad_mail_settings_stop_the_server_at_start_up() {
    let db = Database::new();
    for (env, expect) in [
        (
            vec![
                ("KEYGATE_SMTP_URL", "smtp://user:secret@mail.example.com:25"),
                ("KEYGATE_MAIL_FROM", "a@example.com"),
            ],
            "credentials need TLS",
        ),
        (
            vec![
                ("KEYGATE_SMTP_URL", "http://mail.example.com"),
                ("KEYGATE_MAIL_FROM", "a@example.com"),
            ],
            "smtp://",
        ),
        (
            vec![
                ("KEYGATE_SMTP_URL", "smtp://mail.example.com?tls=maybe"),
                ("KEYGATE_MAIL_FROM", "a@example.com"),
            ],
            "tls=maybe",
        ),
        (
            vec![("KEYGATE_SMTP_URL", "smtp://mail.example.com")],
            "KEYGATE_MAIL_FROM is required",
        ),
        (
            vec![
                ("KEYGATE_SMTP_URL", "smtp://mail.example.com"),
                ("KEYGATE_MAIL_FROM", "not an address"),
            ],
            "KEYGATE_MAIL_FROM",
        ),
        (
            vec![("KEYGATE_PASSWORD_RESET_TTL", "3600")],
            "KEYGATE_PASSWORD_RESET_TTL",
        ),
    ] {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("serve")
            .env("KEYGATE_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("KEYGATE_DATABASE_URL", &db.url)
            .env("KEYGATE_MASTER_KEY", MASTER_KEY);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(expect), "{env:?}: {stderr}");
        assert!(
            !stderr.contains("secret"),
            "the password is not repeated: {stderr}"
        );
    }
}

#[tokio::test]
async fn serve_dev_without_smtp_prints_the_message_instead() {
    let db = Database::new();
    db.user("default", EMAIL, PASSWORD);
    let client = db.client("default", "http://127.0.0.1:9/callback", &["--public"]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let out_path = db.dir.join("dev-stdout.txt");
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--dev"])
        .current_dir(&db.dir)
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_MASTER_KEY", MASTER_KEY)
        .env("KEYGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYGATE_PUBLIC_URL", &base)
        .env_remove("KEYGATE_SMTP_URL")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(db.dir.join("dev-stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let b = Browser::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = b.http.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve --dev did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = forgot_page(&b, &base, &client).await;
    assert!(!page.body.contains("cannot send e-mail"), "{}", page.body);
    b.submit(&page, &[("email", EMAIL)]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let printed = loop {
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        if out.contains("reset-password?token=") {
            break out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing printed:\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let start = printed
        .find(&format!("{base}/reset-password?token="))
        .unwrap();
    let link = printed[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(printed.contains(&format!("To: {EMAIL}")), "{printed}");
    assert_eq!(
        set_password(&Browser::new(), &link, NEW_PASSWORD)
            .await
            .status,
        200
    );
    let _ = child.kill();
    let _ = child.wait();
}
