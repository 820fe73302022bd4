//! Authenticator apps (docs/account.md, "Authenticator apps (TOTP)"):
//! enrolment on the account page (the `otpauth://` URI as text, the QR code
//! as inline SVG, the first code confirms), the second step of the sign-in
//! after the password (wrong codes refused, a code accepted once, the
//! waiting sign-in finished once), and removal.

use crate::account_page::{form_to, submit_to};
use crate::harness::*;
use crate::pages_helpers::*;

/// The code of `secret` at Unix time `t` (RFC 6238: SHA-1, 6 digits, 30 s).
pub fn code(secret: &[u8], t: u64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .build()
        .unwrap()
        .generate(t)
        .to_string()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The account page of `door`, signing in first when the browser has no
/// session.
pub async fn account(b: &Browser, door: &Door) -> Page {
    // A browser with a session goes straight to the page.
    let page = b.get(&format!("{}/account", door.issuer)).await;
    if page.status == 200 {
        return page;
    }
    let form = b.get(&format!("{}/account/sign-in", door.issuer)).await;
    let done = b
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = b.get(&done.location().unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

/// Adds an authenticator app from the account page; returns its secret.
pub async fn enrol(s: &Setup, b: &Browser, door: &Door) -> Vec<u8> {
    enrol_showing(s, b, door).await.0
}

/// Adds the person's first authenticator app from the account page;
/// returns its secret and the page its confirmation answered with (the
/// recovery codes, shown once).
pub async fn enrol_showing(s: &Setup, b: &Browser, door: &Door) -> (Vec<u8>, Page) {
    let page = account(b, door).await;
    assert!(page.body.contains("Authenticator apps"), "{}", page.body);
    let enrol = submit_to(b, &page, "/account/totp/new", &[]).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    // The URI as text, and the QR code as inline SVG.
    let i = enrol.body.find("otpauth://totp/").expect("the URI as text");
    let j = enrol.body[i..].find('<').unwrap() + i;
    let uri = crate::pages_helpers::unescape(&enrol.body[i..j]);
    assert!(uri.contains(":ann%40example%2Ecom?secret="), "{uri}");
    assert!(uri.contains("issuer="), "{uri}");
    assert!(enrol.body.contains("<svg"), "the QR code is inline SVG");
    let url = url::Url::parse(&uri).unwrap();
    let b32 = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.to_string())
        .expect("secret=");
    let secret = totp_rs::Secret::try_from_base32(&b32)
        .unwrap()
        .as_bytes()
        .to_vec();
    assert_eq!(secret.len(), 20, "160 bits");
    let (_, fields) = form_to(&enrol, "/account/totp/confirm");
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"code") && names.contains(&"name"),
        "{names:?}"
    );

    // A wrong code is refused on the page; nothing is confirmed.
    let wrong = code(&secret, unix_now() + 600);
    let refused = submit_to(b, &enrol, "/account/totp/confirm", &[("code", &wrong)]).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(alert(&refused).unwrap().contains("incorrect"));
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM totp_devices WHERE confirmed_at IS NOT NULL")
            .await,
        0
    );
    // The right one confirms it.
    let right = code(&secret, unix_now());
    let done = submit_to(
        b,
        &refused,
        "/account/totp/confirm",
        &[("code", &right), ("name", "My phone")],
    )
    .await;
    // The first app: the recovery codes are shown once, then "Continue".
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("recovery codes"), "{}", done.body);
    let back = b.get(&link(&done, "/account")).await;
    assert!(back.body.contains("My phone"), "{}", back.body);
    assert!(back.body.contains("Remove"), "{}", back.body);
    // Stored sealed: not the secret's base32 nor its bytes.
    let sealed =
        s.db.query_strings("SELECT sealed_secret FROM totp_devices")
            .await;
    assert_eq!(sealed.len(), 1);
    assert!(!sealed[0].contains(&b32) && !sealed[0].contains(&b32.to_lowercase()));
    (secret, done)
}

/// Opens an authorization request and gives the password: the page after it.
pub async fn password_step(b: &Browser, door: &Door) -> (Page, String) {
    let (verifier, challenge) = pkce();
    let url = url_with(
        &door.issuer,
        "/authorize",
        &request(&door.client, &challenge),
    );
    (sign_in(b, door, &url).await, verifier)
}

#[tokio::test]
async fn an_authenticator_app_is_enrolled_then_asked_for_once_per_code_until_removed() {
    let s = Setup::new().await;
    let door = s.path();
    let owner = s.browser();
    let secret = enrol(&s, &owner, &door).await;
    // The next step is within the one step of skew and was not used yet.
    let next = code(&secret, unix_now() + 30);

    // The password alone gives no code: the second step asks for `code`.
    let b = s.browser();
    let (step, verifier) = password_step(&b, &door).await;
    assert_eq!(step.status, 200, "{}", step.body);
    let names = field_names(&step);
    assert!(names.iter().any(|n| n == "code"), "{names:?}");
    assert!(!step.body.contains("code="), "no code yet");
    let wrong = b.submit(&step, &[("code", "000000")]).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(alert(&wrong).unwrap().contains("incorrect"));
    let done = b.submit(&wrong, &[("code", &next)]).await;
    let auth_code = assert_code(&done, &door, "second step");
    let (status, tokens) = s.exchange(&door, &auth_code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // The waiting sign-in is finished: its form cannot be used again.
    let again = b.submit(&wrong, &[("code", &next)]).await;
    assert_eq!(again.status, 400, "{}", again.body);

    // The same code (same step) at another sign-in: refused (replay).
    let other = s.browser();
    let (step, _) = password_step(&other, &door).await;
    let replay = other.submit(&step, &[("code", &next)]).await;
    assert_eq!(replay.status, 401, "{}", replay.body);

    // The account page's own sign-in asks for the code too.
    let acct = s.browser();
    let form = acct.get(&format!("{}/account/sign-in", door.issuer)).await;
    let step = acct
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(field_names(&step).iter().any(|n| n == "code"));
    let replay = acct.submit(&step, &[("code", &next)]).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    let page = acct.get(&format!("{}/account", door.issuer)).await;
    assert_eq!(page.status, 303, "still no session");

    // Removed: the password is enough again.
    let page = owner.get(&format!("{}/account", door.issuer)).await;
    let removed = submit_to(&owner, &page, "/account/totp/remove", &[]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(s.db.count("SELECT COUNT(*) FROM totp_devices").await, 0);
    let (code_again, _) = code_at(&s.browser(), &door).await;
    assert!(!code_again.is_empty());
}

#[tokio::test]
async fn wrong_codes_are_limited_like_passwords() {
    let s = Setup::with_env(&[("KEYGATE_SIGNIN_MAX_FAILURES", "3")]).await;
    let door = s.path();
    let secret = enrol(&s, &s.browser(), &door).await;
    let b = s.browser();
    let (mut page, _) = password_step(&b, &door).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let wrong = code(&secret, unix_now() + 600);
    for _ in 0..3 {
        page = b.submit(&page, &[("code", &wrong)]).await;
        assert_eq!(page.status, 401, "{}", page.body);
    }
    // Past the limit even the right code is refused, with Retry-After.
    let right = code(&secret, unix_now() + 30);
    let blocked = b.submit(&page, &[("code", &right)]).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    assert!(blocked.headers.get("retry-after").is_some());
    // A right password does not reset the second factor's count.
    let b2 = s.browser();
    let (step, _) = password_step(&b2, &door).await;
    assert_eq!(step.status, 200, "{}", step.body);
    let again = b2.submit(&step, &[("code", &right)]).await;
    assert_eq!(again.status, 429, "{}", again.body);
}
