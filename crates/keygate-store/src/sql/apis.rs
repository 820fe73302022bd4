//! The statements of [`ApiStore`]: `apis` by (tenant, identifier), and
//! `client_grants` by (tenant, client, API). Scope lists are stored as
//! space-separated scope tokens (RFC 6749 3.3: tokens have no spaces).

use super::SqlStore;
use crate::row::{words, Cols};
use crate::write::Write;
use crate::{ApiStore, Result, StoreError};
use async_trait::async_trait;
use keygate_core::model::{Api, ClientGrant, SigningAlg};

const API_COLS: &str =
    "tenant_id, identifier, name, scopes, access_token_ttl, signing_alg, created_at";

fn api_from(r: &dyn Cols) -> Result<Api> {
    Ok(Api {
        tenant_id: r.text("tenant_id")?,
        identifier: r.text("identifier")?,
        name: r.text("name")?,
        scopes: words(&r.text("scopes")?),
        access_token_ttl: r.opt_int("access_token_ttl")?,
        signing_alg: match r.opt_text("signing_alg")? {
            None => None,
            Some(a) => Some(SigningAlg::parse(&a).ok_or_else(|| {
                StoreError::Backend("stored signing alg is not understood".into())
            })?),
        },
        created_at: r.int("created_at")?,
    })
}

fn grant_from(r: &dyn Cols) -> Result<ClientGrant> {
    Ok(ClientGrant {
        tenant_id: r.text("tenant_id")?,
        client_id: r.text("client_id")?,
        api: r.text("api")?,
        scopes: words(&r.text("scopes")?),
    })
}

#[async_trait]
impl ApiStore for SqlStore {
    async fn create_api(&self, api: &Api) -> Result<()> {
        let scopes = api.scopes.join(" ");
        let alg = api.signing_alg.map(|a| a.as_str());
        self.write(
            Write::new()
                .then(
                    format!("INSERT INTO apis ({API_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
                    &[
                        (&api.tenant_id).into(),
                        (&api.identifier).into(),
                        (&api.name).into(),
                        (&scopes).into(),
                        api.access_token_ttl.into(),
                        alg.into(),
                        api.created_at.into(),
                    ],
                )
                .conflict(format!(
                    "an API with identifier '{}' already exists in this tenant",
                    api.identifier
                )),
        )
        .await?;
        Ok(())
    }

    async fn get_api(&self, tenant_id: &str, identifier: &str) -> Result<Option<Api>> {
        self.first(
            &format!("SELECT {API_COLS} FROM apis WHERE tenant_id = $1 AND identifier = $2"),
            &[tenant_id.into(), identifier.into()],
            api_from,
        )
        .await
    }

    async fn list_apis(&self, tenant_id: &str) -> Result<Vec<Api>> {
        self.all(
            &format!("SELECT {API_COLS} FROM apis WHERE tenant_id = $1 ORDER BY identifier"),
            &[tenant_id.into()],
            api_from,
        )
        .await
    }

    async fn update_api(&self, api: &Api) -> Result<bool> {
        let scopes = api.scopes.join(" ");
        let alg = api.signing_alg.map(|a| a.as_str());
        let mut write = Write::new().then(
            "UPDATE apis SET name = $1, scopes = $2, access_token_ttl = $3, signing_alg = $4 \
             WHERE tenant_id = $5 AND identifier = $6",
            &[
                (&api.name).into(),
                (&scopes).into(),
                api.access_token_ttl.into(),
                alg.into(),
                (&api.tenant_id).into(),
                (&api.identifier).into(),
            ],
        );
        // Grants keep only the scopes the API still defines.
        for grant in self.grants_of_api(&api.tenant_id, &api.identifier).await? {
            let kept: Vec<&str> = grant
                .scopes
                .iter()
                .filter(|s| api.scopes.contains(s))
                .map(String::as_str)
                .collect();
            if kept.len() != grant.scopes.len() {
                write = write.then_owned(
                    "UPDATE client_grants SET scopes = $1 WHERE tenant_id = $2 AND client_id = $3 AND api = $4"
                        .to_string(),
                    vec![
                        crate::row::OwnedParam::Text(kept.join(" ")),
                        crate::row::OwnedParam::Text(grant.tenant_id.clone()),
                        crate::row::OwnedParam::Text(grant.client_id.clone()),
                        crate::row::OwnedParam::Text(grant.api.clone()),
                    ],
                );
            }
        }
        self.write_one(write).await
    }

    async fn delete_api(&self, tenant_id: &str, identifier: &str) -> Result<bool> {
        self.write_one(
            Write::new()
                .then(
                    "DELETE FROM apis WHERE tenant_id = $1 AND identifier = $2",
                    &[tenant_id.into(), identifier.into()],
                )
                .then(
                    "DELETE FROM client_grants WHERE tenant_id = $1 AND api = $2",
                    &[tenant_id.into(), identifier.into()],
                ),
        )
        .await
    }

    async fn set_client_grant(&self, grant: &ClientGrant) -> Result<()> {
        let scopes = grant.scopes.join(" ");
        self.write(Write::new().then(
            "INSERT INTO client_grants (tenant_id, client_id, api, scopes) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, client_id, api) DO UPDATE SET scopes = excluded.scopes",
            &[
                (&grant.tenant_id).into(),
                (&grant.client_id).into(),
                (&grant.api).into(),
                (&scopes).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn client_grant(
        &self,
        tenant_id: &str,
        client_id: &str,
        api: &str,
    ) -> Result<Option<ClientGrant>> {
        self.first(
            "SELECT tenant_id, client_id, api, scopes FROM client_grants \
             WHERE tenant_id = $1 AND client_id = $2 AND api = $3",
            &[tenant_id.into(), client_id.into(), api.into()],
            grant_from,
        )
        .await
    }

    async fn client_grants(&self, tenant_id: &str, client_id: &str) -> Result<Vec<ClientGrant>> {
        self.all(
            "SELECT tenant_id, client_id, api, scopes FROM client_grants \
             WHERE tenant_id = $1 AND client_id = $2 ORDER BY api",
            &[tenant_id.into(), client_id.into()],
            grant_from,
        )
        .await
    }

    async fn delete_client_grant(
        &self,
        tenant_id: &str,
        client_id: &str,
        api: &str,
    ) -> Result<bool> {
        self.write_one(Write::new().then(
            "DELETE FROM client_grants WHERE tenant_id = $1 AND client_id = $2 AND api = $3",
            &[tenant_id.into(), client_id.into(), api.into()],
        ))
        .await
    }
}

impl SqlStore {
    /// Every client's grant of one API.
    async fn grants_of_api(&self, tenant_id: &str, api: &str) -> Result<Vec<ClientGrant>> {
        self.all(
            "SELECT tenant_id, client_id, api, scopes FROM client_grants \
             WHERE tenant_id = $1 AND api = $2 ORDER BY client_id",
            &[tenant_id.into(), api.into()],
            grant_from,
        )
        .await
    }
}
