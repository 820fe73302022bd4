//! Client authentication with JWTs (docs/client-auth.md): `private_key_jwt`
//! and `client_secret_jwt` (RFC 7523, OpenID Connect Core 9). openid-client
//! (`tests/browser/jwt_client.mjs`) authenticates with its own assertions at
//! the token, introspection and revocation endpoints; the refusals are
//! driven from here with assertions signed by the test. Keys come from a
//! `--jwks-file`, or from a `--jwks-uri` served by a small HTTP server the
//! test starts on 127.0.0.1 (hence `KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS`).

use crate::admin_helpers::{Admin, ADMIN_TOKEN};
use crate::harness::*;
use crate::real_clients::run_script;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use keygate_crypto::hmac::{self, HmacAlg};
use keygate_crypto::keys::{Alg, SigningKey};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const CALLBACK: &str = "http://127.0.0.1:9/callback";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn jti() -> String {
    URL_SAFE_NO_PAD.encode(keygate_crypto::secrets::random_bytes(12))
}

/// Good claims for `client_id` at `aud`.
fn good(client_id: &str, aud: &str) -> Value {
    let t = now();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": t + 60, "iat": t, "jti": jti()})
}

/// A JWS with this header, signed by `key`.
fn signed(key: &SigningKey, header: Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(&header), b64(claims));
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A JWS signed by `key` with its alg and kid.
fn by_key(key: &SigningKey, claims: &Value) -> String {
    signed(
        key,
        json!({"alg": key.alg.as_str(), "kid": key.kid}),
        claims,
    )
}

/// A JWS with an HMAC under `secret`.
fn by_secret(alg: HmacAlg, secret: &str, claims: &Value) -> String {
    let input = format!("{}.{}", b64(&json!({"alg": alg.as_str()})), b64(claims));
    let tag = hmac::sign(alg, secret.as_bytes(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// A client_credentials request authenticated by `assertion` (and `extra`).
async fn with_assertion(
    issuer: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    token(issuer, None, &form).await
}

/// Asserts an RFC 6749 `invalid_client` refusal (401 with WWW-Authenticate)
/// whose description contains `says`.
fn refused(answer: &(u16, reqwest::header::HeaderMap, Value), says: &str, case: &str) {
    let (status, headers, body) = answer;
    assert_eq!(*status, 401, "{case}: {body}");
    assert_eq!(body["error"], "invalid_client", "{case}: {body}");
    assert!(body.get("access_token").is_none(), "{case}");
    assert!(
        body["error_description"].as_str().unwrap().contains(says),
        "{case}: {body}"
    );
    assert!(headers.contains_key("www-authenticate"), "{case}");
}

/// A key and its public JWK Set.
fn key(alg: Alg, kid: &str) -> (SigningKey, Vec<u8>, Value) {
    let (key, pkcs8) = SigningKey::generate(alg, kid.into()).unwrap();
    let set = json!({ "keys": [key.public_jwk()] });
    (key, pkcs8, set)
}

/// What the JWKS server answers on a path: status and body.
type Routes = Arc<Mutex<std::collections::HashMap<String, (u16, String)>>>;

/// A small HTTP server for JWK Sets; counts the requests it answers.
async fn jwks_server() -> (String, Routes, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let routes: Routes = Arc::default();
    let hits = Arc::new(AtomicUsize::new(0));
    let (r, h) = (routes.clone(), hits.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (routes, hits) = (r.clone(), h.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split(' ').nth(1).unwrap_or("/").to_string();
                hits.fetch_add(1, Ordering::SeqCst);
                let (status, body) = routes
                    .lock()
                    .unwrap()
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, "{}".into()));
                let res = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncache-control: max-age=600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(res.as_bytes()).await;
            });
        }
    });
    (base, routes, hits)
}

struct Setup {
    db: Database,
    server: Server,
    issuer: String,
}

async fn setup(env: &[(&str, &str)]) -> Setup {
    let db = Database::new();
    db.tenant("acme", &[]);
    let server = Server::start_with(&db, env).await;
    let issuer = server.issuer("acme");
    Setup { db, server, issuer }
}

const ALLOW_PRIVATE: (&str, &str) = ("KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS", "true");

/// A private_key_jwt client for client_credentials with `keys` as its flags.
fn key_client(db: &Database, keys: &[&str]) -> TestClient {
    let mut args = vec![
        "--grant",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
    ];
    args.extend_from_slice(keys);
    db.client("acme", CALLBACK, &args)
}

fn write_set(db: &Database, name: &str, set: &Value) -> String {
    let path = db.dir.join(name);
    std::fs::write(&path, set.to_string()).unwrap();
    path.display().to_string()
}

/// openid-client's steps for a client.
async fn openid_client(s: &Setup, client_id: &str, auth: &[(&str, &str)]) -> Vec<Value> {
    let mut env = vec![
        ("KEYGATE_ISSUER", s.issuer.as_str()),
        ("KEYGATE_CLIENT_ID", client_id),
    ];
    env.extend_from_slice(auth);
    run_script("jwt_client.mjs", &env, &s.server).await
}

fn assert_flow(steps: &[Value], client_id: &str) {
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
            .clone()
    };
    let d = step("discovered");
    for list in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        for m in ["private_key_jwt", "client_secret_jwt"] {
            assert!(
                d[list].as_array().unwrap().iter().any(|v| v == m),
                "{list}: {d}"
            );
        }
    }
    let algs = d["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for alg in ["RS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"] {
        assert!(algs.iter().any(|v| v == alg), "{alg}: {d}");
    }
    assert!(!algs.iter().any(|v| v == "none"));
    let t = step("token");
    assert_eq!(t["token_type"], "bearer", "{t}");
    assert_eq!(t["claims"]["client_id"], client_id, "{t}");
    assert_eq!(t["claims"]["sub"], client_id, "{t}");
    let i = step("introspected");
    assert_eq!(
        (i["active"].clone(), i["client_id"].clone()),
        (json!(true), json!(client_id))
    );
    step("revoked");
    assert_eq!(step("after_revocation")["active"], false);
}

#[tokio::test]
async fn openid_client_authenticates_with_private_key_jwt_from_a_jwks_file_and_a_jwks_uri() {
    let (base, routes, _) = jwks_server().await;
    let s = setup(&[ALLOW_PRIVATE]).await;
    // ES256 in a file (openid-client sends the kid).
    let (_, es_pkcs8, es_set) = key(Alg::ES256, "es-1");
    let file = write_set(&s.db, "jwks.json", &es_set);
    let by_file = key_client(&s.db, &["--jwks-file", &file]);
    assert!(
        by_file.secret.is_none(),
        "a private_key_jwt client has no secret"
    );
    let es = STANDARD.encode(&es_pkcs8);
    let steps = openid_client(
        &s,
        &by_file.id,
        &[
            ("KEYGATE_AUTH", "private_key_jwt"),
            ("KEYGATE_PKCS8", &es),
            ("KEYGATE_ALG", "ES256"),
            ("KEYGATE_KID", "es-1"),
        ],
    )
    .await;
    assert_flow(&steps, &by_file.id);

    // RS256 at a jwks_uri, the assertion without a kid; an encryption key
    // beside it is left out.
    let (_, rs_pkcs8, rs_set) = key(Alg::RS256, "rs-1");
    let (other, _, _) = key(Alg::ES256, "enc");
    let mut enc = other.public_jwk();
    enc["use"] = json!("enc");
    enc.as_object_mut().unwrap().remove("alg");
    let mut published = rs_set.clone();
    published["keys"].as_array_mut().unwrap().push(enc);
    routes
        .lock()
        .unwrap()
        .insert("/rs.json".into(), (200, published.to_string()));
    let by_uri = key_client(&s.db, &["--jwks-uri", &format!("{base}/rs.json")]);
    let rs = STANDARD.encode(&rs_pkcs8);
    let steps = openid_client(
        &s,
        &by_uri.id,
        &[
            ("KEYGATE_AUTH", "private_key_jwt"),
            ("KEYGATE_PKCS8", &rs),
            ("KEYGATE_ALG", "RS256"),
        ],
    )
    .await;
    assert_flow(&steps, &by_uri.id);

    // EdDSA works as well (from the test, with the token endpoint as aud).
    let (ed, _, ed_set) = key(Alg::EdDSA, "ed-1");
    let file = write_set(&s.db, "ed.json", &ed_set);
    let ed_client = key_client(&s.db, &["--jwks-file", &file]);
    let token_url = format!("{}/token", s.issuer);
    let a = by_key(&ed, &good(&ed_client.id, &token_url));
    let (status, _, body) = with_assertion(&s.issuer, &a, &[("client_id", &ed_client.id)]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn openid_client_authenticates_with_client_secret_jwt_and_a_rotated_secret_is_sealed_again() {
    let s = setup(&[]).await;
    let c = s.db.client(
        "acme",
        CALLBACK,
        &[
            "--grant",
            "client_credentials",
            "--auth-method",
            "client_secret_jwt",
        ],
    );
    let secret = c.secret().to_string();
    assert_eq!(secret.len(), 86, "a 512-bit secret, long enough for HS512");
    let steps = openid_client(
        &s,
        &c.id,
        &[
            ("KEYGATE_AUTH", "client_secret_jwt"),
            ("KEYGATE_CLIENT_SECRET", &secret),
        ],
    )
    .await;
    assert_flow(&steps, &c.id);

    // Every HMAC algorithm; the secret itself is not accepted as such.
    for alg in HmacAlg::ALL {
        let (status, _, body) = with_assertion(
            &s.issuer,
            &by_secret(alg, &secret, &good(&c.id, &s.issuer)),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{alg:?}: {body}");
    }
    let basic = token(
        &s.issuer,
        Some((&c.id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    refused(
        &basic,
        "client authentication failed",
        "the secret by Basic",
    );
    // At rest: the hash, and the secret sealed (not in clear).
    let sealed =
        s.db.query_strings(&format!(
            "SELECT secret_sealed FROM clients WHERE id = '{}'",
            c.id
        ))
        .await;
    assert_eq!(sealed.len(), 1);
    assert!(
        !sealed[0].contains(&secret) && sealed[0].len() > 100,
        "{sealed:?}"
    );

    // Rotation: the old secret stops working, the new one works at once.
    let rotated = s.db.cli_json(
        &["client", "rotate-secret", "--tenant", "acme", &c.id],
        None,
    );
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_eq!(new_secret.len(), 86);
    // The CLI wrote the store directly: wait out this node's client cache.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let old = with_assertion(
        &s.issuer,
        &by_secret(HmacAlg::HS256, &secret, &good(&c.id, &s.issuer)),
        &[],
    )
    .await;
    refused(&old, "client authentication failed", "the old secret");
    let (status, _, body) = with_assertion(
        &s.issuer,
        &by_secret(HmacAlg::HS512, &new_secret, &good(&c.id, &s.issuer)),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// A refusal case: its name, the assertion, extra parameters, and what the
/// description must say.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test]
async fn refused_assertions_are_invalid_client_and_issue_nothing() {
    let s = setup(&[]).await;
    let (k1, _, set) = key(Alg::ES256, "k1");
    let file = write_set(&s.db, "jwks.json", &set);
    let c = key_client(&s.db, &["--jwks-file", &file]);
    let other = key_client(&s.db, &["--jwks-file", &file]);
    let secret_client =
        s.db.client("acme", CALLBACK, &["--grant", "client_credentials"]);
    let iss = s.issuer.clone();

    // Used once: the same assertion again is a replay.
    let once = by_key(&k1, &good(&c.id, &iss));
    let (status, _, body) = with_assertion(&iss, &once, &[]).await;
    assert_eq!(status, 200, "{body}");
    refused(
        &with_assertion(&iss, &once, &[]).await,
        "already used",
        "replayed",
    );
    // Every node sees it: a second node of the same deployment (same
    // database, same public URL, so the same issuer) refuses it too.
    let second = Server::start_behind(&s.db, &s.server.base, &[]).await;
    assert_eq!(second.issuer("acme"), iss);
    let answer = with_assertion(&second.endpoint("acme"), &once, &[]).await;
    refused(&answer, "already used", "replayed on another node");
    drop(second);

    let with = |k: &str, v: Value| {
        let mut c = good(&c.id, &iss);
        c[k] = v;
        c
    };
    let t = now();
    let (stranger, _, _) = key(Alg::ES256, "k1");
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&good(&c.id, &iss))
    );
    let hs256 = by_secret(HmacAlg::HS256, &"x".repeat(43), &good(&c.id, &iss));
    let (unknown_kid, _, _) = key(Alg::ES256, "k9");
    let cases: Vec<Case<'_>> = vec![
        (
            "wrong aud",
            by_key(&k1, &with("aud", json!("https://elsewhere.example"))),
            vec![],
            "aud",
        ),
        (
            "aud of another tenant",
            by_key(&k1, &with("aud", json!(s.server.issuer("default")))),
            vec![],
            "aud",
        ),
        (
            "aud of the revocation endpoint",
            by_key(&k1, &with("aud", json!(format!("{iss}/revoke")))),
            vec![],
            "aud",
        ),
        (
            "expired",
            by_key(&k1, &with("exp", json!(t - 120))),
            vec![],
            "expired",
        ),
        (
            "exp too far ahead",
            by_key(&k1, &with("exp", json!(t + 3600))),
            vec![],
            "300 seconds",
        ),
        (
            "not yet valid",
            by_key(&k1, &with("nbf", json!(t + 600))),
            vec![],
            "not valid yet",
        ),
        (
            "no jti",
            by_key(&k1, &{
                let mut v = good(&c.id, &iss);
                v.as_object_mut().unwrap().remove("jti");
                v
            }),
            vec![],
            "jti",
        ),
        (
            "no exp",
            by_key(&k1, &{
                let mut v = good(&c.id, &iss);
                v.as_object_mut().unwrap().remove("exp");
                v
            }),
            vec![],
            "exp",
        ),
        (
            "iss is not the client",
            by_key(&k1, &with("iss", json!(other.id))),
            vec![],
            "iss and sub",
        ),
        (
            "wrong key",
            by_key(&stranger, &good(&c.id, &iss)),
            vec![],
            "client authentication failed",
        ),
        (
            "unknown kid",
            by_key(&unknown_kid, &good(&c.id, &iss)),
            vec![],
            "client authentication failed",
        ),
        ("alg none", none, vec![], "alg none"),
        (
            "HS256 for a private_key_jwt client",
            hs256,
            vec![],
            "client authentication failed",
        ),
        (
            "another client's assertion",
            by_key(&k1, &good(&other.id, &iss)),
            vec![("client_id", c.id.as_str())],
            "client_id",
        ),
        (
            "a secret as well",
            by_key(&k1, &good(&c.id, &iss)),
            vec![("client_secret", "x")],
            "more than one method",
        ),
        (
            "an assertion for a secret client",
            by_key(&k1, &good(&secret_client.id, &iss)),
            vec![],
            "client authentication failed",
        ),
        ("not a JWT", "abc.def".into(), vec![], "not a signed JWT"),
    ];
    for (case, assertion, extra, says) in cases {
        refused(&with_assertion(&iss, &assertion, &extra).await, says, case);
    }
    // The assertion type must be the JWT bearer one.
    let a = by_key(&k1, &good(&c.id, &iss));
    let wrong_type = token(
        &iss,
        None,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &a),
        ],
    )
    .await;
    refused(&wrong_type, "client_assertion_type", "wrong type");
    // None of these was used up: the same assertion still works once.
    let (status, _, body) = with_assertion(&iss, &a, &[]).await;
    assert_eq!(status, 200, "{body}");
    // A private_key_jwt client has no secret to send.
    let basic = token(
        &iss,
        Some((&c.id, "anything")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    refused(
        &basic,
        "client authentication failed",
        "Basic for a private_key_jwt client",
    );
    // Revocation and introspection enforce the method too.
    let r = reqwest::Client::new()
        .post(format!("{iss}/introspect"))
        .basic_auth(&c.id, Some("anything"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn a_jwks_uri_that_fails_is_invalid_client_never_a_500() {
    let (base, routes, hits) = jwks_server().await;
    let s = setup(&[ALLOW_PRIVATE]).await;
    let (k, _, set) = key(Alg::ES256, "k1");
    let (private_key, _, _) = key(Alg::ES256, "p");
    let mut private_jwk = private_key.public_jwk();
    private_jwk["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    {
        let mut r = routes.lock().unwrap();
        r.insert("/down.json".into(), (500, "{}".into()));
        r.insert("/garbage.json".into(), (200, "<html>".into()));
        r.insert(
            "/private.json".into(),
            (200, json!({ "keys": [private_jwk] }).to_string()),
        );
        r.insert("/ok.json".into(), (200, set.to_string()));
    }
    let closed = format!("http://127.0.0.1:{}/jwks.json", free_port());
    for (case, uri) in [
        ("answers 500", format!("{base}/down.json")),
        ("not JSON", format!("{base}/garbage.json")),
        ("a private key", format!("{base}/private.json")),
        ("no such page", format!("{base}/missing.json")),
        ("nothing listening", closed),
    ] {
        let c = key_client(&s.db, &["--jwks-uri", &uri]);
        let answer = with_assertion(&s.issuer, &by_key(&k, &good(&c.id, &s.issuer)), &[]).await;
        refused(&answer, "jwks_uri", case);
    }
    // A failed fetch is remembered: asking again does not fetch again.
    let c = key_client(&s.db, &["--jwks-uri", &format!("{base}/down.json")]);
    let before = hits.load(Ordering::SeqCst);
    for _ in 0..3 {
        let answer = with_assertion(&s.issuer, &by_key(&k, &good(&c.id, &s.issuer)), &[]).await;
        refused(&answer, "jwks_uri", "down again");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "a failure is kept for 30 s"
    );

    // A kept set is fetched again for an unknown kid at most once a minute.
    let c = key_client(&s.db, &["--jwks-uri", &format!("{base}/ok.json")]);
    let (status, _, body) =
        with_assertion(&s.issuer, &by_key(&k, &good(&c.id, &s.issuer)), &[]).await;
    assert_eq!(status, 200, "{body}");
    let (rotated, _, _) = key(Alg::ES256, "k2");
    let before = hits.load(Ordering::SeqCst);
    for _ in 0..3 {
        let answer =
            with_assertion(&s.issuer, &by_key(&rotated, &good(&c.id, &s.issuer)), &[]).await;
        refused(
            &answer,
            "client authentication failed",
            "unknown kid at the jwks_uri",
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "no refetch within a minute"
    );

    // Without KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS the loopback set is never fetched.
    let strict = Server::start(&s.db).await;
    let before = hits.load(Ordering::SeqCst);
    let c = key_client(&s.db, &["--jwks-uri", &format!("{base}/ok.json")]);
    let issuer = strict.issuer("acme");
    let answer = with_assertion(&issuer, &by_key(&k, &good(&c.id, &issuer)), &[]).await;
    refused(&answer, "jwks_uri", "private address refused");
    assert_eq!(hits.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn failed_assertions_count_toward_the_client_failure_limit() {
    let s = setup(&[("KEYGATE_CLIENT_AUTH_MAX_FAILURES", "3")]).await;
    let (k, _, set) = key(Alg::EdDSA, "k1");
    let (stranger, _, _) = key(Alg::EdDSA, "k1");
    let file = write_set(&s.db, "jwks.json", &set);
    let c = key_client(&s.db, &["--jwks-file", &file]);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, headers, _) =
            with_assertion(&s.issuer, &by_key(&stranger, &good(&c.id, &s.issuer)), &[]).await;
        if status == 429 {
            assert!(headers.contains_key("retry-after"));
        }
        statuses.push(status);
    }
    // The third failure reaches the limit: it and every later one are 429.
    assert_eq!(statuses, [401, 401, 429, 429, 429, 429], "{statuses:?}");
    // The right key is never refused because of that count.
    let (status, _, body) =
        with_assertion(&s.issuer, &by_key(&k, &good(&c.id, &s.issuer)), &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn key_settings_are_checked_by_the_cli_the_admin_api_and_registration() {
    let s = setup(&[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let (k, _, set) = key(Alg::ES256, "k1");
    let mut private_jwk = k.public_jwk();
    private_jwk["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let private_file = write_set(
        &s.db,
        "private.json",
        &json!({ "keys": [private_jwk.clone()] }),
    );
    let good_file = write_set(&s.db, "jwks.json", &set);
    let not_json = write_set(&s.db, "bad.json", &json!("x"));
    let base = [
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "S",
        "--grant",
        "client_credentials",
    ];
    let count = "SELECT COUNT(*) FROM clients";
    let before = s.db.count(count).await;
    for (case, extra, says) in [
        (
            "a private key",
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-file",
                private_file.as_str(),
            ],
            "private",
        ),
        ("no keys", vec!["--auth-method", "private_key_jwt"], "jwks"),
        (
            "both",
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-file",
                good_file.as_str(),
                "--jwks-uri",
                "https://keys.example/jwks",
            ],
            "jwks",
        ),
        (
            "keys for a secret client",
            vec!["--jwks-file", good_file.as_str()],
            "private_key_jwt",
        ),
        (
            "an ftp jwks_uri",
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-uri",
                "ftp://keys.example/jwks",
            ],
            "--jwks-uri",
        ),
        (
            "http off loopback",
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-uri",
                "http://keys.example/jwks",
            ],
            "--jwks-uri",
        ),
        (
            "no such file",
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-file",
                "/nonexistent/jwks.json",
            ],
            "jwks",
        ),
        (
            "not a set",
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-file",
                not_json.as_str(),
            ],
            "JWK Set",
        ),
        (
            "public with client_secret_jwt",
            vec!["--public", "--auth-method", "client_secret_jwt"],
            "--auth-method",
        ),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        let out = s.db.cli(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
        assert!(stderr.contains(says), "{case}: {stderr}");
    }
    assert_eq!(s.db.count(count).await, before, "nothing written");

    // The admin API: the same rules, and the set answered back.
    let admin = Admin::new(&s.server, Some(ADMIN_TOKEN));
    let path = "/tenants/acme/clients";
    let bad = admin
        .post(path, json!({"name": "S", "grant_types": ["client_credentials"], "auth_method": "private_key_jwt", "jwks": {"keys": [private_jwk]}}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let made = admin
        .post(path, json!({"name": "S", "grant_types": ["client_credentials"], "auth_method": "private_key_jwt", "jwks": set}))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(made.body.get("client_secret").is_none(), "{}", made.body);
    assert_eq!(made.body["auth_method"], "private_key_jwt");
    assert_eq!(made.body["jwks"]["keys"][0]["kid"], "k1");
    let id = made.body["client_id"].as_str().unwrap().to_string();
    let (status, _, body) =
        with_assertion(&s.issuer, &by_key(&k, &good(&id, &s.issuer)), &[]).await;
    assert_eq!(status, 200, "{body}");
    // A private_key_jwt client has no secret to rotate.
    let rotate = admin.post(&format!("{path}/{id}/secret"), json!({})).await;
    assert_eq!(rotate.status, 409, "{}", rotate.body);
    // Switching to a jwks_uri forgets the set.
    let patched = admin
        .call(
            reqwest::Method::PATCH,
            &format!("{path}/{id}"),
            Some(json!({"jwks_uri": "https://keys.example/jwks.json"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["jwks_uri"], "https://keys.example/jwks.json");
    assert!(
        patched.body.get("jwks").is_none_or(Value::is_null),
        "{}",
        patched.body
    );
    // The CLI changes keys the same way, and refuses to rotate a secret
    // the client does not have.
    let shown = s.db.cli_json(
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &id,
            "--jwks-file",
            &good_file,
        ],
        None,
    );
    assert_eq!(shown["jwks"]["keys"][0]["kid"], "k1", "{shown}");
    assert!(shown.get("jwks_uri").is_none(), "{shown}");
    let out =
        s.db.cli(&["client", "rotate-secret", "--tenant", "acme", &id], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secret"));
    // A secret client cannot become client_secret_jwt (its secret is only hashed).
    let secret_client =
        s.db.client("acme", CALLBACK, &["--grant", "client_credentials"]);
    let switch = admin
        .call(
            reqwest::Method::PATCH,
            &format!("{path}/{}", secret_client.id),
            Some(json!({"auth_method": "client_secret_jwt"})),
        )
        .await;
    assert_eq!(switch.status, 400, "{}", switch.body);

    // Dynamic registration (RFC 7591) with jwks.
    s.db.cli_json(
        &["tenant", "update", "acme", "--dynamic-registration", "open"],
        None,
    );
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let reg = |body: Value| {
        let url = format!("{}/oauth/register", s.issuer);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = reg(json!({
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [k.public_jwk()]}, "token_endpoint_auth_signing_alg": "HS256"
    }))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata")),
        "{body}"
    );
    let (status, body) = reg(json!({
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [k.public_jwk()]}, "token_endpoint_auth_signing_alg": "ES256"
    }))
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(body["jwks"]["keys"][0]["kid"], "k1");
    let id = body["client_id"].as_str().unwrap().to_string();
    let (status, _, body) =
        with_assertion(&s.issuer, &by_key(&k, &good(&id, &s.issuer)), &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_private_key_jwt_client_signs_a_person_in_by_the_journeys_api_and_exchanges_the_code() {
    let s = setup(&[]).await;
    s.db.user("acme", EMAIL, PASSWORD);
    let (k, _, set) = key(Alg::ES256, "k1");
    let file = write_set(&s.db, "jwks.json", &set);
    let c = s.db.client(
        "acme",
        CALLBACK,
        &[
            "--journeys-api",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            &file,
        ],
    );
    let (verifier, challenge) = pkce();
    let sign_in = |assertion: Option<String>| {
        let mut body = json!({
            "client_id": c.id, "redirect_uri": CALLBACK, "scope": "openid", "state": "s1",
            "nonce": "n1", "code_challenge": challenge, "code_challenge_method": "S256",
            "email": EMAIL, "password": PASSWORD,
        });
        if let Some(a) = assertion {
            body["client_assertion_type"] = json!(ASSERTION_TYPE);
            body["client_assertion"] = json!(a);
        }
        let url = format!("{}/journeys/sign-in", s.issuer);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Without its assertion the client is not authenticated.
    let (status, body) = sign_in(None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = sign_in(Some(by_key(&k, &good(&c.id, &s.issuer)))).await;
    assert_eq!(status, 200, "{body}");
    let code = body["code"].as_str().unwrap().to_string();
    // The code exchange, authenticated by a fresh assertion.
    let a = by_key(&k, &good(&c.id, &s.issuer));
    let (status, _, tokens) = token(
        &s.issuer,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (id_token["aud"].clone(), id_token["nonce"].clone()),
        (json!(c.id), json!("n1"))
    );
}
