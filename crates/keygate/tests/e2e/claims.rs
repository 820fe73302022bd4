//! A person's phone number and postal address (set by the CLI, the admin
//! API and the account page), released by the `phone` and `address`
//! scopes, and the OpenID Connect `claims` parameter (docs/account.md,
//! docs/admin-api.md, docs/cli.md).

use crate::account_page::submit_to;
use crate::admin_helpers::*;
use crate::harness::*;
use crate::mfa_totp::{account, code, enrol, unix_now};
use crate::pages_helpers::*;
use crate::token_helpers::assert_no_server_error;
use serde_json::{json, Value};

const PHONE: &str = "+4915112345678";

/// The authorization URL of `door`'s client with `scope` and `extra`.
fn authorize_url(door: &Door, challenge: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut params = with(&request(&door.client, challenge), "scope", scope);
    params.extend_from_slice(extra);
    url_with(&door.issuer, "/authorize", &params)
}

/// Signs in (or uses the browser's session) with `scope` and `extra`;
/// returns the id_token's claims and the userinfo answer.
async fn tokens(
    s: &Setup,
    b: &Browser,
    door: &Door,
    scope: &str,
    extra: &[(&str, &str)],
) -> (Value, Value) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(door, &challenge, scope, extra);
    let page = b.get(&url).await;
    let page = if page.status == 200 {
        b.submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await
    } else {
        page
    };
    let code = assert_code(&page, door, scope);
    let (status, body) = s.exchange(door, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", door.issuer))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    (id, r.json().await.unwrap())
}

#[tokio::test]
async fn phone_and_address_set_by_the_cli_are_released_with_their_scopes_only() {
    let s = Setup::new().await;
    let door = s.path();
    let set = s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &door.sub,
            "--phone-number",
            PHONE,
            "--phone-number-verified",
            "true",
            "--address-street",
            "Hauptstr. 1",
            "--address-locality",
            "Berlin",
            "--address-postal-code",
            "10115",
            "--address-country",
            "Germany",
        ],
        None,
    );
    assert_eq!(set["phone_number"], PHONE, "{set}");
    assert_eq!(set["phone_number_verified"], true);
    assert_eq!(set["address"]["locality"], "Berlin");
    // A part on its own changes only that part.
    let set = s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &door.sub,
            "--address-region",
            "Berlin",
        ],
        None,
    );
    let address = json!({"street_address": "Hauptstr. 1", "locality": "Berlin",
        "region": "Berlin", "postal_code": "10115", "country": "Germany"});
    assert_eq!(set["address"], address, "{set}");
    // Bad values are refused before anything is written.
    for bad in [
        &["--phone-number", "0151 1234567"][..],
        &["--address", "{\"city\": \"x\"}"],
        &["--address-locality", "a\u{7}b"],
    ] {
        let mut args = vec!["user", "update", "--tenant", "acme", &door.sub];
        args.extend_from_slice(bad);
        let out = s.db.cli(&args, None);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--phone-number") || err.contains("--address"),
            "{err}"
        );
    }

    let b = s.browser();
    let (id, info) = tokens(&s, &b, &door, "openid phone address", &[]).await;
    for doc in [&id, &info] {
        assert_eq!(doc["phone_number"], PHONE, "{doc}");
        assert_eq!(doc["phone_number_verified"], true, "{doc}");
        assert_eq!(doc["address"], address, "{doc}");
        assert!(doc.get("email").is_none(), "{doc}");
    }
    let (id, info) = tokens(&s, &b, &door, "openid profile email", &[]).await;
    for doc in [&id, &info] {
        assert_eq!(doc["email"], EMAIL, "{doc}");
        for claim in ["phone_number", "phone_number_verified", "address"] {
            assert!(doc.get(claim).is_none(), "{claim}: {doc}");
        }
    }
    // Removed: the scopes release nothing.
    s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &door.sub,
            "--no-phone-number",
            "--no-address",
        ],
        None,
    );
    let (id, info) = tokens(&s, &b, &door, "openid phone address", &[]).await;
    for doc in [&id, &info] {
        for claim in ["phone_number", "phone_number_verified", "address"] {
            assert!(doc.get(claim).is_none(), "{claim}: {doc}");
        }
    }
    // Created with them, as JSON.
    let made = s.db.cli_json(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bea@example.com",
            "--password-stdin",
            "--phone-number",
            "+15550001234",
            "--address",
            "{\"locality\": \"Springfield\", \"country\": \"USA\"}",
        ],
        Some("a long password\n"),
    );
    let shown = s.db.cli_json(
        &[
            "user",
            "show",
            "--tenant",
            "acme",
            made["sub"].as_str().unwrap(),
        ],
        None,
    );
    assert_eq!(shown["phone_number"], "+15550001234", "{shown}");
    assert_eq!(shown["phone_number_verified"], false);
    assert_eq!(
        shown["address"],
        json!({"locality": "Springfield", "country": "USA"})
    );
    // Discovery names the scopes, the claims and the parameter.
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", door.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let has = |key: &str, v: &str| doc[key].as_array().unwrap().contains(&json!(v));
    assert!(has("scopes_supported", "phone") && has("scopes_supported", "address"));
    for c in [
        "phone_number",
        "phone_number_verified",
        "address",
        "email_verified",
    ] {
        assert!(has("claims_supported", c), "{c}");
    }
    assert_eq!(doc["claims_parameter_supported"], true);
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn the_admin_api_sets_checks_and_clears_phone_and_address() {
    let (w, admin) = admin_world().await;
    let created = admin
        .post(
            "/tenants/acme/users",
            json!({"email": "bea@example.com", "password": "a long password",
                   "phone_number": PHONE, "phone_number_verified": true,
                   "address": {"locality": " Berlin ", "country": "Germany", "region": ""}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["phone_number"], PHONE);
    assert_eq!(created.body["phone_number_verified"], true);
    assert_eq!(
        created.body["address"],
        json!({"locality": "Berlin", "country": "Germany"})
    );
    let path = format!(
        "/tenants/acme/users/{}",
        created.body["sub"].as_str().unwrap()
    );
    for (body, needle) in [
        (json!({"phone_number": "12345"}), "phone_number"),
        (json!({"phone_number": "+1 555 000 1234"}), "phone_number"),
        (json!({"address": {"city": "x"}}), "address"),
        (
            json!({"address": {"locality": "x".repeat(201)}}),
            "address.locality",
        ),
        (
            json!({"address": {"country": "a\u{0}b"}}),
            "address.country",
        ),
        (
            json!({"phone_number": null, "phone_number_verified": true}),
            "phone_number_verified",
        ),
        (json!({"phone_number_verified": "yes"}), ""),
    ] {
        let r = admin.patch(&path, body.clone()).await;
        assert_error(&r, 400, "invalid_request");
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(admin.get(&path).await.body["phone_number_verified"], true);
    // A new number is unverified unless the change says otherwise.
    let r = admin
        .patch(&path, json!({"phone_number": "+15550001234"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["phone_number"], "+15550001234");
    assert_eq!(r.body["phone_number_verified"], false);
    let r = admin
        .patch(
            &path,
            json!({"phone_number_verified": true, "address": {"postal_code": "10115"}}),
        )
        .await;
    assert_eq!(r.body["phone_number_verified"], true);
    assert_eq!(
        r.body["address"],
        json!({"postal_code": "10115"}),
        "replaced whole"
    );
    // null removes; absent fields stay.
    let r = admin
        .patch(&path, json!({"phone_number": null, "address": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("phone_number").is_none() && r.body.get("address").is_none());
    assert_eq!(r.body["phone_number_verified"], false);
    // The OpenAPI document describes the fields.
    let doc = admin.get("/openapi.json").await;
    let schemas = &doc.body["components"]["schemas"];
    assert!(
        schemas["UserPatch"]["properties"]["phone_number"].is_object(),
        "{}",
        schemas["UserPatch"]
    );
    assert!(schemas["UserView"]["properties"]["address"].is_object());
    assert!(schemas["AddressFields"]["properties"]["street_address"].is_object());
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn the_account_page_sets_contact_details_and_a_new_number_is_unverified() {
    let s = Setup::new().await;
    let door = s.path();
    s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &door.sub,
            "--phone-number",
            PHONE,
            "--phone-number-verified",
            "true",
            "--address",
            "{\"formatted\": \"Label\", \"locality\": \"Bonn\"}",
        ],
        None,
    );
    let b = s.browser();
    let page = account(&b, &door).await;
    assert!(page.body.contains("Contact details"), "{}", page.body);
    assert!(
        page.body.contains(PHONE) && page.body.contains("(verified)"),
        "{}",
        page.body
    );
    // The same number: still verified; no change to the parts keeps the
    // operator's formatted address.
    let same = submit_to(&b, &page, "/account/contact", &[]).await;
    assert_eq!(same.status, 303, "{}", same.body);
    assert_eq!(
        same.location().unwrap(),
        format!("{}/account?done=contact", door.issuer)
    );
    let shown =
        s.db.cli_json(&["user", "show", "--tenant", "acme", &door.sub], None);
    assert_eq!(shown["phone_number_verified"], true, "{shown}");
    assert_eq!(
        shown["address"],
        json!({"formatted": "Label", "locality": "Bonn"})
    );

    let page = account(&b, &door).await;
    let saved = submit_to(
        &b,
        &page,
        "/account/contact",
        &[
            ("phone_number", " +15550001234 "),
            ("street_address", "Hauptstr. 1"),
            ("locality", "Berlin"),
            ("postal_code", "10115"),
            ("country", "Germany"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = b.get(&saved.location().unwrap()).await;
    assert!(page.body.contains("Your contact details were saved."));
    assert!(page.body.contains("+15550001234") && page.body.contains("(not verified)"));
    let shown =
        s.db.cli_json(&["user", "show", "--tenant", "acme", &door.sub], None);
    assert_eq!(shown["phone_number"], "+15550001234");
    assert_eq!(
        shown["phone_number_verified"], false,
        "a new number is unverified"
    );
    assert_eq!(
        shown["address"],
        json!({"street_address": "Hauptstr. 1", "locality": "Berlin",
               "postal_code": "10115", "country": "Germany"})
    );
    let (id, _) = tokens(&s, &b, &door, "openid phone", &[]).await;
    assert_eq!(id["phone_number"], "+15550001234");
    assert_eq!(id["phone_number_verified"], false);

    // Refusals stay on the page and change nothing.
    let bad = submit_to(
        &b,
        &page,
        "/account/contact",
        &[("phone_number", "555-1234")],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        alert(&bad).unwrap().starts_with("Phone number:"),
        "{:?}",
        alert(&bad)
    );
    let bad = submit_to(&b, &page, "/account/contact", &[("locality", "a\u{1}b")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        alert(&bad).unwrap().contains("locality"),
        "{:?}",
        alert(&bad)
    );
    let forged = submit_to(
        &b,
        &page,
        "/account/contact",
        &[("csrf", "forged"), ("phone_number", "")],
    )
    .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    let shown =
        s.db.cli_json(&["user", "show", "--tenant", "acme", &door.sub], None);
    assert_eq!(shown["phone_number"], "+15550001234");
    // Empty fields remove the details.
    let cleared = submit_to(
        &b,
        &page,
        "/account/contact",
        &[
            ("phone_number", ""),
            ("street_address", ""),
            ("locality", ""),
            ("postal_code", ""),
            ("country", ""),
        ],
    )
    .await;
    assert_eq!(cleared.status, 303, "{}", cleared.body);
    let shown =
        s.db.cli_json(&["user", "show", "--tenant", "acme", &door.sub], None);
    assert!(
        shown.get("phone_number").is_none() && shown.get("address").is_none(),
        "{shown}"
    );
    // Without a session the form leads to sign-in.
    let stranger = s.browser();
    let r = stranger
        .post_form(
            &format!("{}/account/contact", door.issuer),
            &[("phone_number".into(), PHONE.into())],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn the_claims_parameter_releases_named_claims_where_asked() {
    let s = Setup::new().await;
    let door = s.path();
    s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &door.sub,
            "--phone-number",
            PHONE,
            "--address-locality",
            "Berlin",
        ],
        None,
    );
    let b = s.browser();
    let asked = r#"{"id_token": {"email": {"essential": true}, "picture": null},
                    "userinfo": {"phone_number": null, "address": {"essential": false}}}"#;
    let (id, info) = tokens(&s, &b, &door, "openid", &[("claims", asked)]).await;
    assert_eq!(id["email"], EMAIL, "{id}");
    assert!(id.get("email_verified").is_none(), "{id}");
    assert!(
        id.get("phone_number").is_none() && id.get("picture").is_none(),
        "{id}"
    );
    assert_eq!(info["phone_number"], PHONE, "{info}");
    assert_eq!(info["address"], json!({"locality": "Berlin"}));
    assert!(
        info.get("email").is_none() && info.get("phone_number_verified").is_none(),
        "{info}"
    );
    // The same session without the parameter: only `sub`.
    let (id, info) = tokens(&s, &b, &door, "openid", &[]).await;
    assert!(id.get("email").is_none(), "{id}");
    assert_eq!(
        info.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sub"]
    );

    // A malformed value goes back to the client as invalid_request.
    let long = format!(
        r#"{{"userinfo": {{"email": null}}, "x": "{}"}}"#,
        "a".repeat(4100)
    );
    for bad in [
        "not json",
        "[\"email\"]",
        r#"{"userinfo": ["email"]}"#,
        r#"{"id_token": {"email": true}}"#,
        long.as_str(),
    ] {
        let (_, challenge) = pkce();
        let page = b
            .get(&authorize_url(
                &door,
                &challenge,
                "openid",
                &[("claims", bad)],
            ))
            .await;
        let params = assert_redirect(&page, &door, bad);
        assert_eq!(params["error"], "invalid_request", "{bad}: {params:?}");
        assert!(params["error_description"].contains("claims"), "{params:?}");
        assert_eq!(params["state"], "st-123");
    }
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn an_essential_mfa_acr_in_the_claims_parameter_asks_for_a_second_factor() {
    let s = Setup::new().await;
    let door = s.path();
    let b = s.browser();
    // A password session, then an authenticator app.
    code_at(&b, &door).await;
    let essential = r#"{"id_token": {"acr": {"essential": true, "values": ["mfa"]}}}"#;
    // prompt=none cannot ask for the second factor.
    let (_, challenge) = pkce();
    let none = b
        .get(&authorize_url(
            &door,
            &challenge,
            "openid",
            &[("claims", essential), ("prompt", "none")],
        ))
        .await;
    let params = assert_redirect(&none, &door, "prompt=none");
    assert_eq!(params["error"], "interaction_required");
    let secret = enrol(&s, &b, &door).await;
    let voluntary = r#"{"id_token": {"acr": {"values": ["mfa"]}}}"#;
    let (id, _) = tokens(&s, &b, &door, "openid", &[("claims", voluntary)]).await;
    assert!(
        id.get("acr").is_none(),
        "a voluntary acr asks nothing: {id}"
    );

    let (verifier, challenge) = pkce();
    let step = b
        .get(&authorize_url(
            &door,
            &challenge,
            "openid",
            &[("claims", essential)],
        ))
        .await;
    assert_eq!(step.status, 200, "{}", step.body);
    let names = field_names(&step);
    assert!(names.iter().any(|n| n == "code"), "{names:?}");
    assert!(!names.iter().any(|n| n == "password"), "{names:?}");
    let done = b
        .submit(&step, &[("code", &code(&secret, unix_now() + 30))])
        .await;
    let c = assert_code(&done, &door, "step-up");
    let id = s.id_token(&door, &c, &verifier).await;
    assert_eq!(id["acr"], "mfa", "{id}");
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn a_third_party_client_naming_claims_asks_for_them_as_their_scopes() {
    let s = Setup::new().await;
    let third =
        s.db.client("acme", CALLBACK, &["--public", "--third-party"]);
    let door = Door {
        client: third,
        ..s.path()
    };
    s.db.cli_json(
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            &door.sub,
            "--phone-number",
            PHONE,
        ],
        None,
    );
    let b = s.browser();
    let asked = r#"{"userinfo": {"phone_number": null}}"#;
    let (verifier, challenge) = pkce();
    let page = sign_in(
        &b,
        &door,
        &authorize_url(&door, &challenge, "openid", &[("claims", asked)]),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("See your phone number"), "{}", page.body);
    let allowed = b.submit(&page, &[("decision", "allow")]).await;
    let code = assert_code(&allowed, &door, "allowed");
    let (status, body) = s.exchange(&door, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    // Allowed once: the phone scope is remembered, and asks no more.
    let (_, challenge) = pkce();
    let again = b
        .get(&authorize_url(&door, &challenge, "openid phone", &[]))
        .await;
    assert_code(&again, &door, "remembered");
    // A claim of another scope asks again.
    let (_, challenge) = pkce();
    let more = b
        .get(&authorize_url(
            &door,
            &challenge,
            "openid",
            &[("claims", r#"{"id_token": {"address": null}}"#)],
        ))
        .await;
    assert_eq!(more.status, 200, "{}", more.body);
    assert!(
        more.body.contains("See your postal address"),
        "{}",
        more.body
    );
    assert_no_server_error(&s.server);
}
