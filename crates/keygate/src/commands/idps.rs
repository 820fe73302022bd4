//! `keygate idp ...`: the admin API's `/tenants/{tenant}/idps`, through the
//! same `provision` functions and views. The client secret is read from
//! standard input, sealed under the master key and never printed.

use super::{
    admin_detail, database_url, now, open_store, print, print_view, public_url, read_stdin_line,
    record, set_fields,
};
use crate::cli::{IdpCommand, IdpCreate, IdpRef, IdpTenant, IdpUpdate};
use crate::Failure;
use keygate_server::admin::views::{IdpList, IdpView};
use keygate_server::provisioning::{self as provision, IdpClaims, IdpPatch, IdpSecret, NewIdp};
use serde_json::json;

pub(crate) async fn idp(command: IdpCommand) -> Result<(), Failure> {
    match command {
        IdpCommand::Create(a) => create(a).await,
        IdpCommand::List(a) => list(a).await,
        IdpCommand::Show(a) => show(a).await,
        IdpCommand::Update(a) => update(a).await,
        IdpCommand::Delete(a) => delete(a).await,
    }
}

/// The `--claim KEY=PATH` flags as the admin API's `claims` object; an
/// unknown KEY is refused by the provisioning rules, with the others.
fn claims(raw: &[String]) -> Result<Option<IdpClaims>, Failure> {
    if raw.is_empty() {
        return Ok(None);
    }
    let mut out = IdpClaims::default();
    for c in raw {
        let Some((key, path)) = c.split_once('=') else {
            return Err(Failure::Usage(format!(
                "--claim '{c}': expected KEY=PATH (KEY: sub, email, email_verified or name)"
            )));
        };
        let slot = match key {
            "sub" => &mut out.sub,
            "email" => &mut out.email,
            "email_verified" => &mut out.email_verified,
            "name" => &mut out.name,
            _ => {
                return Err(Failure::Usage(format!(
                    "--claim: unknown claim '{key}': expected sub, email, email_verified or name"
                )))
            }
        };
        *slot = Some(path.to_string());
    }
    Ok(Some(out))
}

/// The secret on standard input (one line, its line ending dropped).
fn secret_from_stdin() -> Result<IdpSecret, Failure> {
    read_stdin_line().map(IdpSecret).map_err(|_| {
        Failure::Usage("--client-secret-stdin: cannot read the secret from stdin".into())
    })
}

async fn create(a: IdpCreate) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let spec = NewIdp {
        name: a.name,
        issuer: a.issuer,
        client_id: a.client_id,
        client_secret: a.client_secret_stdin.then(secret_from_stdin).transpose()?,
        kind: a.kind,
        scopes: (!a.scopes.is_empty()).then_some(a.scopes),
        authorize_url: a.authorize_url,
        token_url: a.token_url,
        userinfo_url: a.userinfo_url,
        claims: claims(&a.claims)?,
    };
    // Every setting is checked before the database or the master key is
    // opened: a refused command writes nothing.
    let (mut idp, secret) = provision::idp_from_spec(&a.tenant, &spec, now())?;
    let db = database_url(&a.db);
    let store = open_store(&db, None).await?;
    provision::existing_tenant(store.as_ref(), &a.tenant).await?;
    if let Some(s) = secret {
        let (master, _) = crate::master_key::load(&db)?;
        idp.client_secret_sealed = Some(provision::seal_idp_secret(&master, &s));
    }
    let tenant = provision::create_idp(store.as_ref(), &idp).await?;
    let (subject, detail) = (format!("idp:{}", idp.id), admin_detail("idp", &idp.id, &[]));
    record(store.as_ref(), &a.tenant, "admin.created", subject, detail).await;
    print_view(IdpView::new(idp, &tenant, &url))
}

async fn list(a: IdpTenant) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let store = open_store(&database_url(&a.db), None).await?;
    let (tenant, idps) = provision::list_idps(store.as_ref(), &a.tenant).await?;
    print_view(IdpList {
        idps: idps
            .into_iter()
            .map(|i| IdpView::new(i, &tenant, &url))
            .collect(),
    })
}

async fn show(a: IdpRef) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let store = open_store(&database_url(&a.db), None).await?;
    let (tenant, idp) = provision::existing_idp(store.as_ref(), &a.tenant, &a.id).await?;
    print_view(IdpView::new(idp, &tenant, &url))
}

async fn update(a: IdpUpdate) -> Result<(), Failure> {
    let url = public_url(a.public_url.public_url.as_deref())?;
    let client_secret = match (a.client_secret_stdin, a.no_client_secret) {
        (true, _) => Some(Some(secret_from_stdin()?)),
        (false, true) => Some(None),
        (false, false) => None,
    };
    let patch = IdpPatch {
        name: a.name,
        issuer: a.issuer,
        client_id: a.client_id,
        client_secret,
        kind: a.kind,
        scopes: (!a.scopes.is_empty()).then_some(a.scopes),
        authorize_url: a.authorize_url.map(Some),
        token_url: a.token_url.map(Some),
        userinfo_url: a.userinfo_url.map(Some),
        claims: claims(&a.claims)?,
    };
    let db = database_url(&a.db);
    let store = open_store(&db, None).await?;
    // Checked against the stored upstream before the master key is opened.
    let (_, stored) = provision::existing_idp(store.as_ref(), &a.tenant, &a.id).await?;
    let (_, secret) = provision::apply_idp_patch(&stored, &patch)?;
    let master = match secret {
        Some(_) => Some(crate::master_key::load(&db)?.0),
        None => None,
    };
    let (tenant, idp) =
        provision::update_idp(store.as_ref(), &a.tenant, &a.id, &patch, master.as_ref()).await?;
    let fields = set_fields!(patch; name, issuer, client_id, client_secret, kind, scopes,
        authorize_url, token_url, userinfo_url, claims);
    let (subject, detail) = (format!("idp:{}", a.id), admin_detail("idp", &a.id, &fields));
    record(store.as_ref(), &a.tenant, "admin.updated", subject, detail).await;
    print_view(IdpView::new(idp, &tenant, &url))
}

async fn delete(a: IdpRef) -> Result<(), Failure> {
    let store = open_store(&database_url(&a.db), None).await?;
    provision::delete_idp(store.as_ref(), &a.tenant, &a.id).await?;
    let (subject, detail) = (format!("idp:{}", a.id), admin_detail("idp", &a.id, &[]));
    record(store.as_ref(), &a.tenant, "admin.deleted", subject, detail).await;
    print(json!({"deleted": true}));
    Ok(())
}
