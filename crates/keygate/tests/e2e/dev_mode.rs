//! The README's first command: `serve --dev` creates the demo client and
//! user once and prints what is needed to try a flow, and the printed curl
//! command's request works.

use crate::harness::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `serve --dev`, returns the printed block and the child.
fn start_dev(db: &Database, port: u16) -> (String, std::process::Child) {
    let mut child = Command::new(BIN)
        .args(["serve", "--dev"])
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_MASTER_KEY", MASTER_KEY)
        .env("KEYGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYGATE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        out.push_str(&line);
        out.push('\n');
        if line.contains("-d grant_type=authorization_code") {
            break;
        }
    }
    (out, child)
}

fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no '{label}' in:\n{out}"))
}

#[tokio::test]
async fn serve_dev_prints_demo_credentials_that_work_and_creates_them_once() {
    let db = Database::new();
    let port = free_port();
    let (out, mut child) = start_dev(&db, port);
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(field(&out, "issuer:"), base);
    let client_id = field(&out, "client_id:");
    let secret = field(&out, "client_secret:");
    let email = field(&out, "user e-mail:");
    let password = field(&out, "user password:");
    let authorize = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{base}/authorize?")))
        .expect("authorize URL")
        .to_string();
    assert!(
        out.contains(&format!(
            "curl -s -X POST '{base}/token' -u '{client_id}:{secret}'"
        )),
        "{out}"
    );

    // Follow the printed URL as a browser would, then make the printed curl request.
    let browser = Browser::new();
    let mut page = browser.get(&authorize).await;
    for _ in 0..50 {
        if page.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = browser.get(&authorize).await;
    }
    assert_eq!(page.status, 200, "{}", page.body);
    let done = browser
        .submit(&page, &[("email", &email), ("password", &password)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let loc = done.location().unwrap();
    assert!(
        loc.starts_with("http://localhost:3000/callback?code="),
        "{loc}"
    );
    let code = done.redirect_params()["code"].clone();
    let (s, _, t) = token(
        &base,
        Some((&client_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://localhost:3000/callback"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert!(
        t["id_token"].is_string() && t["refresh_token"].is_string(),
        "{t}"
    );
    let _ = child.kill();
    let _ = child.wait();

    // A second start prints the same demo client and creates nothing new.
    let port2 = free_port();
    let (out2, mut child2) = start_dev(&db, port2);
    let _ = child2.kill();
    let _ = child2.wait();
    assert_eq!(field(&out2, "client_id:"), client_id);
    assert_eq!(field(&out2, "client_secret:"), secret);
    assert_eq!(field(&out2, "user password:"), password);
    assert_eq!(db.count("SELECT COUNT(*) FROM clients").await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM users").await, 1);
}
