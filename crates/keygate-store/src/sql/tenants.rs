//! The statements of [`TenantStore`]: a tenant's row, and its domains
//! (each with the Host authority it is matched on) read separately.

use super::SqlStore;
use crate::row::Cols;
use crate::write::Write;
use crate::{Result, StoreError, TenantStore};
use async_trait::async_trait;
use keygate_core::model::{
    DynamicRegistration, MetadataDocuments, MfaPolicy, Registration, Tenant, VerifyEmail,
};

/// A tenant's row, without its domains (read separately).
fn tenant_row(row: &dyn Cols) -> Result<Tenant> {
    Ok(Tenant {
        id: row.text("id")?,
        display_name: row.text("display_name")?,
        created_at: row.int("created_at")?,
        domains: Vec::new(),
        token_rate_limit: row.opt_int("token_rate_limit")?,
        registration: Registration::parse(&row.text("registration")?)
            .ok_or_else(|| corrupt("registration setting"))?,
        verify_email: VerifyEmail::parse(&row.text("verify_email")?)
            .ok_or_else(|| corrupt("verify_email setting"))?,
        mfa: MfaPolicy::parse(&row.text("mfa")?).ok_or_else(|| corrupt("mfa setting"))?,
        dynamic_registration: DynamicRegistration::parse(&row.text("dynamic_registration")?)
            .ok_or_else(|| corrupt("dynamic_registration setting"))?,
        client_id_metadata_documents: MetadataDocuments::parse(
            &row.text("client_id_metadata_documents")?,
        )
        .ok_or_else(|| corrupt("client_id_metadata_documents setting"))?,
    })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored tenant {what} is not understood"))
}

/// The columns [`tenant_row`] reads, each prefixed with `t.`.
const TENANT_COLS: &str =
    "t.id, t.display_name, t.created_at, t.token_rate_limit, t.registration, t.verify_email, t.mfa, \
    t.dynamic_registration, t.client_id_metadata_documents";

/// The statement that inserts a tenant's row, with [`tenant_params`].
const INSERT_TENANT: &str = "INSERT INTO tenants \
    (id, display_name, created_at, token_rate_limit, registration, verify_email, mfa, \
    dynamic_registration, client_id_metadata_documents) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

fn one_text(row: &dyn Cols) -> Result<String> {
    row.text("v")
}

/// Adds the statements that store a tenant's domains, each with the Host
/// authority it is matched on; a domain taken by another tenant is a
/// `Conflict`.
fn insert_domains(mut write: Write, tenant: &Tenant) -> Result<Write> {
    for origin in &tenant.domains {
        let authority = keygate_core::redirect::origin_authority(origin)
            .ok_or_else(|| StoreError::Conflict(format!("'{origin}' is not an origin")))?;
        write = write
            .then(
                "INSERT INTO tenant_domains (origin, authority, tenant_id) VALUES ($1, $2, $3)",
                &[
                    origin.into(),
                    authority.as_str().into(),
                    (&tenant.id).into(),
                ],
            )
            .conflict(format!("domain '{origin}' already belongs to a tenant"));
    }
    Ok(write)
}

impl SqlStore {
    async fn domains_of(&self, tenant_id: &str) -> Result<Vec<String>> {
        self.all(
            "SELECT origin AS v FROM tenant_domains WHERE tenant_id = $1 ORDER BY origin",
            &[tenant_id.into()],
            one_text,
        )
        .await
    }

    /// A tenant with its domains.
    async fn with_domains(&self, mut tenant: Tenant) -> Result<Tenant> {
        tenant.domains = self.domains_of(&tenant.id).await?;
        Ok(tenant)
    }
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        let write = Write::new()
            .then(
                INSERT_TENANT,
                &[
                    (&tenant.id).into(),
                    (&tenant.display_name).into(),
                    tenant.created_at.into(),
                    tenant.token_rate_limit.into(),
                    tenant.registration.as_str().into(),
                    tenant.verify_email.as_str().into(),
                    tenant.mfa.as_str().into(),
                    tenant.dynamic_registration.as_str().into(),
                    tenant.client_id_metadata_documents.as_str().into(),
                ],
            )
            .conflict(format!("tenant '{}' already exists", tenant.id));
        self.write(insert_domains(write, tenant)?).await?;
        Ok(())
    }

    /// The tenant row must be inserted for the rest to run: when the
    /// tenant exists the write is undone, so its domains are not inserted
    /// again (they would conflict with the ones it already holds).
    async fn ensure_tenant(&self, tenant: &Tenant) -> Result<()> {
        let write = Write::new()
            .then(
                format!("{INSERT_TENANT} ON CONFLICT (id) DO NOTHING"),
                &[
                    (&tenant.id).into(),
                    (&tenant.display_name).into(),
                    tenant.created_at.into(),
                    tenant.token_rate_limit.into(),
                    tenant.registration.as_str().into(),
                    tenant.verify_email.as_str().into(),
                    tenant.mfa.as_str().into(),
                    tenant.dynamic_registration.as_str().into(),
                    tenant.client_id_metadata_documents.as_str().into(),
                ],
            )
            .exactly_one();
        self.write(insert_domains(write, tenant)?).await?;
        Ok(())
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        match self
            .first(
                &format!("SELECT {TENANT_COLS} FROM tenants t WHERE t.id = $1"),
                &[id.into()],
                tenant_row,
            )
            .await?
        {
            Some(t) => Ok(Some(self.with_domains(t).await?)),
            None => Ok(None),
        }
    }

    async fn tenant_by_authority(&self, authority: &str) -> Result<Option<(Tenant, String)>> {
        let found = self
            .first(
                &format!("SELECT {TENANT_COLS}, d.origin FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.authority = $1"),
                &[authority.into()],
                |r| Ok((tenant_row(r)?, r.text("origin")?)),
            )
            .await?;
        match found {
            Some((t, origin)) => Ok(Some((self.with_domains(t).await?, origin))),
            None => Ok(None),
        }
    }

    async fn list_tenants(&self, after: &str, limit: i64) -> Result<Vec<Tenant>> {
        let rows = self
            .all(
                &format!(
                    "SELECT {TENANT_COLS} FROM tenants t WHERE t.id > $1 ORDER BY t.id LIMIT $2"
                ),
                &[after.into(), limit.into()],
                tenant_row,
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for t in rows {
            out.push(self.with_domains(t).await?);
        }
        Ok(out)
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<()> {
        let write = Write::new()
            .then(
                "UPDATE tenants SET display_name = $1, token_rate_limit = $2, registration = $3, \
                 verify_email = $4, mfa = $5, dynamic_registration = $7, \
                 client_id_metadata_documents = $8 WHERE id = $6",
                &[
                    (&tenant.display_name).into(),
                    tenant.token_rate_limit.into(),
                    tenant.registration.as_str().into(),
                    tenant.verify_email.as_str().into(),
                    tenant.mfa.as_str().into(),
                    (&tenant.id).into(),
                    tenant.dynamic_registration.as_str().into(),
                    tenant.client_id_metadata_documents.as_str().into(),
                ],
            )
            .exactly_one()
            .then(
                "DELETE FROM tenant_domains WHERE tenant_id = $1",
                &[(&tenant.id).into()],
            );
        self.write_found(insert_domains(write, tenant)?).await
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        // Tables without a foreign key to the tenant first, then those with
        // one (explicitly, not relying on cascades), then the tenant.
        let write = [
            "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE tenant_id = $1)",
            "DELETE FROM grants WHERE tenant_id = $1",
            "DELETE FROM sessions WHERE tenant_id = $1",
            "DELETE FROM client_web_origins WHERE tenant_id = $1",
            "DELETE FROM clients WHERE tenant_id = $1",
            "DELETE FROM client_grants WHERE tenant_id = $1",
            "DELETE FROM apis WHERE tenant_id = $1",
            "DELETE FROM consents WHERE tenant_id = $1",
            "DELETE FROM device_codes WHERE tenant_id = $1",
            "DELETE FROM totp_devices WHERE tenant_id = $1",
            "DELETE FROM passkeys WHERE tenant_id = $1",
            "DELETE FROM passkey_ceremonies WHERE tenant_id = $1",
            "DELETE FROM recovery_codes WHERE tenant_id = $1",
            "DELETE FROM federated_identities WHERE tenant_id = $1",
            "DELETE FROM federation_states WHERE tenant_id = $1",
            "DELETE FROM upstream_idps WHERE tenant_id = $1",
            "DELETE FROM webhook_deliveries WHERE tenant_id = $1",
            "DELETE FROM webhooks WHERE tenant_id = $1",
            "DELETE FROM users WHERE tenant_id = $1",
            "DELETE FROM signing_keys WHERE tenant_id = $1",
            "DELETE FROM tenant_domains WHERE tenant_id = $1",
        ]
        .iter()
        .fold(Write::new(), |w, sql| w.then(*sql, &[id.into()]))
        .then("DELETE FROM tenants WHERE id = $1", &[id.into()])
        .exactly_one();
        Ok(!self.write(write).await?.is_undone())
    }
}
