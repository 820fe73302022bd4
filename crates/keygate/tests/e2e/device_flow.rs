//! The device authorization grant (RFC 8628, docs/device-flow.md) over
//! HTTP: the device authorization endpoint's answers and refusals (3.1,
//! 3.2), the device page (3.3: a person enters the code, signs in, and
//! allows or denies on a confirmation page), and the token endpoint's
//! answers to polls (3.4, 3.5: `authorization_pending`, `slow_down`,
//! `expired_token`, `access_denied`, tokens once). The real client is
//! `tests/browser/device.mjs`: openid-client's device flow polling while
//! Chromium signs the person in and allows it.

use crate::harness::*;
use crate::token_helpers::*;
use serde_json::Value;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public client allowed the device grant and refresh tokens.
fn device_client(w: &World, extra: &[&str]) -> TestClient {
    let mut args = vec!["--grant", DEVICE_GRANT, "--grant", "refresh_token"];
    args.extend(extra);
    w.public_client(&args)
}

/// Starts a device authorization for a public client (`client_id` in the
/// body) or a confidential one (Basic).
async fn start(issuer: &str, client: &TestClient, scope: &str) -> Reply {
    let url = format!("{issuer}/device_authorization");
    match &client.secret {
        Some(secret) => post_form(&url, Some((&client.id, secret)), &[("scope", scope)]).await,
        None => post_form(&url, None, &[("client_id", &client.id), ("scope", scope)]).await,
    }
}

/// Starts one and returns the answer's JSON (asserted 200).
async fn started(issuer: &str, client: &TestClient, scope: &str) -> Value {
    let r = start(issuer, client, scope).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_store(&r.headers);
    r.json
}

/// One poll of the token endpoint.
async fn poll(issuer: &str, client: &TestClient, device_code: &str) -> Reply {
    let url = format!("{issuer}/token");
    let pairs = [("grant_type", DEVICE_GRANT), ("device_code", device_code)];
    match &client.secret {
        Some(secret) => post_form(&url, Some((&client.id, secret)), &pairs).await,
        None => {
            let mut all = vec![("client_id", client.id.as_str())];
            all.extend(pairs);
            post_form(&url, None, &all).await
        }
    }
}

/// A browser signed in as ann through the account page's sign-in.
async fn signed_in_browser(issuer: &str) -> Browser {
    let browser = Browser::new();
    let page = browser.get(&format!("{issuer}/account/sign-in")).await;
    let done = browser
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    browser
}

/// Enters `user_code` on the device page; the page that answers.
async fn enter_code(browser: &Browser, issuer: &str, user_code: &str) -> Page {
    let form = browser.get(&format!("{issuer}/device")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    browser.submit(&form, &[("user_code", user_code)]).await
}

/// Enters the code and answers `decision` on the confirmation page.
async fn answer(browser: &Browser, issuer: &str, user_code: &str, decision: &str) -> Page {
    let confirm = enter_code(browser, issuer, user_code).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains(">Allow</button>"), "{}", confirm.body);
    browser.submit(&confirm, &[("decision", decision)]).await
}

async fn exec(db: &Database, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn the_device_authorization_endpoint_answers_per_rfc_8628_3_2() {
    let w = World::new().await;
    let issuer = &w.issuer;
    // Discovery and RFC 8414 metadata advertise it.
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let meta: Value = http()
            .get(format!("{issuer}{path}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            meta["device_authorization_endpoint"],
            format!("{issuer}/device_authorization")
        );
        assert!(meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(DEVICE_GRANT)));
    }

    let tv = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid offline_access").await;
    let user_code = v["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{v}");
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(v["verification_uri"], format!("{issuer}/device"));
    assert_eq!(
        v["verification_uri_complete"],
        format!("{issuer}/device?user_code={user_code}")
    );
    assert_eq!(
        (v["expires_in"].as_i64(), v["interval"].as_i64()),
        (Some(600), Some(5))
    );
    let device_code = v["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "256 bits: {device_code}");
    // Neither code is stored as it is.
    let plain = w
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM device_codes WHERE hash = '{device_code}' OR user_code_hash = '{}' \
             OR user_code_hash = '{}'",
            user_code,
            user_code.replace('-', "")
        ))
        .await;
    assert_eq!(plain, 0);
    assert_eq!(w.db.count("SELECT COUNT(*) FROM device_codes").await, 1);

    // verification_uri_complete pre-fills the form (case and dash as
    // printed), every input labelled; GET looks nothing up.
    let browser = Browser::new();
    let page = browser
        .get(&format!(
            "{issuer}/device?user_code={}",
            user_code.to_lowercase()
        ))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<label for=\"user_code\">"),
        "{}",
        page.body
    );
    let (_, fields) = page.form();
    assert!(
        fields.contains(&("user_code".to_string(), user_code.to_string())),
        "{fields:?}"
    );
    assert!(fields.iter().any(|(k, v)| k == "csrf" && !v.is_empty()));

    // A confidential client authenticates as at the token endpoint.
    let box_client = w.confidential_client(&["--grant", DEVICE_GRANT]);
    started(issuer, &box_client, "openid").await;
    let url = format!("{issuer}/device_authorization");
    post_form(
        &url,
        None,
        &[("client_id", &box_client.id), ("scope", "openid")],
    )
    .await
    .assert_error(401, "invalid_client");
    post_form(
        &url,
        Some((&box_client.id, "wrong")),
        &[("scope", "openid")],
    )
    .await
    .assert_error(401, "invalid_client");

    // Refusals, each writing nothing.
    let before = w.db.count("SELECT COUNT(*) FROM device_codes").await;
    let web_app = w.public_client(&[]);
    start(issuer, &web_app, "openid")
        .await
        .assert_error(400, "unauthorized_client");
    start(issuer, &tv, "openid admin")
        .await
        .assert_error(400, "invalid_scope");
    post_form(
        &url,
        None,
        &[
            ("client_id", &tv.id),
            ("resource", "https://nowhere.example/"),
        ],
    )
    .await
    .assert_error(400, "invalid_target");
    post_form(&url, None, &[("client_id", "nobody")])
        .await
        .assert_error(401, "invalid_client");
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM device_codes").await,
        before
    );
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn an_allowed_device_gets_tokens_once() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid email offline_access").await;
    let device_code = v["device_code"].as_str().unwrap();
    let user_code = v["user_code"].as_str().unwrap();
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "authorization_pending");

    // Without a session the device page sends the person to sign in, and
    // the sign-in back to the device page with the code.
    let browser = Browser::new();
    let to_sign_in = enter_code(&browser, issuer, user_code).await;
    assert_eq!(to_sign_in.status, 303, "{}", to_sign_in.body);
    assert_eq!(
        to_sign_in.location().unwrap(),
        format!("{issuer}/account/sign-in")
    );
    let sign_in = browser.get(&format!("{issuer}/account/sign-in")).await;
    let done = browser
        .submit(&sign_in, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let account = browser.get(&done.location().unwrap()).await;
    assert_eq!(account.status, 303, "{}", account.body);
    let back = account.location().unwrap();
    assert_eq!(back, format!("{issuer}/device?user_code={user_code}"));
    let form = browser.get(&back).await;
    let confirm = browser.submit(&form, &[]).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(
        confirm.body.contains("Allow Test app on your device?"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains(EMAIL));
    assert!(confirm.body.contains(user_code));
    assert!(
        confirm.body.contains("See your e-mail address"),
        "{}",
        confirm.body
    );
    // The cookie that carried the code is gone: the account page is the
    // account page again.
    let again = browser
        .get(&format!("{issuer}/account?done=signed-in"))
        .await;
    assert_eq!(again.status, 200);

    let allowed = browser.submit(&confirm, &[("decision", "allow")]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert!(
        allowed.body.contains("Device connected"),
        "{}",
        allowed.body
    );

    // The poll gets the tokens: an id_token with the sign-in's amr, a
    // refresh token (offline_access), an access token for the client.
    let tokens = poll(issuer, &tv, device_code).await.tokens();
    assert_eq!(tokens["scope"], "openid email offline_access");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], tv.id.as_str());
    assert_eq!(id["email"], EMAIL);
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert!(id.get("nonce").is_none());
    let sub = id["sub"].as_str().unwrap().to_string();
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], sub.as_str());
    let info = userinfo(issuer, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status, 200, "{}", info.text);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = refresh_with(issuer, &tv, refresh).await.tokens();
    let rotated = refreshed["refresh_token"].as_str().unwrap().to_string();

    // Redeemed twice: refused, and the grant is revoked (RFC 6749 4.1.2,
    // as for a code used twice), so the tokens of the first stop working.
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "invalid_grant");
    refresh_with(issuer, &tv, &rotated)
        .await
        .assert_error(400, "invalid_grant");
    // The page does not take the code again.
    let late = enter_code(&browser, issuer, user_code).await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert_no_server_error(&w.server);
}

async fn refresh_with(issuer: &str, client: &TestClient, token: &str) -> Reply {
    post_form(
        &format!("{issuer}/token"),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client.id),
            ("refresh_token", token),
        ],
    )
    .await
}

#[tokio::test]
async fn a_denied_device_gets_access_denied() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid").await;
    let device_code = v["device_code"].as_str().unwrap();
    let browser = signed_in_browser(issuer).await;
    let denied = answer(&browser, issuer, v["user_code"].as_str().unwrap(), "deny").await;
    assert_eq!(denied.status, 200, "{}", denied.body);
    assert!(denied.body.contains("Request denied"), "{}", denied.body);
    // Told at once, whatever the interval; and again.
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "access_denied");
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "access_denied");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM grants").await, 0);
    // An answered code cannot be answered again.
    let again = enter_code(&browser, issuer, v["user_code"].as_str().unwrap()).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn polling_faster_than_the_interval_slows_down() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid").await;
    let device_code = v["device_code"].as_str().unwrap();
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "authorization_pending");
    // At once again: slow_down, and the interval grows by 5 s each time.
    let slow = poll(issuer, &tv, device_code).await;
    slow.assert_error(400, "slow_down");
    assert!(slow.text.contains("10 seconds"), "{}", slow.text);
    assert_eq!(
        w.db.count("SELECT poll_interval FROM device_codes").await,
        10
    );
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "slow_down");
    assert_eq!(
        w.db.count("SELECT poll_interval FROM device_codes").await,
        15
    );
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn an_expired_device_code_is_expired_token() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid").await;
    let device_code = v["device_code"].as_str().unwrap();
    // Ten minutes later (the clock is the database's row).
    exec(&w.db, "UPDATE device_codes SET expires_at = created_at - 1").await;
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "expired_token");
    // Nor can a person still allow it.
    let browser = signed_in_browser(issuer).await;
    let page = enter_code(&browser, issuer, v["user_code"].as_str().unwrap()).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("not valid, or it has expired"),
        "{}",
        page.body
    );
    assert_eq!(w.db.count("SELECT COUNT(*) FROM grants").await, 0);
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn another_clients_device_code_is_invalid_grant() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &["--grant", "authorization_code"]);
    let other = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid").await;
    let device_code = v["device_code"].as_str().unwrap();
    poll(issuer, &other, device_code)
        .await
        .assert_error(400, "invalid_grant");
    poll(issuer, &tv, "not-a-device-code")
        .await
        .assert_error(400, "invalid_grant");
    // The device code is no authorization code either.
    post_form(
        &format!("{issuer}/token"),
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &tv.id),
            ("code", device_code),
        ],
    )
    .await
    .assert_error(400, "invalid_grant");
    // Another client's poll left nothing behind: the owner's first poll is
    // an ordinary pending one.
    poll(issuer, &tv, device_code)
        .await
        .assert_error(400, "authorization_pending");
    // Even once allowed, another client gets nothing and changes nothing.
    let browser = signed_in_browser(issuer).await;
    let allowed = answer(&browser, issuer, v["user_code"].as_str().unwrap(), "allow").await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    poll(issuer, &other, device_code)
        .await
        .assert_error(400, "invalid_grant");
    poll(issuer, &tv, device_code).await.tokens();
    // A client that may not use the grant is told so.
    let web_app = w.public_client(&[]);
    poll(issuer, &web_app, device_code)
        .await
        .assert_error(400, "unauthorized_client");
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn wrong_user_codes_are_limited_per_ip() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &[]);
    let v = started(issuer, &tv, "openid").await;
    let browser = signed_in_browser(issuer).await;
    // Ten wrong codes (well formed or not) are told so...
    for (i, wrong) in ["BCDF-GHJK", "nonsense", "ZZZZ-ZZZZ"]
        .iter()
        .cycle()
        .take(10)
        .enumerate()
    {
        let page = enter_code(&browser, issuer, wrong).await;
        assert_eq!(page.status, 400, "attempt {i}: {}", page.body);
        assert!(page.body.contains("not valid, or it has expired"));
    }
    // ...then the IP is blocked, the right code included.
    let blocked = enter_code(&browser, issuer, v["user_code"].as_str().unwrap()).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    assert!(blocked
        .headers
        .get("retry-after")
        .and_then(|h| h.to_str().ok())
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|s| s > 0));
    assert!(blocked.body.contains("Too many wrong codes"));
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn the_device_page_checks_its_forms() {
    let w = World::new().await;
    let issuer = &w.issuer;
    let tv = device_client(&w, &["--third-party"]);
    let v = started(issuer, &tv, "openid email").await;
    let user_code = v["user_code"].as_str().unwrap();
    let browser = signed_in_browser(issuer).await;
    // Without the CSRF token: the form again, nothing looked up or answered.
    let forged = browser
        .post_form(
            &format!("{issuer}/device"),
            &[
                ("user_code".to_string(), user_code.to_string()),
                ("decision".to_string(), "allow".to_string()),
            ],
        )
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(forged.body.contains("This form expired"));
    poll(issuer, &tv, v["device_code"].as_str().unwrap())
        .await
        .assert_error(400, "authorization_pending");
    // A third-party client: what the person allows is kept as consent.
    let confirm = enter_code(&browser, issuer, user_code).await;
    let odd = browser.submit(&confirm, &[("decision", "maybe")]).await;
    assert_eq!(odd.status, 400, "{}", odd.body);
    assert_eq!(w.db.count("SELECT COUNT(*) FROM consents").await, 0);
    let allowed = browser.submit(&confirm, &[("decision", "allow")]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let scopes = w.db.query_strings("SELECT scopes FROM consents").await;
    assert_eq!(scopes.len(), 1);
    assert!(
        scopes[0].contains("openid") && scopes[0].contains("email"),
        "{scopes:?}"
    );
    // Allowing twice (a second tab): the first answer stands.
    let twice = browser.submit(&confirm, &[("decision", "deny")]).await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    poll(issuer, &tv, v["device_code"].as_str().unwrap())
        .await
        .tokens();
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn openid_client_polls_while_a_person_allows_it_in_chromium() {
    let w = World::new().await;
    let tv = device_client(&w, &[]);
    let steps = crate::real_clients::run_script(
        "device.mjs",
        &[
            ("KEYGATE_ISSUER", &w.issuer),
            ("KEYGATE_CLIENT_ID", &tv.id),
            ("KEYGATE_SCOPE", "openid email offline_access"),
            ("KEYGATE_EMAIL", EMAIL),
            ("KEYGATE_PASSWORD", PASSWORD),
        ],
        &w.server,
    )
    .await;
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
            .clone()
    };
    let discovered = step("discovered");
    assert_eq!(
        discovered["device_authorization_endpoint"],
        format!("{}/device_authorization", w.issuer)
    );
    let authorization = step("authorization");
    let user_code = authorization["user_code"].as_str().unwrap();
    assert_eq!(authorization["interval"], 5);
    let allowed = step("allowed");
    assert_eq!(allowed["prefilled"], user_code, "{allowed}");
    assert_eq!(allowed["prefilledAgain"], user_code, "{allowed}");
    assert_eq!(allowed["labelled"], 1);
    assert_eq!(allowed["confirmation"]["deny"], 1);
    assert_eq!(
        allowed["confirmation"]["heading"],
        "Allow Test app on your device?"
    );
    assert!(allowed["confirmation"]["text"]
        .as_str()
        .unwrap()
        .contains(EMAIL));
    assert_eq!(allowed["done"], "Device connected");
    let pages: Vec<&str> = allowed["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        [
            "/acme/as/device",
            "/acme/as/account/sign-in",
            "/acme/as/device",
            "/acme/as/device",
            "/acme/as/device"
        ],
        "{allowed}"
    );
    let tokens = step("tokens");
    assert_eq!(tokens["token_type"], "bearer", "{tokens}");
    assert_eq!(tokens["has_refresh_token"], true);
    assert_eq!(tokens["id_token"]["email"], EMAIL);
    assert_eq!(tokens["id_token"]["aud"], tv.id.as_str());
    assert_eq!(tokens["id_token"]["amr"], serde_json::json!(["pwd"]));
    assert_eq!(tokens["access_token"]["client_id"], tv.id.as_str());
    let refreshed = step("refreshed");
    assert_eq!(refreshed["rotated"], true);
    assert_eq!(refreshed["access_token"]["sub"], tokens["id_token"]["sub"]);
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn a_device_grant_for_an_api_carries_its_audience_and_is_revocable() {
    let w = World::new().await;
    let issuer = &w.issuer;
    const API: &str = "https://tv.example.com/api";
    w.db.cli_json(
        &[
            "api",
            "create",
            "--tenant",
            "acme",
            "--identifier",
            API,
            "--name",
            "TV API",
            "--scope",
            "tv:watch",
        ],
        None,
    );
    let tv = device_client(&w, &["--refresh-tokens", "always"]);
    let url = format!("{issuer}/device_authorization");
    // `audience` names it as `resource` does; an API scope without it is unknown.
    let by_audience = post_form(
        &url,
        None,
        &[
            ("client_id", &tv.id),
            ("scope", "tv:watch"),
            ("audience", API),
        ],
    )
    .await;
    assert_eq!(by_audience.status, 200, "{}", by_audience.text);
    start(issuer, &tv, "openid tv:watch")
        .await
        .assert_error(400, "invalid_scope");
    let r = post_form(
        &url,
        None,
        &[
            ("client_id", &tv.id),
            ("scope", "openid tv:watch"),
            ("resource", API),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let device_code = r.json["device_code"].as_str().unwrap();
    let browser = signed_in_browser(issuer).await;
    let confirm = enter_code(&browser, issuer, r.json["user_code"].as_str().unwrap()).await;
    assert!(
        confirm.body.contains("tv:watch on TV API"),
        "{}",
        confirm.body
    );
    let allowed = browser.submit(&confirm, &[("decision", "allow")]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let tokens = poll(issuer, &tv, device_code).await.tokens();
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], API, "{access}");
    assert_eq!(access["scope"], "openid tv:watch", "{access}");
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["aud"],
        tv.id.as_str()
    );
    // The grant is an ordinary one: revoking its refresh token ends it.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoked = post_form(
        &format!("{issuer}/revoke"),
        None,
        &[("client_id", &tv.id), ("token", refresh)],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    refresh_with(issuer, &tv, refresh)
        .await
        .assert_error(400, "invalid_grant");
    assert_no_server_error(&w.server);
}

#[tokio::test]
async fn a_second_factor_is_asked_at_sign_in_and_required_where_the_client_requires_it() {
    use crate::mfa_totp::{code, enrol, unix_now};
    let s = crate::pages_helpers::Setup::new().await;
    let door = s.path();
    let issuer = door.issuer.clone();
    let owner = s.browser();
    let secret = enrol(&s, &owner, &door).await;
    let tv = s.db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &["--public", "--grant", DEVICE_GRANT, "--require-mfa"],
    );
    let v = started(&issuer, &tv, "openid").await;
    let user_code = v["user_code"].as_str().unwrap();
    // The owner's session was signed in with the password alone.
    let refused = enter_code(&owner, &issuer, user_code).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("second factor"), "{}", refused.body);

    // Another browser signs in with the second factor and comes back.
    let b = s.browser();
    let to_sign_in = enter_code(&b, &issuer, user_code).await;
    assert_eq!(to_sign_in.status, 303, "{}", to_sign_in.body);
    let form = b.get(&to_sign_in.location().unwrap()).await;
    let mfa = b
        .submit(&form, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(mfa.status, 200, "{}", mfa.body);
    assert!(mfa.body.contains("name=\"mfa_token\""), "{}", mfa.body);
    let next = code(&secret, unix_now() + 30);
    let done = b.submit(&mfa, &[("code", &next)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let account = b.get(&done.location().unwrap()).await;
    assert_eq!(
        account.location().as_deref(),
        Some(format!("{issuer}/device?user_code={user_code}").as_str()),
        "{}",
        account.body
    );
    let form = b.get(&account.location().unwrap()).await;
    let confirm = b.submit(&form, &[]).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let allowed = b.submit(&confirm, &[("decision", "allow")]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let tokens = poll(&issuer, &tv, v["device_code"].as_str().unwrap())
        .await
        .tokens();
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{id}");
    assert_eq!(id["acr"], "mfa", "{id}");
    assert_eq!(id["sub"], door.sub.as_str());
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn every_door_has_its_own_device_page() {
    let s = crate::pages_helpers::Setup::new().await;
    for door in s.doors() {
        let tv = s.db.client(
            door.tenant,
            "http://127.0.0.1:9/callback",
            &["--public", "--grant", DEVICE_GRANT],
        );
        let r = s
            .builder()
            .build()
            .unwrap()
            .post(format!("{}/device_authorization", door.issuer))
            .form(&[("client_id", tv.id.as_str()), ("scope", "openid")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", door.name);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["verification_uri"],
            format!("{}/device", door.issuer),
            "{}",
            door.name
        );
        // The code is of this door's tenant only.
        let b = s.browser();
        let other = if door.tenant == "acme" {
            s.server.base.clone()
        } else {
            s.server.issuer("acme")
        };
        let form = b.get(&format!("{other}/device")).await;
        let wrong = b
            .submit(&form, &[("user_code", v["user_code"].as_str().unwrap())])
            .await;
        assert_eq!(wrong.status, 400, "{}: {}", door.name, wrong.body);
        let form = b.get(&format!("{}/device", door.issuer)).await;
        let here = b
            .submit(&form, &[("user_code", v["user_code"].as_str().unwrap())])
            .await;
        assert_eq!(here.status, 303, "{}: {}", door.name, here.body);
        assert_eq!(
            here.location().unwrap(),
            format!("{}/account/sign-in", door.issuer)
        );
    }
    assert_no_server_error(&s.server);
}

#[tokio::test]
async fn a_registered_client_may_use_the_device_grant() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.cli_json(
        &["tenant", "update", "acme", "--dynamic-registration", "open"],
        None,
    );
    let server = Server::start(&db).await;
    let issuer = server.issuer("acme");
    // RFC 7591: a device registers itself (registered clients are third-party).
    let registered = send(http().post(format!("{issuer}/oauth/register")).json(
        &serde_json::json!({
            "client_name": "Console",
            "token_endpoint_auth_method": "none",
            "grant_types": [DEVICE_GRANT],
        }),
    ))
    .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    assert_eq!(
        registered.json["grant_types"],
        serde_json::json!([DEVICE_GRANT])
    );
    let console = TestClient {
        id: registered.json["client_id"].as_str().unwrap().to_string(),
        secret: None,
        redirect_uri: String::new(),
    };
    let v = started(&issuer, &console, "openid").await;
    assert!(v["user_code"].is_string());
    poll(&issuer, &console, v["device_code"].as_str().unwrap())
        .await
        .assert_error(400, "authorization_pending");
    assert_no_server_error(&server);
}
