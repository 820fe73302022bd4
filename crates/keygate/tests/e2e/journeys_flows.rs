//! The Journeys API as Next Identity documents it: registration and sign-in
//! that answer with a code, its exchange with PKCE or HTTP Basic, refresh, and
//! codes that are single use and bound to their request.

use crate::harness::*;
use crate::journeys_helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn public_client_registers_exchanges_with_pkce_and_refreshes_as_next_identity_documents() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api"]);
    let (verifier, challenge) = pkce();

    // Register: 201 with the code, state and redirect_to.
    let r = post_json(
        &format!("{}/journeys/register", w.issuer),
        &request(
            &client,
            Some(&challenge),
            &[
                ("email", "Bea@Example.com"),
                ("password", "a long enough password"),
                ("name", "Bea Example"),
            ],
        ),
        Via::default(),
    )
    .await;
    let code = code_of(&r, 201, &client, &w.issuer);
    let sub = sub_of(&w.db, "bea@example.com").await;

    // Seed 000/001: the public client's exchange, form-encoded, with PKCE.
    let t = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.body["token_type"], "Bearer");
    let id = claims(t.body["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], w.issuer.as_str());
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["aud"], client.id.as_str());
    assert_eq!(id["nonce"], "n-9");
    assert_eq!(id["email"], "bea@example.com");
    assert_eq!(id["name"], "Bea Example");
    assert!(id["auth_time"].as_i64().is_some());
    let refresh = t.body["refresh_token"].as_str().unwrap().to_string();

    // The refresh is checked against what it repeats: a wrong verifier or an
    // unregistered redirect_uri is invalid_grant (and consumes nothing).
    let (other_verifier, _) = pkce();
    for (what, redirect, v) in [
        (
            "wrong code_verifier",
            client.redirect_uri.as_str(),
            other_verifier.as_str(),
        ),
        (
            "unregistered redirect_uri",
            "http://127.0.0.1:9/elsewhere",
            verifier.as_str(),
        ),
    ] {
        let bad = token_at(
            &format!("{}/token", w.issuer),
            &[
                ("client_id", &client.id),
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("redirect_uri", redirect),
                ("code_verifier", v),
            ],
            Via::default(),
        )
        .await;
        assert_eq!(bad.refusal(), (400, Some("invalid_grant")), "{what}");
    }

    // Seed 001: the refresh as Next Identity documents it.
    let t2 = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t2.status, 200, "{}", t2.body);
    let refresh2 = t2.body["refresh_token"].as_str().unwrap();
    assert_ne!(refresh2, refresh, "rotated");
    assert_eq!(
        claims(t2.body["access_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );
    assert_eq!(
        claims(t2.body["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );

    // The access token works at userinfo.
    let ui: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", w.issuer))
        .bearer_auth(t2.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["email"], "bea@example.com");

    // Sign in with the new account: 200, and the code belongs to the same person.
    let (verifier2, challenge2) = pkce();
    let r = post_json(
        &format!("{}/journeys/sign-in", w.issuer),
        &request(
            &client,
            Some(&challenge2),
            &credentials("bea@example.com", "a long enough password"),
        ),
        Via::default(),
    )
    .await;
    let code2 = code_of(&r, 200, &client, &w.issuer);
    let form = [
        ("client_id", client.id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", &code2),
        ("redirect_uri", &client.redirect_uri),
        ("code_verifier", &verifier2),
    ];
    let t3 = token_at(&format!("{}/token", w.issuer), &form, Via::default()).await;
    assert_eq!(t3.status, 200, "{}", t3.body);
    assert_eq!(
        claims(t3.body["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );
    assert_eq!(w.db.count("SELECT COUNT(*) FROM users").await, 2);
}

#[tokio::test]
async fn journeys_codes_are_single_use_and_bound_to_their_request() {
    let w = World::new().await;
    let client = w.public_client(&["--journeys-api"]);
    let other = w.public_client(&["--journeys-api"]);
    let (verifier, challenge) = pkce();
    let r = post_json(
        &format!("{}/journeys/sign-in", w.issuer),
        &request(&client, Some(&challenge), &credentials(EMAIL, PASSWORD)),
        Via::default(),
    )
    .await;
    let code = code_of(&r, 200, &client, &w.issuer);
    let url = format!("{}/token", w.issuer);
    let exchange = |client_id: String, verifier: String, redirect: String| {
        let url = url.clone();
        let code = code.clone();
        async move {
            token_at(
                &url,
                &[
                    ("client_id", &client_id),
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &redirect),
                    ("code_verifier", &verifier),
                ],
                Via::default(),
            )
            .await
        }
    };
    // Bound exactly like a code from /authorize: the verifier, the redirect
    // URI and the client must match.
    let (wrong_verifier, _) = pkce();
    let r = exchange(
        client.id.clone(),
        wrong_verifier,
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_grant")), "wrong verifier");
    let r = exchange(
        client.id.clone(),
        verifier.clone(),
        "http://127.0.0.1:9/other".into(),
    )
    .await;
    assert_eq!(
        r.refusal(),
        (400, Some("invalid_grant")),
        "other redirect_uri"
    );
    let r = exchange(
        other.id.clone(),
        verifier.clone(),
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_grant")), "another client");

    let first = exchange(
        client.id.clone(),
        verifier.clone(),
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = exchange(
        client.id.clone(),
        verifier.clone(),
        client.redirect_uri.clone(),
    )
    .await;
    assert_eq!(
        second.refusal(),
        (400, Some("invalid_grant")),
        "code reused"
    );
    // The replay revoked what the first exchange issued.
    let refresh = first.body["refresh_token"].as_str().unwrap();
    let r = token_at(
        &url,
        &[
            ("client_id", &client.id),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(r.refusal(), (400, Some("invalid_grant")), "family revoked");
}

#[tokio::test]
async fn confidential_client_authenticates_with_http_basic_on_journeys_and_at_token() {
    let w = World::new().await;
    let client = w.confidential_client(&["--journeys-api"]);
    let secret = client.secret().to_string();
    let sign_in = format!("{}/journeys/sign-in", w.issuer);
    let body = request(&client, None, &credentials(EMAIL, PASSWORD));

    // Wrong secret, no secret, or the secret in the body of a
    // client_secret_basic client: 401 invalid_client, as at /token.
    for (what, via, body) in [
        (
            "wrong secret",
            Via::basic(&client.id, "not-the-secret"),
            body.clone(),
        ),
        ("no credentials", Via::default(), body.clone()),
        ("secret in the body", Via::default(), {
            let mut b = body.clone();
            b["client_secret"] = json!(secret);
            b
        }),
    ] {
        let r = post_json(&sign_in, &body, via).await;
        assert_eq!(
            r.refusal(),
            (401, Some("invalid_client")),
            "{what}: {}",
            r.body
        );
        assert!(r.header("www-authenticate").is_some(), "{what}");
        assert!(r.body.get("code").is_none());
    }
    assert_eq!(w.db.count("SELECT COUNT(*) FROM grants").await, 0);

    // No PKCE needed: the client proves itself with Basic.
    let r = post_json(&sign_in, &body, Via::basic(&client.id, &secret)).await;
    let code = code_of(&r, 200, &client, &w.issuer);

    // Seed 000/001: the confidential exchange with a Basic header.
    let t = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ],
        Via::basic(&client.id, &secret),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let sub = sub_of(&w.db, EMAIL).await;
    assert_eq!(
        claims(t.body["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );

    // Seed 001: the confidential refresh with redirect_uri and Basic.
    let t2 = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &client.id),
            ("grant_type", "refresh_token"),
            ("refresh_token", t.body["refresh_token"].as_str().unwrap()),
            ("redirect_uri", &client.redirect_uri),
        ],
        Via::basic(&client.id, &secret),
    )
    .await;
    assert_eq!(t2.status, 200, "{}", t2.body);
    assert!(t2.body["refresh_token"].as_str().is_some());

    // A client_secret_post client sends its secret in the JSON body.
    let post_client =
        w.confidential_client(&["--journeys-api", "--auth-method", "client_secret_post"]);
    let mut body = request(&post_client, None, &credentials(EMAIL, PASSWORD));
    body["client_secret"] = json!(post_client.secret());
    let r = post_json(&sign_in, &body, Via::default()).await;
    let code = code_of(&r, 200, &post_client, &w.issuer);
    let t = token_at(
        &format!("{}/token", w.issuer),
        &[
            ("client_id", &post_client.id),
            ("client_secret", post_client.secret()),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &post_client.redirect_uri),
        ],
        Via::default(),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    // ...and must not switch to Basic.
    let r = post_json(
        &sign_in,
        &request(&post_client, None, &credentials(EMAIL, PASSWORD)),
        Via::basic(&post_client.id, post_client.secret()),
    )
    .await;
    assert_eq!(r.refusal(), (401, Some("invalid_client")));
}
