//! Mail over TLS with SMTP AUTH, end to end (`KEYGATE_SMTP_URL` with
//! `?tls=starttls` and `smtps://`): a real aiosmtpd server (`mail.rs`) with
//! a throwaway self-signed certificate for `localhost`, which keygate trusts
//! only through `SSL_CERT_FILE` (the system trust store, as
//! rustls-native-certs reads it). A wrong password and an untrusted
//! certificate deliver nothing and leave the message queued.

use crate::harness::*;
use crate::journeys_helpers::{post_json, Via};
use crate::mail::{SmtpServer, TestCert, MAIL_FROM};
use serde_json::json;
use std::time::{Duration, Instant};

const SMTP_USER: &str = "keygate";
const SMTP_PASSWORD: &str = "s3cret-pass";

#[derive(Clone, Copy, Debug)]
enum Mode {
    StartTls,
    Implicit,
}

struct Setup {
    db: Database,
    server: Server,
    smtp: SmtpServer,
    issuer: String,
    _cert: TestCert,
}

/// An SMTP server in `mode` with AUTH for SMTP_USER:SMTP_PASSWORD and a
/// fresh certificate; keygate sends through it as `user:password`, trusting
/// the certificate only if `trust`.
async fn setup(mode: Mode, password: &str, trust: bool) -> Setup {
    let cert = TestCert::localhost();
    let tls = match mode {
        Mode::StartTls => "--starttls",
        Mode::Implicit => "--implicit-tls",
    };
    let auth = format!("{SMTP_USER}:{SMTP_PASSWORD}");
    let smtp =
        SmtpServer::started_with(&[tls, &cert.cert_path(), &cert.key_path(), "--auth", &auth])
            .await;
    let url = match mode {
        Mode::StartTls => format!(
            "smtp://{SMTP_USER}:{password}@localhost:{}?tls=starttls",
            smtp.port
        ),
        Mode::Implicit => format!("smtps://{SMTP_USER}:{password}@localhost:{}", smtp.port),
    };
    let db = Database::new();
    db.user("default", EMAIL, PASSWORD);
    let mut env = vec![
        ("KEYGATE_SMTP_URL".to_string(), url),
        ("KEYGATE_MAIL_FROM".to_string(), MAIL_FROM.to_string()),
    ];
    if trust {
        env.push(("SSL_CERT_FILE".to_string(), cert.cert_path()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&db, &env).await;
    let issuer = server.issuer("default");
    Setup {
        db,
        server,
        smtp,
        issuer,
        _cert: cert,
    }
}

/// Asks for a password reset of EMAIL through the Journeys API.
async fn ask_for_reset(s: &Setup) {
    let journeys = s.db.client(
        "default",
        "http://127.0.0.1:9/callback",
        &["--public", "--journeys-api"],
    );
    let r = post_json(
        &format!("{}/journeys/password-reset", s.issuer),
        &json!({"client_id": journeys.id, "email": EMAIL}),
        Via::default(),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
}

async fn delivers_with_auth(mode: Mode) {
    let s = setup(mode, SMTP_PASSWORD, true).await;
    ask_for_reset(&s).await;
    let got = s.smtp.wait_for(1, 30).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, vec![EMAIL.to_string()]);
    assert_eq!(got[0].auth_login.as_deref(), Some(SMTP_USER), "{mode:?}");
    assert!(got[0]
        .link()
        .starts_with(&format!("{}/reset-password?token=", s.issuer)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while s
        .db
        .count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
        .await
        < 1
    {
        assert!(Instant::now() < deadline, "{}", s.server.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nothing arrives: the message is tried, fails (the log saying why, with
/// `because`) and stays queued.
async fn refused_and_kept(s: &Setup, because: &str) {
    ask_for_reset(s).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while s
        .db
        .count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts >= 1")
        .await
        < 1
    {
        assert!(Instant::now() < deadline, "{}", s.server.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(s.smtp.messages().is_empty(), "{:?}", s.smtp.messages());
    assert_eq!(
        s.db.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
            .await,
        0
    );
    let log = s.server.log_text();
    assert!(log.contains("will retry"), "{log}");
    assert!(log.to_lowercase().contains(because), "{because}: {log}");
}

#[tokio::test]
async fn mail_over_starttls_with_smtp_auth_is_delivered_and_authenticated() {
    delivers_with_auth(Mode::StartTls).await;
}

#[tokio::test]
async fn mail_over_implicit_tls_with_smtp_auth_is_delivered_and_authenticated() {
    delivers_with_auth(Mode::Implicit).await;
}

#[tokio::test]
async fn mail_with_a_wrong_smtp_password_is_not_delivered_and_stays_queued() {
    for mode in [Mode::StartTls, Mode::Implicit] {
        let s = setup(mode, "not-the-password", true).await;
        refused_and_kept(&s, "535").await;
    }
}

/// Without SSL_CERT_FILE keygate trusts only the system store, which cannot
/// hold a certificate made a moment ago: rustls refuses it ("invalid peer
/// certificate": UnknownIssuer, or BadSignature where the store holds
/// another `CN=localhost` certificate, such as Debian's snakeoil).
#[tokio::test]
async fn mail_to_a_server_whose_certificate_is_not_trusted_is_not_delivered() {
    for mode in [Mode::StartTls, Mode::Implicit] {
        let s = setup(mode, SMTP_PASSWORD, false).await;
        refused_and_kept(&s, "invalid peer certificate").await;
    }
}
