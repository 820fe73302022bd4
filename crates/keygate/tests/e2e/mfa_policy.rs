//! Second factors by policy (docs/account.md, "Second factors and policy"):
//! `acr_values` step-up of a live session, `acr` and `amr` (RFC 8176) in
//! id_tokens, the tenant's `--mfa required` forcing enrolment at the next
//! sign-in, a client's `--require-mfa`, `--mfa off`, and the Journeys API's
//! second step.

use crate::harness::*;
use crate::journeys_helpers::{post_json, Via};
use crate::mfa_totp::{code, enrol, password_step, unix_now};
use crate::pages_helpers::*;
use serde_json::{json, Value};

const AUTH0_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// The authorization URL of `door`'s client with `extra` parameters.
fn authorize_url(door: &Door, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut params = request(&door.client, challenge);
    params.extend_from_slice(extra);
    url_with(&door.issuer, "/authorize", &params)
}

fn amr(claims: &Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The TOTP secret in an enrolment page's `otpauth://` URI.
fn secret_on(page: &Page) -> Vec<u8> {
    let i = page.body.find("otpauth://totp/").expect("the URI as text");
    let j = page.body[i..].find('<').unwrap() + i;
    let url = url::Url::parse(&crate::pages_helpers::unescape(&page.body[i..j])).unwrap();
    let b32 = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.to_string())
        .unwrap();
    totp_rs::Secret::try_from_base32(&b32)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// The code of a first enrolment's answer: the recovery codes page (ten
/// `<code>` elements) whose "Continue" link sends the code on.
fn code_after_codes_page(page: &Page, door: &Door) -> String {
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.matches("<code>").count(), 10, "{}", page.body);
    assert!(
        set_cookies(page).iter().any(|c| c.contains("session")),
        "a session starts"
    );
    let next = link(page, "code=");
    assert!(next.starts_with(&door.client.redirect_uri), "{next}");
    let url = url::Url::parse(&next).unwrap();
    assert_eq!(
        url.query_pairs()
            .find(|(k, _)| k == "iss")
            .map(|(_, v)| v.to_string()),
        Some(door.issuer.clone())
    );
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .unwrap()
}

/// A setup whose tenant `acme` got `settings` before the server started.
async fn setup_with(settings: &[&str], client_args: &[&str]) -> (Setup, TestClient) {
    let s = Setup::new().await;
    let mut args = vec!["tenant", "update", "acme"];
    args.extend_from_slice(settings);
    if !settings.is_empty() {
        s.db.cli_json(&args, None);
    }
    let mut cargs = vec!["--public"];
    cargs.extend_from_slice(client_args);
    let strict = s.db.client("acme", CALLBACK, &cargs);
    // The tenant's settings are read through a short cache: a fresh
    // server sees them at once.
    let server = Server::start_with(&s.db, &[]).await;
    let s = Setup { server, ..s };
    (s, strict)
}

#[tokio::test]
async fn a_demanded_second_factor_steps_up_a_password_session_and_tokens_say_how() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    // A password-only session, made before the person had a factor.
    let (c, verifier) = code_at(&b, &door).await;
    let claims = s.id_token(&door, &c, &verifier).await;
    assert_eq!(amr(&claims), vec!["pwd"]);
    assert!(claims.get("acr").is_none(), "{claims}");
    // The person adds an authenticator app with that session.
    let secret = enrol(&s, &b, &door).await;

    // Without acr_values the session is good enough as it is.
    let (verifier, challenge) = pkce();
    let plain = b.get(&authorize_url(&door, &challenge, &[])).await;
    let c = assert_code(&plain, &door, "no demand");
    assert_eq!(amr(&s.id_token(&door, &c, &verifier).await), vec!["pwd"]);

    // prompt=none cannot ask for the second factor.
    let (_, challenge) = pkce();
    let none = b
        .get(&authorize_url(
            &door,
            &challenge,
            &[("acr_values", "mfa"), ("prompt", "none")],
        ))
        .await;
    let params = assert_redirect(&none, &door, "prompt=none");
    assert_eq!(params["error"], "interaction_required");
    assert_eq!(params["state"], "st-123");

    // Auth0's value: the second-factor page, not the password again.
    let (verifier, challenge) = pkce();
    let step = b
        .get(&authorize_url(
            &door,
            &challenge,
            &[("acr_values", AUTH0_MFA)],
        ))
        .await;
    assert_eq!(step.status, 200, "{}", step.body);
    let names = field_names(&step);
    assert!(names.iter().any(|n| n == "code"), "{names:?}");
    assert!(!names.iter().any(|n| n == "password"), "{names:?}");
    let wrong = b.submit(&step, &[("code", "000000")]).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    // (The current step's code confirmed the app: the next one is new.)
    let done = b
        .submit(&wrong, &[("code", &code(&secret, unix_now() + 30))])
        .await;
    let c = assert_code(&done, &door, "step-up");
    let claims = s.id_token(&door, &c, &verifier).await;
    assert_eq!(claims["acr"], AUTH0_MFA, "{claims}");
    assert_eq!(amr(&claims), vec!["pwd", "otp", "mfa"]);

    // The stepped-up session satisfies `mfa` at once, with its acr.
    let (verifier, challenge) = pkce();
    let again = b
        .get(&authorize_url(&door, &challenge, &[("acr_values", "mfa")]))
        .await;
    let c = assert_code(&again, &door, "multi-factor session");
    let claims = s.id_token(&door, &c, &verifier).await;
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(amr(&claims), vec!["pwd", "otp", "mfa"]);

    // prompt=login and max_age still ask for the password.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let (_, challenge) = pkce();
        let page = b
            .get(&authorize_url(
                &door,
                &challenge,
                &[("acr_values", "mfa"), extra],
            ))
            .await;
        assert_sign_in_page(&page, &door, extra.0);
    }

    // Discovery lists both values.
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", door.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["acr_values_supported"], json!([AUTH0_MFA, "mfa"]));
    let claims_supported = doc["claims_supported"].as_array().unwrap();
    assert!(claims_supported.contains(&json!("amr")) && claims_supported.contains(&json!("acr")));
}

#[tokio::test]
async fn a_tenant_requiring_mfa_has_a_person_without_a_factor_enrol_at_the_next_sign_in() {
    let (s, _) = setup_with(&["--mfa", "required"], &[]).await;
    let door = s.path();
    let b = s.browser();
    let (page, verifier) = password_step(&b, &door).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<svg"), "the QR code: {}", page.body);
    let names = field_names(&page);
    for n in ["code", "mfa_token", "id"] {
        assert!(names.iter().any(|f| f == n), "{n}: {names:?}");
    }
    assert!(!page.body.contains("code="), "no code yet");
    let secret = secret_on(&page);
    // A wrong code: refused, nothing confirmed.
    let wrong = b
        .submit(&page, &[("code", &code(&secret, unix_now() + 600))])
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM totp_devices WHERE confirmed_at IS NOT NULL")
            .await,
        0
    );
    // The right one confirms the app and finishes the sign-in.
    let now_code = code(&secret, unix_now());
    let done = b
        .submit(&wrong, &[("code", &now_code), ("name", "Work phone")])
        .await;
    let c = code_after_codes_page(&done, &door);
    let claims = s.id_token(&door, &c, &verifier).await;
    assert_eq!(amr(&claims), vec!["pwd", "otp", "mfa"]);
    assert!(claims.get("acr").is_none(), "not asked by the request");
    assert_eq!(
        s.db.query_strings("SELECT name FROM totp_devices WHERE confirmed_at IS NOT NULL")
            .await,
        vec!["Work phone"]
    );
    // The form cannot finish a second sign-in.
    let replay = b.submit(&wrong, &[("code", &now_code)]).await;
    assert_eq!(replay.status, 400, "{}", replay.body);

    // The next sign-in asks for the app's code; the used one is refused.
    let other = s.browser();
    let (step, _) = password_step(&other, &door).await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(!step.body.contains("otpauth://"), "asked, not enrolled");
    let reused = other.submit(&step, &[("code", &now_code)]).await;
    assert_eq!(reused.status, 401, "{}", reused.body);

    // The Journeys API cannot enrol: a person without a factor is told so.
    let journeys =
        s.db.client("acme", CALLBACK, &["--public", "--journeys-api"]);
    let bob = s.db.user("acme", "bob@example.com", PASSWORD);
    assert!(!bob.is_empty());
    let (_, challenge) = pkce();
    let body = crate::journeys_helpers::request(
        &journeys,
        Some(&challenge),
        &[("email", "bob@example.com"), ("password", PASSWORD)],
    );
    let r = post_json(
        &format!("{}/journeys/sign-in", door.issuer),
        &body,
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (403, Some("mfa_enrollment_required")));
}

#[tokio::test]
async fn a_client_requiring_mfa_enrols_a_person_without_a_factor_and_others_do_not_ask() {
    let (s, strict) = setup_with(&[], &["--require-mfa"]).await;
    let door = s.path();
    let strict_door = Door {
        client: strict.clone(),
        ..s.path()
    };
    // The ordinary client: the password is enough.
    let b = s.browser();
    let (c, verifier) = code_at(&b, &door).await;
    assert_eq!(amr(&s.id_token(&door, &c, &verifier).await), vec!["pwd"]);
    // The strict client, with that password session: enrolment first.
    let (verifier, challenge) = pkce();
    let page = b.get(&authorize_url(&strict_door, &challenge, &[])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("otpauth://"), "{}", page.body);
    let secret = secret_on(&page);
    let done = b
        .submit(&page, &[("code", &code(&secret, unix_now()))])
        .await;
    let c = code_after_codes_page(&done, &strict_door);
    let claims = s.id_token(&strict_door, &c, &verifier).await;
    assert_eq!(amr(&claims), vec!["pwd", "otp", "mfa"]);
    // The admin API shows the setting.
    let shown =
        s.db.cli_json(&["client", "show", "--tenant", "acme", &strict.id], None);
    assert_eq!(shown["require_mfa"], true, "{shown}");
}

#[tokio::test]
async fn with_mfa_off_no_factor_is_asked_and_a_demand_for_one_is_refused() {
    let (s, strict) = setup_with(&[], &["--require-mfa"]).await;
    let door = s.path();
    // A person who enrolled while factors were on.
    enrol(&s, &s.browser(), &door).await;
    s.db.cli_json(&["tenant", "update", "acme", "--mfa", "off"], None);
    let server = Server::start_with(&s.db, &[]).await;
    let s = Setup { server, ..s };
    let door = s.path();
    // The password alone signs in.
    let b = s.browser();
    let (c, verifier) = code_at(&b, &door).await;
    assert_eq!(amr(&s.id_token(&door, &c, &verifier).await), vec!["pwd"]);
    // The account page offers no authenticator app, and refuses to add one.
    let page = crate::mfa_totp::account(&b, &door).await;
    assert!(page.body.contains("turned off"), "{}", page.body);
    assert!(!page.body.contains("Add an authenticator app"));
    let (action, fields) = crate::account_page::form_to(&page, "/account/password");
    let csrf = field(&fields, "csrf").unwrap().to_string();
    let refused = b
        .post_form(
            &action.replace("/account/password", "/account/totp/new"),
            &[("csrf".to_string(), csrf)],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    // A request demanding a factor, or a client requiring one: access_denied.
    let (_, challenge) = pkce();
    let demanded = b
        .get(&authorize_url(&door, &challenge, &[("acr_values", "mfa")]))
        .await;
    let params = assert_redirect(&demanded, &door, "acr_values=mfa with mfa off");
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");
    let strict_door = Door {
        client: strict,
        ..s.path()
    };
    let (_, challenge) = pkce();
    let fresh = s.browser();
    let page = fresh
        .get(&authorize_url(&strict_door, &challenge, &[]))
        .await;
    let refused = fresh
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    let params = assert_redirect(&refused, &strict_door, "strict client with mfa off");
    assert_eq!(params["error"], "access_denied");
}

#[tokio::test]
async fn the_journeys_api_asks_for_the_second_factor_with_an_mfa_token() {
    let s = Setup::new().await;
    let door = s.path();
    let client =
        s.db.client("acme", CALLBACK, &["--public", "--journeys-api"]);
    let other =
        s.db.client("acme", CALLBACK, &["--public", "--journeys-api"]);
    let secret = enrol(&s, &s.browser(), &door).await;
    let sign_in = format!("{}/journeys/sign-in", door.issuer);
    let mfa = format!("{}/journeys/mfa", door.issuer);
    let (verifier, challenge) = pkce();
    let body = crate::journeys_helpers::request(
        &client,
        Some(&challenge),
        &[("email", EMAIL), ("password", PASSWORD), ("state", "j1")],
    );
    let first = post_json(&sign_in, &body, Via::default()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["mfa_required"], true, "{}", first.body);
    assert_eq!(first.body["methods"], json!(["otp"]));
    assert!(first.body.get("code").is_none(), "{}", first.body);
    let token = first.body["mfa_token"].as_str().unwrap().to_string();

    // Bad inputs: clear Journeys errors, and the token still works after.
    let r = post_json(
        &mfa,
        &json!({"client_id": client.id, "mfa_token": token}),
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_request")));
    let r = post_json(
        &mfa,
        &json!({"client_id": client.id, "mfa_token": "x".repeat(43), "code": "123456"}),
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_mfa_token")));
    let r = post_json(
        &mfa,
        &json!({"client_id": other.id, "mfa_token": token, "code": code(&secret, unix_now())}),
        Via::default(),
    )
    .await;
    assert_eq!(
        r.refusal(),
        (400, Some("invalid_mfa_token")),
        "another client's token"
    );
    let r = post_json(
        &mfa,
        &json!({"client_id": client.id, "mfa_token": token, "code": "000000"}),
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (401, Some("invalid_code")));

    // The right code (the next step's: enrolment used the current one):
    // the usual answer, with the request's state.
    let ok = post_json(
        &mfa,
        &json!({"client_id": client.id, "mfa_token": token, "code": code(&secret, unix_now() + 30)}),
        Via::default(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["state"], "j1");
    let c = ok.body["code"].as_str().unwrap();
    assert!(ok.body["redirect_to"].as_str().unwrap().contains(c));
    let journeys_door = Door {
        client: client.clone(),
        ..s.path()
    };
    let claims = s.id_token(&journeys_door, c, &verifier).await;
    assert_eq!(amr(&claims), vec!["pwd", "otp", "mfa"]);

    // Single use.
    let replay = post_json(
        &mfa,
        &json!({"client_id": client.id, "mfa_token": token, "code": code(&secret, unix_now() + 30)}),
        Via::default(),
    )
    .await;
    assert_eq!(replay.refusal(), (400, Some("invalid_mfa_token")));

    // A hosted page's waiting sign-in is not a Journeys token.
    let b = s.browser();
    let (step, _) = password_step(&b, &door).await;
    let (_, fields) = step.form();
    let hosted = field(&fields, "mfa_token").unwrap().to_string();
    let r = post_json(
        &mfa,
        &json!({"client_id": client.id, "mfa_token": hosted, "code": code(&secret, unix_now() + 30)}),
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_mfa_token")));
}
