//! Changing the e-mail address on the account page (docs/account.md,
//! "Changing the e-mail address"): the current password is needed, a link
//! goes to the new address and a notice (with the new address masked) to
//! the old one; nothing changes until the link is used, which sets the new
//! address as verified, ends every session and revokes every grant.

use crate::harness::*;
use crate::mail::SmtpServer;
use crate::token_helpers::{fresh_tokens, refresh};

const NEW: &str = "ann.new@example.com";
const TAKEN: &str = "taken@example.com";

/// The form of `page` posting to a URL ending in `path`, filled and sent.
async fn submit_to(b: &Browser, page: &Page, path: &str, values: &[(&str, &str)]) -> Page {
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("<form") {
        let one = Page {
            status: page.status,
            url: page.url.clone(),
            headers: page.headers.clone(),
            body: rest[i..].to_string(),
        };
        let (action, mut fields) = one.form();
        if action.ends_with(path) {
            for (k, v) in values {
                match fields.iter_mut().find(|(n, _)| n == k) {
                    Some(f) => f.1 = v.to_string(),
                    None => fields.push((k.to_string(), v.to_string())),
                }
            }
            return b.post_form(&action, &fields).await;
        }
        rest = &rest[i + 5..];
    }
    panic!("no form posting to {path}: {}", page.body)
}

/// Signs in at `{issuer}/account/sign-in`; the account page.
async fn account(b: &Browser, issuer: &str, email: &str, password: &str) -> Page {
    let form = b.get(&format!("{issuer}/account/sign-in")).await;
    let done = b
        .submit(&form, &[("email", email), ("password", password)])
        .await;
    assert_eq!(done.status, 303, "sign-in as {email}: {}", done.body);
    b.get(&done.location().unwrap()).await
}

#[tokio::test]
async fn a_new_address_takes_effect_only_through_the_link_sent_to_it() {
    let smtp = SmtpServer::started().await;
    let db = Database::new();
    db.cli_json(
        &["tenant", "create", "acme", "--display-name", "Acme Shop"],
        None,
    );
    db.user("acme", EMAIL, PASSWORD);
    db.user("acme", TAKEN, PASSWORD);
    let client = db.client("acme", "http://127.0.0.1:9/callback", &["--public"]);
    let env = smtp.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&db, &env).await;
    let issuer = server.issuer("acme");
    let address_of_ann = "SELECT COUNT(*) FROM users WHERE email = ";

    // Another device holds a refresh token.
    let (tokens, _) = fresh_tokens(&Browser::new(), &issuer, &client).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    let b = Browser::new();
    let page = account(&b, &issuer, EMAIL, PASSWORD).await;
    assert!(page.body.contains("New e-mail address"), "{}", page.body);
    // Refused: the wrong password, an address that is taken, a malformed one.
    let wrong = submit_to(
        &b,
        &page,
        "/account/email",
        &[("email", NEW), ("current_password", "not it at all")],
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let taken = submit_to(
        &b,
        &wrong,
        "/account/email",
        &[("email", TAKEN), ("current_password", PASSWORD)],
    )
    .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    let bad = submit_to(
        &b,
        &taken,
        "/account/email",
        &[("email", "not an address"), ("current_password", PASSWORD)],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(smtp.messages().is_empty(), "nothing was sent for refusals");

    let asked = submit_to(
        &b,
        &bad,
        "/account/email",
        &[("email", NEW), ("current_password", PASSWORD)],
    )
    .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let page = b.get(&asked.location().unwrap()).await;
    assert!(
        page.body.contains("We sent a link to the new address"),
        "{}",
        page.body
    );

    let got = smtp.wait_for(2, 20).await;
    let to_new = got.iter().find(|m| m.rcpt_tos == vec![NEW.to_string()]);
    let to_old = got.iter().find(|m| m.rcpt_tos == vec![EMAIL.to_string()]);
    let (to_new, to_old) = (
        to_new.expect("a link to the new address"),
        to_old.expect("a notice to the old one"),
    );
    let notice = to_old.text.as_deref().unwrap();
    assert!(notice.contains("a***@example.com"), "{notice}");
    assert!(
        !notice.contains(NEW),
        "the notice masks the new address: {notice}"
    );
    assert!(notice.contains(&format!("{issuer}/account")), "{notice}");
    let link = to_new.link();
    assert!(
        link.starts_with(&format!("{issuer}/verify-email?token=")),
        "{link}"
    );
    // Nothing has changed yet.
    assert_eq!(db.count(&format!("{address_of_ann}'{EMAIL}'")).await, 1);
    let before = refresh(&issuer, &client, &refresh_token, &[]).await;
    assert_eq!(
        before.status, 200,
        "the other device still works before the link is used: {}",
        before.text
    );
    let refresh_token = before.tokens()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Opening the link asks first; the button makes the change.
    let confirm = b.get(&link).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains(NEW), "{}", confirm.body);
    let changed = b.submit(&confirm, &[]).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(
        changed
            .body
            .contains(&format!("Your e-mail address is now {NEW}")),
        "{}",
        changed.body
    );
    assert_eq!(
        db.count(&format!("{address_of_ann}'{NEW}' AND email_verified = 1"))
            .await,
        1
    );
    assert_eq!(db.count(&format!("{address_of_ann}'{EMAIL}'")).await, 0);
    // Every session ended, every grant revoked.
    let gone = b.get(&format!("{issuer}/account")).await;
    assert_eq!(gone.status, 303, "signed out everywhere");
    assert_eq!(db.count("SELECT COUNT(*) FROM sessions").await, 0);
    let revoked = refresh(&issuer, &client, &refresh_token, &[]).await;
    assert_eq!(revoked.status, 400, "{}", revoked.text);
    // The link works once; the new address signs in, the old one no longer.
    let again = b.get(&link).await;
    assert_eq!(again.status, 400, "{}", again.body);
    let old = Browser::new();
    let form = old.get(&format!("{issuer}/account/sign-in")).await;
    let refused = old
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(refused.status, 401);
    let page = account(&Browser::new(), &issuer, NEW, PASSWORD).await;
    assert!(page.body.contains("(verified)"), "{}", page.body);
}
