//! A fresh store per test, records to fill it with, and helpers that drive
//! the exchanges' `check`/`then` callbacks.

use keygate_core::claims_request::RequestedClaims;
use keygate_core::model::*;
use keygate_core::scope::Scope;
use keygate_store::{
    Approved, Check, CodeGrant, Exchange, NewRefresh, RefreshGrant, Store, StoreOptions,
};
use sqlx::{AnyConnection, Connection, Executor, Row};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Where each test's PostgreSQL database is created and dropped from (the
/// same server and database as the end-to-end tests use).
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn use_postgres() -> bool {
    std::env::var("KEYGATE_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The real clock, in the Unix seconds the store works in.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{n}_{}", std::process::id(), t % 1_000_000_000)
}

/// A store on a database of its own, dropped (PostgreSQL) or deleted
/// (SQLite's folder) when the test ends, passed or failed.
pub struct Db {
    pub store: Arc<dyn Store>,
    pub url: String,
    dir: PathBuf,
    pg_name: Option<String>,
}

impl Db {
    pub async fn open() -> Db {
        let dir = std::env::temp_dir().join(unique("keygate_conformance"));
        std::fs::create_dir_all(&dir).unwrap();
        let (url, pg_name) = if use_postgres() {
            let name = unique("kg_conf").to_lowercase();
            sqlx::any::install_default_drivers();
            let mut admin = AnyConnection::connect(PG_ADMIN_URL)
                .await
                .expect("PostgreSQL at 127.0.0.1:5432 (KEYGATE_TEST_DATABASE=postgres)");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            let _ = admin.close().await;
            (
                format!("postgres://postgres@127.0.0.1:5432/{name}"),
                Some(name),
            )
        } else {
            // A folder that does not exist yet: connect creates it.
            let path = dir.join("data/keygate.db");
            (format!("sqlite://{}", path.display()), None)
        };
        let store = keygate_store::connect(&url, &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Db {
            store,
            url,
            dir,
            pg_name,
        }
    }

    /// A second store on the same database (another node, or a restart).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        keygate_store::connect(&self.url, &StoreOptions::default())
            .await
            .unwrap()
    }

    /// Counts rows behind the store's back, for what the trait cannot show
    /// (rows left behind that no read returns any more).
    pub async fn count(&self, sql: &str) -> i64 {
        let url = match &self.pg_name {
            Some(_) => self.url.clone(),
            None => format!("{}?mode=ro", self.url),
        };
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .try_get(0)
            .unwrap();
        let _ = conn.close().await;
        n
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async, possibly while panicking: the
            // database is dropped from a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut admin) = AnyConnection::connect(PG_ADMIN_URL).await {
                        let _ = admin
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                        let _ = admin.close().await;
                    }
                })
            })
            .join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// Records.

pub fn tenant(id: &str, domains: &[&str]) -> Tenant {
    Tenant {
        id: id.into(),
        display_name: format!("Tenant {id}"),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        created_at: now(),
        token_rate_limit: None,
        registration: Registration::default(),
        verify_email: VerifyEmail::default(),
        mfa: MfaPolicy::default(),
        dynamic_registration: DynamicRegistration::Open,
        client_id_metadata_documents: MetadataDocuments::On,
    }
}

/// A confidential client (or a public one) of every grant type.
pub fn client(tenant_id: &str, id: &str, public: bool) -> Client {
    Client {
        id: id.into(),
        tenant_id: tenant_id.into(),
        name: format!("Client {id}"),
        public,
        secret_hash: (!public).then(|| format!("secret-of-{id}")),
        auth_method: if public {
            AuthMethod::None
        } else {
            AuthMethod::ClientSecretBasic
        },
        redirect_uris: vec![format!("https://{id}.example.com/cb")],
        post_logout_redirect_uris: vec![],
        grant_types: GrantType::ALL.to_vec(),
        refresh_policy: RefreshPolicy::Always,
        id_token_ttl: 3600,
        access_token_ttl: 3600,
        refresh_token_max_ttl: DEFAULT_REFRESH_TOKEN_MAX_TTL,
        journeys_api: false,
        web_origins: vec![],
        signing_alg: SigningAlg::ES256,
        pkce: PkcePolicy::S256,
        created_at: now(),
        token_rate_limit: None,
        require_mfa: false,
        third_party: false,
        registration_token_hash: None,
        first_used_at: None,
        jwks: None,
        jwks_uri: None,
        secret_sealed: None,
        require_dpop: false,
        require_par: false,
        exchange_audiences: Vec::new(),
        backchannel_logout_uri: None,
    }
}

pub fn user(tenant_id: &str, sub: &str) -> User {
    User {
        sub: sub.into(),
        tenant_id: tenant_id.into(),
        email: format!("{sub}@example.com"),
        email_verified: false,
        name: Some(format!("Person {sub}")),
        password_hash: format!("hash-of-{sub}"),
        created_at: now(),
        disabled: false,
        phone_number: Some("+15550001234".into()),
        phone_number_verified: false,
        address: Some(Address {
            locality: Some(format!("Town of {sub}")),
            country: Some("Utopia".into()),
            ..Address::default()
        }),
    }
}

pub fn session(tenant_id: &str, sub: &str, expires_at: i64) -> Session {
    Session {
        tenant_id: tenant_id.into(),
        user_sub: sub.into(),
        auth_time: now(),
        expires_at,
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Conformance/1.0".into()),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        sid: unique_sid(),
    }
}

/// A `sid` no other session of the run has.
pub fn unique_sid() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("sid-{}-{}-{n}", std::process::id(), now())
}

/// A grant made at `created_at` whose code lives `code_ttl` seconds.
pub fn grant(id: &str, c: &Client, sub: &str, created_at: i64, code_ttl: i64) -> Grant {
    Grant {
        id: id.into(),
        tenant_id: c.tenant_id.clone(),
        client_id: c.id.clone(),
        user_sub: sub.into(),
        scope: "openid email".into(),
        auth_time: created_at,
        nonce: Some(format!("nonce-{id}")),
        code_challenge: None,
        code_challenge_method: None,
        redirect_uri: c.redirect_uris[0].clone(),
        redirect_uri_sent: false,
        created_at,
        code_expires_at: created_at + code_ttl,
        code_consumed_at: None,
        revoked_at: None,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        acr: Some("mfa".into()),
        resource: Some("https://api.example/".into()),
        claims: RequestedClaims {
            id_token: vec!["email".into()],
            userinfo: vec!["phone_number".into(), "address".into()],
        },
        session: None,
        dpop_jkt: None,
    }
}

/// The code hash this suite gives a grant.
pub fn code_of(grant_id: &str) -> String {
    format!("code-{grant_id}")
}

/// Stores a grant and its code ([`code_of`]) with a cap no test reaches.
pub async fn make_grant(store: &dyn Store, g: &Grant) {
    assert!(store.create_grant(g, &code_of(&g.id), 1000).await.unwrap());
}

// Exchanges.

/// The refresh token to store with an approved exchange: its hash and expiry.
pub type Successor = Option<(String, i64)>;

pub fn successor(hash: &str, expires_at: i64) -> Successor {
    Some((hash.to_string(), expires_at))
}

fn approved(grant: &Grant, successor: Successor) -> Approved {
    Approved {
        scope: Scope::parse(&grant.scope).unwrap(),
        successor: successor.map(|(hash, expires_at)| NewRefresh {
            hash,
            token: RefreshToken {
                grant_id: grant.id.clone(),
                tenant_id: grant.tenant_id.clone(),
                client_id: grant.client_id.clone(),
                created_at: 0,
                expires_at,
                consumed_at: None,
            },
        }),
        bind_dpop: None,
    }
}

/// A check that approves whatever it is shown: what is left to refuse is
/// the store's own conditional consume (unused, unexpired, grant live).
pub fn approve_code(successor: Successor) -> Check<CodeGrant> {
    Box::new(move |(grant, _): &CodeGrant| Ok(approved(grant, successor)))
}

pub fn approve_refresh(successor: Successor) -> Check<RefreshGrant> {
    Box::new(move |(_, grant, _): &RefreshGrant| Ok(approved(grant, successor)))
}

/// [`approve_code`], binding the grant to the DPoP key `jkt` (RFC 9449 5).
pub fn approve_code_binding(successor: Successor, jkt: &'static str) -> Check<CodeGrant> {
    Box::new(move |(grant, _): &CodeGrant| Ok(binding(approved(grant, successor), grant, jkt)))
}

/// [`approve_refresh`], binding the grant to the DPoP key `jkt`.
pub fn approve_refresh_binding(successor: Successor, jkt: &'static str) -> Check<RefreshGrant> {
    Box::new(move |(_, grant, _): &RefreshGrant| {
        Ok(binding(approved(grant, successor), grant, jkt))
    })
}

fn binding(mut a: Approved, grant: &Grant, jkt: &str) -> Approved {
    a.bind_dpop = Some(keygate_core::grant::DpopBinding {
        grant_id: grant.id.clone(),
        jkt: jkt.to_string(),
    });
    a
}

/// The token endpoint's own decision (RFC 6749 4.1.3) for a client that
/// sends no redirect_uri and no PKCE verifier.
pub fn check_code(client: &Client, now: i64, successor: Successor) -> Check<CodeGrant> {
    let client = client.clone();
    Box::new(move |(grant, _): &CodeGrant| {
        keygate_core::grant::check_code(grant, &client, None, None, now)?;
        Ok(approved(grant, successor))
    })
}

/// The token endpoint's own decision for a refresh (RFC 6749 6, RFC 9700
/// 4.14.2: a reused refresh token revokes its grant).
pub fn check_refresh(client: &Client, now: i64, successor: Successor) -> Check<RefreshGrant> {
    let client = client.clone();
    Box::new(move |(token, grant, _): &RefreshGrant| {
        keygate_core::grant::check_refresh(token, grant, &client, None, None, None, now)?;
        Ok(approved(grant, successor))
    })
}

pub async fn exchange_code(
    store: &dyn Store,
    code_hash: &str,
    now: i64,
    check: Check<CodeGrant>,
) -> Exchange<CodeGrant> {
    let (tx, rx) = oneshot::channel();
    store
        .exchange_code(
            code_hash,
            now,
            check,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .await;
    rx.await
        .expect("`then` is called")
        .expect("the exchange does not fail")
}

pub async fn exchange_refresh(
    store: &dyn Store,
    hash: &str,
    now: i64,
    check: Check<RefreshGrant>,
) -> Exchange<RefreshGrant> {
    let (tx, rx) = oneshot::channel();
    store
        .exchange_refresh(
            hash,
            now,
            check,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .await;
    rx.await
        .expect("`then` is called")
        .expect("the exchange does not fail")
}

/// The outcome's kind, for assertions that do not care what was found.
pub fn kind<T>(e: &Exchange<T>) -> &'static str {
    match e {
        Exchange::NotFound => "NotFound",
        Exchange::Refused(_) => "Refused",
        Exchange::Lost(_) => "Lost",
        Exchange::Won(..) => "Won",
    }
}

/// A tenant with one confidential client and one person, the setting of
/// most tests.
pub async fn setting(store: &dyn Store) -> (Client, User) {
    store.create_tenant(&tenant("t1", &[])).await.unwrap();
    let c = client("t1", "c1", false);
    store.create_client(&c).await.unwrap();
    let u = user("t1", "u1");
    store.create_user(&u).await.unwrap();
    (c, u)
}
