//! `keygate serve`: configuration (flags > environment > TOML file >
//! defaults), the demo data of `--dev`, and the server with graceful shutdown.

use crate::cli::ServeArgs;
use crate::commands;
use crate::Failure;
use keygate_core::model::*;
use keygate_server::dev::DevCallback;
use keygate_store::Store;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    database_url: Option<String>,
    code_ttl: Option<i64>,
    db_pool_size: Option<u32>,
    db_timeout: Option<u64>,
    sweep_interval: Option<u64>,
    admin_token: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
}

/// Logs to stderr through a queue and a thread of its own
/// (tracing-appender), so no request waits on the log's reader: when stderr
/// stopped draining (a stuck collector, a full pipe) every async worker
/// blocked in its next write and the server stopped answering. When the
/// queue is full, lines are dropped rather than requests held. It holds
/// 16,384 lines (a second and more of requests at full speed on 2 cores):
/// the crate's default of 128,000 preallocates 4 MB, which took idle RSS
/// from 13 to 18 MB. The returned guard flushes the queue when dropped, at
/// the end of `run`.
fn init_tracing() -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("KEYGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .lossy(true)
        .finish(std::io::stderr());
    // Colour only for a person at a terminal, never in files or collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    let _log = init_tracing();
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
            toml::from_str(&text).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?
        }
        None => FileConfig::default(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let public_url = commands::public_url(args.public_url.or(file.public_url).as_deref())?;
    let database_url = args
        .db
        .database_url
        .or(file.database_url)
        .unwrap_or_else(|| commands::DEFAULT_DATABASE_URL.into());
    let code_ttl = args.code_ttl.or(file.code_ttl).unwrap_or(DEFAULT_CODE_TTL);
    if !(1..=MAX_CODE_TTL).contains(&code_ttl) {
        return Err(Failure::Usage(format!(
            "the code lifetime must be 1 to {MAX_CODE_TTL} seconds"
        )));
    }
    let (master, master_hex) = crate::master_key::load(&database_url)?;
    let store = commands::open_store_with(
        &database_url,
        args.db_pool_size.or(file.db_pool_size),
        args.db_timeout.or(file.db_timeout),
        Some(keygate_server::signing::write_linger()),
    )
    .await?;
    // Every store call is timed for the metrics.
    let store: std::sync::Arc<dyn keygate_store::Store> =
        std::sync::Arc::new(keygate_store::Metered(store));

    let mut config = keygate_server::ServerConfig::new(&public_url);
    config.code_ttl = code_ttl;
    config.trust_forwarded_for = args.trust_x_forwarded_for;
    config.fetch_allow_private = args.fetch_allow_private_networks;
    if let Some(s) = args.webhook_retry_base {
        if !(1..=3600).contains(&s) {
            return Err(Failure::Usage(
                "KEYGATE_WEBHOOK_RETRY_BASE must be 1 to 3600 seconds".into(),
            ));
        }
        config.webhook_retry_base = s;
    }
    if let Some(s) = args.webhook_poll_interval {
        if !(1..=3600).contains(&s) {
            return Err(Failure::Usage(
                "KEYGATE_WEBHOOK_POLL_INTERVAL must be 1 to 3600 seconds".into(),
            ));
        }
        config.webhook_poll = std::time::Duration::from_secs(s);
    }
    // The admin API's token is kept only as its hash; an empty value is none.
    let admin_token = args
        .admin_token
        .or(file.admin_token)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if admin_token.as_ref().is_some_and(|t| t.len() < 32) {
        tracing::warn!("KEYGATE_ADMIN_TOKEN is shorter than 32 characters; use a long random value (openssl rand -hex 32)");
    }
    config.admin_token_hash = admin_token.map(|t| keygate_crypto::secrets::sha256_hex(&t));
    for (value, policy) in [
        (args.signin_max_failures, &mut config.signin_account_limit),
        (args.signin_ip_max_failures, &mut config.signin_ip_limit),
        (args.client_auth_max_failures, &mut config.client_auth_limit),
        (args.register_ip_max, &mut config.register_ip_limit),
        (args.reset_max, &mut config.reset_account_limit),
        (args.reset_ip_max, &mut config.reset_ip_limit),
        (
            args.verify_resend_max,
            &mut config.verify_resend_account_limit,
        ),
        (
            args.verify_resend_ip_max,
            &mut config.verify_resend_ip_limit,
        ),
    ] {
        if let Some(n) = value {
            if n < 1 {
                return Err(Failure::Usage("failure limits must be at least 1".into()));
            }
            policy.max_failures = n;
        }
    }
    if let Some(r) = args.token_rate_limit {
        config.token_rate_limit = r.0;
    }
    if let Some(n) = args.max_outstanding_codes {
        if n < 1 {
            return Err(Failure::Usage(
                "KEYGATE_MAX_OUTSTANDING_CODES must be at least 1".into(),
            ));
        }
        config.max_outstanding_codes = n;
    }
    if let Some(ttl) = args.password_reset_ttl {
        if !(1..=keygate_server::config::MAX_RESET_TTL).contains(&ttl) {
            return Err(Failure::Usage(format!(
                "KEYGATE_PASSWORD_RESET_TTL must be 1 to {} seconds",
                keygate_server::config::MAX_RESET_TTL
            )));
        }
        config.reset_ttl = ttl;
    }
    if let Some(ttl) = args.verify_email_ttl {
        if !(1..=keygate_server::config::MAX_VERIFY_EMAIL_TTL).contains(&ttl) {
            return Err(Failure::Usage(format!(
                "KEYGATE_VERIFY_EMAIL_TTL must be 1 to {} seconds",
                keygate_server::config::MAX_VERIFY_EMAIL_TTL
            )));
        }
        config.verify_email_ttl = ttl;
    }
    if let Some(raw) = &args.event_retention {
        config.event_retention = keygate_server::provisioning::parse_duration(raw)
            .map_err(|e| Failure::Usage(format!("KEYGATE_EVENT_RETENTION: {e}")))?;
    }
    config.mail = mail_settings(
        args.smtp_url.or(file.smtp_url),
        args.mail_from.or(file.mail_from),
        args.dev,
    )?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    if args.dev {
        config.dev_callback = dev_data(store.as_ref(), &public_url, &master_hex).await?;
    }
    let state = keygate_server::AppState::new(store.clone(), config, master);
    keygate_server::mail::outbox::spawn(&state).map_err(Failure::Usage)?;
    keygate_server::backchannel::spawn(&state);
    keygate_server::webhooks::spawn(&state);
    let sweep_every = std::time::Duration::from_secs(
        args.sweep_interval
            .or(file.sweep_interval)
            .unwrap_or(60)
            .max(1),
    );
    tokio::spawn(keygate_server::observability::sweeper(
        store.clone(),
        sweep_every,
    ));
    tracing::info!(listen = %local, public_url = %public_url, "keygate is serving");
    // Graceful shutdown, bounded: on SIGTERM stop accepting, let requests in
    // flight finish, but give up waiting after 30 seconds.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        keygate_server::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let deadline = async move {
        let mut rx = stop_rx;
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    };
    tokio::select! {
        r = server => r.map_err(|e| Failure::Runtime(e.to_string()))?,
        _ = deadline => tracing::warn!("requests still in flight after 30 s; stopping anyway"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// The mail settings: an SMTP URL (checked strictly) needs a From; `--dev`
/// without one prints messages; otherwise nothing can be sent, said once
/// here (and on the pages that would send mail).
fn mail_settings(
    smtp_url: Option<String>,
    from: Option<String>,
    dev: bool,
) -> Result<keygate_server::mail::MailSettings, Failure> {
    use keygate_server::mail::{check_from, smtp::SmtpUrl, Delivery, MailSettings};
    let smtp_url = smtp_url
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let from = from.map(|f| f.trim().to_string()).filter(|f| !f.is_empty());
    let mut settings = MailSettings::default();
    if let Some(f) = &from {
        settings.from = check_from(f).map_err(Failure::Usage)?;
    }
    settings.delivery = match smtp_url {
        Some(url) => {
            let url = SmtpUrl::parse(&url).map_err(Failure::Usage)?;
            if from.is_none() {
                return Err(Failure::Usage(
                    "KEYGATE_MAIL_FROM is required with KEYGATE_SMTP_URL".into(),
                ));
            }
            tracing::info!(host = %url.host, port = url.port, security = ?url.security, "e-mail is sent through SMTP");
            Delivery::Smtp(url)
        }
        None if dev => {
            tracing::info!(
                "dev mode without KEYGATE_SMTP_URL: e-mail is printed to standard output, not sent"
            );
            Delivery::Console
        }
        None => {
            tracing::warn!("KEYGATE_SMTP_URL is not set: this node sends no e-mail, so password-reset and e-mail verification messages stay queued until a node with SMTP sends them (the pages say so)");
            Delivery::None
        }
    };
    Ok(settings)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Demo values derived from the master key: the same on every start of one
/// installation (so they can be printed again although only hashes are
/// stored), and different between installations.
fn derived(master_hex: &str, label: &str) -> String {
    let h = keygate_crypto::secrets::sha256_hex(&format!("{master_hex}:{label}"));
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

const DEMO_CLIENT: &str = "Keygate demo app";
const DEMO_EMAIL: &str = "demo@keygate.test";
const DEMO_REDIRECT: &str = "http://localhost:3000/callback";

/// Creates the demo client and user once, makes sure the client has this
/// start's callback URI, and prints how to try a flow. Returns the demo
/// client for the callback page (`keygate_server::dev`), or `None` when the
/// public URL cannot carry it: a redirect URI may use plain http only on a
/// loopback host (RFC 9700 2.6, RFC 8252 7.3; `keygate_core::redirect`), so
/// an http public URL on any other host keeps the copy-the-code flow to
/// [`DEMO_REDIRECT`] and says why (use https, or a loopback public URL).
async fn dev_data(
    store: &dyn Store,
    public_url: &str,
    master_hex: &str,
) -> Result<Option<DevCallback>, Failure> {
    let secret = derived(master_hex, "demo client secret");
    let password = derived(master_hex, "demo user password")[..16].to_string();
    let callback = DevCallback::redirect_uri(public_url);
    let callback_ok = keygate_core::redirect::validate_redirect_uri(&callback).is_ok();
    let mut client = match store.client_by_name(DEFAULT_TENANT, DEMO_CLIENT).await? {
        Some(c) => c,
        None => {
            let c = Client {
                id: format!("demo-{}", &derived(master_hex, "demo client id")[..12]),
                tenant_id: DEFAULT_TENANT.into(),
                name: DEMO_CLIENT.into(),
                public: false,
                secret_hash: Some(keygate_crypto::secrets::sha256_hex(&secret)),
                auth_method: AuthMethod::ClientSecretBasic,
                redirect_uris: vec![DEMO_REDIRECT.into()],
                post_logout_redirect_uris: vec![DEMO_REDIRECT.into()],
                grant_types: vec![
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ],
                refresh_policy: RefreshPolicy::OfflineAccess,
                id_token_ttl: DEFAULT_ID_TOKEN_TTL,
                access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
                refresh_token_max_ttl: DEFAULT_REFRESH_TOKEN_MAX_TTL,
                journeys_api: true,
                web_origins: vec!["http://localhost:3000".into()],
                signing_alg: SigningAlg::RS256,
                pkce: PkcePolicy::S256,
                created_at: commands::now(),
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
            };
            store.create_client(&c).await?;
            c
        }
    };
    // Demo data of an older version (or of another public URL) lacks this
    // start's callback URI: added, the other URIs kept.
    if callback_ok && !client.redirect_uris.contains(&callback) {
        client.redirect_uris.insert(0, callback.clone());
        store.update_client(&client).await?;
    }
    if store
        .user_by_email(DEFAULT_TENANT, DEMO_EMAIL)
        .await?
        .is_none()
    {
        commands::create_user(
            store,
            DEFAULT_TENANT,
            DEMO_EMAIL,
            Some("Demo User"),
            &password,
        )
        .await?;
    }
    let credentials = format!(
        "\nKeygate is running in development mode with demo data (tenant 'default').\n\n  issuer:         {public_url}\n  client_id:      {}\n  client_secret:  {secret}\n  user e-mail:    {DEMO_EMAIL}\n  user password:  {password}\n",
        client.id
    );
    if !callback_ok {
        let authorize = format!(
            "{public_url}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state=demo-state&nonce=demo-nonce",
            client.id,
            url_escape(DEMO_REDIRECT)
        );
        println!(
            "{credentials}\n   (No callback page: KEYGATE_PUBLIC_URL is plain http on a host that is not\n   loopback, and http redirect URIs are allowed only on loopback hosts. Use https\n   or http://127.0.0.1 for the page of {callback}.)\n\n1. Open this URL in a browser and sign in; you land on {DEMO_REDIRECT}?code=...\n   (nothing listens there: copy the code from the address bar)\n\n   {authorize}\n\n2. Exchange the code within 60 seconds:\n\n   curl -s -X POST '{public_url}/token' -u '{}:{secret}' \\\n     -d grant_type=authorization_code -d redirect_uri={DEMO_REDIRECT} -d code=PASTE_CODE_HERE\n",
            client.id
        );
        return Ok(None);
    }
    let dev = DevCallback {
        client_id: client.id.clone(),
        client_secret: secret.clone(),
        verifier_key: derived(master_hex, "dev callback PKCE verifier key"),
    };
    // A new state on every start; its PKCE verifier is derived from it, so
    // the page recovers it (see keygate_server::dev).
    let state = keygate_crypto::secrets::random_token(16);
    let authorize = format!(
        "{public_url}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state={state}&nonce=demo-nonce&code_challenge={}&code_challenge_method=S256",
        client.id,
        url_escape(&callback),
        dev.challenge(&state)
    );
    println!(
        "{credentials}\n1. Open this URL in a browser and sign in with the e-mail and password above:\n\n   {authorize}\n\n   You land on {callback}, a page of this dev server that plays\n   the application: it exchanges the code at the token endpoint (client secret\n   and PKCE verifier), decodes the id_token and the access token, and prints\n   curl commands for the refresh_token grant and for userinfo.\n\n2. Without a browser, a token for the demo client itself (client_credentials):\n\n   curl -s -X POST '{public_url}/token' -u '{}:{secret}' -d grant_type=client_credentials\n",
        client.id
    );
    Ok(Some(dev))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
