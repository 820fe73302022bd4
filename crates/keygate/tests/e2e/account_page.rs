//! `{issuer}/account` (docs/account.md): sign-in and back, the profile,
//! changing the password with the current one, the sessions and "sign out
//! everywhere", at every front door.

use crate::harness::*;
use crate::pages_helpers::header as page_header;
use crate::pages_helpers::*;

/// The form of `page` that posts to a URL ending in `path`: its absolute
/// action and its inputs.
pub fn form_to(page: &Page, path: &str) -> (String, Fields) {
    let mut rest = page.body.as_str();
    while let Some(i) = rest.find("<form") {
        let one = Page {
            status: page.status,
            url: page.url.clone(),
            headers: page.headers.clone(),
            body: rest[i..].to_string(),
        };
        let (action, fields) = one.form();
        if action.ends_with(path) {
            return (action, fields);
        }
        rest = &rest[i + 5..];
    }
    panic!("no form posting to {path}: {}", page.body)
}

/// Submits the form of `page` that posts to `path`, with `values` filled in.
pub async fn submit_to(b: &Browser, page: &Page, path: &str, values: &[(&str, &str)]) -> Page {
    let (action, mut fields) = form_to(page, path);
    for (k, v) in values {
        match fields.iter_mut().find(|(n, _)| n == k) {
            Some(f) => f.1 = v.to_string(),
            None => fields.push((k.to_string(), v.to_string())),
        }
    }
    b.post_form(&action, &fields).await
}

/// Signs in at the account page of `door` with `password`; returns the
/// account page.
async fn account(b: &Browser, door: &Door, password: &str) -> Page {
    let page = b.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(
        page.status, 303,
        "{}: no session leads to sign-in",
        door.name
    );
    let to = page.location().unwrap();
    assert_eq!(
        to,
        format!("{}/account/sign-in", door.issuer),
        "{}",
        door.name
    );
    let form = b.get(&to).await;
    assert_page(&form, 200, door.name);
    assert!(
        !form.body.contains("/register"),
        "{}: no registration from the account page",
        door.name
    );
    let done = b
        .submit(&form, &[("email", EMAIL), ("password", password)])
        .await;
    assert_eq!(done.status, 303, "{}: {}", door.name, done.body);
    let back = done.location().unwrap();
    assert_eq!(back, format!("{}/account?done=signed-in", door.issuer));
    let page = b.get(&back).await;
    assert_page(&page, 200, door.name);
    page
}

#[tokio::test]
async fn the_account_page_leads_through_sign_in_and_shows_the_person_and_their_sessions() {
    let s = Setup::new().await;
    for door in s.doors() {
        let b = s.browser();
        let page = account(&b, &door, PASSWORD).await;
        assert!(page.body.contains(EMAIL), "{}: {}", door.name, page.body);
        assert!(page.body.contains("You are signed in."), "{}", door.name);
        assert!(page.body.contains("This browser"), "{}", door.name);
        let (_, fields) = form_to(&page, "/account/password");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        for name in ["csrf", "current_password", "password"] {
            assert!(names.contains(&name), "{}: {names:?}", door.name);
        }
        // The page is the person's own: no caching, the strict policy (the
        // one script, adding passkeys, only by its hash where passkeys work).
        assert_eq!(page_header(&page, "cache-control"), "no-store");
        let csp = page_header(&page, "content-security-policy");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(
            !csp.contains("script-src") || csp.contains("script-src 'sha256-"),
            "{csp}"
        );
        // A notice is a fixed text: nothing from the URL is shown.
        let odd = b
            .get(&format!("{}/account?done=%3Cb%3Ehi", door.issuer))
            .await;
        assert_page(&odd, 200, door.name);
        assert!(!odd.body.contains("<b>hi"), "{}", door.name);
        // Signed in already: the sign-in page goes straight back.
        let again = b.get(&format!("{}/account/sign-in", door.issuer)).await;
        assert_eq!(again.status, 303, "{}", door.name);
    }
}

#[tokio::test]
async fn a_wrong_password_at_the_account_sign_in_is_refused_on_the_page() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    let form = b.get(&format!("{}/account/sign-in", door.issuer)).await;
    let refused = b
        .submit(&form, &[("email", EMAIL), ("password", "not-the-password")])
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(alert(&refused).as_deref(), Some(BAD_CREDENTIALS));
    let page = b.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(page.status, 303, "still no session");
    // A form without this browser's CSRF token is refused.
    let other = s.browser();
    let (action, mut fields) = form.form();
    fields.push(("email".into(), EMAIL.into()));
    fields.push(("password".into(), PASSWORD.into()));
    let forged = other.post_form(&action, &fields).await;
    assert_eq!(forged.status, 400, "{}", forged.body);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
    let s = Setup::new().await;
    let door = s.path();
    // Another device: signed in through an application, holding a refresh token.
    let other = s.browser();
    let (code, verifier) = code_at(&other, &door).await;
    let (status, tokens) = s.exchange(&door, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let b = s.browser();
    let page = account(&b, &door, PASSWORD).await;
    // The wrong current password: refused, nothing changes.
    let wrong = submit_to(
        &b,
        &page,
        "/account/password",
        &[
            ("current_password", "nope-nope"),
            ("password", "a new passphrase"),
        ],
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(
        alert(&wrong).as_deref(),
        Some("The current password is incorrect.")
    );
    // Too short: refused with the registration's rule.
    let weak = submit_to(
        &b,
        &wrong,
        "/account/password",
        &[("current_password", PASSWORD), ("password", "short")],
    )
    .await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert!(
        alert(&weak).unwrap().contains("at least 8"),
        "{}",
        weak.body
    );

    let changed = submit_to(
        &b,
        &weak,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("password", "a new passphrase"),
        ],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(
        changed.location().unwrap(),
        format!("{}/account?done=password", door.issuer)
    );
    // This browser keeps a (new) session; the page says what happened.
    let page = b.get(&changed.location().unwrap()).await;
    assert_page(&page, 200, "after the change");
    assert!(
        page.body.contains("Your password was changed."),
        "{}",
        page.body
    );
    // The other device's session and refresh token are gone.
    let (status, body) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &door.client.id),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    assert_sign_in_page(
        &other.get(&url).await,
        &door,
        "the other device must sign in again",
    );
    // The old password no longer works; the new one does.
    let fresh = s.browser();
    let form = fresh.get(&format!("{}/account/sign-in", door.issuer)).await;
    let old = fresh
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(old.status, 401);
    account(&s.browser(), &door, "a new passphrase").await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_and_revokes_refresh_tokens() {
    let s = Setup::new().await;
    let door = s.path();
    let other = s.browser();
    let (code, verifier) = code_at(&other, &door).await;
    let (_, tokens) = s.exchange(&door, &code, &verifier).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let b = s.browser();
    let page = account(&b, &door, PASSWORD).await;
    assert_eq!(
        page.body.matches("<li>").count(),
        2,
        "both sessions are listed: {}",
        page.body
    );
    assert!(
        page.body.contains("127.0.0.1"),
        "where it started: {}",
        page.body
    );
    // A forged form (no CSRF token of this browser) ends nothing.
    let (action, _) = form_to(&page, "/account/sessions/end");
    let forged = b.post_form(&action, &[]).await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert_eq!(s.count("sessions").await, 2);

    let ended = submit_to(&b, &page, "/account/sessions/end", &[]).await;
    assert_page(&ended, 200, "signed out everywhere");
    assert!(
        ended.body.contains("Signed out everywhere"),
        "{}",
        ended.body
    );
    assert_eq!(s.count("sessions").await, 0);
    let gone = b.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(gone.status, 303, "this browser is signed out too");
    let (status, body) = s
        .token(
            &door.issuer,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &door.client.id),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
