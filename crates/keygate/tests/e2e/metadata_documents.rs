//! Client ID Metadata Documents (docs/apis.md): with the tenant's setting
//! on, an https `client_id` names a document that Keygate fetches safely
//! (public addresses only unless KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS, no
//! redirects, 5 KB, 5 s) and that must name itself. Documents here are
//! served by a small HTTP server the test starts on 127.0.0.1.

use crate::harness::*;
use crate::pages_helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the documents of this test: `/ok.json` and its bad siblings.
async fn document_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let b = base.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let base = b.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split(' ').nth(1).unwrap_or("/").to_string();
                let doc = |id: &str| {
                    json!({
                        "client_id": id,
                        "client_name": "Agent by document",
                        "redirect_uris": [CALLBACK],
                        "grant_types": ["authorization_code"],
                        "response_types": ["code"],
                        "token_endpoint_auth_method": "none"
                    })
                    .to_string()
                };
                let (status, extra, body) = match path.as_str() {
                    "/ok.json" => (
                        "200 OK",
                        "Cache-Control: max-age=600\r\n".to_string(),
                        doc(&format!("{base}/ok.json")),
                    ),
                    "/mismatch.json" => ("200 OK", String::new(), doc(&format!("{base}/ok.json"))),
                    "/secret.json" => {
                        let mut d: serde_json::Value =
                            serde_json::from_str(&doc(&format!("{base}/secret.json"))).unwrap();
                        d["token_endpoint_auth_method"] = json!("client_secret_basic");
                        ("200 OK", String::new(), d.to_string())
                    }
                    "/big.json" => {
                        let mut d: serde_json::Value =
                            serde_json::from_str(&doc(&format!("{base}/big.json"))).unwrap();
                        d["padding"] = json!("x".repeat(6000));
                        ("200 OK", String::new(), d.to_string())
                    }
                    "/redirect.json" => (
                        "302 Found",
                        format!("Location: {base}/ok.json\r\n"),
                        String::new(),
                    ),
                    "/slow.json" => {
                        tokio::time::sleep(Duration::from_secs(8)).await;
                        ("200 OK", String::new(), doc(&format!("{base}/slow.json")))
                    }
                    "/bad.json" => ("200 OK", String::new(), "not json".to_string()),
                    _ => ("404 Not Found", String::new(), String::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    (base, task)
}

/// The authorization URL of `client_id` at `door`'s issuer.
fn authorize(door: &Door, client_id: &str, challenge: &str) -> String {
    let c = TestClient {
        id: client_id.into(),
        secret: None,
        redirect_uri: CALLBACK.into(),
    };
    url_with(&door.issuer, "/authorize", &request(&c, challenge))
}

async fn setup(settings: &[&str], allow_private: bool) -> Setup {
    let s = Setup::new().await;
    if !settings.is_empty() {
        let mut args = vec!["tenant", "update", "acme"];
        args.extend_from_slice(settings);
        s.db.cli_json(&args, None);
    }
    let env: &[(&str, &str)] = if allow_private {
        &[("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true")]
    } else {
        &[]
    };
    let server = Server::start_with(&s.db, env).await;
    Setup { server, ..s }
}

#[tokio::test]
async fn a_client_named_by_its_document_signs_a_person_in_after_consent() {
    let (base, _docs) = document_server().await;
    let s = setup(&["--client-id-metadata-documents", "on"], true).await;
    let id = format!("{base}/ok.json");
    let app = Door {
        client: TestClient {
            id: id.clone(),
            secret: None,
            redirect_uri: CALLBACK.into(),
        },
        ..s.path()
    };
    let b = s.browser();
    let (verifier, challenge) = pkce();
    let page = sign_in(&b, &app, &authorize(&app, &id, &challenge)).await;
    assert!(
        page.body.contains(">Allow</button>"),
        "third-party: {}",
        page.body
    );
    assert!(page.body.contains("Agent by document"));
    let code = assert_code(
        &b.submit(&page, &[("decision", "allow")]).await,
        &app,
        "allowed",
    );
    let (status, tokens) = s.exchange(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["aud"],
        id.as_str()
    );
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["client_id"],
        id.as_str()
    );
    // Nothing was stored as a client.
    assert_eq!(
        s.db.count(&format!("SELECT COUNT(*) FROM clients WHERE id = '{id}'"))
            .await,
        0
    );
}

#[tokio::test]
async fn documents_that_are_wrong_large_slow_or_redirected_are_refused() {
    let (base, _docs) = document_server().await;
    let s = setup(&["--client-id-metadata-documents", "on"], true).await;
    let door = s.path();
    let (_, challenge) = pkce();
    for path in [
        "/mismatch.json",
        "/secret.json",
        "/big.json",
        "/redirect.json",
        "/bad.json",
        "/missing.json",
        "/slow.json",
    ] {
        let started = Instant::now();
        let page = s
            .browser()
            .get(&authorize(&door, &format!("{base}{path}"), &challenge))
            .await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(
            page.body.contains("client"),
            "{path}: the page names the problem: {}",
            page.body
        );
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "{path}: answered within the fetch timeout ({:?})",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn private_addresses_and_a_tenant_with_documents_off_are_refused() {
    let (base, _docs) = document_server().await;
    let id = format!("{base}/ok.json");
    let (_, challenge) = pkce();
    // Documents on, but private networks not allowed: 127.0.0.1 (and http).
    let strict = setup(&["--client-id-metadata-documents", "on"], false).await;
    let page = strict
        .browser()
        .get(&authorize(&strict.path(), &id, &challenge))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    // Private networks allowed, but the tenant does not use documents.
    let off = setup(&[], true).await;
    let page = off
        .browser()
        .get(&authorize(&off.path(), &id, &challenge))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
}
