//! The test harness: a real `keygate serve` process on a fresh database
//! (a SQLite file in a temporary folder, or a new PostgreSQL database when
//! `KEYGATE_TEST_DATABASE=postgres`), the CLI against the same database,
//! and an HTTP client that behaves like a browser (cookies, no automatic
//! redirects, forms with hidden inputs).

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keygate");
pub const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn use_postgres() -> bool {
    std::env::var("KEYGATE_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        n,
        t % 1_000_000_000
    )
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database of its own for one test; dropped at the end.
pub struct Database {
    pub url: String,
    pub dir: PathBuf,
    pg_name: Option<String>,
}

impl Database {
    pub fn new() -> Database {
        let dir = std::env::temp_dir().join(unique("keygate_test"));
        std::fs::create_dir_all(&dir).unwrap();
        if use_postgres() {
            let name = unique("kg").to_lowercase();
            psql(&format!("CREATE DATABASE {name}"));
            Database {
                url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                dir,
                pg_name: Some(name),
            }
        } else {
            let url = format!("sqlite://{}", dir.join("data/keygate.db").display());
            Database {
                url,
                dir,
                pg_name: None,
            }
        }
    }

    /// Runs the CLI with this database; returns its output.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("KEYGATE_DATABASE_URL", &self.url)
            .env("KEYGATE_MASTER_KEY", MASTER_KEY)
            .env_remove("KEYGATE_LISTEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("keygate runs");
        {
            let mut pipe = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                pipe.write_all(s.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI and parses its JSON, failing the test on a non-zero exit.
    pub fn cli_json(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "keygate {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "keygate {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Counts rows with a query on the database directly (to prove that a
    /// refused command or request wrote nothing).
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap();
        n
    }

    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    pub fn tenant(&self, id: &str, domains: &[&str]) {
        let mut args = vec!["tenant", "create", id];
        for d in domains {
            args.extend(["--domain", d]);
        }
        self.cli_json(&args, None);
    }

    /// Creates a client; extra arguments as for `keygate client create`.
    pub fn client(&self, tenant: &str, redirect_uri: &str, extra: &[&str]) -> TestClient {
        let mut args = vec![
            "client",
            "create",
            "--tenant",
            tenant,
            "--name",
            "Test app",
            "--redirect-uri",
            redirect_uri,
        ];
        args.extend(extra);
        let v = self.cli_json(&args, None);
        TestClient {
            id: v["client_id"].as_str().unwrap().to_string(),
            secret: v["client_secret"].as_str().map(str::to_string),
            redirect_uri: redirect_uri.to_string(),
        }
    }

    pub fn user(&self, tenant: &str, email: &str, password: &str) -> String {
        let v = self.cli_json(
            &[
                "user",
                "create",
                "--tenant",
                tenant,
                "--email",
                email,
                "--name",
                "Ann Example",
                "--password-stdin",
            ],
            Some(&format!("{password}\n")),
        );
        v["sub"].as_str().unwrap().to_string()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let _ = Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "test",
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl TestClient {
    pub fn secret(&self) -> &str {
        self.secret.as_deref().expect("a confidential client")
    }
}

/// A port that nothing listens on now, for a server this test starts.
///
/// Asking the kernel for port 0 and handing the number on is racy: the
/// kernel gives the same ephemeral ports to outgoing connections and to
/// other tests' probes, so another test's server could take the port first,
/// and this test's requests would then reach that server (seen once as a
/// flaky "client_id is not known"). So the port is drawn at random from
/// below the ephemeral range (32768 and up on Linux), where the kernel
/// hands out nothing, and [`Server`] confirms from its own log that its
/// process bound it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(COUNTER.fetch_add(1, Ordering::SeqCst));
        let port = 10_000 + (h.finish() % 22_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// How a start of `keygate serve` ended.
enum Started {
    Ready,
    /// Another process holds the port.
    PortTaken,
}

/// A running `keygate serve`.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub db_url: String,
    pub log: PathBuf,
    pub extra_env: Vec<(String, String)>,
    /// `KEYGATE_PUBLIC_URL` when it is not this node's own address (several
    /// nodes behind one load balancer share one public URL and so one issuer).
    pub public_url: Option<String>,
    /// The host name of `base` (`127.0.0.1`, or `localhost` where a test
    /// needs a host name, as WebAuthn does).
    pub host: &'static str,
}

impl Server {
    pub async fn start(db: &Database) -> Server {
        Self::start_with(db, &[]).await
    }

    pub async fn start_with(db: &Database, env: &[(&str, &str)]) -> Server {
        Self::start_node(db, None, env, "127.0.0.1").await
    }

    /// A server whose public URL (and so whose issuers) is
    /// `http://localhost:PORT`: browsers allow WebAuthn on a host name,
    /// never on an IP address. It still listens on 127.0.0.1 only.
    pub async fn start_on_localhost(db: &Database) -> Server {
        Self::start_node(db, None, &[], "localhost").await
    }

    /// Starts one more node of a deployment whose public URL (and so whose
    /// issuers) is `public_url`, listening on its own port; requests reach it
    /// at `base` as a load balancer would forward them.
    pub async fn start_behind(db: &Database, public_url: &str, env: &[(&str, &str)]) -> Server {
        Self::start_node(
            db,
            Some(public_url.trim_end_matches('/').to_string()),
            env,
            "127.0.0.1",
        )
        .await
    }

    async fn start_node(
        db: &Database,
        public_url: Option<String>,
        env: &[(&str, &str)],
        host: &'static str,
    ) -> Server {
        let mut s = Server {
            child: None,
            port: 0,
            base: String::new(),
            db_url: db.url.clone(),
            log: PathBuf::new(),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            public_url,
            host,
        };
        for _ in 0..10 {
            s.port = free_port();
            s.base = format!("http://{host}:{}", s.port);
            s.log = db.dir.join(format!("server-{}.log", s.port));
            if let Started::Ready = s.spawn_once().await {
                return s;
            }
        }
        panic!("keygate serve found no free port in 10 tries");
    }

    /// Starts the server on its port; a restart keeps the port (issuers and
    /// redirect URIs name it), waiting for it should another process hold it.
    async fn spawn(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Started::PortTaken = self.spawn_once().await {
            assert!(
                Instant::now() < deadline,
                "port {} stayed taken: {}",
                self.port,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts the process once and waits until it is ready: its own log says
    /// it listens on the port, and the port answers.
    async fn spawn_once(&mut self) -> Started {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let log_start = log.metadata().unwrap().len() as usize;
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env("KEYGATE_LISTEN", format!("127.0.0.1:{}", self.port))
            .env(
                "KEYGATE_PUBLIC_URL",
                self.public_url.as_deref().unwrap_or(&self.base),
            )
            .env("KEYGATE_DATABASE_URL", &self.db_url)
            .env("KEYGATE_MASTER_KEY", MASTER_KEY)
            .env("RUST_LOG", "info,sqlx=warn")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("keygate serve starts"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::new();
        // Probed through a door whose answer does not depend on the Host
        // this probe sends: the root for a node that is its own public URL,
        // else the path door of `default`.
        let probe = match &self.public_url {
            None => format!("{}/.well-known/openid-configuration", self.base),
            Some(_) => format!("{}/default/as/.well-known/openid-configuration", self.base),
        };
        loop {
            let this_start = self.log_text().get(log_start..).unwrap_or("").to_string();
            if this_start.contains("keygate is serving") {
                if let Ok(r) = http.get(&probe).send().await {
                    if r.status().is_success() {
                        return Started::Ready;
                    }
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                if this_start.contains("Address already in use") {
                    return Started::PortTaken;
                }
                panic!("keygate serve exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "keygate serve did not become ready: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The issuer of a tenant by path.
    pub fn issuer(&self, tenant: &str) -> String {
        format!(
            "{}/{tenant}/as",
            self.public_url.as_deref().unwrap_or(&self.base)
        )
    }

    /// Where this node serves a tenant's path door (differs from
    /// [`Server::issuer`] only for a node started with [`Server::start_behind`]).
    pub fn endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/as", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One database, one server, a tenant `acme` with a user.
pub struct World {
    pub db: Database,
    pub server: Server,
    pub issuer: String,
}

pub const EMAIL: &str = "ann@example.com";
pub const PASSWORD: &str = "correct horse battery";

impl World {
    pub async fn new() -> World {
        let db = Database::new();
        db.tenant("acme", &[]);
        db.user("acme", EMAIL, PASSWORD);
        let server = Server::start(&db).await;
        let issuer = server.issuer("acme");
        World { db, server, issuer }
    }

    /// [`World::new`] with the server at `http://localhost:PORT`
    /// ([`Server::start_on_localhost`]).
    pub async fn on_localhost() -> World {
        let db = Database::new();
        db.tenant("acme", &[]);
        db.user("acme", EMAIL, PASSWORD);
        let server = Server::start_on_localhost(&db).await;
        let issuer = server.issuer("acme");
        World { db, server, issuer }
    }

    pub fn public_client(&self, extra: &[&str]) -> TestClient {
        let mut args = vec!["--public"];
        args.extend(extra);
        self.db.client("acme", "http://127.0.0.1:9/callback", &args)
    }

    pub fn confidential_client(&self, extra: &[&str]) -> TestClient {
        self.db.client("acme", "http://127.0.0.1:9/callback", extra)
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub struct Browser {
    pub http: reqwest::Client,
}

pub struct Page {
    pub status: u16,
    pub url: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The query parameters of the Location header.
    pub fn redirect_params(&self) -> std::collections::HashMap<String, String> {
        let loc = self
            .location()
            .unwrap_or_else(|| panic!("no redirect ({}): {}", self.status, self.body));
        url::Url::parse(&loc)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The (first) form: its absolute action and every named input's value.
    pub fn form(&self) -> (String, Vec<(String, String)>) {
        let start = self
            .body
            .find("<form")
            .unwrap_or_else(|| panic!("no form in page: {}", self.body));
        let tag_end = self.body[start..].find('>').unwrap() + start;
        let action = attr(&self.body[start..tag_end], "action").unwrap_or_default();
        let action = url::Url::parse(&self.url)
            .unwrap()
            .join(&action)
            .unwrap()
            .to_string();
        let end = self.body[start..].find("</form>").unwrap() + start;
        let mut inputs = Vec::new();
        let mut rest = &self.body[start..end];
        while let Some(i) = rest.find("<input") {
            let close = rest[i..].find('>').unwrap() + i;
            let tag = &rest[i..close];
            if let Some(name) = attr(tag, "name") {
                inputs.push((name, attr(tag, "value").unwrap_or_default()));
            }
            rest = &rest[close..];
        }
        (action, inputs)
    }
}

/// Undoes the HTML escaping of a page's text.
pub fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')? + i;
    Some(unescape(&tag[i..j]))
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn page(r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let url = r.url().to_string();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        Page {
            status,
            url,
            headers,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(url).send().await.unwrap()).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Page {
        Self::page(self.http.post(url).form(fields).send().await.unwrap()).await
    }

    /// Fills the page's form (hidden inputs kept) and submits it.
    pub async fn submit(&self, page: &Page, values: &[(&str, &str)]) -> Page {
        let (action, mut fields) = page.form();
        for (k, v) in values {
            match fields.iter_mut().find(|(n, _)| n == k) {
                Some(f) => f.1 = v.to_string(),
                None => fields.push((k.to_string(), v.to_string())),
            }
        }
        self.post_form(&action, &fields).await
    }
}

/// A PKCE pair (RFC 7636): verifier and S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = keygate_crypto::secrets::random_token(32);
    let challenge = keygate_core::pkce::s256_challenge(&verifier);
    (verifier, challenge)
}

/// An authorization URL with the usual parameters plus `extra`.
pub fn authorize_url(
    issuer: &str,
    client: &TestClient,
    challenge: Option<&str>,
    extra: &[(&str, &str)],
) -> String {
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("scope", "openid profile email offline_access")
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456");
        if let Some(c) = challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// Signs in through the hosted page and returns the authorization code.
pub async fn obtain_code(
    browser: &Browser,
    issuer: &str,
    client: &TestClient,
    challenge: Option<&str>,
    extra: &[(&str, &str)],
) -> String {
    let page = browser
        .get(&authorize_url(issuer, client, challenge, extra))
        .await;
    let done = if page.status == 200 {
        browser
            .submit(&page, &[("email", EMAIL), ("password", PASSWORD)])
            .await
    } else {
        page
    };
    assert_eq!(done.status, 303, "sign-in did not redirect: {}", done.body);
    let params = done.redirect_params();
    assert_eq!(params.get("state").map(String::as_str), Some("st-123"));
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {params:?}"))
        .clone()
}

/// POSTs a form to the token endpoint (optionally with Basic credentials).
pub async fn token(
    issuer: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            keygate_core::basic::encode_basic(id, secret),
        );
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

/// Decodes a JWT's claims without verifying (verification is tested separately).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

pub fn header(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap()
}

/// Runs the futures concurrently and collects their outputs in order.
pub async fn join_all<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
