//! `keygate api ...` and `keygate client grant|grants|revoke-grant`: the
//! admin API's `/tenants/{tenant}/apis` and `/clients/{id}/grants`, through
//! the same `provision` functions and views.

use super::{
    admin_detail, database_url, now, open_store, print, print_items, print_view, record, set_fields,
};
use crate::cli::{
    ApiCommand, ApiCreate, ApiRef, ApiTenant, ApiUpdate, ClientGrantArgs, ClientGrantRef,
    ClientGrantsOf,
};
use crate::Failure;
use keygate_server::admin::views::{ApiView, ClientGrantView};
use keygate_server::provisioning::{self as provision, ApiPatch, NewApi, NewClientGrant, Ttl};
use serde_json::json;

pub(crate) async fn api(command: ApiCommand) -> Result<(), Failure> {
    match command {
        ApiCommand::Create(a) => create(a).await,
        ApiCommand::List(a) => list(a).await,
        ApiCommand::Show(a) => show(a).await,
        ApiCommand::Update(a) => update(a).await,
        ApiCommand::Delete(a) => delete(a).await,
    }
}

async fn create(a: ApiCreate) -> Result<(), Failure> {
    let spec = NewApi {
        identifier: a.identifier,
        name: a.name,
        scopes: a.scopes,
        access_token_ttl: a.access_token_ttl.map(Ttl::Text),
        signing_alg: a.alg,
    };
    let api = provision::api_from_spec(&a.tenant, &spec, now())?;
    let store = open_store(&database_url(&a.db), None).await?;
    provision::create_api(store.as_ref(), &api).await?;
    let (subject, detail) = (
        format!("api:{}", api.identifier),
        admin_detail("api", &api.identifier, &[]),
    );
    record(store.as_ref(), &a.tenant, "admin.created", subject, detail).await;
    print_view(ApiView::from(api))
}

async fn list(a: ApiTenant) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::existing_tenant(store.as_ref(), &a.tenant).await?;
    let apis = store
        .list_apis(&a.tenant)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    print_items(apis.into_iter().map(ApiView::from).collect())
}

async fn show(a: ApiRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let api = provision::existing_api(store.as_ref(), &a.tenant, &a.identifier).await?;
    print_view(ApiView::from(api))
}

async fn update(a: ApiUpdate) -> Result<(), Failure> {
    let patch = ApiPatch {
        name: a.name,
        scopes: (!a.scopes.is_empty()).then_some(a.scopes),
        access_token_ttl: a.access_token_ttl.map(Ttl::Text),
        signing_alg: a.alg,
    };
    let store = open_store(&database_url(&a.db), None).await?;
    let api = provision::update_api(store.as_ref(), &a.tenant, &a.identifier, &patch).await?;
    let fields = set_fields!(patch; name, scopes, access_token_ttl, signing_alg);
    let (subject, detail) = (
        format!("api:{}", a.identifier),
        admin_detail("api", &a.identifier, &fields),
    );
    record(store.as_ref(), &a.tenant, "admin.updated", subject, detail).await;
    print_view(ApiView::from(api))
}

async fn delete(a: ApiRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::delete_api(store.as_ref(), &a.tenant, &a.identifier).await?;
    let (subject, detail) = (
        format!("api:{}", a.identifier),
        admin_detail("api", &a.identifier, &[]),
    );
    record(store.as_ref(), &a.tenant, "admin.deleted", subject, detail).await;
    print(json!({"deleted": a.identifier}));
    Ok(())
}

pub(crate) async fn grant(a: ClientGrantArgs) -> Result<(), Failure> {
    let spec = NewClientGrant {
        api: a.api,
        scopes: a.scopes,
    };
    let store = open_store(&database_url(&a.db), None).await?;
    let grant = provision::grant_client(store.as_ref(), &a.tenant, &a.client, &spec).await?;
    let mut detail = admin_detail("grant", &a.client, &["api", "scopes"]);
    detail["api"] = json!(grant.api);
    let subject = format!("client:{}", a.client);
    record(store.as_ref(), &a.tenant, "admin.updated", subject, detail).await;
    print_view(ClientGrantView::from(grant))
}

pub(crate) async fn grants(a: ClientGrantsOf) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::existing_client(store.as_ref(), &a.tenant, &a.client).await?;
    let grants = store
        .client_grants(&a.tenant, &a.client)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    print_items(grants.into_iter().map(ClientGrantView::from).collect())
}

pub(crate) async fn revoke_grant(a: ClientGrantRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::revoke_client_grant(store.as_ref(), &a.tenant, &a.client, &a.api).await?;
    let mut detail = admin_detail("grant", &a.client, &[]);
    detail["api"] = json!(a.api);
    let subject = format!("client:{}", a.client);
    record(store.as_ref(), &a.tenant, "admin.deleted", subject, detail).await;
    print(json!({"client_id": a.client, "api": a.api, "revoked": true}));
    Ok(())
}
