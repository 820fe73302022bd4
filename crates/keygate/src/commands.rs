//! Provisioning commands. Every argument is checked before anything is
//! written; a bad one is a `Failure::Usage` (exit 2).

use crate::cli::{ClientCreate, DbArgs, KeysRotate, TenantCreate, UserCreate};
use crate::Failure;
use keygate_core::duration::parse_duration;
use keygate_core::model::*;
use keygate_core::redirect::{parse_origin, validate_redirect_uri};
use keygate_core::validate;
use keygate_crypto::secrets;
use keygate_store::Store;
use serde_json::json;
use std::sync::Arc;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://keygate-data/keygate.db";

pub fn database_url(db: &DbArgs) -> String {
    db.database_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
}

pub fn now() -> i64 {
    keygate_server::now()
}

/// Opens the store and makes sure the `default` tenant exists.
pub async fn open_store(url: &str, pool_size: Option<u32>) -> Result<Arc<dyn Store>, Failure> {
    let mut opts = keygate_store::StoreOptions::default();
    if let Some(n) = pool_size {
        opts.max_connections = n.max(1);
    }
    let store = keygate_store::connect(url, &opts)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    store
        .ensure_tenant(&Tenant {
            id: DEFAULT_TENANT.into(),
            display_name: "Keygate".into(),
            domains: vec![],
            created_at: now(),
        })
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    Ok(store)
}

fn print(v: serde_json::Value) {
    println!("{v}");
}

pub async fn tenant_create(a: TenantCreate) -> Result<(), Failure> {
    if !validate::is_tenant_id(&a.id) {
        return Err(Failure::Usage(format!(
            "tenant id '{}' must match [a-z0-9-]{{1,63}}",
            a.id
        )));
    }
    let mut domains = Vec::new();
    for d in &a.domains {
        let origin = parse_origin(d).map_err(Failure::Usage)?;
        if !domains.contains(&origin) {
            domains.push(origin);
        }
    }
    let display_name = match &a.display_name {
        Some(n) => validate::normalize_name(n)
            .ok_or_else(|| Failure::Usage("--display-name is empty or too long".into()))?,
        None => a.id.clone(),
    };
    let store = open_store(&database_url(&a.db), None).await?;
    let tenant = Tenant {
        id: a.id.clone(),
        display_name,
        domains,
        created_at: now(),
    };
    store.create_tenant(&tenant).await?;
    print(
        json!({"id": tenant.id, "tenant_id": tenant.id, "display_name": tenant.display_name, "domains": tenant.domains}),
    );
    Ok(())
}

fn parse_grants(raw: &[String]) -> Result<Vec<GrantType>, Failure> {
    if raw.is_empty() {
        return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    }
    let mut out = Vec::new();
    for g in raw
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let grant = GrantType::parse(g).ok_or_else(|| {
            Failure::Usage(format!(
                "unknown grant '{g}': use authorization_code, refresh_token, client_credentials"
            ))
        })?;
        if !out.contains(&grant) {
            out.push(grant);
        }
    }
    if out.is_empty() {
        return Err(Failure::Usage("--grant names no grant".into()));
    }
    Ok(out)
}

fn ttl(raw: &Option<String>, flag: &str, default: i64) -> Result<i64, Failure> {
    match raw {
        None => Ok(default),
        Some(s) => parse_duration(s).map_err(|e| Failure::Usage(format!("{flag}: {e}"))),
    }
}

/// Builds the client record from the arguments; the secret is returned
/// once and only its hash is kept.
pub fn client_from_args(a: &ClientCreate) -> Result<(Client, Option<String>), Failure> {
    if !validate::is_tenant_id(&a.tenant) {
        return Err(Failure::Usage(format!(
            "tenant '{}' does not exist",
            a.tenant
        )));
    }
    let name = validate::normalize_name(&a.name)
        .ok_or_else(|| Failure::Usage("--name is empty or too long".into()))?;
    if a.public && a.auth_method.is_some() {
        return Err(Failure::Usage(
            "--public clients have no secret, so --auth-method does not apply".into(),
        ));
    }
    let auth_method = match (a.public, a.auth_method.as_deref()) {
        (true, _) => AuthMethod::None,
        (false, None) => AuthMethod::ClientSecretBasic,
        (false, Some(m @ ("client_secret_basic" | "client_secret_post"))) => {
            AuthMethod::parse(m).expect("listed")
        }
        (false, Some(m)) => {
            return Err(Failure::Usage(format!(
                "--auth-method '{m}': use client_secret_basic or client_secret_post"
            )))
        }
    };
    let grant_types = parse_grants(&a.grants)?;
    if a.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(Failure::Usage(
            "public clients cannot use client_credentials".into(),
        ));
    }
    for uri in a.redirect_uris.iter().chain(&a.post_logout_redirect_uris) {
        validate_redirect_uri(uri).map_err(Failure::Usage)?;
    }
    if a.redirect_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(Failure::Usage(
            "at least one --redirect-uri is needed for the authorization_code grant".into(),
        ));
    }
    let refresh_policy = match &a.refresh_tokens {
        None => RefreshPolicy::OfflineAccess,
        Some(p) => RefreshPolicy::parse(p).ok_or_else(|| {
            Failure::Usage(format!(
                "--refresh-tokens '{p}': use always, offline_access or never"
            ))
        })?,
    };
    let signing_alg = match &a.id_token_signed_response_alg {
        None => SigningAlg::RS256,
        Some(s) => SigningAlg::parse(s).ok_or_else(|| {
            Failure::Usage(format!(
                "--id-token-signed-response-alg '{s}': use RS256, ES256 or EdDSA"
            ))
        })?,
    };
    let mut web_origins = Vec::new();
    for o in &a.web_origins {
        let o = parse_origin(o).map_err(Failure::Usage)?;
        if !web_origins.contains(&o) {
            web_origins.push(o);
        }
    }
    let mut redirect_uris: Vec<String> = Vec::new();
    for u in &a.redirect_uris {
        if !redirect_uris.contains(u) {
            redirect_uris.push(u.clone());
        }
    }
    let secret = (!a.public).then(secrets::new_secret);
    let client = Client {
        id: secrets::random_token(18),
        tenant_id: a.tenant.clone(),
        name,
        public: a.public,
        secret_hash: secret.as_deref().map(secrets::sha256_hex),
        auth_method,
        redirect_uris,
        post_logout_redirect_uris: a.post_logout_redirect_uris.clone(),
        grant_types,
        refresh_policy,
        id_token_ttl: ttl(&a.id_token_ttl, "--id-token-ttl", DEFAULT_ID_TOKEN_TTL)?,
        access_token_ttl: ttl(
            &a.access_token_ttl,
            "--access-token-ttl",
            DEFAULT_ACCESS_TOKEN_TTL,
        )?,
        journeys_api: a.journeys_api,
        web_origins,
        signing_alg,
        created_at: now(),
    };
    Ok((client, secret))
}

pub async fn client_create(a: ClientCreate) -> Result<(), Failure> {
    let (client, secret) = client_from_args(&a)?;
    let store = open_store(&database_url(&a.db), None).await?;
    if store.get_tenant(&a.tenant).await?.is_none() {
        return Err(Failure::Usage(format!(
            "tenant '{}' does not exist",
            a.tenant
        )));
    }
    store.create_client(&client).await?;
    match secret {
        Some(s) => print(json!({"client_id": client.id, "client_secret": s})),
        None => print(json!({"client_id": client.id})),
    }
    Ok(())
}

/// Creates a user after checking every field; returns the record.
pub async fn create_user(
    store: &dyn Store,
    tenant: &str,
    email: &str,
    name: Option<&str>,
    password: &str,
) -> Result<User, Failure> {
    let email = validate::normalize_email(email)
        .ok_or_else(|| Failure::Usage(format!("'{email}' is not a valid e-mail address")))?;
    match validate::check_password(password) {
        Err(validate::PasswordProblem::TooShort) => {
            return Err(Failure::Usage(format!(
                "the password must be at least {} characters",
                validate::MIN_PASSWORD_LEN
            )))
        }
        Err(validate::PasswordProblem::TooLong) => {
            return Err(Failure::Usage("the password is too long".into()))
        }
        Ok(()) => {}
    }
    let name = match name {
        Some(n) => Some(
            validate::normalize_name(n)
                .ok_or_else(|| Failure::Usage("--name is empty or too long".into()))?,
        ),
        None => None,
    };
    if store.get_tenant(tenant).await?.is_none() {
        return Err(Failure::Usage(format!("tenant '{tenant}' does not exist")));
    }
    if store.user_by_email(tenant, &email).await?.is_some() {
        return Err(Failure::Usage(format!(
            "the e-mail '{email}' is already registered in tenant '{tenant}'"
        )));
    }
    let pw = password.to_string();
    let password_hash =
        tokio::task::spawn_blocking(move || keygate_crypto::password::hash_password(&pw))
            .await
            .map_err(|e| Failure::Runtime(e.to_string()))?;
    let user = User {
        sub: secrets::new_id(),
        tenant_id: tenant.to_string(),
        email,
        email_verified: false,
        name,
        password_hash,
        created_at: now(),
    };
    store.create_user(&user).await?;
    Ok(user)
}

pub async fn user_create(a: UserCreate) -> Result<(), Failure> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("cannot read the password from stdin: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if !validate::is_tenant_id(&a.tenant) {
        return Err(Failure::Usage(format!(
            "tenant '{}' does not exist",
            a.tenant
        )));
    }
    if validate::normalize_email(&a.email).is_none() {
        return Err(Failure::Usage(format!(
            "'{}' is not a valid e-mail address",
            a.email
        )));
    }
    let store = open_store(&database_url(&a.db), None).await?;
    let user = create_user(
        store.as_ref(),
        &a.tenant,
        &a.email,
        a.name.as_deref(),
        password,
    )
    .await?;
    print(json!({"sub": user.sub}));
    Ok(())
}

pub async fn keys_rotate(a: KeysRotate) -> Result<(), Failure> {
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
    let ring = keygate_server::keyring::KeyRing::new(store, master, std::time::Duration::ZERO);
    let r = ring
        .rotate(&a.tenant, alg, lead)
        .await
        .map_err(|e| Failure::Runtime(format!("{e:?}")))?;
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
