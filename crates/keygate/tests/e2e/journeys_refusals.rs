//! Every refusal of the Journeys API has its stable error code, and a failed
//! registration creates nothing.

use crate::harness::*;
use crate::journeys_helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn every_refusal_has_its_stable_error_and_a_failed_registration_creates_nothing() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api"]);
    let sign_in = format!("{}/journeys/sign-in", w.issuer);
    let register = format!("{}/journeys/register", w.issuer);
    let (_, challenge) = pkce();
    let with = |extra: &[(&str, &str)]| request(&client, Some(&challenge), extra);

    // Sign-in: a wrong password and an unknown e-mail are indistinguishable.
    let wrong = post_json(
        &sign_in,
        &with(&credentials(EMAIL, "not the password")),
        Via::default(),
    )
    .await;
    assert_journeys_error(&wrong, 401, "invalid_credentials", "wrong password");
    let unknown = post_json(
        &sign_in,
        &with(&credentials("nobody@example.com", PASSWORD)),
        Via::default(),
    )
    .await;
    assert_journeys_error(&unknown, 401, "invalid_credentials", "unknown e-mail");
    assert_eq!(wrong.body, unknown.body, "the same answer for both");
    let malformed = post_json(
        &sign_in,
        &with(&credentials("not-an-email", PASSWORD)),
        Via::default(),
    )
    .await;
    assert_eq!(
        malformed.body, unknown.body,
        "a malformed e-mail signs in as unknown"
    );
    // Repeated failures answer 429 with Retry-After: tested with the hosted
    // pages in security::sign_in_failures_per_account_lead_to_429_with_retry_after.

    // Registration refusals, each with an e-mail that is still free, so that
    // only the refusal stops the account from being created.
    let users = w.db.count("SELECT COUNT(*) FROM users").await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "taken e-mail",
            with(&credentials(EMAIL, "another long password")),
            409,
            "email_taken",
        ),
        (
            "taken e-mail, other case",
            with(&credentials("ANN@Example.COM", "another long password")),
            409,
            "email_taken",
        ),
        (
            "weak password",
            with(&credentials("weak@example.com", "short")),
            400,
            "weak_password",
        ),
        (
            "invalid e-mail",
            with(&credentials("not-an-email", "a long enough password")),
            400,
            "invalid_email",
        ),
        (
            "missing e-mail",
            with(&[("password", "a long enough password")]),
            400,
            "invalid_request",
        ),
        (
            "missing password",
            with(&[("email", "nopass@example.com")]),
            400,
            "invalid_request",
        ),
        (
            "an object for a string",
            {
                let mut b = with(&credentials("number@example.com", "a long enough password"));
                b["name"] = json!({"first": "Bea"});
                b
            },
            400,
            "invalid_request",
        ),
        (
            "no PKCE from a public client",
            request(
                &client,
                None,
                &credentials("nopkce@example.com", "a long enough password"),
            ),
            400,
            "invalid_request",
        ),
        (
            "unregistered redirect_uri",
            {
                let mut b = with(&credentials(
                    "redirect@example.com",
                    "a long enough password",
                ));
                b["redirect_uri"] = json!("http://127.0.0.1:9/elsewhere");
                b
            },
            400,
            "invalid_request",
        ),
        (
            "bad code_challenge_method",
            {
                let mut b = with(&credentials("method@example.com", "a long enough password"));
                b["code_challenge_method"] = json!("S512");
                b
            },
            400,
            "invalid_request",
        ),
        (
            "name with control characters",
            with(&[
                ("email", "name@example.com"),
                ("password", "a long enough password"),
                ("name", "Bea\u{7}"),
            ]),
            400,
            "invalid_request",
        ),
    ];
    for (what, body, status, error) in &cases {
        let r = post_json(&register, body, Via::default()).await;
        assert_journeys_error(&r, *status, error, what);
    }
    // The sign-in endpoint refuses the same malformed requests the same way
    // (it reads no name).
    for (what, body, status, error) in cases
        .iter()
        .filter(|c| c.3 == "invalid_request" && !c.0.starts_with("name"))
    {
        let r = post_json(&sign_in, body, Via::default()).await;
        assert_journeys_error(&r, *status, error, &format!("sign-in: {what}"));
    }

    // Bodies that are not a JSON object of strings, or too large.
    let valid = serde_json::to_vec(&with(&credentials(
        "raw@example.com",
        "a long enough password",
    )))
    .unwrap();
    for url in [&sign_in, &register] {
        // (what, Content-Type, body, status); each error is invalid_request.
        let raw_cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
            (
                "malformed JSON",
                Some("application/json"),
                br#"{"client_id": "#.to_vec(),
                400,
            ),
            (
                "a JSON array",
                Some("application/json"),
                b"[1, 2]".to_vec(),
                400,
            ),
            (
                "trailing garbage",
                Some("application/json"),
                [valid.clone(), b"}".to_vec()].concat(),
                400,
            ),
            (
                "a form",
                Some("application/x-www-form-urlencoded"),
                format!(
                    "client_id={}&email=raw%40example.com&password=a+long+enough+password",
                    client.id
                )
                .into_bytes(),
                400,
            ),
            ("text/plain JSON", Some("text/plain"), valid.clone(), 400),
            ("no content type", None, valid.clone(), 400),
            (
                "over 64 KiB",
                Some("application/json"),
                {
                    let mut b = with(&credentials("big@example.com", "a long enough password"));
                    b["name"] = json!("x".repeat(65 * 1024));
                    serde_json::to_vec(&b).unwrap()
                },
                413,
            ),
        ];
        for (what, ct, body, status) in raw_cases {
            let r = post_raw(url, ct, body).await;
            assert_eq!(
                r.refusal(),
                (status, Some("invalid_request")),
                "{url} {what}: {}",
                r.body
            );
            assert!(r.body.get("code").is_none());
        }
    }

    // Clients: one without --journeys-api (public or confidential) is 403;
    // an unknown one is 401 invalid_client.
    let plain_public = w.public_client(&[]);
    let plain_conf = w.confidential_client(&[]);
    for url in [&sign_in, &register] {
        let body = request(
            &plain_public,
            Some(&challenge),
            &credentials("plain@example.com", "a long enough password"),
        );
        let r = post_json(url, &body, Via::default()).await;
        assert_journeys_error(
            &r,
            403,
            "unauthorized_client",
            "public client without --journeys-api",
        );
        let body = request(
            &plain_conf,
            None,
            &credentials("plain@example.com", "a long enough password"),
        );
        let r = post_json(url, &body, Via::basic(&plain_conf.id, plain_conf.secret())).await;
        assert_journeys_error(
            &r,
            403,
            "unauthorized_client",
            "confidential client without --journeys-api",
        );
        let mut body = with(&credentials("plain@example.com", "a long enough password"));
        body["client_id"] = json!("no-such-client");
        let r = post_json(url, &body, Via::default()).await;
        assert_eq!(r.refusal(), (401, Some("invalid_client")), "unknown client");
    }

    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM users").await,
        users,
        "a refused registration created an account"
    );
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM grants").await,
        0,
        "a refused call issued a code"
    );
}
