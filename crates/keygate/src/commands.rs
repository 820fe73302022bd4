//! Provisioning commands. Every argument is checked before anything is
//! written; a bad one is a `Failure::Usage` (exit 2). The checks and the
//! records are those of the admin API: both go through
//! `keygate_server::provisioning`.

mod apis;
mod clients;
mod idps;
mod operators;
mod tenants;
mod users;
mod webhooks;

pub(crate) use apis::api;
pub(crate) use clients::client;
pub(crate) use idps::idp;
pub(crate) use operators::admin;
pub(crate) use tenants::tenant;
pub(crate) use users::user;
pub(crate) use webhooks::webhook;

use crate::cli::{
    AdminTokenCommand, ClientCreate, DbArgs, EventsList, KeysRotate, TenantCreate, UserCreate,
};
use crate::Failure;
use keygate_core::model::*;
use keygate_core::validate;
use keygate_server::provisioning::parse_duration;
use keygate_server::provisioning::{self as provision, Front, ProvisionError};
use keygate_store::Store;
use serde_json::json;
use std::sync::Arc;

pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://keygate-data/keygate.db";

pub(crate) const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The public URL as `keygate serve` reads it (an origin, no trailing '/').
pub(crate) fn public_url(raw: Option<&str>) -> Result<String, Failure> {
    let raw = raw.unwrap_or(DEFAULT_PUBLIC_URL);
    keygate_core::redirect::parse_origin(raw.trim_end_matches('/'))
        .map_err(|e| Failure::Usage(format!("KEYGATE_PUBLIC_URL: {e}")))
}

pub(crate) fn database_url(db: &DbArgs) -> String {
    db.database_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
}

pub(crate) fn now() -> i64 {
    keygate_server::now()
}

/// Opens the store and makes sure the `default` tenant exists.
pub(crate) async fn open_store(
    url: &str,
    pool_size: Option<u32>,
) -> Result<Arc<dyn Store>, Failure> {
    open_store_with(url, pool_size, None, None).await
}

/// Opens the store with a pool size, connection timeout (seconds) and
/// SQLite writer's linger (the server's: [`keygate_server::signing::write_linger`]).
pub(crate) async fn open_store_with(
    url: &str,
    pool_size: Option<u32>,
    timeout: Option<u64>,
    linger: Option<keygate_store::Linger>,
) -> Result<Arc<dyn Store>, Failure> {
    let mut opts = keygate_store::StoreOptions {
        linger,
        ..Default::default()
    };
    if let Some(n) = pool_size {
        opts.max_connections = n.max(1);
    }
    if let Some(t) = timeout {
        opts.acquire_timeout_secs = t.max(1);
    }
    let store = keygate_store::connect(url, &opts)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    store
        .ensure_tenant(&Tenant::new(DEFAULT_TENANT, "Keygate", now()))
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    Ok(store)
}

/// How long the CLI's audit events are kept: `KEYGATE_EVENT_RETENTION`
/// when set (as `keygate serve` reads it), else the default 90 days.
fn event_retention() -> i64 {
    std::env::var("KEYGATE_EVENT_RETENTION")
        .ok()
        .and_then(|v| parse_duration(&v).ok())
        .unwrap_or(keygate_server::events::DEFAULT_RETENTION)
}

/// Records the audit event of a CLI change (docs/events.md): actor `cli`,
/// no IP. `tenant` is "" for tenants themselves and admin tokens.
pub(crate) async fn record(
    store: &dyn Store,
    tenant: &str,
    kind: &'static str,
    subject: String,
    detail: serde_json::Value,
) {
    keygate_server::events::Record::new(tenant, kind, "cli")
        .subject(subject)
        .detail(detail)
        .save_in(store, event_retention())
        .await;
}

/// The detail of an `admin.*` event: which record, and the names of the
/// fields set (never their values).
pub(crate) fn admin_detail(resource: &str, id: &str, fields: &[&str]) -> serde_json::Value {
    json!({"resource": resource, "id": id, "fields": fields})
}

/// The names of a patch's fields that are set.
macro_rules! set_fields {
    ($p:expr; $($f:ident),* $(,)?) => {{
        let mut names: Vec<&'static str> = Vec::new();
        $(if $p.$f.is_some() { names.push(stringify!($f)); })*
        names
    }};
}
pub(crate) use set_fields;

fn print(v: serde_json::Value) {
    println!("{v}");
}

/// Prints a view of the admin API (`keygate_server::admin::views`).
fn print_view(v: impl serde::Serialize) -> Result<(), Failure> {
    let v = serde_json::to_value(v).map_err(|e| Failure::Runtime(e.to_string()))?;
    print(v);
    Ok(())
}

/// Prints a whole list as the admin API's pages hold it, `{"items": [...]}`.
fn print_items<T: serde::Serialize>(items: Vec<T>) -> Result<(), Failure> {
    print_view(json!({ "items": items }))
}

/// Every record of a list, read page by page as the admin API serves them
/// (by key, in key order, `MAX_PAGE` at a time).
async fn every_page<T, F, Fut>(mut fetch: F, key: impl Fn(&T) -> String) -> Result<Vec<T>, Failure>
where
    F: FnMut(String, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, keygate_store::StoreError>>,
{
    let page = keygate_server::admin::views::MAX_PAGE;
    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let rows = fetch(after.clone(), page).await?;
        let more = rows.len() as i64 >= page;
        if let Some(last) = rows.last() {
            after = key(last);
        }
        all.extend(rows);
        if !more {
            return Ok(all);
        }
    }
}

/// One line of standard input without its line ending (a password).
fn read_stdin_line() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("cannot read the password from stdin: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(password.to_string())
}

impl From<ProvisionError> for Failure {
    fn from(e: ProvisionError) -> Self {
        let message = e.describe(Front::Cli);
        match e {
            ProvisionError::Store(_) => Failure::Runtime(message),
            _ => Failure::Usage(message),
        }
    }
}

pub(crate) async fn tenant_create(a: TenantCreate) -> Result<(), Failure> {
    let spec = provision::NewTenant {
        id: a.id,
        display_name: a.display_name,
        domains: a.domains,
        token_rate_limit: a.token_rate_limit.map(|r| r.0),
        registration: a.registration,
        verify_email: a.verify_email,
        mfa: a.mfa,
        dynamic_registration: a.dynamic_registration,
        client_id_metadata_documents: a.client_id_metadata_documents,
    };
    let tenant = provision::tenant_from_spec(&spec, now())?;
    let store = open_store(&database_url(&a.db), None).await?;
    provision::create_tenant(store.as_ref(), &tenant).await?;
    record(
        store.as_ref(),
        "",
        "admin.created",
        format!("tenant:{}", tenant.id),
        admin_detail("tenant", &tenant.id, &[]),
    )
    .await;
    print(json!({
        "id": tenant.id,
        "tenant_id": tenant.id,
        "display_name": tenant.display_name,
        "domains": tenant.domains,
        "registration": tenant.registration.as_str(),
        "verify_email": tenant.verify_email.as_str(),
        "mfa": tenant.mfa.as_str(),
        "dynamic_registration": tenant.dynamic_registration.as_str(),
        "client_id_metadata_documents": tenant.client_id_metadata_documents.as_str(),
    }));
    Ok(())
}

/// The JWK Set in a `--jwks-file`, as JSON.
pub(crate) fn read_jwks_file(
    path: Option<&std::path::Path>,
) -> Result<Option<serde_json::Value>, Failure> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("--jwks-file {}: {e}", path.display())))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Failure::Usage(format!(
            "--jwks-file {}: not JSON (a JWK Set is expected): {e}",
            path.display()
        ))
    })
}

/// The request the flags describe: the same one the admin API receives.
fn client_spec(a: &ClientCreate) -> Result<provision::NewClient, Failure> {
    Ok(provision::NewClient {
        name: a.name.clone(),
        redirect_uris: a.redirect_uris.clone(),
        public: a.public,
        auth_method: a.auth_method.clone(),
        jwks: read_jwks_file(a.jwks_file.as_deref())?,
        jwks_uri: a.jwks_uri.clone(),
        grant_types: a.grants.clone(),
        refresh_tokens: a.refresh_tokens.clone(),
        id_token_ttl: a.id_token_ttl.clone().map(provision::Ttl::Text),
        access_token_ttl: a.access_token_ttl.clone().map(provision::Ttl::Text),
        refresh_token_max_ttl: a.refresh_token_max_ttl.clone().map(provision::Ttl::Text),
        journeys_api: a.journeys_api,
        require_mfa: a.require_mfa,
        third_party: a.third_party,
        require_dpop: a.require_dpop,
        require_par: a.require_par,
        web_origins: a.web_origins.clone(),
        post_logout_redirect_uris: a.post_logout_redirect_uris.clone(),
        id_token_signed_response_alg: a.id_token_signed_response_alg.clone(),
        pkce: a.pkce.clone(),
        token_rate_limit: a.token_rate_limit.map(|r| r.0),
        backchannel_logout_uri: a.backchannel_logout_uri.clone(),
        exchange_audiences: a.exchange_audiences.clone(),
    })
}

pub(crate) async fn client_create(a: ClientCreate) -> Result<(), Failure> {
    let spec = client_spec(&a)?;
    let url = database_url(&a.db);
    // Every setting is checked before the database (or the master key) is
    // opened; only a client_secret_jwt client needs the master key, to
    // seal its secret.
    let (mut client, secret) = provision::client_from_spec(&a.tenant, &spec, now())?;
    if let (Some(s), AuthMethod::ClientSecretJwt) = (&secret, client.auth_method) {
        let (master, _) = crate::master_key::load(&url)?;
        client.secret_sealed = provision::sealed_secret(&master, &client, s);
    }
    let store = open_store(&url, None).await?;
    provision::create_client(store.as_ref(), &client).await?;
    record(
        store.as_ref(),
        &a.tenant,
        "admin.created",
        format!("client:{}", client.id),
        admin_detail("client", &client.id, &[]),
    )
    .await;
    match secret {
        Some(s) => print(json!({"client_id": client.id, "client_secret": s})),
        None => print(json!({"client_id": client.id})),
    }
    Ok(())
}

/// Creates a user after checking every field; returns the record.
pub(crate) async fn create_user(
    store: &dyn Store,
    tenant: &str,
    email: &str,
    name: Option<&str>,
    password: &str,
) -> Result<User, Failure> {
    let spec = provision::NewUser {
        email: email.to_string(),
        password: password.to_string(),
        name: name.map(str::to_string),
        ..provision::NewUser::default()
    };
    Ok(provision::create_user(store, tenant, &spec).await?)
}

pub(crate) async fn user_create(a: UserCreate) -> Result<(), Failure> {
    let password = read_stdin_line()?;
    if !validate::is_tenant_id(&a.tenant) {
        return Err(Failure::Usage(format!(
            "tenant '{}' does not exist",
            a.tenant
        )));
    }
    let spec = provision::NewUser {
        email: a.email.clone(),
        password,
        name: a.name.clone(),
        email_verified: a.email_verified,
        phone_number: a.contact.phone_number.clone(),
        phone_number_verified: a.contact.phone_number_verified.unwrap_or(false),
        address: a.contact.address(None).map_err(Failure::Usage)?,
    };
    // Every field is checked before the database is opened.
    provision::check_new_user(&spec)?;
    let store = open_store(&database_url(&a.db), None).await?;
    let user = provision::create_user(store.as_ref(), &a.tenant, &spec).await?;
    record(
        store.as_ref(),
        &a.tenant,
        "admin.created",
        format!("user:{}", user.sub),
        json!({"resource": "user", "id": user.sub, "fields": [], "email": user.email}),
    )
    .await;
    print(json!({"sub": user.sub}));
    Ok(())
}

pub(crate) async fn keys_rotate(a: KeysRotate) -> Result<(), Failure> {
    let alg = SigningAlg::parse(&a.alg)
        .ok_or_else(|| Failure::Usage(format!("--alg '{}': use RS256, ES256 or EdDSA", a.alg)))?;
    let lead = parse_duration(&a.lead_time)
        .or_else(|e| {
            if a.lead_time.trim() == "0s" {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .map_err(|e| Failure::Usage(format!("--lead-time: {e}")))?;
    let url = database_url(&a.db);
    let (master, _) = crate::master_key::load(&url)?;
    let store = open_store(&url, None).await?;
    if store.get_tenant(&a.tenant).await?.is_none() {
        return Err(Failure::Usage(format!(
            "tenant '{}' does not exist",
            a.tenant
        )));
    }
    let ring = keygate_server::jwt::keyring::KeyRing::new(
        store.clone(),
        master,
        std::time::Duration::ZERO,
    );
    let r = ring
        .rotate(&a.tenant, alg, lead)
        .await
        .map_err(|e| Failure::Runtime(format!("{e:?}")))?;
    record(
        store.as_ref(),
        &a.tenant,
        "key.rotated",
        format!("key:{}", r.kid),
        json!({"kid": r.kid, "alg": r.alg.as_str(), "activates_at": r.activates_at}),
    )
    .await;
    let retiring: Vec<_> = r
        .retiring
        .iter()
        .map(|(kid, at)| json!({"kid": kid, "retires_at": at}))
        .collect();
    print(
        json!({"kid": r.kid, "alg": r.alg.as_str(), "activates_at": r.activates_at, "retiring": retiring}),
    );
    Ok(())
}

pub(crate) async fn admin_token(command: AdminTokenCommand) -> Result<(), Failure> {
    match command {
        AdminTokenCommand::Create(a) => {
            let store = open_store(&database_url(&a.db), None).await?;
            let (id, token) = provision::create_admin_token(store.as_ref()).await?;
            record(
                store.as_ref(),
                "",
                "admin.created",
                format!("admin-token:{id}"),
                admin_detail("admin_token", &id, &[]),
            )
            .await;
            print(json!({"id": id, "token": token}));
        }
        AdminTokenCommand::List(a) => {
            let store = open_store(&database_url(&a.db), None).await?;
            let tokens: Vec<_> = store
                .list_admin_tokens()
                .await?
                .into_iter()
                .map(|t| json!({"id": t.id, "created_at": t.created_at}))
                .collect();
            print(json!({ "tokens": tokens }));
        }
        AdminTokenCommand::Revoke(a) => {
            let store = open_store(&database_url(&a.db), None).await?;
            if !store.delete_admin_token(&a.id).await? {
                return Err(Failure::Usage(format!(
                    "no admin token has the id '{}'",
                    a.id
                )));
            }
            record(
                store.as_ref(),
                "",
                "admin.deleted",
                format!("admin-token:{}", a.id),
                admin_detail("admin_token", &a.id, &[]),
            )
            .await;
            print(json!({"id": a.id, "revoked": true}));
        }
    }
    Ok(())
}

/// `keygate events list`: the newest events, as the admin API lists them.
pub(crate) async fn events_list(a: EventsList) -> Result<(), Failure> {
    use keygate_server::admin::events::{EventView, MAX_PAGE};
    if !(1..=MAX_PAGE).contains(&a.limit) {
        return Err(Failure::Usage(format!("--limit: must be 1 to {MAX_PAGE}")));
    }
    if let Some(t) = a.types.iter().find(|t| !keygate_core::events::is_type(t)) {
        return Err(Failure::Usage(format!("--type: unknown event type '{t}'")));
    }
    let filter = keygate_core::events::EventFilter {
        tenant_id: a.tenant,
        types: a.types,
        ..Default::default()
    };
    let store = open_store(&database_url(&a.db), None).await?;
    let events = store.list_events(&filter, a.limit).await?;
    print_items(events.into_iter().map(EventView::from).collect())
}
