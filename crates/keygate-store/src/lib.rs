//! Persistence of Keygate: one [`Store`] made of capability traits
//! ([`TenantStore`], [`ClientStore`], [`UserStore`], [`SessionStore`],
//! [`GrantStore`], [`KeyStore`], [`LimitStore`], [`AdminTokenStore`],
//! [`MaintenanceStore`], [`FactorStore`], [`PasskeyStore`], ...), all implemented by [`SqlStore`] on SQLite
//! (embedded, one file) and PostgreSQL (many nodes).
//!
//! The traits speak in the core's records. Single use of codes and refresh
//! tokens is decided by the database: [`GrantStore::exchange_code`] and
//! [`GrantStore::exchange_refresh`] read the grant, let the caller's check
//! decide, and consume with one conditional
//! `UPDATE ... WHERE consumed_at IS NULL`, so two racing requests (even on
//! two nodes) get exactly one winner.
//!
//! The SQL is written once, with `$1` placeholders, and each engine runs it
//! its own way. PostgreSQL runs everything on sqlx's pool. SQLite reads on
//! the calling thread through rusqlite (`inline`) and writes on one writer
//! thread that commits the writes waiting at that moment together
//! (`writer`), where a code or refresh token exchange also reads
//! (`sqlite::exchange`); a write is described as data (`write`) so that
//! both engines run the same statements. What else differs per engine
//! (connection set-up, migrations, pragmas, checkpoints) lives in
//! [`sqlite`] and [`postgres`].
//!
//! Layering: each module imports only from the layers before it (tests
//! aside). (1) The interface: `error` and `options`, then the capability
//! traits with their records (`tenants`, `clients`, `users`, `sessions`,
//! `grants`, `keys`, `limits`, `admin_tokens`, `maintenance`, `factors`, `passkeys`, ...), which know
//! nothing of SQL. (2) The statement plumbing shared by both engines:
//! `row` (parameters and decoding), `write` (writes as data), `lease`
//! (connections), `migrate`, then `exchange` (the backend-neutral steps of
//! an exchange). (3) The engines: `postgres` (its pool and migrations) and
//! `sqlite` (`inline`, `writer`, then `exchange`, the exchange as a writer
//! task, then its `mod.rs`, which opens the file); neither knows
//! [`SqlStore`]. (4) `sql`: [`SqlStore`] with its engine dispatch in
//! `sql/mod.rs` and one file of statements per capability. (5) `metered`,
//! and this file's [`connect`] and [`Store`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), keygate_store::StoreError> {
//! use keygate_store::prelude::*;
//! let store = keygate_store::connect("sqlite://keygate-data/keygate.db", &Default::default()).await?;
//! let tenant = store.get_tenant("default").await?;
//! # Ok(()) }
//! ```

mod admin_tokens;
mod apis;
mod clients;
mod consents;
mod device;
mod email_links;
mod error;
mod events;
mod exchange;
mod factors;
mod federation;
mod grants;
mod keys;
mod lease;
mod limits;
mod logouts;
mod maintenance;
mod metered;
mod migrate;
mod operators;
mod options;
mod outbox;
mod passkeys;
pub mod postgres;
mod pushed;
mod registration;
mod replay;
mod reset;
mod row;
mod sessions;
mod sql;
pub mod sqlite;
mod tenants;
mod users;
mod webhooks;
mod write;

use std::sync::Arc;

pub use admin_tokens::{AdminToken, AdminTokenStore};
pub use apis::ApiStore;
pub use clients::ClientStore;
pub use consents::ConsentStore;
pub use device::DeviceStore;
pub use email_links::{EmailLink, EmailLinkPurpose, EmailLinkStore};
pub use error::{Result, StoreError};
pub use events::EventStore;
pub use factors::{FactorStore, MfaPending, TotpDevice};
pub use federation::FederationStore;
pub use grants::{
    Approved, Check, CodeGrant, Exchange, GrantStore, NewRefresh, RefreshGrant, Standing, Then,
};
pub use keys::{KeyStore, StoredKey};
pub use limits::{Attempt, LimitPolicy, LimitStore};
pub use logouts::{Logout, LogoutOutcome, LogoutStore};
pub use maintenance::MaintenanceStore;
pub use metered::Metered;
pub use operators::{Operator, OperatorPasskey, OperatorSession, OperatorStore};
pub use options::{Linger, StoreOptions};
pub use outbox::{Mail, NewMail, OutboxStore};
pub use passkeys::{PasskeyCeremony, PasskeyStore, StoredPasskey};
pub use pushed::{PushedRequest, PushedRequestStore};
pub use registration::RegistrationStore;
pub use replay::ReplayStore;
pub use reset::{ResetLink, ResetStore};
pub use sessions::SessionStore;
pub use sql::SqlStore;
pub use tenants::TenantStore;
pub use users::UserStore;
pub use webhooks::{Delivery, Webhook, WebhookStore};

/// The capability traits, to call a store's methods: `use keygate_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AdminTokenStore, ApiStore, ClientStore, ConsentStore, DeviceStore, FactorStore,
        FederationStore, GrantStore, KeyStore, LimitStore, LogoutStore, MaintenanceStore,
        OperatorStore, PasskeyStore, PushedRequestStore, RegistrationStore, ReplayStore,
        SessionStore, Store, TenantStore, UserStore, WebhookStore,
    };
}

/// Opens the store named by a URL (`sqlite://...` or `postgres://...`),
/// creating the database file and folder if needed and applying migrations.
pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqlStore::open_sqlite(url, opts).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(SqlStore::open_postgres(url, opts).await?))
    } else {
        Err(StoreError::Backend(format!(
            "unsupported database URL '{url}': use sqlite://PATH or postgres://..."
        )))
    }
}

/// Everything Keygate keeps: every capability, so that one
/// `Arc<dyn Store>` serves them all. Implementations must make each method
/// atomic. Implemented by whatever implements every capability.
pub trait Store:
    TenantStore
    + ClientStore
    + UserStore
    + SessionStore
    + GrantStore
    + KeyStore
    + LimitStore
    + AdminTokenStore
    + MaintenanceStore
    + OutboxStore
    + ResetStore
    + EmailLinkStore
    + FactorStore
    + ApiStore
    + ConsentStore
    + RegistrationStore
    + PasskeyStore
    + ReplayStore
    + PushedRequestStore
    + DeviceStore
    + LogoutStore
    + FederationStore
    + EventStore
    + OperatorStore
    + WebhookStore
{
}

impl<S> Store for S where
    S: TenantStore
        + ClientStore
        + UserStore
        + SessionStore
        + GrantStore
        + KeyStore
        + LimitStore
        + AdminTokenStore
        + MaintenanceStore
        + OutboxStore
        + ResetStore
        + EmailLinkStore
        + FactorStore
        + ApiStore
        + ConsentStore
        + RegistrationStore
        + PasskeyStore
        + ReplayStore
        + PushedRequestStore
        + DeviceStore
        + LogoutStore
        + FederationStore
        + EventStore
        + OperatorStore
        + WebhookStore
        + ?Sized
{
}
