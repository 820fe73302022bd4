//! `keygate user list|show|update|delete|factors|remove-factor|reset-factors`:
//! the admin API's `/tenants/{tenant}/users` and `.../users/{sub}/factors`
//! (docs/admin-api.md), through the same `provision` functions and views.

use super::{
    admin_detail, database_url, every_page, open_store, print, print_items, print_view, record,
    set_fields,
};
use crate::cli::{FactorRef, UserCommand, UserList, UserRef, UserUpdate};
use crate::Failure;
use keygate_server::admin::views::UserView;
use keygate_server::provisioning::{self as provision, UserPatch};
use serde_json::json;

pub(crate) async fn user(command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Create(a) => super::user_create(a).await,
        UserCommand::List(a) => list(a).await,
        UserCommand::Show(a) => show(a).await,
        UserCommand::Update(a) => update(a).await,
        UserCommand::Delete(a) => delete(a).await,
        UserCommand::Factors(a) => factors(a).await,
        UserCommand::RemoveFactor(a) => remove_factor(a).await,
        UserCommand::ResetFactors(a) => reset_factors(a).await,
        UserCommand::Consents(a) => consents(a).await,
        UserCommand::RevokeConsent(a) => revoke_consent(a).await,
    }
}

async fn list(a: UserList) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let users = match &a.email {
        Some(email) => provision::user_by_email(store.as_ref(), &a.tenant, email)
            .await?
            .into_iter()
            .collect(),
        None => {
            provision::existing_tenant(store.as_ref(), &a.tenant).await?;
            every_page(
                |after, n| {
                    let (store, tenant) = (store.clone(), a.tenant.clone());
                    async move { store.list_users(&tenant, &after, n).await }
                },
                |u| u.sub.clone(),
            )
            .await?
        }
    };
    print_items(users.into_iter().map(UserView::from).collect())
}

async fn show(a: UserRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let user = provision::existing_user(store.as_ref(), &a.tenant, a.sub.get()).await?;
    print_view(UserView::from(user))
}

async fn update(a: UserUpdate) -> Result<(), Failure> {
    let password = match a.password_stdin {
        true => Some(super::read_stdin_line()?),
        false => None,
    };
    // The `--address-*` parts change the stored address part by part.
    let parts = [
        &a.contact.address_formatted,
        &a.contact.address_street,
        &a.contact.address_locality,
        &a.contact.address_region,
        &a.contact.address_postal_code,
        &a.contact.address_country,
    ];
    let store = open_store(&database_url(&a.db), None).await?;
    let stored = if parts.iter().any(|p| p.is_some()) {
        provision::existing_user(store.as_ref(), &a.tenant, a.sub.get())
            .await?
            .address
            .map(Into::into)
    } else {
        None
    };
    let address = match a.no_address {
        true => Some(None),
        false => a.contact.address(stored).map_err(Failure::Usage)?.map(Some),
    };
    let patch = UserPatch {
        email: a.email,
        password,
        name: a.name,
        email_verified: a.email_verified,
        disabled: a.disabled,
        phone_number: match a.no_phone_number {
            true => Some(None),
            false => a.contact.phone_number.map(Some),
        },
        phone_number_verified: a.contact.phone_number_verified,
        address,
    };
    let user = provision::update_user(store.as_ref(), &a.tenant, a.sub.get(), &patch).await?;
    let fields = set_fields!(patch; email, password, name, email_verified, disabled,
        phone_number, phone_number_verified, address);
    record(
        store.as_ref(),
        &a.tenant,
        "admin.updated",
        format!("user:{}", user.sub),
        admin_detail("user", &user.sub, &fields),
    )
    .await;
    print_view(UserView::from(user))
}

async fn delete(a: UserRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let sub = a.sub.get();
    provision::delete_user(store.as_ref(), &a.tenant, sub).await?;
    let subject = format!("user:{sub}");
    let detail = admin_detail("user", sub, &[]);
    record(store.as_ref(), &a.tenant, "admin.deleted", subject, detail).await;
    print(json!({"sub": sub, "tenant_id": a.tenant, "deleted": true}));
    Ok(())
}

async fn factors(a: UserRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let list = provision::factors(store.as_ref(), &a.tenant, a.sub.get()).await?;
    print_view(list)
}

async fn remove_factor(a: FactorRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let sub = a.sub.get();
    provision::remove_factor(store.as_ref(), &a.tenant, sub, &a.id).await?;
    let subject = format!("user:{sub}");
    let (s, t) = (store.as_ref(), a.tenant.as_str());
    record(
        s,
        t,
        "user.factor_removed",
        subject.clone(),
        json!({"id": a.id}),
    )
    .await;
    let detail = admin_detail("factor", &a.id, &[]);
    record(s, t, "admin.deleted", subject, detail).await;
    print(json!({"sub": sub, "tenant_id": a.tenant, "id": a.id, "removed": true}));
    Ok(())
}

async fn consents(a: UserRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let items = provision::consents(store.as_ref(), &a.tenant, a.sub.get()).await?;
    print_items(
        items
            .into_iter()
            .map(keygate_server::admin::views::ConsentView::from)
            .collect(),
    )
}

async fn revoke_consent(a: crate::cli::ConsentRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let sub = a.sub.get();
    provision::revoke_consent(store.as_ref(), &a.tenant, sub, &a.client, super::now()).await?;
    let subject = format!("user:{sub}");
    let (s, t) = (store.as_ref(), a.tenant.as_str());
    let detail = json!({"client_id": a.client});
    record(s, t, "user.consent_revoked", subject.clone(), detail).await;
    let detail = admin_detail("consent", &a.client, &[]);
    record(s, t, "admin.deleted", subject, detail).await;
    print(json!({"sub": sub, "tenant_id": a.tenant, "client_id": a.client, "revoked": true}));
    Ok(())
}

async fn reset_factors(a: UserRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    let sub = a.sub.get();
    provision::reset_factors(store.as_ref(), &a.tenant, sub).await?;
    let subject = format!("user:{sub}");
    let (s, t) = (store.as_ref(), a.tenant.as_str());
    record(
        s,
        t,
        "user.factor_removed",
        subject.clone(),
        json!({"all": true}),
    )
    .await;
    let detail = admin_detail("factors", sub, &[]);
    record(s, t, "admin.deleted", subject, detail).await;
    print(json!({"sub": sub, "tenant_id": a.tenant, "reset": true}));
    Ok(())
}
