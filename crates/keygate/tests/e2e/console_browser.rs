//! The admin console in a real browser (docs/console.md): headless
//! Chromium driven by playwright-core from `tests/browser/console.mjs`
//! signs an operator in (password, then an authenticator app enrolled with
//! a code computed from the secret the page shows), sees the dashboard's
//! chart, reaches the operators page by keyboard alone, fits a 360-pixel
//! phone screen without a policy violation, and signs out. It saves the
//! screenshots docs/console.md shows. Node, Chromium and `npm ci` in
//! `tests/browser` are required, as for browser.rs.

use crate::harness::*;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn an_operator_signs_in_enrols_and_uses_the_console_in_chromium() {
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

    let w = World::new().await;
    let email = "ops@example.com";
    let password = "an operator passphrase";
    w.db.cli_json(
        &["admin", "create", "--email", email, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    // Something to draw: a code issued and a failed sign-in.
    let client = w.public_client(&[]);
    let person = Browser::new();
    let (_, challenge) = pkce();
    let page = person
        .get(&authorize_url(&w.issuer, &client, Some(&challenge), &[]))
        .await;
    person
        .submit(&page, &[("email", EMAIL), ("password", "not it")])
        .await;
    obtain_code(&person, &w.issuer, &client, Some(&challenge), &[]).await;
    // And a day of sign-ins in the event log, for a chart worth a look
    // (ids that sort below the server's time-ordered ones: older).
    let now = crate::mfa_totp::unix_now() as i64;
    let mut n = 0;
    for hour in 1..24 {
        for _ in 0..(3 + (hour * 7) % 9) {
            n += 1;
            crate::console_auth::execute(
                &w.db,
                &format!(
                    "INSERT INTO events (id, tenant_id, at, kind, actor, ip, subject, detail, expires_at) \
                     VALUES ('AAAAseed{n:04}', 'acme', {}, 'user.signed_in', 'user:x', NULL, NULL, '{{}}', {})",
                    now - hour * 3600,
                    now + 86400
                ),
            )
            .await;
        }
    }

    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/console.mjs"))
        .current_dir(root.join("tests/browser"))
        .env("KEYGATE_CONSOLE_URL", format!("{}/admin/", w.server.base))
        .env("KEYGATE_EMAIL", email)
        .env("KEYGATE_PASSWORD", password)
        .env("KEYGATE_SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the console flow finished within two minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the console flow failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
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
        ["dashboard", "operators_by_keyboard", "phone", "signed_out"],
        "{stdout}\n{stderr}"
    );
    assert_eq!(steps[0]["heading"], "Dashboard");
    assert!(steps[0]["bars"].as_i64().unwrap() >= 2, "{}", steps[0]);
    assert_ne!(steps[1]["outline"], "none", "focus is visible");
    assert_eq!(steps[1]["rows"], 1);
    assert!(steps[2]["overflow"].as_i64().unwrap() <= 0, "{}", steps[2]);
    assert_eq!(steps[3]["url"], "/admin/sign-in");
    assert_eq!(steps[3]["violations"], serde_json::json!([]));
    let signed = "SELECT COUNT(*) FROM events WHERE kind = 'admin.signed_in'";
    assert_eq!(w.db.count(signed).await, 1);

    for name in [
        "console-sign-in.png",
        "console-enrol.png",
        "console-dashboard.png",
        "console-operators.png",
        "console-dashboard-phone.png",
    ] {
        let png = std::fs::read(shots.join(name)).expect(name);
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}");
    }
}
