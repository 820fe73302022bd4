//! The foundation: CLI, store, signing keys, front doors, discovery and JWKS.

use crate::harness::*;
use serde_json::Value;

fn exit_code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[tokio::test]
async fn cli_commands_print_one_json_object() {
    let db = Database::new();
    let out = db.cli(
        &[
            "tenant",
            "create",
            "acme",
            "--domain",
            "https://login.acme.test",
        ],
        None,
    );
    assert_eq!(
        exit_code(&out),
        0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["tenant_id"], "acme");
    assert_eq!(t["domains"], serde_json::json!(["https://login.acme.test"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().lines().count(),
        1
    );

    let conf = db.cli_json(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.acme.test/cb",
        ],
        None,
    );
    let obj = conf.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{conf}");
    assert!(conf["client_id"].as_str().unwrap().len() >= 16);
    let secret = conf["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256-bit secret: {secret}");

    let public = db.cli_json(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "SPA",
            "--redirect-uri",
            "https://app.acme.test/cb",
            "--public",
        ],
        None,
    );
    assert!(public.get("client_secret").is_none(), "{public}");

    let user = db.cli_json(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "Ann@Example.com",
            "--name",
            "Ann",
            "--password-stdin",
        ],
        Some("s3cret-pass\n"),
    );
    assert!(user["sub"].as_str().unwrap().len() >= 16);

    // Only hashes are stored.
    let hashes = db
        .query_strings("SELECT secret_hash FROM clients WHERE secret_hash IS NOT NULL")
        .await;
    assert_eq!(hashes.len(), 1);
    assert_ne!(hashes[0], secret);
    assert_eq!(hashes[0], keygate_crypto::secrets::sha256_hex(secret));
    let pw = db.query_strings("SELECT password_hash FROM users").await;
    assert!(pw[0].starts_with("$argon2id$"), "{}", pw[0]);
    let emails = db.query_strings("SELECT email FROM users").await;
    assert_eq!(emails, vec!["ann@example.com"]);
}

#[tokio::test]
async fn cli_bad_arguments_exit_2_and_write_nothing() {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", "taken@example.com", "password-1");
    let before = (
        db.count("SELECT COUNT(*) FROM tenants").await,
        db.count("SELECT COUNT(*) FROM clients").await,
        db.count("SELECT COUNT(*) FROM users").await,
    );
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["tenant", "create", "Bad_Id"], None, "must match"),
        (vec!["tenant", "create", "acme"], None, "already exists"),
        (
            vec!["tenant", "create", "x1", "--domain", "https://a.test/path"],
            None,
            "nothing after",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "nope",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb",
            ],
            None,
            "does not exist",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "notauri",
            ],
            None,
            "malformed",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb#frag",
            ],
            None,
            "fragment",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb",
                "--public",
                "--auth-method",
                "client_secret_post",
            ],
            None,
            "--auth-method",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb",
                "--id-token-ttl",
                "10x",
            ],
            None,
            "--id-token-ttl",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb",
                "--access-token-ttl",
                "0s",
            ],
            None,
            "--access-token-ttl",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb",
                "--grant",
                "password",
            ],
            None,
            "unknown grant",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.test/cb",
                "--auth-method",
                "private_key_jwt",
            ],
            None,
            "--auth-method",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "acme",
                "--email",
                "TAKEN@example.com",
                "--password-stdin",
            ],
            Some("another-pass\n"),
            "already registered",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "acme",
                "--email",
                "not-an-email",
                "--password-stdin",
            ],
            Some("another-pass\n"),
            "e-mail",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "acme",
                "--email",
                "new@example.com",
                "--password-stdin",
            ],
            Some("short\n"),
            "at least 8",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "nope",
                "--email",
                "new@example.com",
                "--password-stdin",
            ],
            Some("long-enough\n"),
            "does not exist",
        ),
    ];
    for (args, stdin, needle) in cases {
        let out = db.cli(&args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(exit_code(&out), 2, "{args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr {stderr:?} lacks {needle:?}"
        );
    }
    let after = (
        db.count("SELECT COUNT(*) FROM tenants").await,
        db.count("SELECT COUNT(*) FROM clients").await,
        db.count("SELECT COUNT(*) FROM users").await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn discovery_at_each_front_door_carries_its_issuer() {
    let db = Database::new();
    db.tenant("acme", &["http://login.acme.test"]);
    let server = Server::start(&db).await;
    let http = reqwest::Client::new();
    let get = |url: String, host: Option<&'static str>| {
        let mut r = http.get(url);
        if let Some(h) = host {
            r = r.header("host", h);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Path form.
    let (s, d) = get(
        format!("{}/acme/as/.well-known/openid-configuration", server.base),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["issuer"], format!("{}/acme/as", server.base));
    assert_eq!(
        d["token_endpoint"],
        format!("{}/acme/as/token", server.base)
    );
    assert_eq!(d["jwks_uri"], format!("{}/acme/as/jwks", server.base));
    assert_eq!(
        d["revocation_endpoint"],
        format!("{}/acme/as/revoke", server.base)
    );
    // Root of the public URL: tenant default.
    let (s, d) = get(
        format!("{}/.well-known/openid-configuration", server.base),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["issuer"], server.base);
    assert_eq!(
        d["jwks_uri"],
        format!("{}/.well-known/jwks.json", server.base)
    );
    assert_eq!(
        d["revocation_endpoint"],
        format!("{}/oauth/revoke", server.base)
    );
    // A tenant's own domain, by Host.
    let (s, d) = get(
        format!("{}/.well-known/openid-configuration", server.base),
        Some("login.acme.test"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["issuer"], "http://login.acme.test");
    assert_eq!(
        d["authorization_endpoint"],
        "http://login.acme.test/authorize"
    );
    // What is implemented, and only that.
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
    assert!(d["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ]
        .contains(&g.as_str().unwrap())));
    // RFC 8414 metadata: inserted before the issuer's path (section 3),
    // and appended to it like OpenID discovery; at the root, both are one.
    for url in [
        format!(
            "{}/.well-known/oauth-authorization-server/acme/as",
            server.base
        ),
        format!(
            "{}/acme/as/.well-known/oauth-authorization-server",
            server.base
        ),
    ] {
        let (s, d) = get(url.clone(), None).await;
        assert_eq!(s, 200, "{url}");
        assert_eq!(d["issuer"], format!("{}/acme/as", server.base), "{url}");
        assert_eq!(
            d["token_endpoint"],
            format!("{}/acme/as/token", server.base)
        );
    }
    let (s, d) = get(
        format!("{}/.well-known/oauth-authorization-server", server.base),
        None,
    )
    .await;
    assert_eq!((s, d["issuer"].as_str()), (200, Some(server.base.as_str())));
    let (s, d) = get(
        format!(
            "{}/.well-known/oauth-authorization-server/nope/as",
            server.base
        ),
        None,
    )
    .await;
    assert_eq!((s, d["error"].as_str()), (404, Some("not_found")));
    // Unknown tenant: 404 with a JSON body.
    let (s, d) = get(
        format!("{}/nope/as/.well-known/openid-configuration", server.base),
        None,
    )
    .await;
    assert_eq!((s, d["error"].as_str()), (404, Some("not_found")));
    // Unknown host: served as the public URL, never as an issuer of its own
    // (docs/deploying.md, "Proxies, Hosts and TLS").
    let (s, d) = get(
        format!("{}/.well-known/openid-configuration", server.base),
        Some("evil.test"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["issuer"], server.base);
}

/// Finds the stored key of `kid`, unseals it with the master key, signs, and
/// checks the signature with the JWKS entry the server publishes.
async fn jwks_verifies_stored_key(db: &Database, jwks: &Value) -> Vec<String> {
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let master = keygate_crypto::sealing::MasterKey::from_hex(MASTER_KEY).unwrap();
    let mut kids = Vec::new();
    for jwk in keys {
        let kid = jwk["kid"].as_str().unwrap().to_string();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert!(jwk.get("d").is_none(), "private material published");
        let sealed = db
            .query_strings(&format!(
                "SELECT sealed_private FROM signing_keys WHERE kid = '{kid}'"
            ))
            .await;
        let pkcs8 = master
            .open(&kid, &sealed[0])
            .expect("the stored key is sealed under the master key");
        let key = keygate_crypto::keys::SigningKey::from_pkcs8(
            keygate_core::model::SigningAlg::RS256,
            kid.clone(),
            &pkcs8,
        )
        .unwrap();
        let sig = key.sign(b"keygate test message").unwrap();
        let verifier = keygate_crypto::keys::VerifyingKey::from_jwk(jwk).unwrap();
        assert!(verifier.verify(b"keygate test message", &sig));
        assert!(!verifier.verify(b"another message", &sig));
        // And independently of our own verifier: aws-lc-rs from n and e.
        use base64::Engine;
        let b64 = |f: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwk[f].as_str().unwrap())
                .unwrap()
        };
        let comps = aws_lc_rs::rsa::PublicKeyComponents {
            n: b64("n"),
            e: b64("e"),
        };
        comps
            .verify(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                b"keygate test message",
                &sig,
            )
            .unwrap();
        kids.push(kid);
    }
    kids
}

#[tokio::test]
async fn jwks_key_verifies_a_signature_made_with_the_stored_key() {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start(&db).await;
    let jwks: Value = reqwest::get(format!("{}/acme/as/jwks", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks_verifies_stored_key(&db, &jwks).await;
    // The stored private key is not in clear text.
    let sealed = db
        .query_strings("SELECT sealed_private FROM signing_keys")
        .await;
    assert!(!sealed[0].contains("BEGIN"), "sealed");
    // Root JWKS is the default tenant's: another key.
    let root: Value = reqwest::get(format!("{}/.well-known/jwks.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(root["keys"][0]["kid"], jwks["keys"][0]["kid"]);
}

#[tokio::test]
async fn restart_keeps_tenants_clients_users_and_keys() {
    let db = Database::new();
    db.tenant("acme", &["http://login.acme.test"]);
    db.user("acme", EMAIL, PASSWORD);
    let mut server = Server::start(&db).await;
    let client = db.client(
        "acme",
        "http://127.0.0.1:9/callback",
        &[
            "--grant",
            "authorization_code,refresh_token,client_credentials",
        ],
    );
    let issuer = server.issuer("acme");
    let jwks1: Value = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (s, _, t1) = token(
        &issuer,
        Some((&client.id, client.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200);

    server.restart().await;

    let jwks2: Value = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks1, jwks2, "same keys after restart");
    let kids = jwks_verifies_stored_key(&db, &jwks2).await;
    assert_eq!(
        header(t1["access_token"].as_str().unwrap())["kid"],
        kids[0].as_str()
    );
    // The client still authenticates; the user still signs in; the domain still routes.
    let (s, _, _) = token(
        &issuer,
        Some((&client.id, client.secret())),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200);
    let browser = Browser::new();
    let code = obtain_code(&browser, &issuer, &client, None, &[]).await;
    let (s, _, body) = token(
        &issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let d: Value = reqwest::Client::new()
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .header("host", "login.acme.test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], "http://login.acme.test");
}

#[tokio::test]
async fn master_key_file_is_created_with_mode_0600() {
    let dir = std::env::temp_dir().join(format!("kg_mk_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}/data/keygate.db", dir.display());
    let port = free_port();
    let mut child = std::process::Command::new(BIN)
        .arg("serve")
        .env("KEYGATE_DATABASE_URL", &url)
        .env_remove("KEYGATE_MASTER_KEY")
        .env("KEYGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEYGATE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let file = dir.join("data/master.key");
    let mut ok = false;
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "server started");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim().len(), 64);
    assert!(dir.join("data/keygate.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
