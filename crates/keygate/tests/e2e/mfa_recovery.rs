//! Recovery codes (docs/account.md, "Recovery codes"): ten codes shown once
//! after the first authenticator app is confirmed, each accepted once in
//! place of an authenticator app's code (limited like those codes),
//! replaced by "Generate new codes", gone with the last app; and a
//! person's second factors through the admin API and the CLI (list,
//! remove one, reset all).

use crate::account_page::{form_to, submit_to};
use crate::admin_helpers::{assert_error, Admin, ADMIN_TOKEN};
use crate::harness::*;
use crate::mfa_totp::{code, enrol, enrol_showing, password_step, unix_now};
use crate::pages_helpers::header as page_header;
use crate::pages_helpers::*;
use crate::token_helpers::assert_no_server_error;
use serde_json::Value;

/// The text of every `<code>` element of a page.
fn codes_of(page: &Page) -> Vec<String> {
    page.body
        .split("<code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(|c| c.to_string())
        .collect()
}

/// A page of codes shown once: 10 distinct codes `xxxx-xxxx-xxxx`, not
/// cached, with a "Continue" link back to the account page.
fn assert_codes_page(page: &Page, door: &Door) -> Vec<String> {
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page_header(page, "cache-control"), "no-store");
    let codes = codes_of(page);
    assert_eq!(codes.len(), 10, "{}", page.body);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{codes:?}");
    for c in &codes {
        let groups: Vec<&str> = c.split('-').collect();
        assert!(
            groups.len() == 3
                && groups
                    .iter()
                    .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric())),
            "{c}"
        );
    }
    assert!(page.body.contains(">Continue</a>"), "{}", page.body);
    assert_eq!(link(page, "/account"), format!("{}/account", door.issuer));
    codes
}

/// The secret of the enrolment page of an authenticator app.
fn secret_of(page: &Page) -> Vec<u8> {
    let i = page.body.find("otpauth://totp/").expect("the URI");
    let j = page.body[i..].find('<').unwrap() + i;
    let uri = url::Url::parse(&crate::pages_helpers::unescape(&page.body[i..j])).unwrap();
    let b32 = uri
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.to_string())
        .unwrap();
    totp_rs::Secret::try_from_base32(&b32)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// Adds another authenticator app from the account page `page`; returns
/// its secret and the confirmation's answer.
async fn add_app(b: &Browser, page: &Page, name: &str) -> (Vec<u8>, Page) {
    let enrol = submit_to(b, page, "/account/totp/new", &[]).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let secret = secret_of(&enrol);
    let right = code(&secret, unix_now());
    let done = submit_to(
        b,
        &enrol,
        "/account/totp/confirm",
        &[("code", &right), ("name", name)],
    )
    .await;
    (secret, done)
}

/// Gives `code` at the second step of a new sign-in of an authorization
/// request; the answer and the PKCE verifier.
async fn second_step(s: &Setup, door: &Door, code: &str) -> (Page, String) {
    let b = s.browser();
    let (step, verifier) = password_step(&b, door).await;
    assert_eq!(step.status, 200, "{}", step.body);
    (b.submit(&step, &[("code", code)]).await, verifier)
}

async fn unused(s: &Setup) -> i64 {
    s.db.count("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
        .await
}

#[tokio::test]
async fn recovery_codes_are_shown_once_after_the_first_authenticator_app() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    let (_, shown) = enrol_showing(&s, &b, &door).await;
    let codes = assert_codes_page(&shown, &door);

    // Stored only as hashes.
    let stored = s.db.query_strings("SELECT hash FROM recovery_codes").await;
    assert_eq!(stored.len(), 10);
    for c in &codes {
        let bare = c.replace('-', "");
        assert!(
            stored
                .iter()
                .all(|h| !h.contains(&bare) && !h.contains(c.as_str())),
            "{c} stored as is"
        );
    }

    // The account page never shows them again; it says how many are left.
    let page = b.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for c in &codes {
        assert!(!page.body.contains(c.as_str()), "{c} shown again");
    }
    assert!(page.body.contains("Recovery codes"), "{}", page.body);
    assert!(
        page.body.contains("10 of 10 recovery codes"),
        "{}",
        page.body
    );

    // A second app while codes are left: no new codes, the usual redirect.
    let (_, done) = add_app(&b, &page, "Tablet").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(codes_of(&done).is_empty());
    assert_eq!(
        s.db.query_strings("SELECT hash FROM recovery_codes")
            .await
            .len(),
        10
    );
    let mut again = s.db.query_strings("SELECT hash FROM recovery_codes").await;
    let mut before = stored.clone();
    again.sort();
    before.sort();
    assert_eq!(again, before, "the same codes");
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn a_lost_device_is_replaced_by_a_recovery_code_used_once() {
    let s = Setup::new().await;
    let door = s.path();
    let (_, shown) = enrol_showing(&s, &s.browser(), &door).await;
    let codes = assert_codes_page(&shown, &door);

    // The second step says a recovery code will do, and takes its length.
    let b = s.browser();
    let (step, verifier) = password_step(&b, &door).await;
    assert!(step.body.contains("or a recovery code"), "{}", step.body);
    let input = &step.body[step.body.find("id=\"code\"").unwrap()..];
    let input = &input[..input.find('>').unwrap()];
    assert!(input.contains("maxlength=\"32\""), "{input}");
    assert!(!input.contains("inputmode=\"numeric\""), "{input}");

    let done = b.submit(&step, &[("code", &codes[0])]).await;
    let auth_code = assert_code(&done, &door, "a recovery code");
    let id = s.id_token(&door, &auth_code, &verifier).await;
    let amr: Vec<&str> = id["amr"]
        .as_array()
        .unwrap_or_else(|| panic!("no amr: {id}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains(&"otp") && amr.contains(&"mfa"), "{amr:?}");
    assert!(amr.contains(&"pwd"), "{amr:?}");
    assert_eq!(unused(&s).await, 9);

    // The same code again: refused, like a wrong one.
    let (again, _) = second_step(&s, &door, &codes[0]).await;
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(alert(&again).unwrap().contains("incorrect"));

    // Typed another way (upper case, spaces) at the account page's sign-in.
    let acct = s.browser();
    let form = acct.get(&format!("{}/account/sign-in", door.issuer)).await;
    let step = acct
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(step.status, 200, "{}", step.body);
    let typed = codes[1].to_uppercase().replace('-', " ");
    let done = acct.submit(&step, &[("code", &typed)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = acct.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("8 of 10 recovery codes"),
        "{}",
        page.body
    );

    // Malformed or unknown codes: refused, no code used. (Four: fewer than
    // the default limit of failures.)
    assert_eq!(unused(&s).await, 8);
    for bad in ["x", "0000-0000-0000", "1234567", &"a".repeat(5000)] {
        let (r, _) = second_step(&s, &door, bad).await;
        assert_eq!(r.status, 401, "{bad:?}: {}", r.body);
    }
    assert_eq!(unused(&s).await, 8);
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn wrong_recovery_codes_are_limited_like_authenticator_codes() {
    let s = Setup::with_env(&[("KEYGATE_SIGNIN_MAX_FAILURES", "3")]).await;
    let door = s.path();
    let (_, shown) = enrol_showing(&s, &s.browser(), &door).await;
    let codes = assert_codes_page(&shown, &door);
    let b = s.browser();
    let (mut page, _) = password_step(&b, &door).await;
    for wrong in ["abcd-efgh-jkmn", "ABCD EFGH JKMP", "not a code"] {
        page = b.submit(&page, &[("code", wrong)]).await;
        assert_eq!(page.status, 401, "{}", page.body);
    }
    // Past the limit even a right recovery code is refused, and not used.
    let blocked = b.submit(&page, &[("code", &codes[0])]).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    assert!(blocked.headers.get("retry-after").is_some());
    assert_eq!(unused(&s).await, 10);
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn generating_new_codes_needs_the_password_and_replaces_the_old_ones() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    let (_, shown) = enrol_showing(&s, &b, &door).await;
    let old = assert_codes_page(&shown, &door);
    let page = b.get(&format!("{}/account", door.issuer)).await;
    let (_, fields) = form_to(&page, "/account/recovery/new");
    assert!(fields.iter().any(|(n, _)| n == "current_password"));

    // A wrong password: refused on the page, nothing changes.
    let refused = submit_to(
        &b,
        &page,
        "/account/recovery/new",
        &[("current_password", "not my password")],
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(codes_of(&refused).is_empty());
    // Without the CSRF token: refused.
    let (action, _) = form_to(&page, "/account/recovery/new");
    let forged = b
        .post_form(
            &action,
            &[("current_password".to_string(), PASSWORD.to_string())],
        )
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(codes_of(&forged).is_empty());

    let fresh = submit_to(
        &b,
        &page,
        "/account/recovery/new",
        &[("current_password", PASSWORD)],
    )
    .await;
    let new = assert_codes_page(&fresh, &door);
    assert!(new.iter().all(|c| !old.contains(c)), "{new:?} {old:?}");
    assert_eq!(unused(&s).await, 10);
    assert_eq!(s.count("recovery_codes").await, 10);

    // The old codes stopped working; the new ones work.
    let (refused, _) = second_step(&s, &door, &old[0]).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let (done, _) = second_step(&s, &door, &new[0]).await;
    assert_code(&done, &door, "a new recovery code");
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn removing_the_last_authenticator_app_removes_the_recovery_codes() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    enrol(&s, &b, &door).await;
    let page = b.get(&format!("{}/account", door.issuer)).await;
    let (_, done) = add_app(&b, &page, "Tablet").await;
    assert_eq!(done.status, 303);

    // No such app (a malformed id too): nothing is removed.
    let page = b.get(&format!("{}/account", door.issuer)).await;
    for bad in ["nope", "a\u{0}b", ""] {
        let r = submit_to(&b, &page, "/account/totp/remove", &[("id", bad)]).await;
        assert_eq!(r.status, 303, "{bad:?}: {}", r.body);
    }
    assert_eq!(s.count("totp_devices").await, 2);
    assert_eq!(unused(&s).await, 10);

    // One app removed, one left: the codes stay.
    let page = b.get(&format!("{}/account", door.issuer)).await;
    let removed = submit_to(&b, &page, "/account/totp/remove", &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(unused(&s).await, 10);
    // The last one: the codes go, and the section with them.
    let page = b.get(&format!("{}/account", door.issuer)).await;
    let removed = submit_to(&b, &page, "/account/totp/remove", &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(s.count("totp_devices").await, 0);
    assert_eq!(s.count("recovery_codes").await, 0);
    let page = b.get(&format!("{}/account", door.issuer)).await;
    assert!(!page.body.contains("Recovery codes"), "{}", page.body);
    assert!(!page.body.contains("/account/recovery/new"));
    // New codes cannot be made without a factor.
    let (action, mut fields) = form_to(&page, "/account/password");
    fields.retain(|(n, _)| n == "csrf");
    fields.push(("current_password".into(), PASSWORD.into()));
    let action = action.replace("/account/password", "/account/recovery/new");
    let refused = b.post_form(&action, &fields).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(s.count("recovery_codes").await, 0);

    // The password is enough again; a new first app shows new codes.
    let (c, _) = code_at(&s.browser(), &door).await;
    assert!(!c.is_empty());
    let (_, shown) = add_app(&b, &page, "New phone").await;
    assert_codes_page(&shown, &door);
    assert_no_server_error(&s.server);
}

/// The admin API's factors path of a person.
fn factors_path(tenant: &str, sub: &str) -> String {
    format!("/tenants/{tenant}/users/{sub}/factors")
}

#[tokio::test]
async fn the_admin_api_lists_removes_and_resets_factors() {
    let s = Setup::with_env(&[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let door = s.path();
    let admin = Admin::new(&s.server, Some(ADMIN_TOKEN));
    let path = factors_path("acme", &door.sub);

    let none = admin.get(&path).await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(
        none.body,
        serde_json::json!({"items": [], "recovery_codes": {"remaining": 0}})
    );
    assert_eq!(none.headers["cache-control"], "no-store");

    let b = s.browser();
    enrol(&s, &b, &door).await;
    let listed = admin.get(&path).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.body);
    let f = &items[0];
    assert_eq!(f["type"], "totp");
    assert_eq!(f["name"], "My phone");
    assert!(f["created_at"].as_i64().unwrap() > 0);
    assert!(f["last_used_at"].as_i64().unwrap() > 0);
    let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "id", "last_used_at", "name", "type"]);
    assert_eq!(listed.body["recovery_codes"]["remaining"], 10);
    let id = f["id"].as_str().unwrap().to_string();

    // Unknown people, tenants and factors: 404 in the API's error format.
    for p in [
        factors_path("acme", "nobody"),
        factors_path("nope", &door.sub),
        factors_path("NOT a tenant", &door.sub),
        factors_path("default", &door.sub),
    ] {
        assert_error(&admin.get(&p).await, 404, "not_found");
        assert_error(&admin.delete(&p).await, 404, "not_found");
        assert_error(&admin.delete(&format!("{p}/{id}")).await, 404, "not_found");
    }
    // Another person's factor is not theirs.
    let other = factors_path("default", &s.ann_default);
    assert_error(
        &admin.delete(&format!("{other}/{id}")).await,
        404,
        "not_found",
    );
    for bad in [
        "nope".to_string(),
        "%20".to_string(),
        "%00".to_string(),
        "a%0Ab".to_string(),
        "%E2%82%AC".to_string(),
        "x".repeat(5000),
    ] {
        let a = admin.delete(&format!("{path}/{bad}")).await;
        assert!(a.status == 404 || a.status == 400, "{bad}: {}", a.status);
        assert!(a.body["error"].is_string(), "{bad}: {}", a.body);
    }
    // Methods the endpoints do not take.
    for (m, p) in [
        (reqwest::Method::POST, path.clone()),
        (reqwest::Method::PATCH, path.clone()),
        (reqwest::Method::GET, format!("{path}/{id}")),
    ] {
        let a = admin.call(m, &p, Some(serde_json::json!({}))).await;
        assert_error(&a, 405, "invalid_request");
    }
    assert_eq!(s.count("totp_devices").await, 1);
    assert_eq!(unused(&s).await, 10);

    // Removing the only factor takes the recovery codes with it.
    let gone = admin.delete(&format!("{path}/{id}")).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_error(
        &admin.delete(&format!("{path}/{id}")).await,
        404,
        "not_found",
    );
    let listed = admin.get(&path).await;
    assert_eq!(listed.body["items"], Value::Array(vec![]));
    assert_eq!(listed.body["recovery_codes"]["remaining"], 0);
    assert_eq!(s.count("recovery_codes").await, 0);

    // A reset: every factor and code goes and the sessions end; the next
    // sign-in is with the password alone.
    let b2 = s.browser();
    let secret = enrol(&s, &b2, &door).await;
    let (done, _) = second_step(&s, &door, &code(&secret, unix_now() + 30)).await;
    assert_code(&done, &door, "before the reset");
    let sessions = format!(
        "SELECT COUNT(*) FROM sessions WHERE user_sub = '{}'",
        door.sub
    );
    assert!(s.db.count(&sessions).await >= 2);
    let reset = admin.delete(&path).await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    assert_eq!(s.db.count(&sessions).await, 0);
    assert_eq!(s.count("totp_devices").await, 0);
    assert_eq!(s.count("recovery_codes").await, 0);
    for browser in [&b, &b2] {
        let page = browser.get(&format!("{}/account", door.issuer)).await;
        assert_eq!(page.status, 303, "the owner's sessions ended");
    }
    let (c, _) = code_at(&s.browser(), &door).await;
    assert!(!c.is_empty(), "the password alone");
    let listed = admin.get(&path).await;
    assert_eq!(
        listed.body,
        serde_json::json!({"items": [], "recovery_codes": {"remaining": 0}})
    );
    // Resetting again changes nothing.
    assert_eq!(admin.delete(&path).await.status, 204);
    // Without a token: refused.
    let anonymous = Admin::new(&s.server, None);
    assert_error(&anonymous.delete(&path).await, 401, "invalid_token");
    assert_no_server_error(&s.server);
}

/// Runs a command that must be refused: exit 2, nothing on stdout.
fn refused(db: &Database, args: &[&str], says: &str) {
    let out = db.cli(args, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    assert!(err.contains(says), "{args:?}: {err}");
}

#[tokio::test]
async fn the_cli_lists_removes_and_resets_factors() {
    let s = Setup::new().await;
    let door = s.path();
    let sub = door.sub.clone();
    let b = s.browser();
    let secret = enrol(&s, &b, &door).await;

    let listed = s.db.cli_json(
        &["user", "factors", "--tenant", "acme", "--sub", &sub],
        None,
    );
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["type"], "totp");
    assert_eq!(listed["recovery_codes"]["remaining"], 10);
    let id = items[0]["id"].as_str().unwrap().to_string();
    // The same with SUB as an argument.
    assert_eq!(
        s.db.cli_json(&["user", "factors", "--tenant", "acme", &sub], None),
        listed
    );

    refused(
        &s.db,
        &["user", "factors", "--tenant", "acme", "--sub", "nobody"],
        "does not exist",
    );
    refused(
        &s.db,
        &["user", "factors", "--tenant", "nope", "--sub", &sub],
        "does not exist",
    );
    refused(
        &s.db,
        &[
            "user",
            "remove-factor",
            "--tenant",
            "acme",
            "--sub",
            &sub,
            "--id",
            "nope",
        ],
        "factor 'nope' does not exist",
    );
    refused(
        &s.db,
        &[
            "user",
            "remove-factor",
            "--tenant",
            "default",
            "--sub",
            &s.ann_default,
            "--id",
            &id,
        ],
        "does not exist",
    );
    refused(
        &s.db,
        &[
            "user",
            "reset-factors",
            "--tenant",
            "acme",
            "--sub",
            "nobody",
        ],
        "does not exist",
    );
    assert_eq!(s.count("totp_devices").await, 1);

    let removed = s.db.cli_json(
        &[
            "user",
            "remove-factor",
            "--tenant",
            "acme",
            "--sub",
            &sub,
            "--id",
            &id,
        ],
        None,
    );
    assert_eq!(removed["removed"], true, "{removed}");
    assert_eq!(removed["id"], id.as_str());
    assert_eq!(s.count("totp_devices").await, 0);
    assert_eq!(s.count("recovery_codes").await, 0);

    // A reset ends the sessions; the TOTP code is asked no more.
    let b2 = s.browser();
    let secret2 = enrol(&s, &b2, &door).await;
    assert_ne!(secret, secret2);
    let reset = s.db.cli_json(
        &["user", "reset-factors", "--tenant", "acme", "--sub", &sub],
        None,
    );
    assert_eq!(reset["reset"], true, "{reset}");
    assert_eq!(s.count("totp_devices").await, 0);
    assert_eq!(s.count("recovery_codes").await, 0);
    let page = b2.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(page.status, 303, "the session ended");
    let (c, _) = code_at(&s.browser(), &door).await;
    assert!(!c.is_empty());
    let listed = s.db.cli_json(
        &["user", "factors", "--tenant", "acme", "--sub", &sub],
        None,
    );
    assert_eq!(
        listed,
        serde_json::json!({"items": [], "recovery_codes": {"remaining": 0}})
    );
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn of_two_racing_uses_of_one_recovery_code_exactly_one_signs_in() {
    let s = Setup::new().await;
    let door = s.path();
    let (_, shown) = enrol_showing(&s, &s.browser(), &door).await;
    let codes = assert_codes_page(&shown, &door);
    let (a, b) = (s.browser(), s.browser());
    let (step_a, _) = password_step(&a, &door).await;
    let (step_b, _) = password_step(&b, &door).await;
    let code = [("code", codes[3].as_str())];
    let (ra, rb) = tokio::join!(a.submit(&step_a, &code), b.submit(&step_b, &code));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [303, 401], "{} / {}", ra.body, rb.body);
    let winner = if ra.status == 303 { &ra } else { &rb };
    assert_code(winner, &door, "the winner");
    assert_eq!(unused(&s).await, 9);
    assert_no_server_error(&s.server);
}
