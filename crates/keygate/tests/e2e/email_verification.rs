//! E-mail verification (INTERFACE.md "Account lifecycle"; docs/account.md
//! "Verifying the e-mail address"): registration (hosted page and Journeys
//! API) sends a link under the issuer used; opening it shows a form and
//! changes nothing; submitting it verifies once; `email_verified` in the
//! id_token and userinfo goes from false to true; `--verify-email required`
//! keeps an unverified person from finishing a sign-in until they verify,
//! with a rate-limited "send it again"; `off` sends nothing; expired and
//! bad links get error pages.

use crate::harness::*;
use crate::journeys_helpers::{assert_journeys_error, code_of, post_json, request, Via};
use crate::mail::SmtpServer;
use crate::token_helpers::{exchange, userinfo};
use serde_json::json;
use std::time::Duration;

const BEA: &str = "bea@example.com";
const BEA_PASSWORD: &str = "a long enough password";

struct Setup {
    db: Database,
    server: Server,
    smtp: SmtpServer,
    issuer: String,
    /// A public client that may also use the Journeys API.
    client: TestClient,
}

/// Tenant `acme` ("Acme Shop") with `--verify-email mode`, the usual
/// (unverified, CLI-made) person, a public Journeys client, a running SMTP
/// server and keygate sending through it.
async fn setup(mode: &str, extra: &[(&str, &str)]) -> Setup {
    let smtp = SmtpServer::started().await;
    let db = Database::new();
    db.cli_json(
        &[
            "tenant",
            "create",
            "acme",
            "--display-name",
            "Acme Shop",
            "--verify-email",
            mode,
        ],
        None,
    );
    db.user("acme", EMAIL, PASSWORD);
    let client = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
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

/// Registers `BEA` through the hosted page (reached from /authorize); the
/// answer to the form, and the PKCE verifier of the request.
async fn register_hosted(s: &Setup, b: &Browser) -> (Page, String) {
    let (verifier, challenge) = pkce();
    let login = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let page = b.get(&href_containing(&login, "/register")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = b
        .submit(
            &page,
            &[("email", BEA), ("password", BEA_PASSWORD), ("name", "Bea")],
        )
        .await;
    (done, verifier)
}

/// Signs in through the hosted page; the answer to the form, and the PKCE
/// verifier of the request.
async fn sign_in(s: &Setup, b: &Browser, email: &str, password: &str) -> (Page, String) {
    let (verifier, challenge) = pkce();
    let page = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = b
        .submit(&page, &[("email", email), ("password", password)])
        .await;
    (done, verifier)
}

/// Exchanges the code of a redirect; `email_verified` of the id_token and
/// of userinfo.
async fn verified_claims(s: &Setup, done: &Page, verifier: &str) -> (bool, bool) {
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.redirect_params()["code"].clone();
    let tokens = exchange(&s.issuer, &s.client, &code, Some(verifier))
        .await
        .tokens();
    let id = claims(tokens["id_token"].as_str().unwrap());
    let info = userinfo(&s.issuer, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status, 200, "{}", info.text);
    (
        id["email_verified"]
            .as_bool()
            .expect("email_verified in the id_token"),
        info.json["email_verified"]
            .as_bool()
            .expect("email_verified in userinfo"),
    )
}

async fn is_verified(db: &Database, email: &str) -> bool {
    db.count(&format!(
        "SELECT COUNT(*) FROM users WHERE email = '{email}' AND email_verified = 1"
    ))
    .await
        == 1
}

/// Opens a verification link (the page with the one button) and submits it.
async fn verify(b: &Browser, link: &str) -> Page {
    let page = b.get(link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    b.submit(&page, &[]).await
}

#[tokio::test]
async fn hosted_registration_mails_a_link_that_asks_first_and_verifies_once() {
    let s = setup("optional", &[]).await;
    let b = Browser::new();
    let (done, verifier) = register_hosted(&s, &b).await;
    // Optional: the registration goes on to the application.
    assert_eq!(
        verified_claims(&s, &done, &verifier).await,
        (false, false),
        "not verified yet"
    );

    let got = s.smtp.wait_for(1, 20).await;
    let m = &got[0];
    assert_eq!(m.rcpt_tos, vec![BEA.to_string()]);
    assert!(m.subject.contains("Acme Shop"), "{}", m.subject);
    let (text, html) = (m.text.as_deref().unwrap(), m.html.as_deref().unwrap());
    assert!(text.contains("Acme Shop") && html.contains("Acme Shop"));
    let link = m.link();
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", s.issuer)),
        "the link is absolute, under the issuer used: {link}"
    );
    assert!(html.contains(&link.replace('&', "&amp;")) || html.contains(&link));
    // Stored only as a hash.
    let token = link.split("token=").nth(1).unwrap();
    let stored = |hash: String| {
        format!("SELECT COUNT(*) FROM email_links WHERE hash = '{hash}' AND purpose = 'verify'")
    };
    assert_eq!(
        s.db.count(&stored(keygate_crypto::secrets::sha256_hex(token)))
            .await,
        1
    );
    assert_eq!(s.db.count(&stored(token.to_string())).await, 0);
    assert!(
        !s.server.log_text().contains(token),
        "the token reached the log"
    );

    // Opening the link (twice, as a mail scanner might) changes nothing.
    let other = Browser::new();
    for _ in 0..2 {
        let page = other.get(&link).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Verify my address"), "{}", page.body);
        assert!(page.body.contains(BEA), "{}", page.body);
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("form-action 'self'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        let (action, fields) = page.form();
        assert_eq!(action, format!("{}/verify-email", s.issuer));
        assert!(fields.iter().any(|(n, v)| n == "csrf" && !v.is_empty()));
    }
    assert!(!is_verified(&s.db, BEA).await, "GET must not verify");

    // Without the CSRF token: refused, nothing changes.
    let page = other.get(&link).await;
    let (action, fields) = page.form();
    let forged: Vec<(String, String)> = fields.into_iter().filter(|(n, _)| n != "csrf").collect();
    let refused = Browser::new().post_form(&action, &forged).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(!is_verified(&s.db, BEA).await);

    // Submitting the form verifies; the same link a second time does not.
    let done = other.submit(&page, &[]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("verified"), "{}", done.body);
    assert!(is_verified(&s.db, BEA).await);
    let again = other.submit(&page, &[]).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    let reopened = other.get(&link).await;
    assert_eq!(reopened.status, 400, "{}", reopened.body);

    // A new sign-in: the id_token and userinfo say verified now.
    let (done, verifier) = sign_in(&s, &Browser::new(), BEA, BEA_PASSWORD).await;
    assert_eq!(verified_claims(&s, &done, &verifier).await, (true, true));
    crate::token_helpers::assert_no_server_error(&s.server);
}

#[tokio::test]
async fn journeys_registration_mails_the_link_and_required_mode_answers_email_not_verified() {
    let s = setup("required", &[]).await;
    let (verifier, challenge) = pkce();
    let body = request(
        &s.client,
        Some(&challenge),
        &[("email", BEA), ("password", BEA_PASSWORD)],
    );
    // The account is made and mailed, but no code is given yet.
    let r = post_json(
        &format!("{}/journeys/register", s.issuer),
        &body,
        Via::default(),
    )
    .await;
    assert_journeys_error(&r, 403, "email_not_verified", "register, required");
    assert_eq!(
        s.db.count(&format!("SELECT COUNT(*) FROM users WHERE email = '{BEA}'"))
            .await,
        1
    );
    let link = s.smtp.wait_for(1, 20).await[0].link();
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", s.issuer)),
        "{link}"
    );
    // Registering again: the address is taken (no second account).
    let r = post_json(
        &format!("{}/journeys/register", s.issuer),
        &body,
        Via::default(),
    )
    .await;
    assert_journeys_error(&r, 409, "email_taken", "register again");

    // Sign-in: the right password is refused with email_not_verified, a
    // wrong one as ever.
    let sign_in_url = format!("{}/journeys/sign-in", s.issuer);
    let r = post_json(&sign_in_url, &body, Via::default()).await;
    assert_journeys_error(&r, 403, "email_not_verified", "sign-in, unverified");
    let wrong = request(
        &s.client,
        Some(&challenge),
        &[("email", BEA), ("password", "not the password")],
    );
    let r = post_json(&sign_in_url, &wrong, Via::default()).await;
    assert_journeys_error(&r, 401, "invalid_credentials", "wrong password");

    // The Journeys "send it again": 202 for every address.
    let resend = format!("{}/journeys/verify-email", s.issuer);
    for email in [BEA, "nobody@example.com"] {
        let r = post_json(
            &resend,
            &json!({"client_id": s.client.id, "email": email}),
            Via::default(),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let got = s.smtp.wait_for(2, 20).await;
    assert_eq!(got[1].rcpt_tos, vec![BEA.to_string()]);

    // Verified through the first link, the sign-in gives a code whose
    // id_token says verified.
    let done = verify(&Browser::new(), &link).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let r = post_json(&sign_in_url, &body, Via::default()).await;
    let code = code_of(&r, 200, &s.client, &s.issuer);
    let tokens = exchange(&s.issuer, &s.client, &code, Some(&verifier))
        .await
        .tokens();
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["email_verified"],
        true
    );
    // Nothing more is sent for a verified address.
    let r = post_json(
        &resend,
        &json!({"client_id": s.client.id, "email": BEA}),
        Via::default(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.smtp.messages().len(), 2);
}

#[tokio::test]
async fn required_mode_holds_hosted_sign_in_until_verified_and_resending_is_limited() {
    let s = setup("required", &[("KEYGATE_VERIFY_RESEND_MAX", "2")]).await;
    let b = Browser::new();
    // The right password: "check your e-mail", no code, no session.
    let (held, _) = sign_in(&s, &b, EMAIL, PASSWORD).await;
    assert_eq!(held.status, 403, "{}", held.body);
    assert!(held.location().is_none());
    assert!(held.body.contains("Check your e-mail"), "{}", held.body);
    assert!(held.body.contains("Send it again"), "{}", held.body);
    let page = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&pkce().1), &[]))
        .await;
    assert_eq!(page.status, 200, "no session was started: {}", page.body);
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    // A wrong password is told as ever.
    let (wrong, _) = sign_in(&s, &b, EMAIL, "not the password").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);

    // "Send it again": the same page each time, the limit (2 per address)
    // only stops the mail.
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = b.submit(&held, &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("we sent a new message"), "{}", r.body);
        answers.push(r.body.split("name=\"csrf\"").next().unwrap().to_string());
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    // An unknown address gets the same answer, and no mail.
    let unknown = b.submit(&held, &[("email", "nobody@example.com")]).await;
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    let got = s.smtp.wait_for(2, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        s.smtp.messages().len(),
        2,
        "the third request was over the limit"
    );
    assert!(got.iter().all(|m| m.rcpt_tos == vec![EMAIL.to_string()]));

    // Verified through the latest link, the sign-in goes through.
    let done = verify(&Browser::new(), &got[1].link()).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let (done, verifier) = sign_in(&s, &b, EMAIL, PASSWORD).await;
    assert_eq!(verified_claims(&s, &done, &verifier).await, (true, true));

    // Hosted registration in required mode: "check your e-mail" instead of
    // the redirect, and the message.
    let (done, _) = register_hosted(&s, &Browser::new()).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.location().is_none());
    assert!(done.body.contains("Check your e-mail"), "{}", done.body);
    let got = s.smtp.wait_for(3, 20).await;
    assert_eq!(got[2].rcpt_tos, vec![BEA.to_string()]);

    // A person an administrator created verified signs in at once.
    let v = s.db.cli_json(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "cy@example.com",
            "--email-verified",
            "--password-stdin",
        ],
        Some("cy's long password\n"),
    );
    assert!(v["sub"].is_string(), "{v}");
    let (done, verifier) =
        sign_in(&s, &Browser::new(), "cy@example.com", "cy's long password").await;
    assert_eq!(verified_claims(&s, &done, &verifier).await, (true, true));
    crate::token_helpers::assert_no_server_error(&s.server);
}

#[tokio::test]
async fn off_mode_sends_nothing_and_registration_goes_on() {
    let s = setup("off", &[]).await;
    let (done, _) = register_hosted(&s, &Browser::new()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let (_, challenge) = pkce();
    let r = post_json(
        &format!("{}/journeys/register", s.issuer),
        &request(
            &s.client,
            Some(&challenge),
            &[("email", "cy@example.com"), ("password", BEA_PASSWORD)],
        ),
        Via::default(),
    )
    .await;
    code_of(&r, 201, &s.client, &s.issuer);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(s.smtp.messages().is_empty(), "{:?}", s.smtp.messages());
    assert_eq!(s.db.count("SELECT COUNT(*) FROM email_links").await, 0);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM outbox").await, 0);
}

#[tokio::test]
async fn expired_unknown_and_malformed_links_get_error_pages() {
    let s = setup("optional", &[("KEYGATE_VERIFY_EMAIL_TTL", "4")]).await;
    let b = Browser::new();
    let (done, _) = register_hosted(&s, &b).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let link = s.smtp.wait_for(1, 20).await[0].link();
    assert!(s.smtp.messages()[0]
        .text
        .as_deref()
        .unwrap()
        .contains("1 minute"));
    // The form shown while the link worked is refused once it expired.
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let late = b.submit(&page, &[]).await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    assert!(!is_verified(&s.db, BEA).await);
    let reopened = b.get(&link).await;
    assert_eq!(reopened.status, 400, "{}", reopened.body);

    let base = format!("{}/verify-email", s.issuer);
    let unknown = "A".repeat(43);
    for (url, says) in [
        (base.clone(), "incomplete"),
        (format!("{base}?token="), "incomplete"),
        (format!("{base}?token=short"), "incomplete"),
        (format!("{base}?token=%00%ff%fe{unknown}"), "incomplete"),
        (format!("{base}?token={unknown}"), "expired"),
        (format!("{base}?token={unknown}&token=x"), ""),
    ] {
        let page = b.get(&url).await;
        assert_eq!(page.status, 400, "{url}: {}", page.body);
        assert!(page.body.contains(says), "{url}: {}", page.body);
        assert!(page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    // Posts without a form, a token or a CSRF token.
    for fields in [vec![], vec![("token".to_string(), unknown.clone())]] {
        let page = b.post_form(&base, &fields).await;
        assert_eq!(page.status, 400, "{fields:?}: {}", page.body);
    }
    let page = b.post_form(&format!("{base}/resend"), &[]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    crate::token_helpers::assert_no_server_error(&s.server);
}

#[tokio::test]
async fn a_link_works_only_under_its_own_tenant() {
    let s = setup("optional", &[]).await;
    s.db.tenant("other", &[]);
    let (done, _) = register_hosted(&s, &Browser::new()).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let link = s.smtp.wait_for(1, 20).await[0].link();
    let elsewhere = link.replace(&s.issuer, &s.server.issuer("other"));
    assert_ne!(elsewhere, link);
    let b = Browser::new();
    let page = b.get(&elsewhere).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!is_verified(&s.db, BEA).await);
    assert_eq!(verify(&b, &link).await.status, 200);
    assert!(is_verified(&s.db, BEA).await);
}

#[tokio::test]
async fn an_account_page_session_of_an_unverified_person_gives_no_code_in_required_mode() {
    let s = setup("required", &[]).await;
    let b = Browser::new();
    // The account page's own sign-in lets the person in (docs/account.md).
    let form = b.get(&format!("{}/account/sign-in", s.issuer)).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let done = b
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let account = b.get(&format!("{}/account", s.issuer)).await;
    assert_eq!(account.status, 200, "{}", account.body);
    // That session finishes no authorization request.
    let (_, challenge) = pkce();
    let page = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Check your e-mail"), "{}", page.body);
    let silent = b
        .get(&authorize_url(
            &s.issuer,
            &s.client,
            Some(&challenge),
            &[("prompt", "none")],
        ))
        .await;
    assert_eq!(silent.status, 303, "{}", silent.body);
    let params = silent.redirect_params();
    assert_eq!(params["error"], "login_required", "{params:?}");
    assert!(!params.contains_key("code"));
    // Once verified (an administrator here), the same session does.
    s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            "--sub",
            &crate::journeys_helpers::sub_of(&s.db, EMAIL).await,
            "--email-verified",
            "true",
        ],
        None,
    );
    let page = b
        .get(&authorize_url(&s.issuer, &s.client, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.redirect_params().contains_key("code"));
}
