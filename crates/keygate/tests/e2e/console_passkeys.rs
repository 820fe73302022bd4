//! Passkeys as the console operators' second factor (docs/console.md,
//! "Passkeys"). In Chromium with the DevTools protocol's virtual
//! authenticator (tests/browser/console_passkeys.mjs) an operator signs in
//! with its password and authenticator app, adds a passkey on the Security
//! page (the same authenticator again is refused), signs out, is refused
//! with a passkey whose signature was altered, signs in with its password
//! and the passkey, removes it and is offered none at the next sign-in;
//! `admin.signed_in` says which second factor was used. Over HTTP: the
//! ceremony endpoints refuse other origins, missing form tokens and
//! garbage with clear JSON (never a 500), an operator without a passkey is
//! offered none, and a console on an IP address offers none. (Deleting an
//! operator deletes its passkeys: the store's conformance tests.)

use crate::console_auth::{
    assert_inputs_labelled, csrf_of, first_sign_in, make_operator, password_step,
};
use crate::harness::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const OPERATOR: &str = "keys@example.com";
const OPERATOR_PW: &str = "an operator passphrase";

/// POSTs JSON with the client's cookies (and maybe an `Origin`): the
/// status and the JSON answer.
async fn post_json(b: &Browser, url: &str, body: &Value, origin: Option<&str>) -> (u16, Value) {
    let mut req = b.http.post(url).json(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{url} answered {status} with no JSON: {text}"));
    (status, json)
}

fn csp(page: &Page) -> String {
    page.headers
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The `detail` of each event of `kind`, oldest first.
async fn details(db: &Database, kind: &str) -> Vec<Value> {
    db.query_strings(&format!(
        "SELECT detail FROM events WHERE kind = '{kind}' ORDER BY id"
    ))
    .await
    .into_iter()
    .map(|d| serde_json::from_str(&d).unwrap())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_a_passkey_and_signs_in_with_it_in_chromium() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../"));
    let driver = root.join("tests/browser/node_modules/playwright-core");
    assert!(driver.is_dir(), "run `npm ci` in tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing"
    );
    let shots = root.join("target/test-artifacts");
    std::fs::create_dir_all(&shots).unwrap();

    let w = World::on_localhost().await;
    assert!(
        w.server.base.starts_with("http://localhost:"),
        "{}",
        w.server.base
    );
    // A viewer: its own second factor is no change of the deployment.
    make_operator(&w.db, OPERATOR, OPERATOR_PW, "viewer", None);

    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/console_passkeys.mjs"))
        .current_dir(root.join("tests/browser"))
        .env("KEYGATE_CONSOLE_URL", format!("{}/admin/", w.server.base))
        .env("KEYGATE_EMAIL", OPERATOR)
        .env("KEYGATE_PASSWORD", OPERATOR_PW)
        .env("KEYGATE_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(150), run)
        .await
        .expect("the passkey flow finished in time")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the console passkey flow failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        w.server.log_text()
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
            "signed_in_with_totp",
            "added",
            "same_again_refused",
            "wrong_passkey_refused",
            "signed_in_with_passkey",
            "removed",
            "none_offered"
        ],
        "{stdout}\n{stderr}"
    );
    // No passkey is offered before one is added.
    assert_eq!(steps[0]["offered"], 0);
    assert_eq!(steps[1]["names"], json!(["Test laptop"]));
    // The same authenticator again: refused by the browser (excluded).
    assert_eq!(steps[2]["error"], "This passkey is already registered.");
    assert_eq!(steps[2]["rows"], 1);
    // The altered signature: refused, still on the second step, with the
    // code still offered.
    assert_eq!(steps[3]["url"], "/admin/sign-in/second-factor");
    assert_eq!(steps[3]["codeOffered"], true);
    assert!(
        steps[3]["error"]
            .as_str()
            .unwrap()
            .contains("passkey was not accepted"),
        "{}",
        steps[3]
    );
    assert_eq!(steps[4]["heading"], "Dashboard");
    // Removed: no row, and no passkey offered at the next sign-in.
    assert_eq!(steps[5]["rows"], 0);
    assert_eq!(steps[6]["offered"], 0);
    assert_eq!(steps[6]["violations"], json!([]));

    // The events say which second factor was used, and the refusal.
    let signed_in = details(&w.db, "admin.signed_in").await;
    let factors: Vec<&str> = signed_in
        .iter()
        .map(|d| d["second_factor"].as_str().unwrap())
        .collect();
    assert_eq!(factors, ["totp", "passkey"], "{signed_in:?}");
    let failed = details(&w.db, "admin.sign_in_failed").await;
    assert_eq!(
        failed,
        [json!({"reason": "passkey not accepted"})],
        "{failed:?}"
    );
    let changes = details(&w.db, "admin.updated").await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["name"], "Test laptop");
    assert_eq!(changes[1]["passkey_removed"], changes[0]["passkey_added"]);
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM operator_passkeys").await,
        0
    );
    // No secret or credential is in any event.
    let leaked =
        w.db.count(
            "SELECT COUNT(*) FROM events WHERE detail LIKE '%publicKey%' OR detail LIKE '%cred%'",
        )
        .await;
    assert_eq!(leaked, 0);

    let png = std::fs::read(shots.join("console-security.png")).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ceremony_endpoints_refuse_other_sites_bad_tokens_and_garbage() {
    let w = World::on_localhost().await;
    let base = w.server.base.clone();
    make_operator(&w.db, OPERATOR, OPERATOR_PW, "admin", None);
    let b = Browser::new();
    first_sign_in(&b, &base, OPERATOR, OPERATOR_PW).await;

    // The Security page carries the script by its hash, and nothing else.
    let page = b.get(&format!("{base}/admin/security")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_inputs_labelled(&page);
    let policy = csp(&page);
    let i = page.body.find("<script>").unwrap() + "<script>".len();
    let j = page.body[i..].find("</script>").unwrap() + i;
    let hash = keygate_crypto::secrets::sha256_base64(&page.body[i..j]);
    assert!(
        policy.starts_with(&format!(
            "default-src 'none'; script-src 'sha256-{hash}'; connect-src 'self';"
        )),
        "{policy}"
    );
    assert!(!policy.contains("unsafe"), "{policy}");
    let csrf = csrf_of(&page);
    let start = format!("{base}/admin/security/passkeys/start");
    let finish = format!("{base}/admin/security/passkeys/finish");

    // Another site, no form token, not JSON: refused, in JSON.
    let (s, v) = post_json(
        &b,
        &start,
        &json!({"csrf": csrf}),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (403, Some("invalid_origin")));
    let (s, v) = post_json(&b, &start, &json!({}), None).await;
    assert_eq!((s, v["error"].as_str()), (403, Some("invalid_csrf")));
    let r = b
        .http
        .post(&start)
        .body(format!("csrf={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    // A start: the relying party is the console's host.
    let (s, v) = post_json(&b, &start, &json!({"csrf": csrf}), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["options"]["publicKey"]["rp"]["id"], "localhost");
    let handle = v["handle"].as_str().unwrap().to_string();
    // Garbage as the credential: refused, and the ceremony is used up.
    let (s, v) = post_json(
        &b,
        &finish,
        &json!({"csrf": csrf, "handle": handle, "credential": {"id": "x"}}),
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_credential")),
        "{v}"
    );
    let (s, v) = post_json(
        &b,
        &finish,
        &json!({"csrf": csrf, "handle": handle, "credential": {}}),
        None,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("expired")), "{v}");
    let (s, v) = post_json(&b, &finish, &json!({"csrf": csrf, "handle": "nope"}), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("expired")), "{v}");
    assert_eq!(
        w.db.count("SELECT COUNT(*) FROM operator_passkeys").await,
        0
    );

    // Without a passkey, the second step offers none, and its ceremony
    // says why.
    let other = Browser::new();
    let done = password_step(&other, &base, OPERATOR, OPERATOR_PW).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let second = other
        .get(&format!("{base}/admin/sign-in/second-factor"))
        .await;
    assert_eq!(second.status, 200);
    assert!(!second.body.contains("kg-passkey") && !second.body.contains("<script"));
    assert!(!csp(&second).contains("script-src"));
    let pending_csrf = csrf_of(&second);
    let (s, v) = post_json(
        &other,
        &format!("{base}/admin/sign-in/passkey/start"),
        &json!({"csrf": pending_csrf}),
        None,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("no_passkey")), "{v}");
    let (s, v) = post_json(
        &other,
        &format!("{base}/admin/sign-in/passkey/finish"),
        &json!({"csrf": pending_csrf, "handle": "x", "credential": {}}),
        None,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("expired")), "{v}");
    // Still not signed in.
    let home = other.get(&format!("{base}/admin/")).await;
    assert_eq!(
        home.location().as_deref(),
        Some("/admin/sign-in/second-factor")
    );
    // The signed-in session's form token is not the waiting one's.
    let (s, _) = post_json(
        &other,
        &format!("{base}/admin/sign-in/passkey/start"),
        &json!({"csrf": csrf}),
        None,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_on_an_ip_address_offers_no_passkeys() {
    let w = World::new().await;
    let base = w.server.base.clone();
    make_operator(&w.db, OPERATOR, OPERATOR_PW, "owner", None);
    let b = Browser::new();
    first_sign_in(&b, &base, OPERATOR, OPERATOR_PW).await;
    let page = b.get(&format!("{base}/admin/security")).await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("Passkeys work only when the console is reached by a host name"));
    assert!(!page.body.contains("<script") && !csp(&page).contains("script-src"));
    let (s, v) = post_json(
        &b,
        &format!("{base}/admin/security/passkeys/start"),
        &json!({"csrf": csrf_of(&page)}),
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("passkeys_unavailable"))
    );
}
