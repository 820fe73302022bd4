//! Real clients against dynamic registration, APIs and consent
//! (docs/apis.md). `tests/browser/mcp_client.mjs` is an MCP-style agent on
//! openid-client (npm, v6): it discovers the issuer (RFC 8414), registers
//! itself (RFC 7591), reads its registration back (RFC 7592), asks for a
//! token for an API with PKCE and `resource`, has a person sign in and
//! allow it in Chromium, exchanges the code and refreshes the token.
//! Registration with an initial access token is tried without it, then
//! with it. `tests/browser/consent.mjs` shows
//! a person the consent page of a third-party client in Chromium: they
//! deny, then allow, then are not asked again. Node, Chromium and `npm ci`
//! in `tests/browser` are required (`.ci/run` installs them): without them
//! the tests fail.

use crate::harness::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const API: &str = "https://api.example.com/mcp";
const API_SCOPE: &str = "mcp:tools";

pub(crate) fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../"))
}

/// Runs a script of `tests/browser` with `env`; the JSON objects it
/// printed, one a line. Fails the test (with the server's log) unless the
/// script exits 0 within two minutes.
pub(crate) async fn run_script(script: &str, env: &[(&str, &str)], server: &Server) -> Vec<Value> {
    let dir = root().join("tests/browser");
    for package in ["playwright-core", "openid-client"] {
        let p = dir.join("node_modules").join(package);
        assert!(
            p.is_dir(),
            "{} is missing: run `npm ci` in tests/browser (.ci/run does)",
            p.display()
        );
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (.ci/run does)"
    );
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} finished within two minutes"))
        .expect("node runs (install Node.js; .ci/run expects it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        server.log_text()
    );
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The steps' names, in order.
fn names(steps: &[Value]) -> Vec<&str> {
    steps.iter().map(|s| s["step"].as_str().unwrap()).collect()
}

/// A database with tenant `acme` registering clients in `mode`, the API
/// and ann; the server on it. Returns ann's `sub` too.
async fn registering_tenant(mode: &str) -> (Database, Server, String) {
    let db = Database::new();
    db.tenant("acme", &[]);
    let sub = db.user("acme", EMAIL, PASSWORD);
    db.cli_json(
        &["tenant", "update", "acme", "--dynamic-registration", mode],
        None,
    );
    db.cli_json(
        &[
            "api",
            "create",
            "--tenant",
            "acme",
            "--identifier",
            API,
            "--scope",
            API_SCOPE,
        ],
        None,
    );
    let server = Server::start(&db).await;
    (db, server, sub)
}

/// Checks the discovery, registration and read-back steps of
/// mcp_client.mjs; returns the client id and registration access token.
fn check_registration(steps: &[Value], issuer: &str) -> (String, String) {
    let discovered = &steps[0];
    assert_eq!(discovered["issuer"], issuer, "{discovered}");
    assert_eq!(
        discovered["registration_endpoint"],
        format!("{issuer}/oauth/register")
    );
    assert_eq!(discovered["supports_pkce_s256"], true, "{discovered}");

    let registered = steps.iter().find(|s| s["step"] == "registered").unwrap();
    let id = registered["client_id"].as_str().unwrap().to_string();
    let rat = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!id.is_empty() && rat.len() >= 32, "{registered}");
    assert_eq!(registered["client_secret"], Value::Null, "a public client");
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    assert_eq!(
        registered["registration_client_uri"],
        format!("{issuer}/oauth/register/{id}")
    );
    let redirect = registered["redirect_uris"][0].as_str().unwrap();
    assert!(
        redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
        "{redirect}"
    );

    let read = steps.iter().find(|s| s["step"] == "read_back").unwrap();
    assert_eq!(read["status"], 200, "{read}");
    assert_eq!(read["body"]["client_id"], id.as_str());
    assert_eq!(read["body"]["client_name"], "MCP Agent");
    assert_eq!(read["body"]["redirect_uris"], registered["redirect_uris"]);
    assert_eq!(read["body"]["token_endpoint_auth_method"], "none");
    assert!(read["body"].get("client_secret").is_none(), "{read}");
    // RFC 7592 3: the read answer carries the registration access token.
    assert_eq!(read["body"]["registration_access_token"], rat.as_str());
    (id, rat)
}

/// The client is stored third-party, without a secret, with the SHA-256 of
/// its registration access token and never the token itself.
async fn check_stored(db: &Database, id: &str, rat: &str) {
    let rows = db
        .query_strings(&format!(
            "SELECT COALESCE(registration_token_hash, '') || ' ' || COALESCE(secret_hash, '-') || ' ' || CAST(third_party AS TEXT) || ' ' || CAST(public AS TEXT) \
             FROM clients WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let expected = keygate_crypto::secrets::sha256_hex(rat);
    let fields: Vec<&str> = rows[0].split(' ').collect();
    assert_eq!(fields, [expected.as_str(), "-", "1", "1"], "{rows:?}");
    assert!(!rows[0].contains(rat));
}

fn aud_is(aud: &Value, expected: &str) -> bool {
    aud == expected
        || aud
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0] == expected)
}

#[tokio::test]
async fn an_mcp_client_on_openid_client_registers_itself_and_gets_a_token_for_the_api_in_chromium()
{
    let (db, server, sub) = registering_tenant("open").await;
    let issuer = server.issuer("acme");
    let scope = format!("openid offline_access {API_SCOPE}");
    let steps = run_script(
        "mcp_client.mjs",
        &[
            ("KEYGATE_ISSUER", &issuer),
            ("KEYGATE_RESOURCE", API),
            ("KEYGATE_SCOPE", &scope),
            ("KEYGATE_EMAIL", EMAIL),
            ("KEYGATE_PASSWORD", PASSWORD),
        ],
        &server,
    )
    .await;
    assert_eq!(
        names(&steps),
        [
            "discovered",
            "registered",
            "read_back",
            "consent",
            "tokens",
            "refreshed"
        ],
        "{steps:?}"
    );
    let (id, rat) = check_registration(&steps, &issuer);

    // Registered clients are third-party: the person was asked, in words.
    let consent = &steps[3];
    assert_eq!(consent["heading"], "Allow MCP Agent?", "{consent}");
    assert_eq!(
        consent["scopes"],
        serde_json::json!([
            "Know who you are on this account",
            "Keep this access while you are away",
            format!("{API_SCOPE} on {API}")
        ]),
        "{consent}"
    );

    // The access token is for the API, with its scope; the id_token for the client.
    let tokens = &steps[4];
    let at = &tokens["access_token"];
    assert!(aud_is(&at["aud"], API), "{at}");
    let at_scopes: Vec<&str> = at["scope"].as_str().unwrap().split(' ').collect();
    assert!(at_scopes.contains(&API_SCOPE), "{at}");
    assert_eq!(at["client_id"], id.as_str(), "{at}");
    assert_eq!(at["sub"], sub.as_str(), "{at}");
    assert_eq!(at["iss"], issuer.as_str(), "{at}");
    let id_token = &tokens["id_token"];
    assert!(aud_is(&id_token["aud"], &id), "{id_token}");
    assert_eq!(id_token["sub"], sub.as_str(), "{id_token}");
    assert_eq!(id_token["iss"], issuer.as_str(), "{id_token}");
    let granted: Vec<&str> = tokens["scope"].as_str().unwrap().split(' ').collect();
    assert!(granted.contains(&API_SCOPE), "{tokens}");
    assert_eq!(tokens["has_refresh_token"], true, "{tokens}");

    // Refreshed (naming the API again), the token is for the same API.
    let refreshed = &steps[5];
    assert_eq!(refreshed["rotated"], true, "{refreshed}");
    let at = &refreshed["access_token"];
    assert!(aud_is(&at["aud"], API), "{at}");
    assert!(
        at["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == API_SCOPE),
        "{at}"
    );
    assert!(aud_is(&refreshed["id_token"]["aud"], &id), "{refreshed}");

    check_stored(&db, &id, &rat).await;
    // The decision is stored for the API, and the client's first use.
    let consents = db
        .query_strings(&format!(
            "SELECT resource || ' ' || scopes FROM consents WHERE client_id = '{id}' AND user_sub = '{sub}'"
        ))
        .await;
    assert_eq!(
        consents,
        [format!("{API} openid offline_access {API_SCOPE}")]
    );
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM clients WHERE id = '{id}' AND first_used_at IS NOT NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn openid_client_registers_only_with_the_initial_access_token_when_the_tenant_wants_one() {
    let (db, server, _) = registering_tenant("token").await;
    let issuer = server.issuer("acme");
    let minted = db.cli_json(&["tenant", "registration-token", "acme"], None);
    let iat = minted["token"].as_str().unwrap();
    let before = db.count("SELECT COUNT(*) FROM clients").await;
    let steps = run_script(
        "mcp_client.mjs",
        &[
            ("KEYGATE_ISSUER", &issuer),
            ("KEYGATE_RESOURCE", API),
            ("KEYGATE_SCOPE", "openid mcp:tools"),
            ("KEYGATE_INITIAL_ACCESS_TOKEN", iat),
            ("KEYGATE_REGISTER_ONLY", "1"),
        ],
        &server,
    )
    .await;
    assert_eq!(
        names(&steps),
        ["discovered", "refused", "registered", "read_back"],
        "{steps:?}"
    );
    // Without the token openid-client raises the server's invalid_token.
    let refused = &steps[1];
    assert_eq!(refused["error"], "invalid_token", "{refused}");
    assert_eq!(refused["status"], 401, "{refused}");
    let (id, rat) = check_registration(&steps, &issuer);
    check_stored(&db, &id, &rat).await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM clients").await,
        before + 1,
        "only the registration with the token stored a client"
    );
}

#[tokio::test]
async fn a_person_denies_then_allows_a_third_party_client_in_chromium_and_is_not_asked_again() {
    let (db, server, sub) = registering_tenant("off").await;
    let issuer = server.issuer("acme");
    // The script serves the application on this port.
    let callback = format!("http://127.0.0.1:{}/callback", free_port());
    let client = db.client("acme", &callback, &["--public", "--third-party"]);
    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("consent.png");
    let _ = std::fs::remove_file(&screenshot);

    // Three requests for the same scopes, each with its own PKCE pair and state.
    let scope = format!("openid email {API_SCOPE}");
    let requests: Vec<(String, String)> = ["deny", "allow", "again"]
        .iter()
        .map(|state| {
            let (verifier, challenge) = pkce();
            let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
            u.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", &client.id)
                .append_pair("redirect_uri", &callback)
                .append_pair("scope", &scope)
                .append_pair("state", state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("resource", API);
            (u.to_string(), verifier)
        })
        .collect();
    let urls: Vec<&str> = requests.iter().map(|(u, _)| u.as_str()).collect();
    let screenshot_path = screenshot.to_str().unwrap();
    let urls_json = serde_json::to_string(&urls).unwrap();
    let steps = run_script(
        "consent.mjs",
        &[
            ("KEYGATE_AUTHORIZE_URLS", &urls_json),
            ("KEYGATE_CALLBACK", &callback),
            ("KEYGATE_EMAIL", EMAIL),
            ("KEYGATE_PASSWORD", PASSWORD),
            ("KEYGATE_SCREENSHOT", screenshot_path),
        ],
        &server,
    )
    .await;
    assert_eq!(
        names(&steps),
        ["denied", "allowed", "remembered"],
        "{steps:?}"
    );
    let expected_scopes = serde_json::json!([
        "Know who you are on this account",
        "See your e-mail address and whether it is verified",
        format!("{API_SCOPE} on {API}")
    ]);

    // 1. Signed in, asked, denied: the application gets access_denied.
    let denied = &steps[0];
    assert_eq!(denied["consent"]["heading"], "Allow Test app?", "{denied}");
    assert_eq!(denied["consent"]["scopes"], expected_scopes, "{denied}");
    assert_eq!(
        denied["pages"].as_array().unwrap().len(),
        2,
        "the sign-in page, then the consent page: {denied}"
    );
    let q = &denied["query"];
    assert_eq!(q["error"], "access_denied", "{denied}");
    assert_eq!(q["state"], "deny");
    assert_eq!(q["iss"], issuer.as_str());
    assert!(q.get("code").is_none(), "{denied}");

    // 2. Asked at once (a session), allowed: a code that works.
    let allowed = &steps[1];
    assert_eq!(allowed["consent"]["scopes"], expected_scopes, "{allowed}");
    assert_eq!(allowed["pages"].as_array().unwrap().len(), 1, "{allowed}");
    assert_eq!(allowed["query"]["state"], "allow");
    assert!(allowed["query"].get("error").is_none(), "{allowed}");

    // 3. The same scopes: no page at all, straight to a code.
    let again = &steps[2];
    assert_eq!(again["pages"], serde_json::json!([]), "{again}");
    assert_eq!(again["query"]["state"], "again");
    assert!(again["query"].get("error").is_none(), "{again}");

    for (step, (_, verifier)) in [allowed, again].into_iter().zip(&requests[1..]) {
        let code = step["query"]["code"].as_str().expect("a code");
        let (status, _, body) = token(
            &issuer,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &callback),
                ("client_id", &client.id),
                ("code_verifier", verifier),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let at = claims(body["access_token"].as_str().unwrap());
        assert!(aud_is(&at["aud"], API), "{at}");
        assert_eq!(at["sub"], sub.as_str());
    }
    assert_eq!(
        db.query_strings(&format!(
            "SELECT scopes FROM consents WHERE client_id = '{}'",
            client.id
        ))
        .await,
        [format!("openid email {API_SCOPE}")]
    );

    let png = std::fs::read(&screenshot).expect("the consent screenshot was saved");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{}",
        png.len()
    );
}
