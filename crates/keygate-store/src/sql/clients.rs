//! The statements of [`ClientStore`]: a client's row (its lists as JSON
//! text) and its web origins, kept in a table of their own for CORS.

use super::SqlStore;
use crate::row::{Cols, OwnedParam};
use crate::write::Write;
use crate::{ClientStore, Result, StoreError};
use async_trait::async_trait;
use keygate_core::model::*;

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("a list of strings serializes")
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} is not understood"))
}

const CLIENT_COLS: &str = "id, tenant_id, name, public, secret_hash, auth_method, redirect_uris, \
    post_logout_redirect_uris, grant_types, refresh_policy, id_token_ttl, access_token_ttl, \
    journeys_api, web_origins, signing_alg, pkce_policy, created_at, token_rate_limit, \
    refresh_token_max_ttl, require_mfa, third_party, registration_token_hash, first_used_at, \
    jwks, jwks_uri, secret_sealed, require_dpop, require_par, exchange_audiences, backchannel_logout_uri";

fn client_from(row: &dyn Cols) -> Result<Client> {
    Ok(Client {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?,
        name: row.text("name")?,
        public: row.flag("public")?,
        secret_hash: row.opt_text("secret_hash")?,
        auth_method: AuthMethod::parse(&row.text("auth_method")?)
            .ok_or_else(|| corrupt("auth method"))?,
        redirect_uris: parse_list(&row.text("redirect_uris")?),
        post_logout_redirect_uris: parse_list(&row.text("post_logout_redirect_uris")?),
        grant_types: row
            .text("grant_types")?
            .split(',')
            .filter_map(GrantType::parse)
            .collect(),
        refresh_policy: RefreshPolicy::parse(&row.text("refresh_policy")?)
            .ok_or_else(|| corrupt("refresh policy"))?,
        id_token_ttl: row.int("id_token_ttl")?,
        access_token_ttl: row.int("access_token_ttl")?,
        refresh_token_max_ttl: row.int("refresh_token_max_ttl")?,
        journeys_api: row.flag("journeys_api")?,
        web_origins: parse_list(&row.text("web_origins")?),
        signing_alg: SigningAlg::parse(&row.text("signing_alg")?)
            .ok_or_else(|| corrupt("signing alg"))?,
        pkce: PkcePolicy::parse(&row.text("pkce_policy")?).ok_or_else(|| corrupt("PKCE policy"))?,
        created_at: row.int("created_at")?,
        token_rate_limit: row.opt_int("token_rate_limit")?,
        require_mfa: row.flag("require_mfa")?,
        third_party: row.flag("third_party")?,
        registration_token_hash: row.opt_text("registration_token_hash")?,
        first_used_at: row.opt_int("first_used_at")?,
        jwks: row.opt_text("jwks")?,
        jwks_uri: row.opt_text("jwks_uri")?,
        secret_sealed: row.opt_text("secret_sealed")?,
        require_dpop: row.flag("require_dpop")?,
        require_par: row.flag("require_par")?,
        exchange_audiences: parse_list(&row.text("exchange_audiences")?),
        backchannel_logout_uri: row.opt_text("backchannel_logout_uri")?,
    })
}

/// Adds the statements that store a client's web origins.
fn insert_web_origins(mut write: Write, c: &Client) -> Write {
    for origin in &c.web_origins {
        write = write.then(
            "INSERT INTO client_web_origins (client_id, tenant_id, origin) VALUES ($1, $2, $3)",
            &[(&c.id).into(), (&c.tenant_id).into(), origin.into()],
        );
    }
    write
}

/// The columns of a client that `update_client` replaces, in the order of
/// [`client_settings`].
const CLIENT_SETTINGS: &str =
    "name, auth_method, redirect_uris, post_logout_redirect_uris, grant_types, \
    refresh_policy, id_token_ttl, access_token_ttl, journeys_api, web_origins, signing_alg, \
    pkce_policy, token_rate_limit, refresh_token_max_ttl, require_mfa, third_party, \
    registration_token_hash, jwks, jwks_uri, secret_sealed, require_dpop, require_par, \
    exchange_audiences, backchannel_logout_uri";

/// The values of [`CLIENT_SETTINGS`] ($1 to $24 of the client statements).
fn client_settings(c: &Client) -> Vec<OwnedParam> {
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    vec![
        OwnedParam::Text(c.name.clone()),
        OwnedParam::Text(c.auth_method.as_str().into()),
        OwnedParam::Text(json_list(&c.redirect_uris)),
        OwnedParam::Text(json_list(&c.post_logout_redirect_uris)),
        OwnedParam::Text(grants.join(",")),
        OwnedParam::Text(c.refresh_policy.as_str().into()),
        OwnedParam::Int(c.id_token_ttl),
        OwnedParam::Int(c.access_token_ttl),
        OwnedParam::Int(c.journeys_api as i64),
        OwnedParam::Text(json_list(&c.web_origins)),
        OwnedParam::Text(c.signing_alg.as_str().into()),
        OwnedParam::Text(c.pkce.as_str().into()),
        OwnedParam::OptInt(c.token_rate_limit),
        OwnedParam::Int(c.refresh_token_max_ttl),
        OwnedParam::Int(c.require_mfa as i64),
        OwnedParam::Int(c.third_party as i64),
        OwnedParam::OptText(c.registration_token_hash.clone()),
        OwnedParam::OptText(c.jwks.clone()),
        OwnedParam::OptText(c.jwks_uri.clone()),
        OwnedParam::OptText(c.secret_sealed.clone()),
        OwnedParam::Int(c.require_dpop as i64),
        OwnedParam::Int(c.require_par as i64),
        OwnedParam::Text(json_list(&c.exchange_audiences)),
        OwnedParam::OptText(c.backchannel_logout_uri.clone()),
    ]
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn create_client(&self, c: &Client) -> Result<()> {
        let mut params = client_settings(c);
        params.extend([
            OwnedParam::Text(c.id.clone()),
            OwnedParam::Text(c.tenant_id.clone()),
            OwnedParam::Int(c.public as i64),
            OwnedParam::OptText(c.secret_hash.clone()),
            OwnedParam::Int(c.created_at),
        ]);
        let write = Write::new().then_owned(
            format!(
                "INSERT INTO clients ({CLIENT_SETTINGS}, id, tenant_id, public, secret_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
                 $23, $24, $25, $26, $27, $28, $29)"
            ),
            params,
        );
        self.write(insert_web_origins(write, c)).await?;
        Ok(())
    }

    async fn get_client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>> {
        self.first(
            &format!("SELECT {CLIENT_COLS} FROM clients WHERE id = $1 AND tenant_id = $2"),
            &[client_id.into(), tenant_id.into()],
            client_from,
        )
        .await
    }

    async fn client_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Client>> {
        self.first(
            &format!(
                "SELECT {CLIENT_COLS} FROM clients WHERE tenant_id = $1 AND name = $2 ORDER BY created_at LIMIT 1"
            ),
            &[tenant_id.into(), name.into()],
            client_from,
        )
        .await
    }

    async fn is_web_origin(&self, tenant_id: &str, origin: &str) -> Result<bool> {
        self.exists(
            "SELECT 1 FROM client_web_origins WHERE tenant_id = $1 AND origin = $2 LIMIT 1",
            &[tenant_id.into(), origin.into()],
        )
        .await
    }

    async fn list_clients(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<Client>> {
        self.all(
            &format!(
                "SELECT {CLIENT_COLS} FROM clients WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
            ),
            &[tenant_id.into(), after.into(), limit.into()],
            client_from,
        )
        .await
    }

    async fn update_client(&self, c: &Client) -> Result<()> {
        let set = CLIENT_SETTINGS
            .split(", ")
            .enumerate()
            .map(|(i, col)| format!("{col} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let mut params = client_settings(c);
        params.extend([
            OwnedParam::Text(c.id.clone()),
            OwnedParam::Text(c.tenant_id.clone()),
        ]);
        let write = Write::new()
            .then_owned(
                format!("UPDATE clients SET {set} WHERE id = $25 AND tenant_id = $26"),
                params,
            )
            .exactly_one()
            .then(
                "DELETE FROM client_web_origins WHERE client_id = $1",
                &[(&c.id).into()],
            );
        self.write_found(insert_web_origins(write, c)).await
    }

    async fn set_client_secret(
        &self,
        tenant_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<()> {
        self.write_found(
            Write::new()
                .then(
                    "UPDATE clients SET secret_hash = $1 WHERE id = $2 AND tenant_id = $3 AND public = 0",
                    &[secret_hash.into(), client_id.into(), tenant_id.into()],
                )
                .exactly_one(),
        )
        .await
    }

    async fn delete_client(&self, tenant_id: &str, client_id: &str, now: i64) -> Result<bool> {
        let write = Write::new()
            .then(
                "DELETE FROM client_web_origins WHERE client_id = $1 AND tenant_id = $2",
                &[client_id.into(), tenant_id.into()],
            )
            .then(
                "DELETE FROM clients WHERE id = $1 AND tenant_id = $2",
                &[client_id.into(), tenant_id.into()],
            )
            .exactly_one()
            .then(
                "DELETE FROM client_grants WHERE client_id = $1 AND tenant_id = $2",
                &[client_id.into(), tenant_id.into()],
            )
            .then(
                "DELETE FROM consents WHERE client_id = $1 AND tenant_id = $2",
                &[client_id.into(), tenant_id.into()],
            )
            .then(
                "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND client_id = $3 AND revoked_at IS NULL",
                &[now.into(), tenant_id.into(), client_id.into()],
            );
        Ok(!self.write(write).await?.is_undone())
    }
}
