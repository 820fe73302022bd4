//! The SMTP fixture: a real SMTP server (`tests/smtp/server.py`, aiosmtpd)
//! on a port of its own, writing each message it accepts to a folder as
//! JSON (its parts decoded), and the settings that point keygate at it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MAIL_FROM: &str = "Keygate Test <keygate@example.com>";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp/server.py")
}

/// A throwaway self-signed certificate for `localhost` (and its key), made
/// by the `openssl` CLI in a folder of its own, removed on drop.
pub struct TestCert {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCert {
    pub fn localhost() -> TestCert {
        let dir = std::env::temp_dir().join(format!(
            "keygate_cert_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        // CA:FALSE: webpki refuses a CA certificate as a server's own.
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl CLI runs");
        assert!(
            out.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestCert { dir, cert, key }
    }

    pub fn cert_path(&self) -> String {
        self.cert.to_string_lossy().into_owned()
    }

    pub fn key_path(&self) -> String {
        self.key.to_string_lossy().into_owned()
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// The user the client authenticated as (SMTP AUTH), if it did.
    #[serde(default)]
    pub auth_login: Option<String>,
}

impl Received {
    /// The first URL in the text part.
    pub fn link(&self) -> String {
        let text = self.text.as_deref().expect("a text part");
        let start = text
            .find("http://")
            .or_else(|| text.find("https://"))
            .unwrap_or_else(|| panic!("no link in: {text}"));
        text[start..].split_whitespace().next().unwrap().to_string()
    }
}

/// A running (or, until [`SmtpServer::start`], reserved) SMTP server.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    /// Options after PORT DIR (`--starttls CERT KEY`, `--implicit-tls CERT
    /// KEY`, `--auth USER:PASS`); none for plain SMTP.
    pub options: Vec<String>,
}

impl SmtpServer {
    /// A port and folder for a server that is not started yet (mail sent
    /// meanwhile finds nobody listening).
    pub fn reserved() -> SmtpServer {
        let port = crate::harness::free_port();
        let dir = std::env::temp_dir().join(format!(
            "keygate_smtp_{}_{}_{}",
            std::process::id(),
            port,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000
        ));
        std::fs::create_dir_all(&dir).unwrap();
        SmtpServer {
            child: None,
            port,
            dir,
            options: Vec::new(),
        }
    }

    /// A running server started with `options` (see `tests/smtp/server.py`).
    pub async fn started_with(options: &[&str]) -> SmtpServer {
        let mut s = SmtpServer::reserved();
        s.options = options.iter().map(|o| o.to_string()).collect();
        s.start().await;
        s
    }

    /// A running server.
    pub async fn started() -> SmtpServer {
        let mut s = SmtpServer::reserved();
        s.start().await;
        s
    }

    /// Starts the server on its port and waits until it accepts connections.
    pub async fn start(&mut self) {
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let child = Command::new("python3")
            .arg(script())
            .arg(self.port.to_string())
            .arg(&self.dir)
            .args(&self.options)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("python3 runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the SMTP fixture exited with {status} (is aiosmtpd installed? pip install aiosmtpd): {}",
                    std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "the SMTP fixture did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The settings that make keygate send through this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("KEYGATE_SMTP_URL".into(), self.url()),
            ("KEYGATE_MAIL_FROM".into(), MAIL_FROM.into()),
        ]
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<Received> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect();
        names.sort_by_key(|n| {
            let (t, rest) = n.split_once('-').unwrap();
            (
                t.parse::<u128>().unwrap(),
                rest.trim_end_matches(".json").parse::<u64>().unwrap(),
            )
        });
        names
            .iter()
            .map(|n| serde_json::from_slice(&std::fs::read(self.dir.join(n)).unwrap()).unwrap())
            .collect()
    }

    /// Waits (at most `secs` seconds) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages arrived within {secs} s",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
