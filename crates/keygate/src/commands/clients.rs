//! `keygate client list|show|update|delete|rotate-secret`: the admin API's
//! `/tenants/{tenant}/clients` (README, "Admin API"), through the same
//! `provision` functions and views.

use super::{
    admin_detail, database_url, every_page, open_store, print, print_items, print_view, record,
    set_fields,
};
use crate::cli::{ClientCommand, ClientList, ClientRef, ClientUpdate, RateSetting};
use crate::Failure;
use keygate_server::admin::views::{ClientSecret, ClientView};
use keygate_server::provisioning::{self as provision, ClientPatch, Ttl};
use serde_json::json;

pub(crate) async fn client(command: ClientCommand) -> Result<(), Failure> {
    match command {
        ClientCommand::Create(a) => super::client_create(a).await,
        ClientCommand::List(a) => list(a).await,
        ClientCommand::Show(a) => show(a).await,
        ClientCommand::Update(a) => update(a).await,
        ClientCommand::Delete(a) => delete(a).await,
        ClientCommand::RotateSecret(a) => rotate_secret(a).await,
        ClientCommand::Grant(a) => super::apis::grant(a).await,
        ClientCommand::Grants(a) => super::apis::grants(a).await,
        ClientCommand::RevokeGrant(a) => super::apis::revoke_grant(a).await,
    }
}

async fn list(a: ClientList) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::existing_tenant(store.as_ref(), &a.tenant).await?;
    let clients = every_page(
        |after, n| {
            let (store, tenant) = (store.clone(), a.tenant.clone());
            async move { store.list_clients(&tenant, &after, n).await }
        },
        |c| c.id.clone(),
    )
    .await?;
    print_items(clients.into_iter().map(ClientView::from).collect())
}

async fn show(a: ClientRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let client = provision::existing_client(store.as_ref(), &a.tenant, &a.client_id).await?;
    print_view(ClientView::from(client))
}

/// A list flag: absent leaves the list, `--no-…` empties it.
fn list_change(given: Vec<String>, clear: bool) -> Option<Vec<String>> {
    match (clear, given.is_empty()) {
        (true, _) => Some(vec![]),
        (false, true) => None,
        (false, false) => Some(given),
    }
}

/// The PATCH the flags describe: the same one the admin API receives.
fn patch(a: ClientUpdate) -> Result<ClientPatch, Failure> {
    Ok(ClientPatch {
        name: a.name,
        redirect_uris: list_change(a.redirect_uris, false),
        auth_method: a.auth_method,
        jwks: super::read_jwks_file(a.jwks_file.as_deref())?,
        jwks_uri: a.jwks_uri,
        grant_types: list_change(a.grants, false),
        refresh_tokens: a.refresh_tokens,
        id_token_ttl: a.id_token_ttl.map(Ttl::Text),
        access_token_ttl: a.access_token_ttl.map(Ttl::Text),
        refresh_token_max_ttl: a.refresh_token_max_ttl.map(Ttl::Text),
        journeys_api: a.journeys_api,
        require_mfa: a.require_mfa,
        third_party: a.third_party,
        require_dpop: a.require_dpop,
        require_par: a.require_par,
        web_origins: list_change(a.web_origins, a.no_web_origins),
        post_logout_redirect_uris: list_change(
            a.post_logout_redirect_uris,
            a.no_post_logout_redirect_uris,
        ),
        id_token_signed_response_alg: a.id_token_signed_response_alg,
        pkce: a.pkce,
        token_rate_limit: a.token_rate_limit.map(RateSetting::patch),
        backchannel_logout_uri: match (a.backchannel_logout_uri, a.no_backchannel_logout_uri) {
            (Some(uri), _) => Some(Some(uri)),
            (None, true) => Some(None),
            (None, false) => None,
        },
        exchange_audiences: list_change(a.exchange_audiences, a.no_exchange_audiences),
    })
}

async fn update(a: ClientUpdate) -> Result<(), Failure> {
    let (tenant, id, url) = (a.tenant.clone(), a.client_id.clone(), database_url(&a.db));
    let patch = patch(a)?;
    let store = open_store(&url, None).await?;
    let client = provision::update_client(store.as_ref(), &tenant, &id, &patch).await?;
    let fields = set_fields!(patch; name, redirect_uris, auth_method, jwks, jwks_uri,
        grant_types, refresh_tokens, id_token_ttl, access_token_ttl, refresh_token_max_ttl,
        journeys_api, require_mfa, third_party, require_dpop, require_par, web_origins,
        post_logout_redirect_uris, id_token_signed_response_alg, pkce, token_rate_limit,
        backchannel_logout_uri, exchange_audiences);
    let detail = admin_detail("client", &id, &fields);
    record(
        store.as_ref(),
        &tenant,
        "admin.updated",
        format!("client:{id}"),
        detail,
    )
    .await;
    print_view(ClientView::from(client))
}

async fn delete(a: ClientRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::delete_client(store.as_ref(), &a.tenant, &a.client_id).await?;
    let (subject, detail) = (
        format!("client:{}", a.client_id),
        admin_detail("client", &a.client_id, &[]),
    );
    record(store.as_ref(), &a.tenant, "admin.deleted", subject, detail).await;
    print(json!({"client_id": a.client_id, "tenant_id": a.tenant, "deleted": true}));
    Ok(())
}

async fn rotate_secret(a: ClientRef) -> Result<(), Failure> {
    let url = database_url(&a.db);
    let store = open_store(&url, None).await?;
    // A client_secret_jwt client's new secret is sealed under it.
    let (master, _) = crate::master_key::load(&url)?;
    let secret =
        provision::rotate_client_secret(store.as_ref(), &a.tenant, &a.client_id, &master).await?;
    let subject = format!("client:{}", a.client_id);
    let mut detail = admin_detail("client", &a.client_id, &[]);
    detail["secret"] = json!("rotated");
    record(store.as_ref(), &a.tenant, "admin.updated", subject, detail).await;
    print_view(ClientSecret {
        client_id: a.client_id,
        client_secret: secret,
    })
}
