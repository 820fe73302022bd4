//! `keygate tenant list|show|update`: the admin API's `/tenants` (README,
//! "Admin API"), through the same `provision` functions and views.

use super::{
    admin_detail, database_url, every_page, open_store, print_items, print_view, public_url,
    record, set_fields,
};
use crate::cli::{RateSetting, TenantCommand, TenantList, TenantShow, TenantUpdate};
use crate::Failure;
use keygate_server::admin::views::TenantView;
use keygate_server::provisioning::{self as provision, TenantPatch};

pub(crate) async fn tenant(command: TenantCommand) -> Result<(), Failure> {
    match command {
        TenantCommand::Create(a) => super::tenant_create(a).await,
        TenantCommand::List(a) => list(a).await,
        TenantCommand::Show(a) => show(a).await,
        TenantCommand::Update(a) => update(a).await,
        TenantCommand::RegistrationToken(a) => registration_token(a).await,
    }
}

/// A new initial access token; only its SHA-256 is stored.
async fn registration_token(a: crate::cli::RegistrationTokenArgs) -> Result<(), Failure> {
    let ttl = keygate_server::provisioning::parse_duration(&a.ttl)
        .map_err(|e| Failure::Usage(format!("--ttl: {e}")))?;
    let store = open_store(&database_url(&a.db), None).await?;
    provision::existing_tenant(store.as_ref(), &a.id).await?;
    let token = keygate_crypto::secrets::new_secret();
    let now = super::now();
    store
        .create_registration_token(
            &keygate_crypto::secrets::sha256_hex(&token),
            &a.id,
            now,
            now + ttl,
        )
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let mut detail = admin_detail("registration_token", &a.id, &[]);
    detail["expires_at"] = serde_json::json!(now + ttl);
    record(
        store.as_ref(),
        &a.id,
        "admin.created",
        format!("tenant:{}", a.id),
        detail,
    )
    .await;
    super::print(serde_json::json!({"token": token, "expires_at": now + ttl}));
    Ok(())
}

async fn list(a: TenantList) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let store = open_store(&database_url(&a.db), None).await?;
    let tenants = every_page(
        |after, n| {
            let store = store.clone();
            async move { store.list_tenants(&after, n).await }
        },
        |t| t.id.clone(),
    )
    .await?;
    print_items(
        tenants
            .into_iter()
            .map(|t| TenantView::new(t, &url))
            .collect(),
    )
}

async fn show(a: TenantShow) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let store = open_store(&database_url(&a.db), None).await?;
    let tenant = provision::existing_tenant(store.as_ref(), &a.id).await?;
    print_view(TenantView::new(tenant, &url))
}

async fn update(a: TenantUpdate) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let patch = TenantPatch {
        display_name: a.display_name,
        domains: match (a.no_domains, a.domains.is_empty()) {
            (true, _) => Some(vec![]),
            (false, true) => None,
            (false, false) => Some(a.domains),
        },
        token_rate_limit: a.token_rate_limit.map(RateSetting::patch),
        registration: a.registration,
        verify_email: a.verify_email,
        mfa: a.mfa,
        dynamic_registration: a.dynamic_registration,
        client_id_metadata_documents: a.client_id_metadata_documents,
    };
    let store = open_store(&database_url(&a.db), None).await?;
    let (_, after) = provision::update_tenant(store.as_ref(), &a.id, &patch).await?;
    let fields = set_fields!(patch; display_name, domains, token_rate_limit, registration,
        verify_email, mfa, dynamic_registration, client_id_metadata_documents);
    let detail = admin_detail("tenant", &a.id, &fields);
    record(
        store.as_ref(),
        "",
        "admin.updated",
        format!("tenant:{}", a.id),
        detail,
    )
    .await;
    print_view(TenantView::new(after, &url))
}
