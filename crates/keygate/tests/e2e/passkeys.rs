//! Passkeys (docs/account.md, "Passkeys"): in Chromium with the DevTools
//! protocol's virtual authenticator (tests/browser/passkeys.mjs) a person
//! adds one on the account page, signs in with it alone by the button and
//! by the autofill (the id_token's `amr` says `hwk` or `swk` and `mfa`),
//! uses it as the second factor after the password, is refused while
//! disabled, and removes it, after which it no longer signs in.
//! Without a browser: the ceremony endpoints refuse missing CSRF tokens,
//! garbage and forged credentials, replayed and other tenants' ceremonies
//! with clear JSON (never a 500), count failures against the IP's sign-in
//! limit, bound how many ceremonies one IP starts, and are unavailable on
//! an IP-address issuer; a tenant's own domain is its own relying party.

use crate::harness::*;
use crate::pages_helpers::field;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// POSTs JSON with the browser's cookies; the status and the JSON answer.
async fn post_json(b: &Browser, url: &str, body: &Value) -> (u16, Value) {
    let r = b.http.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{url} answered {status} with no JSON: {text}"));
    (status, json)
}

/// The sign-in page of an authorization request: its CSRF token and its
/// `request` (the browser now holds the CSRF cookie).
async fn sign_in_page(b: &Browser, w: &World, client: &TestClient) -> (Page, String, String) {
    let (_, challenge) = pkce();
    let page = b
        .get(&authorize_url(&w.issuer, client, Some(&challenge), &[]))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (_, fields) = page.form();
    let csrf = field(&fields, "csrf").unwrap().to_string();
    let request = field(&fields, "request").unwrap().to_string();
    (page, csrf, request)
}

#[tokio::test]
async fn passkeys_are_added_used_as_one_or_second_factor_and_removed_in_chromium() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../"));
    let script = root.join("tests/browser/passkeys.mjs");
    let driver = root.join("tests/browser/node_modules/playwright-core");
    assert!(
        driver.is_dir(),
        "{} is missing: run `npm ci` in tests/browser (.ci/run does)",
        driver.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (.ci/run does)"
    );

    let w = World::on_localhost().await;
    assert!(w.issuer.starts_with("http://localhost:"), "{}", w.issuer);
    let sub =
        w.db.query_strings(&format!("SELECT sub FROM users WHERE email = '{EMAIL}'"))
            .await
            .remove(0);
    let callback = format!("http://127.0.0.1:{}/callback", free_port());
    let client = w.db.client("acme", &callback, &["--public"]);
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(&w.issuer, &client, Some(&challenge), &[]);

    let run = tokio::process::Command::new("node")
        .arg(&script)
        .current_dir(root.join("tests/browser"))
        .env("KEYGATE_ISSUER", &w.issuer)
        .env("KEYGATE_AUTHORIZE_URL", &authorize)
        .env("KEYGATE_CALLBACK", &callback)
        .env("KEYGATE_EMAIL", EMAIL)
        .env("KEYGATE_PASSWORD", PASSWORD)
        .env("KEYGATE_CLIENT_ID", &client.id)
        .env("KEYGATE_CODE_VERIFIER", &verifier)
        .env("KEYGATE_BIN", BIN)
        .env("KEYGATE_DATABASE_URL", &w.db.url)
        .env("KEYGATE_MASTER_KEY", MASTER_KEY)
        .env("KEYGATE_SUB", &sub)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(150), run)
        .await
        .expect("the browser flow finished in time")
        .expect("node runs (install Node.js; .ci/run expects it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = w.server.log_text();
    assert!(
        out.status.success(),
        "the passkey flow failed ({}):\n{stdout}\n{stderr}\nserver log:\n{log}",
        out.status,
    );
    let steps: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "added",
            "credentials",
            "passkey_sign_in",
            "second_factor",
            "account_sign_in",
            "autofill_sign_in",
            "disabled",
            "refused"
        ],
        "{stdout}\n{stderr}"
    );
    let listed = steps[0]["listed"][0].as_str().unwrap();
    assert!(
        listed.contains("Laptop") && listed.contains("never used"),
        "{listed}"
    );
    // A discoverable credential for the issuer's host.
    assert_eq!(steps[1]["count"], 1, "{}", steps[1]);
    assert_eq!(steps[1]["resident"], json!([true]), "{}", steps[1]);
    assert_eq!(steps[1]["rpId"], json!(["localhost"]), "{}", steps[1]);
    // The person has no authenticator app: the second step offers only the passkey.
    assert_eq!(steps[3]["codeForm"], 0, "{}", steps[3]);
    let used = steps[4]["listed"][0].as_str().unwrap();
    assert!(used.contains("last used"), "{used}");
    let disabled = steps[6]["message"].as_str().unwrap();
    assert!(disabled.contains("disabled"), "{disabled}");
    assert!(steps[6]["url"].as_str().unwrap().starts_with(&w.issuer));
    let refused = steps[7]["message"].as_str().unwrap();
    assert!(refused.contains("not accepted"), "{refused}");
    assert!(steps[7]["url"].as_str().unwrap().starts_with(&w.issuer));

    // The codes (exchanged by the script as they came): a passkey alone
    // is multi-factor; after the password it is the second factor.
    let mut amrs = vec![];
    for s in [&steps[2], &steps[3], &steps[5]] {
        assert_eq!(s["state"], "st-123");
        assert_eq!(s["iss"], w.issuer.as_str());
        let id = claims(s["id_token"].as_str().unwrap());
        assert_eq!(id["email"], EMAIL, "{id}");
        assert_eq!(id["sub"], sub.as_str(), "{id}");
        let amr: Vec<String> = serde_json::from_value(id["amr"].clone()).unwrap();
        amrs.push(amr);
    }
    let key = |amr: &[String]| amr.iter().any(|v| v == "hwk" || v == "swk");
    assert!(
        key(&amrs[0]) && amrs[0].contains(&"mfa".to_string()),
        "{amrs:?}"
    );
    assert!(!amrs[0].contains(&"pwd".to_string()), "{amrs:?}");
    assert_eq!(amrs[2], amrs[0], "the autofill is the same sign-in");
    assert!(key(&amrs[1]), "{amrs:?}");
    assert_eq!(amrs[1][0], "pwd", "{amrs:?}");
    assert_eq!(amrs[1].last().unwrap(), "mfa", "{amrs:?}");

    // Removed: no passkey row; the refused sign-in counted against the IP.
    assert_eq!(w.db.count("SELECT COUNT(*) FROM passkeys").await, 0);
    for event in [
        "passkey registered",
        "passkey sign-in succeeded",
        "second factor succeeded",
        "passkey removed",
        "passkey sign-in failed",
        "passkey sign-in refused: disabled",
    ] {
        assert!(log.contains(event), "no '{event}' in the log:\n{log}");
    }
}

#[tokio::test]
async fn ceremony_endpoints_refuse_bad_input_with_clear_json() {
    let w = World::on_localhost().await;
    let client = w.public_client(&[]);
    let b = Browser::new();
    let (_, csrf, request) = sign_in_page(&b, &w, &client).await;
    let start = format!("{}/passkeys/sign-in/start", w.issuer);
    let finish = format!("{}/passkeys/sign-in/finish", w.issuer);

    // No CSRF token, a wrong one, no JSON, a body that is not JSON.
    let (status, body) = post_json(&b, &start, &json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_csrf")),
        "{body}"
    );
    let (status, body) = post_json(&b, &start, &json!({"csrf": "x".repeat(43)})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_csrf")),
        "{body}"
    );
    let r = b.http.post(&start).body("csrf=1").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = b
        .http
        .post(&start)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // (On a connection of its own: the server may close it unread.)
    let r = reqwest::Client::new()
        .post(&start)
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    // A start: a challenge for the issuer's host, with user verification.
    let (status, started) = post_json(&b, &start, &json!({ "csrf": csrf })).await;
    assert_eq!(status, 200, "{started}");
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rpId"], "localhost", "{started}");
    assert_eq!(options["userVerification"], "required", "{started}");
    assert!(options["challenge"].as_str().unwrap().len() >= 43);
    let handle = started["handle"].as_str().unwrap();

    // Garbage, then a forged credential of the right shape: refused (401),
    // and the handle is used up by the first finish.
    let garbage =
        json!({"csrf": csrf, "handle": handle, "request": request, "credential": {"id": 7}});
    let (status, body) = post_json(&b, &finish, &garbage).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_credential")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("not accepted"));
    let (status, body) = post_json(&b, &finish, &garbage).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired")),
        "{body}"
    );

    let (_, started) = post_json(&b, &start, &json!({ "csrf": csrf })).await;
    let handle = started["handle"].as_str().unwrap().to_string();
    let b64 = |bytes: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let client_data = json!({
        "type": "webauthn.get",
        "challenge": started["options"]["publicKey"]["challenge"],
        "origin": w.issuer.split("/acme").next().unwrap(),
    });
    let forged = json!({
        "id": b64(b"made up"),
        "rawId": b64(b"made up"),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0u8; 37]),
            "clientDataJSON": b64(client_data.to_string().as_bytes()),
            "signature": b64(&[1u8; 64]),
            "userHandle": b64(&[2u8; 16]),
        },
        "extensions": {},
    });
    // Another tenant's door: not its ceremony, and it stays usable here.
    w.db.tenant("other", &[]);
    let other_finish = format!("{}/passkeys/sign-in/finish", w.server.issuer("other"));
    let body = json!({"csrf": csrf, "handle": handle, "credential": forged});
    let (status, answer) = post_json(&b, &other_finish, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("expired")),
        "{answer}"
    );
    let (status, answer) = post_json(&b, &finish, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_credential")),
        "{answer}"
    );
    let (status, answer) = post_json(&b, &finish, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("expired")),
        "{answer}"
    );
    // A handle that was never issued.
    let made_up = json!({"csrf": csrf, "handle": "h".repeat(43), "credential": forged});
    let (status, answer) = post_json(&b, &finish, &made_up).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("expired")),
        "{answer}"
    );

    // The second step: a waiting sign-in is needed; the account page's
    // ceremony a session.
    let mfa = format!("{}/login/mfa/passkey/start", w.issuer);
    let (status, answer) = post_json(&b, &mfa, &json!({"csrf": csrf, "mfa_token": "nope"})).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("expired")),
        "{answer}"
    );
    let add = format!("{}/account/passkeys/start", w.issuer);
    let (status, answer) = post_json(&b, &add, &json!({ "csrf": csrf })).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("not_signed_in")),
        "{answer}"
    );
    let add_finish = format!("{}/account/passkeys/finish", w.issuer);
    let (status, answer) = post_json(
        &b,
        &add_finish,
        &json!({"csrf": csrf, "handle": "h".repeat(43), "credential": {}}),
    )
    .await;
    assert_eq!(status, 401, "{answer}");

    // Nothing above was a fault of the server.
    assert!(
        !w.server.log_text().contains("internal error"),
        "{}",
        w.server.log_text()
    );
    assert_eq!(w.db.count("SELECT COUNT(*) FROM passkeys").await, 0);
}

#[tokio::test]
async fn failed_passkey_sign_ins_count_against_the_ip_limit() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let mut server = Server::start_on_localhost(&db).await;
    server
        .extra_env
        .push(("KEYGATE_SIGNIN_IP_MAX_FAILURES".into(), "3".into()));
    server.restart().await;
    let w = World {
        issuer: server.issuer("acme"),
        db,
        server,
    };
    let client = w.public_client(&[]);
    let b = Browser::new();
    let (_, csrf, _) = sign_in_page(&b, &w, &client).await;
    let start = format!("{}/passkeys/sign-in/start", w.issuer);
    let finish = format!("{}/passkeys/sign-in/finish", w.issuer);
    let mut statuses = vec![];
    for _ in 0..4 {
        let (_, started) = post_json(&b, &start, &json!({ "csrf": csrf })).await;
        let handle = started["handle"].as_str().unwrap();
        let (status, _) = post_json(
            &b,
            &finish,
            &json!({"csrf": csrf, "handle": handle, "credential": {"id": "x"}}),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    // The password form shares the limit.
    let (page, _, _) = sign_in_page(&b, &w, &client).await;
    let done = b
        .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 429, "{}", done.body);
}

#[tokio::test]
async fn pages_carry_the_script_by_hash_and_an_ip_issuer_offers_no_passkeys() {
    // On a host name: the button, the autofill hint, the script by hash.
    let w = World::on_localhost().await;
    let client = w.public_client(&[]);
    let b = Browser::new();
    let (page, _, _) = sign_in_page(&b, &w, &client).await;
    assert!(
        page.body.contains("Sign in with a passkey"),
        "{}",
        page.body
    );
    assert!(page.body.contains("autocomplete=\"username webauthn\""));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(!page.body.contains(" onclick="), "no inline handlers");
    // The hash is the inline script's own.
    let i = page.body.find("<script>").unwrap() + "<script>".len();
    let j = page.body[i..].find("</script>").unwrap() + i;
    let hash = keygate_crypto::secrets::sha256_base64(&page.body[i..j]);
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    // A page without passkeys keeps scripts off.
    let forgot = b.get(&format!("{}/forgot-password", w.issuer)).await;
    let csp = forgot.headers["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("script-src"), "{csp}");

    // On an IP address: no button, no script, and the ceremony says why.
    let w = World::new().await;
    let client = w.public_client(&[]);
    let b = Browser::new();
    let (page, csrf, _) = sign_in_page(&b, &w, &client).await;
    assert!(!page.body.contains("passkey"), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
    let start = format!("{}/passkeys/sign-in/start", w.issuer);
    let (status, body) = post_json(&b, &start, &json!({ "csrf": csrf })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("passkeys_unavailable")),
        "{body}"
    );
}

#[tokio::test]
async fn a_tenants_own_domain_is_its_relying_party() {
    let s = crate::pages_helpers::Setup::new().await;
    let b = s.browser();
    let page = b
        .get(&format!("{}/account/sign-in", crate::pages_helpers::DOMAIN))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Sign in with a passkey"),
        "{}",
        page.body
    );
    let (_, fields) = page.form();
    let csrf = field(&fields, "csrf").unwrap();
    let start = format!("{}/passkeys/sign-in/start", crate::pages_helpers::DOMAIN);
    let (status, started) = post_json(&b, &start, &json!({ "csrf": csrf })).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(
        started["options"]["publicKey"]["rpId"],
        crate::pages_helpers::DOMAIN_HOST,
        "{started}"
    );
    // The same tenant by path, under the public URL's IP address: none.
    let path = b.get(&format!("{}/account/sign-in", s.path().issuer)).await;
    assert!(!path.body.contains("passkey"), "{}", path.body);
}

#[tokio::test]
async fn one_ip_starts_a_bounded_number_of_ceremonies() {
    let w = World::on_localhost().await;
    let client = w.public_client(&[]);
    let b = Browser::new();
    let (_, csrf, _) = sign_in_page(&b, &w, &client).await;
    let start = format!("{}/passkeys/sign-in/start", w.issuer);
    for i in 0..300 {
        let (status, body) = post_json(&b, &start, &json!({ "csrf": csrf })).await;
        assert_eq!(status, 200, "start {i}: {body}");
    }
    let r = b
        .http
        .post(&start)
        .json(&json!({ "csrf": csrf }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests", "{body}");
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM passkey_ceremonies").await,
        300
    );
}
