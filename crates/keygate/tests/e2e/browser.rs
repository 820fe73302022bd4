//! The hosted pages in a real browser. Headless Chromium (Debian's
//! `/usr/bin/chromium`) driven by playwright-core from `tests/browser`
//! registers a new person, lands on a local callback with a code, signs
//! out, signs in again and lands there with a second code; this test then
//! exchanges both codes. Node, Chromium and `npm ci` in `tests/browser` are
//! required (`.ci/run` installs them): without them the test fails.

use crate::harness::*;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const NEW_EMAIL: &str = "nina.new@example.com";
const NEW_PASSWORD: &str = "a new long password";
const NEW_NAME: &str = "Nina New";

#[tokio::test]
async fn a_person_registers_signs_out_and_signs_in_again_in_chromium() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../"));
    let script = root.join("tests/browser/flow.mjs");
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
    let artifacts = root.join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("sign-in.png");
    let _ = std::fs::remove_file(&screenshot);

    let w = World::new().await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let signed_out = format!("http://127.0.0.1:{port}/signed-out");
    let client = w.db.client(
        "acme",
        &callback,
        &["--public", "--post-logout-redirect-uri", &signed_out],
    );
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(&w.issuer, &client, Some(&challenge), &[]);
    let mut signoff = url::Url::parse(&format!("{}/signoff", w.issuer)).unwrap();
    signoff
        .query_pairs_mut()
        .append_pair("client_id", &client.id)
        .append_pair("post_logout_redirect_uri", &signed_out)
        .append_pair("state", "bye");

    let run = tokio::process::Command::new("node")
        .arg(&script)
        .current_dir(root.join("tests/browser"))
        .env("KEYGATE_AUTHORIZE_URL", &authorize)
        .env("KEYGATE_CALLBACK_PORT", port.to_string())
        .env("KEYGATE_SIGNOFF_URL", signoff.as_str())
        .env("KEYGATE_SCREENSHOT", &screenshot)
        .env("KEYGATE_EMAIL", NEW_EMAIL)
        .env("KEYGATE_PASSWORD", NEW_PASSWORD)
        .env("KEYGATE_NAME", NEW_NAME)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser flow finished within two minutes")
        .expect("node runs (install Node.js; .ci/run expects it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser flow failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        w.server.log_text()
    );

    let steps: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["registered", "signed_out", "signed_in"],
        "{stdout}\n{stderr}"
    );
    assert_eq!(steps[1]["url"], format!("{signed_out}?state=bye"));
    for s in [&steps[0], &steps[2]] {
        assert_eq!(s["state"], "st-123");
        assert_eq!(s["iss"], w.issuer.as_str());
    }
    let codes = [
        steps[0]["code"].as_str().unwrap(),
        steps[2]["code"].as_str().unwrap(),
    ];
    assert_ne!(codes[0], codes[1]);

    // The new person exists once, with the name given; the session the
    // browser started was ended by signing out and a new one began.
    let subs =
        w.db.query_strings(&format!(
            "SELECT sub FROM users WHERE email = '{NEW_EMAIL}' AND name = '{NEW_NAME}'"
        ))
        .await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(w.db.count("SELECT COUNT(*) FROM sessions").await, 1);

    let mut auth_times = Vec::new();
    for code in codes {
        let (status, _, body) = token(
            &w.issuer,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &callback),
                ("client_id", &client.id),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let id = claims(body["id_token"].as_str().unwrap());
        assert_eq!(id["sub"], subs[0].as_str(), "{id}");
        assert_eq!(id["email"], NEW_EMAIL);
        assert_eq!(id["name"], NEW_NAME);
        assert_eq!(id["nonce"], "n-456");
        auth_times.push(id["auth_time"].as_i64().unwrap());
    }
    assert!(auth_times[1] >= auth_times[0], "{auth_times:?}");

    let png = std::fs::read(&screenshot).expect("the sign-in screenshot was saved");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{}",
        png.len()
    );
}
