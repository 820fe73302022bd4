//! The HTTP front of Keygate (axum).
//!
//! A request enters through a front door ([`door`]): the path form
//! `/{tenant}/as/...`, or the root, where the Host header picks the tenant
//! (a tenant's own domain; `default`, under the public URL, for any other
//! Host). The door fixes the tenant and the issuer; each endpoint module
//! then decodes its input,
//! asks `keygate_core` for a decision, reads and writes through the
//! [`keygate_store::Store`], signs through the [`jwt::keyring::KeyRing`], and
//! answers. Every error becomes a response in one place: [`error::ApiError`].
//!
//! ```no_run
//! # async fn demo(state: keygate_server::AppState) {
//! let app = keygate_server::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

pub mod accounts;
pub mod admin;
pub mod backchannel;
mod cache;
mod client_keys;
pub mod config;
mod console;
pub mod dev;
mod device;
pub mod door;
mod dpop;
mod email_verification;
mod endpoints;
pub mod error;
pub mod events;
mod federation;
mod fetch;
mod http;
pub mod jwt;
mod limits;
pub mod mail;
mod metadata_document;
mod mfa;
pub mod observability;
mod pages;
mod passkeys;
mod password_reset;
pub mod provisioning;
mod recovery;
pub mod signing;
pub mod webhooks;

use axum::routing::{get, post};
use axum::Router;
use keygate_store::Store;
use std::sync::Arc;

pub use config::ServerConfig;

/// The current time in seconds since the Unix epoch; read once per request
/// and passed into the core's decisions.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Shared state of every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] shares: the store, the configuration, the keys and this node's caches.
pub struct Inner {
    /// The database behind every tenant, client, user, grant and key.
    pub store: Arc<dyn Store>,
    /// The node's configuration, read at start.
    pub config: ServerConfig,
    /// The tenants' signing keys.
    pub keys: jwt::keyring::KeyRing,
    pub(crate) clients: cache::TtlCache<(String, String), Option<keygate_core::model::Client>>,
    pub(crate) apis: cache::TtlCache<(String, String), Option<keygate_core::model::Api>>,
    pub(crate) tenant_apis: cache::TtlCache<String, Arc<Vec<keygate_core::model::Api>>>,
    pub(crate) hosts: cache::TtlCache<String, Option<(keygate_core::model::Tenant, String)>>,
    pub(crate) tenants: cache::TtlCache<String, Option<keygate_core::model::Tenant>>,
    pub(crate) throttle: limits::throttle::Throttle,
    pub(crate) documents: metadata_document::Documents,
    /// The JWK Sets fetched from clients' `jwks_uri`s.
    pub(crate) client_keys: client_keys::RemoteKeySets,
    pub(crate) mailer: mail::Mailer,
    /// The DPoP nonce key, derived from the master key (RFC 9449 8).
    pub(crate) dpop: dpop::Nonces,
    /// Sign-in through upstream identity providers (docs/federation.md).
    pub(crate) federation: federation::Federation,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The state of a node: its store, its configuration, and the master key
    /// that unseals the tenants' signing keys.
    pub fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        master: keygate_crypto::sealing::MasterKey,
    ) -> Self {
        let ttl = config.cache_ttl;
        let documents = metadata_document::Documents::new(config.fetch_allow_private);
        let dpop = dpop::Nonces::new(&master);
        let federation = federation::Federation::new(&master);
        let client_keys = client_keys::RemoteKeySets::new(config.fetch_allow_private);
        AppState(Arc::new(Inner {
            keys: jwt::keyring::KeyRing::new(store.clone(), master, ttl),
            store,
            config,
            clients: cache::TtlCache::new(ttl),
            apis: cache::TtlCache::new(ttl),
            tenant_apis: cache::TtlCache::new(ttl),
            hosts: cache::TtlCache::new(ttl),
            tenants: cache::TtlCache::new(ttl),
            throttle: limits::throttle::Throttle::default(),
            documents,
            client_keys,
            mailer: mail::Mailer::default(),
            dpop,
            federation,
        }))
    }

    /// The tenant's API with this identifier, cached for at most `cache_ttl`.
    pub async fn api(
        &self,
        tenant: &str,
        identifier: &str,
    ) -> Result<Option<keygate_core::model::Api>, error::ApiError> {
        if !keygate_core::resource::is_identifier(identifier) {
            return Ok(None);
        }
        let key = (tenant.to_string(), identifier.to_string());
        if let Some(hit) = self.apis.get(&key) {
            return Ok(hit);
        }
        let found = self.store.get_api(tenant, identifier).await?;
        self.apis.put(key, found.clone());
        Ok(found)
    }

    /// Every API of the tenant, cached for at most `cache_ttl` (the token
    /// endpoint's minter reads their lifetimes and algorithms).
    pub(crate) async fn tenant_apis(
        &self,
        tenant: &str,
    ) -> Result<Arc<Vec<keygate_core::model::Api>>, error::ApiError> {
        // Shared, not copied: the token endpoint reads it on every request.
        if let Some(hit) = self.tenant_apis.get(&tenant.to_string()) {
            return Ok(hit);
        }
        let found = Arc::new(self.store.list_apis(tenant).await?);
        self.tenant_apis.put(tenant.to_string(), found.clone());
        Ok(found)
    }

    /// The API an authorization or token request names by `resource` or
    /// `audience`, if it names one that exists (the core judges the rest).
    pub(crate) async fn named_api(
        &self,
        tenant: &str,
        p: &keygate_core::params::Params,
    ) -> Result<Option<keygate_core::model::Api>, error::ApiError> {
        match keygate_core::resource::named(p) {
            Ok(Some(id)) => self.api(tenant, id).await,
            _ => Ok(None),
        }
    }

    /// A client of the tenant, cached for at most `cache_ttl`.
    pub async fn client(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<keygate_core::model::Client>, error::ApiError> {
        if !keygate_core::validate::is_client_id(id) {
            return Ok(None);
        }
        if metadata_document::is_document_id(id) {
            return match door::tenant(self, tenant).await? {
                Some(t) => self.documents.client(&t, id).await,
                None => Ok(None),
            };
        }
        let key = (tenant.to_string(), id.to_string());
        if let Some(hit) = self.clients.get(&key) {
            return Ok(hit);
        }
        let found = self.store.get_client(tenant, id).await?;
        self.clients.put(key, found.clone());
        Ok(found)
    }
}

/// The endpoints every front door serves, relative to its issuer.
fn endpoints() -> Router<AppState> {
    use endpoints::{
        device_authorization, discovery, introspect, journeys, journeys_mfa, par, registration,
        revoke, token, userinfo,
    };
    use http::cors;
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route("/oauth/register", post(registration::register))
        .route(
            "/oauth/register/{client_id}",
            get(registration::read)
                .put(registration::update)
                .delete(registration::delete),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/authorize",
            get(pages::authorize::get).post(pages::authorize::post),
        )
        .route("/login", get(pages::login::get).post(pages::login::post))
        .route("/login/mfa", post(pages::login::post_mfa))
        .route("/login/mfa/enrol", post(pages::enrol::post))
        .route("/consent", post(pages::consent::post))
        .route(
            "/login/mfa/passkey/start",
            post(passkeys::second_factor::start),
        )
        .route(
            "/login/mfa/passkey/finish",
            post(passkeys::second_factor::finish),
        )
        .route("/passkeys/sign-in/start", post(passkeys::sign_in::start))
        .route("/passkeys/sign-in/finish", post(passkeys::sign_in::finish))
        .route(
            "/register",
            get(pages::register::get).post(pages::register::post),
        )
        .route(
            "/forgot-password",
            get(pages::reset::forgot_get).post(pages::reset::forgot_post),
        )
        .route(
            "/reset-password",
            get(pages::reset::reset_get).post(pages::reset::reset_post),
        )
        .route(
            "/verify-email",
            get(pages::verify::get).post(pages::verify::post),
        )
        .route("/verify-email/resend", post(pages::verify::resend_post))
        .route(
            "/signoff",
            get(pages::signoff::get).post(pages::signoff::post),
        )
        .route("/account", get(pages::account::get))
        .route(
            "/account/sign-in",
            get(pages::account::sign_in::get).post(pages::account::sign_in::post),
        )
        .route(
            "/account/sign-in/mfa",
            post(pages::account::sign_in::post_mfa),
        )
        .route("/account/totp/new", post(pages::account::totp::new))
        .route("/account/totp/confirm", post(pages::account::totp::confirm))
        .route("/account/totp/remove", post(pages::account::totp::remove))
        .route("/account/apps/revoke", post(pages::account::apps::revoke))
        .route(
            "/account/passkeys/start",
            post(pages::account::passkeys::start),
        )
        .route(
            "/account/passkeys/finish",
            post(pages::account::passkeys::finish),
        )
        .route(
            "/account/passkeys/remove",
            post(pages::account::passkeys::remove),
        )
        .route("/account/recovery/new", post(pages::account::recovery::new))
        .route(
            "/account/identities/link",
            post(pages::account::identities::link),
        )
        .route(
            "/account/identities/remove",
            post(pages::account::identities::remove),
        )
        .route("/federation/{id}/start", get(pages::federation::start))
        .route(
            "/federation/{id}/callback",
            get(pages::federation::callback),
        )
        .route("/federation/link", post(pages::federation::link))
        .route("/account/password", post(pages::account::password::post))
        .route("/account/email", post(pages::account::email::post))
        .route("/account/contact", post(pages::account::contact::post))
        .route(
            "/account/sessions/end",
            post(pages::account::sessions::end_all),
        )
        .route("/token", post(token::handle).options(cors::preflight))
        .route("/oauth/token", post(token::handle).options(cors::preflight))
        .route(
            "/userinfo",
            get(userinfo::handle)
                .post(userinfo::handle)
                .options(cors::preflight_userinfo),
        )
        .route("/revoke", post(revoke::handle).options(cors::preflight))
        .route(
            "/oauth/revoke",
            post(revoke::handle).options(cors::preflight),
        )
        .route("/introspect", post(introspect::handle))
        .route("/par", post(par::handle))
        .route("/device_authorization", post(device_authorization::handle))
        .route("/device", get(pages::device::get).post(pages::device::post))
        .route(
            "/journeys/sign-in",
            post(journeys::sign_in).options(cors::preflight),
        )
        .route(
            "/journeys/register",
            post(journeys::register).options(cors::preflight),
        )
        .route(
            "/journeys/mfa",
            post(journeys_mfa::finish).options(cors::preflight),
        )
        .route(
            "/journeys/password-reset",
            post(journeys::password_reset).options(cors::preflight),
        )
        .route(
            "/journeys/verify-email",
            post(journeys::verify_email_resend).options(cors::preflight),
        )
}

/// The whole application: the path form under `/{tenant}/as`, the root
/// form everywhere else.
pub fn router(state: AppState) -> Router {
    let by_path = endpoints().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        door::by_path,
    ));
    let by_host = endpoints().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        door::by_host,
    ));
    // RFC 8414 section 3: the metadata of the issuer `{PUBLIC_URL}/{t}/as`
    // is at `/.well-known/oauth-authorization-server` inserted before the
    // issuer's path (it is also appended to the issuer, as OpenID
    // discovery is, by `endpoints`).
    let metadata_by_path = Router::new()
        .route(
            "/.well-known/oauth-authorization-server/{tenant}/as",
            get(endpoints::discovery::openid_configuration),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            door::by_path,
        ));
    observability::prometheus();
    let mut root = Router::new();
    if state.config.dev_callback.is_some() {
        root = root.route(dev::DEV_CALLBACK_PATH, get(dev::callback));
    }
    root.route("/healthz", get(observability::healthz))
        .route("/readyz", get(observability::readyz))
        .route("/metrics", get(observability::metrics_endpoint))
        .nest("/admin/v1", admin::router(state.clone()))
        .merge(console::router())
        .nest("/{tenant}/as", by_path)
        .merge(metadata_by_path)
        .merge(by_host)
        .fallback(error::not_found)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn(observability::observe))
        .with_state(state)
}
