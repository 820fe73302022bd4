//! The OpenAPI document of the admin API, generated from the handlers'
//! annotations and the request and response types (utoipa).

use super::error::ErrorBody;
use super::{apis, clients, consents, events, factors, idps, tenants, users, views, webhooks};
use crate::provisioning as provision;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keygate admin API",
        description = "Tenants, clients, users, APIs and upstream identity providers of a Keygate identity provider. \
            Every request needs `Authorization: Bearer <admin token>`: `KEYGATE_ADMIN_TOKEN`, \
            or a token made by `keygate admin-token create`."
    ),
    paths(
        tenants::list,
        tenants::create,
        tenants::read,
        tenants::update,
        tenants::delete,
        clients::list,
        clients::create,
        clients::read,
        clients::update,
        clients::rotate_secret,
        clients::delete,
        users::list,
        users::create,
        users::read,
        users::update,
        users::delete,
        consents::list,
        consents::revoke,
        apis::list,
        apis::create,
        apis::read,
        apis::update,
        apis::delete,
        apis::grants,
        apis::grant,
        apis::revoke,
        idps::list,
        idps::create,
        idps::read,
        idps::update,
        idps::delete,
        factors::list,
        factors::delete,
        factors::reset,
        webhooks::list,
        webhooks::create,
        webhooks::read,
        webhooks::delete,
        webhooks::deliveries,
        events::list,
        serve,
    ),
    components(schemas(
        ErrorBody,
        provision::NewTenant,
        provision::TenantPatch,
        provision::NewClient,
        provision::ClientPatch,
        provision::NewUser,
        provision::UserPatch,
        provision::AddressFields,
        provision::Ttl,
        provision::NewApi,
        provision::ApiPatch,
        provision::NewClientGrant,
        provision::NewIdp,
        provision::IdpPatch,
        provision::IdpClaims,
        views::IdpView,
        views::IdpClaimsView,
        views::IdpList,
        views::ConsentView,
        views::ConsentList,
        views::ApiView,
        views::ApiList,
        views::ClientGrantView,
        views::ClientGrantList,
        views::TenantView,
        views::TenantList,
        views::ClientView,
        views::CreatedClient,
        views::ClientSecret,
        views::ClientList,
        views::UserView,
        views::UserList,
        views::FactorType,
        views::FactorView,
        views::RecoveryCodesView,
        views::FactorList,
        provision::NewWebhook,
        provision::WebhookView,
        provision::WebhookList,
        provision::CreatedWebhook,
        provision::DeliveryView,
        provision::DeliveryList,
        events::EventView,
        events::EventList,
    )),
    modifiers(&AdminAuth),
    security(("admin_token" = [])),
    tags(
        (name = "tenants", description = "Tenants: each has its own issuer, clients, users and keys"),
        (name = "clients", description = "Clients (applications) of a tenant"),
        (name = "apis", description = "APIs (resource servers) of a tenant, and the scopes of them granted to clients"),
        (name = "idps", description = "Upstream identity providers a tenant's people may sign in with"),
        (name = "users", description = "Users of a tenant, and their second factors"),
        (name = "webhooks", description = "Webhooks of a tenant: its audit events POSTed, signed, to chosen URLs"),
        (name = "events", description = "Audit events: sign-ins, failures, second factors, resets, consents, token reuse, key rotations and admin changes"),
        (name = "meta", description = "This document"),
    )
)]
struct AdminApi;

/// The bearer scheme, and the 401 every operation may answer.
struct AdminAuth;

impl Modify for AdminAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let unauthorized = ResponseBuilder::new()
            .description("No admin token, or not a valid one (with `WWW-Authenticate: Bearer`)")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("401".into())
                    .or_insert_with(|| RefOr::T(unauthorized.clone()));
            }
        }
    }
}

/// The OpenAPI document, as JSON.
pub fn document() -> String {
    AdminApi::openapi()
        .to_json()
        .expect("the OpenAPI document serializes")
}

#[utoipa::path(
    get,
    path = "/admin/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi_document",
    summary = "This OpenAPI document",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json"))
)]
pub(super) async fn serve() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(document).clone();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc,
    )
        .into_response()
}
