//! The SQL behind [`Store`], written once for SQLite and PostgreSQL.
//!
//! Integers are BIGINT/INTEGER (times in Unix seconds, booleans as 0/1) and
//! lists are JSON text, so one statement text serves both engines.

use crate::consume::{Consumer, Kind};
use crate::lease::Connections;
use crate::migrate::Migration;
use crate::{Consumed, NewRefresh, Result, Store, StoreError, StoredKey};
use async_trait::async_trait;
use keygate_core::model::*;
use keygate_core::pkce::CodeChallengeMethod;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL store. On SQLite, `writer` is exactly one connection (SQLite
/// allows one writer at a time; queuing for it is cheaper than busy-waiting
/// on the file lock) and `reader` serves reads concurrently under WAL. On
/// PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) writer: Connections,
    pub(crate) reader: Connections,
    pub(crate) backend: Backend,
    pub(crate) migrations: &'static [Migration],
    codes: Arc<Consumer>,
    refresh_tokens: Arc<Consumer>,
}

/// A unique-constraint violation told in the caller's terms (which e-mail,
/// tenant or domain is taken); every other error unchanged.
fn conflict_as(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(message()),
        other => other,
    }
}

/// Stores a tenant's domains with the Host authority each is matched on; a
/// domain already taken by another tenant is a `Conflict`.
async fn insert_domains(conn: &mut sqlx::AnyConnection, tenant: &Tenant) -> Result<()> {
    for origin in &tenant.domains {
        let authority = keygate_core::redirect::origin_authority(origin)
            .ok_or_else(|| StoreError::Conflict(format!("'{origin}' is not an origin")))?;
        sqlx::query(
            "INSERT INTO tenant_domains (origin, authority, tenant_id) VALUES ($1, $2, $3)",
        )
        .bind(origin)
        .bind(&authority)
        .bind(&tenant.id)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            conflict_as(e, || {
                format!("domain '{origin}' already belongs to a tenant")
            })
        })?;
    }
    Ok(())
}

impl SqlStore {
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

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
    journeys_api, web_origins, signing_alg, created_at";

fn client_from(row: &AnyRow) -> Result<Client> {
    let grants: String = row.try_get("grant_types")?;
    Ok(Client {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        public: row.try_get::<i64, _>("public")? != 0,
        secret_hash: row.try_get("secret_hash")?,
        auth_method: AuthMethod::parse(&row.try_get::<String, _>("auth_method")?)
            .ok_or_else(|| corrupt("auth method"))?,
        redirect_uris: parse_list(&row.try_get::<String, _>("redirect_uris")?),
        post_logout_redirect_uris: parse_list(
            &row.try_get::<String, _>("post_logout_redirect_uris")?,
        ),
        grant_types: grants.split(',').filter_map(GrantType::parse).collect(),
        refresh_policy: RefreshPolicy::parse(&row.try_get::<String, _>("refresh_policy")?)
            .ok_or_else(|| corrupt("refresh policy"))?,
        id_token_ttl: row.try_get("id_token_ttl")?,
        access_token_ttl: row.try_get("access_token_ttl")?,
        journeys_api: row.try_get::<i64, _>("journeys_api")? != 0,
        web_origins: parse_list(&row.try_get::<String, _>("web_origins")?),
        signing_alg: SigningAlg::parse(&row.try_get::<String, _>("signing_alg")?)
            .ok_or_else(|| corrupt("signing alg"))?,
        created_at: row.try_get("created_at")?,
    })
}

const USER_COLS: &str = "sub, tenant_id, email, email_verified, name, password_hash, created_at";

fn user_from(row: &AnyRow) -> Result<User> {
    Ok(User {
        sub: row.try_get("sub")?,
        tenant_id: row.try_get("tenant_id")?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The user of a grant, joined in the same query (`LEFT JOIN users u`).
const PERSON_COLS: &str = "u.sub AS u_sub, u.tenant_id AS u_tenant_id, u.email AS u_email, \
    u.email_verified AS u_email_verified, u.name AS u_name, u.password_hash AS u_password_hash, \
    u.created_at AS u_created_at";
const PERSON_JOIN: &str = "LEFT JOIN users u ON u.sub = g.user_sub AND u.tenant_id = g.tenant_id";

fn person_from(row: &AnyRow) -> Result<Option<User>> {
    let Some(sub) = row.try_get::<Option<String>, _>("u_sub")? else {
        return Ok(None);
    };
    Ok(Some(User {
        sub,
        tenant_id: row.try_get("u_tenant_id")?,
        email: row.try_get("u_email")?,
        email_verified: row.try_get::<i64, _>("u_email_verified")? != 0,
        name: row.try_get("u_name")?,
        password_hash: row.try_get("u_password_hash")?,
        created_at: row.try_get("u_created_at")?,
    }))
}

const GRANT_COLS: &str =
    "g.id, g.tenant_id, g.client_id, g.user_sub, g.scope, g.auth_time, g.nonce, \
    g.code_challenge, g.code_challenge_method, g.redirect_uri, g.redirect_uri_sent, g.created_at, \
    g.code_expires_at, g.code_consumed_at, g.revoked_at";

fn grant_from(row: &AnyRow) -> Result<Grant> {
    let method: Option<String> = row.try_get("code_challenge_method")?;
    Ok(Grant {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        user_sub: row.try_get("user_sub")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        code_challenge_method: method.as_deref().and_then(CodeChallengeMethod::parse),
        redirect_uri: row.try_get("redirect_uri")?,
        redirect_uri_sent: row.try_get::<i64, _>("redirect_uri_sent")? != 0,
        created_at: row.try_get("created_at")?,
        code_expires_at: row.try_get("code_expires_at")?,
        code_consumed_at: row.try_get("code_consumed_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn key_from(row: &AnyRow) -> Result<StoredKey> {
    Ok(StoredKey {
        kid: row.try_get("kid")?,
        tenant_id: row.try_get("tenant_id")?,
        alg: row.try_get("alg")?,
        seq: row.try_get("seq")?,
        sealed_private: row.try_get("sealed_private")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: row.try_get("created_at")?,
        activates_at: row.try_get("activates_at")?,
        retires_at: row.try_get("retires_at")?,
    })
}

impl SqlStore {
    pub(crate) fn new(
        writer: Connections,
        reader: Connections,
        backend: Backend,
        migrations: &'static [Migration],
    ) -> SqlStore {
        let consumer = |kind| {
            Arc::new(match backend {
                Backend::Sqlite => Consumer::batched(kind, writer.clone()),
                Backend::Postgres => Consumer::Direct(kind, writer.clone()),
            })
        };
        SqlStore {
            codes: consumer(Kind::Code),
            refresh_tokens: consumer(Kind::Refresh),
            writer,
            reader,
            backend,
            migrations,
        }
    }

    async fn domains_of(&self, tenant_id: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT origin FROM tenant_domains WHERE tenant_id = $1 ORDER BY origin")
                .bind(tenant_id)
                .fetch_all(&mut *self.reader.get().await?)
                .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("origin")?))
            .collect()
    }

    async fn tenant_from(&self, row: &AnyRow) -> Result<Tenant> {
        let id: String = row.try_get("id")?;
        Ok(Tenant {
            domains: self.domains_of(&id).await?,
            id,
            display_name: row.try_get("display_name")?,
            created_at: row.try_get("created_at")?,
        })
    }

    async fn insert_tenant(&self, tenant: &Tenant, if_missing: bool) -> Result<()> {
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        let sql = if if_missing {
            "INSERT INTO tenants (id, display_name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING"
        } else {
            "INSERT INTO tenants (id, display_name, created_at) VALUES ($1, $2, $3)"
        };
        sqlx::query(sql)
            .bind(&tenant.id)
            .bind(&tenant.display_name)
            .bind(tenant.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_as(e, || format!("tenant '{}' already exists", tenant.id)))?;
        insert_domains(&mut tx, tenant).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        let mut conn = self.reader.get().await?;
        if crate::migrate::is_current(&mut conn, self.migrations).await? {
            Ok(())
        } else {
            Err(StoreError::Backend("migrations are not all applied".into()))
        }
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.insert_tenant(tenant, false).await
    }

    async fn ensure_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.insert_tenant(tenant, true).await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let row = sqlx::query("SELECT id, display_name, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.reader.get().await?)
            .await?;
        match row {
            Some(r) => Ok(Some(self.tenant_from(&r).await?)),
            None => Ok(None),
        }
    }

    async fn tenant_by_authority(&self, authority: &str) -> Result<Option<(Tenant, String)>> {
        let row = sqlx::query(
            "SELECT t.id, t.display_name, t.created_at, d.origin FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.authority = $1",
        )
        .bind(authority)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        match row {
            Some(r) => {
                let origin: String = r.try_get("origin")?;
                Ok(Some((self.tenant_from(&r).await?, origin)))
            }
            None => Ok(None),
        }
    }

    async fn create_client(&self, c: &Client) -> Result<()> {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        sqlx::query(&format!(
            "INSERT INTO clients ({CLIENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&c.id)
        .bind(&c.tenant_id)
        .bind(&c.name)
        .bind(c.public as i64)
        .bind(&c.secret_hash)
        .bind(c.auth_method.as_str())
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.post_logout_redirect_uris))
        .bind(grants.join(","))
        .bind(c.refresh_policy.as_str())
        .bind(c.id_token_ttl)
        .bind(c.access_token_ttl)
        .bind(c.journeys_api as i64)
        .bind(json_list(&c.web_origins))
        .bind(c.signing_alg.as_str())
        .bind(c.created_at)
        .execute(&mut *tx)
        .await?;
        for origin in &c.web_origins {
            sqlx::query(
                "INSERT INTO client_web_origins (client_id, tenant_id, origin) VALUES ($1, $2, $3)",
            )
            .bind(&c.id)
            .bind(&c.tenant_id)
            .bind(origin)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn is_web_origin(&self, tenant_id: &str, origin: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM client_web_origins WHERE tenant_id = $1 AND origin = $2 LIMIT 1",
        )
        .bind(tenant_id)
        .bind(origin)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        Ok(row.is_some())
    }

    async fn get_client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM clients WHERE id = $1 AND tenant_id = $2"
        ))
        .bind(client_id)
        .bind(tenant_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.as_ref().map(client_from).transpose()
    }

    async fn client_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Client>> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM clients WHERE tenant_id = $1 AND name = $2 ORDER BY created_at LIMIT 1"
        ))
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.as_ref().map(client_from).transpose()
    }

    async fn create_user(&self, u: &User) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&u.sub)
        .bind(&u.tenant_id)
        .bind(&u.email)
        .bind(u.email_verified as i64)
        .bind(&u.name)
        .bind(&u.password_hash)
        .bind(u.created_at)
        .execute(&mut *self.writer.get().await?)
        .await
        .map_err(|e| {
            conflict_as(e, || {
                format!("the e-mail '{}' is already registered", u.email)
            })
        })?;
        Ok(())
    }

    async fn get_user(&self, tenant_id: &str, sub: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE sub = $1 AND tenant_id = $2"
        ))
        .bind(sub)
        .bind(tenant_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn user_by_email(&self, tenant_id: &str, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND email = $2"
        ))
        .bind(tenant_id)
        .bind(email)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT kid, tenant_id, alg, seq, sealed_private, public_jwk, created_at, activates_at, retires_at \
             FROM signing_keys WHERE tenant_id = $1 ORDER BY alg, seq",
        )
        .bind(tenant_id)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        rows.iter().map(key_from).collect()
    }

    async fn insert_signing_key(&self, k: &StoredKey) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, tenant_id, alg, seq, sealed_private, public_jwk, created_at, activates_at, retires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, alg, seq) DO NOTHING",
        )
        .bind(&k.kid)
        .bind(&k.tenant_id)
        .bind(&k.alg)
        .bind(k.seq)
        .bind(&k.sealed_private)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.activates_at)
        .bind(k.retires_at)
        .execute(&mut *self.writer.get().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_key_retirement(&self, kid: &str, retires_at: i64) -> Result<()> {
        sqlx::query("UPDATE signing_keys SET retires_at = $1 WHERE kid = $2")
            .bind(retires_at)
            .bind(kid)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn max_token_ttl(&self, tenant_id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(CASE WHEN id_token_ttl > access_token_ttl THEN id_token_ttl ELSE access_token_ttl END), 0) AS ttl \
             FROM clients WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(&mut *self.reader.get().await?)
        .await?;
        Ok(row
            .try_get::<i64, _>("ttl")?
            .max(keygate_core::model::DEFAULT_ID_TOKEN_TTL))
    }

    async fn sweep(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>> {
        // A grant must outlive every access token minted from it: those
        // were minted at code redemption (before the code expired) or with
        // one of its refresh tokens (before that token expired), and live
        // the client's access token lifetime. So a refresh token row goes
        // once it expired that long ago, and a grant once its code expired
        // that long ago and no refresh token row is left.
        let statements: [(&'static str, &str); 6] = [
            ("sessions", "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)"),
            ("revoked_jtis", "DELETE FROM revoked_jtis WHERE jti IN (SELECT jti FROM revoked_jtis WHERE expires_at < $1 LIMIT $2)"),
            ("rate_limits", "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE blocked_until < $1 AND window_start + 86400 < $1 LIMIT $2)"),
            ("refresh_tokens", "DELETE FROM refresh_tokens WHERE hash IN (SELECT r.hash FROM refresh_tokens r LEFT JOIN clients c ON c.id = r.client_id \
                WHERE r.expires_at + COALESCE(c.access_token_ttl, 0) < $1 LIMIT $2)"),
            ("grants", "DELETE FROM grants WHERE id IN (SELECT g.id FROM grants g LEFT JOIN clients c ON c.id = g.client_id \
                WHERE g.code_expires_at + COALESCE(c.access_token_ttl, 0) < $1 \
                AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id) LIMIT $2)"),
            ("signing_keys", "DELETE FROM signing_keys WHERE kid IN (SELECT kid FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at + 86400 < $1 LIMIT $2)"),
        ];
        let mut out = Vec::new();
        for (table, sql) in statements {
            let done = sqlx::query(sql)
                .bind(now)
                .bind(batch)
                .execute(&mut *self.writer.get().await?)
                .await?;
            out.push((table, done.rows_affected()));
        }
        Ok(out)
    }

    async fn create_session(&self, id_hash: &str, s: &Session) -> Result<()> {
        sqlx::query("INSERT INTO sessions (id_hash, tenant_id, user_sub, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id_hash)
            .bind(&s.tenant_id)
            .bind(&s.user_sub)
            .bind(s.auth_time)
            .bind(s.expires_at)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT tenant_id, user_sub, auth_time, expires_at FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.map(|r| {
            Ok(Session {
                tenant_id: r.try_get("tenant_id")?,
                user_sub: r.try_get("user_sub")?,
                auth_time: r.try_get("auth_time")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn create_grant(&self, g: &Grant, code_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO grants (id, tenant_id, client_id, user_sub, scope, auth_time, nonce, code_challenge, \
             code_challenge_method, redirect_uri, redirect_uri_sent, created_at, code_hash, code_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&g.id)
        .bind(&g.tenant_id)
        .bind(&g.client_id)
        .bind(&g.user_sub)
        .bind(&g.scope)
        .bind(g.auth_time)
        .bind(&g.nonce)
        .bind(&g.code_challenge)
        .bind(g.code_challenge_method.map(|m| m.as_str()))
        .bind(&g.redirect_uri)
        .bind(g.redirect_uri_sent as i64)
        .bind(g.created_at)
        .bind(code_hash)
        .bind(g.code_expires_at)
        .execute(&mut *self.writer.get().await?)
        .await?;
        Ok(())
    }

    async fn grant_by_code(&self, code_hash: &str) -> Result<Option<(Grant, Option<User>)>> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLS}, {PERSON_COLS} FROM grants g {PERSON_JOIN} WHERE g.code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.map(|r| Ok((grant_from(&r)?, person_from(&r)?)))
            .transpose()
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLS} FROM grants g WHERE g.id = $1"
        ))
        .bind(grant_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        row.as_ref().map(grant_from).transpose()
    }

    /// Single use, decided by the database: a conditional UPDATE marks the
    /// code consumed only if it is still unused, and a trigger (migration
    /// 3) stores the successor refresh token within the same statement, so
    /// the winner's successor exists exactly when its consumption does and
    /// a loser writes nothing. See [`consume`] for the batching.
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        refresh: Option<&NewRefresh>,
    ) -> Result<Consumed> {
        self.codes.consume(code_hash, now, refresh).await
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn refresh_token(
        &self,
        hash: &str,
    ) -> Result<Option<(RefreshToken, Grant, Option<User>)>> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLS}, r.grant_id AS r_grant_id, r.tenant_id AS r_tenant_id, r.client_id AS r_client_id, \
             r.created_at AS r_created_at, r.expires_at AS r_expires_at, r.consumed_at AS r_consumed_at, {PERSON_COLS} \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id {PERSON_JOIN} WHERE r.hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token = RefreshToken {
            grant_id: row.try_get("r_grant_id")?,
            tenant_id: row.try_get("r_tenant_id")?,
            client_id: row.try_get("r_client_id")?,
            created_at: row.try_get("r_created_at")?,
            expires_at: row.try_get("r_expires_at")?,
            consumed_at: row.try_get("r_consumed_at")?,
        };
        Ok(Some((token, grant_from(&row)?, person_from(&row)?)))
    }

    async fn rotate_refresh(
        &self,
        hash: &str,
        now: i64,
        next: Option<&NewRefresh>,
    ) -> Result<Consumed> {
        self.refresh_tokens.consume(hash, now, next).await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM revoked_jtis WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&mut *self.reader.get().await?)
            .await?;
        Ok(row.is_some())
    }

    async fn blocked_for(&self, key: &str, now: i64) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT blocked_until FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *self.reader.get().await?)
            .await?;
        let until: Option<i64> = row.map(|r| r.try_get("blocked_until")).transpose()?;
        Ok(until.filter(|u| *u > now).map(|u| u - now))
    }

    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<Option<i64>> {
        // One statement: a new window starts when the old one has passed.
        let row = sqlx::query(
            "INSERT INTO rate_limits (key, window_start, failures, blocked_until) VALUES ($1, $2, 1, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END, \
               window_start = CASE WHEN rate_limits.window_start + $3 < $2 THEN $2 ELSE rate_limits.window_start END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(policy.window)
        .fetch_one(&mut *self.writer.get().await?)
        .await?;
        let failures: i64 = row.try_get("failures")?;
        let block = policy.block_for(failures);
        if let Some(secs) = block {
            sqlx::query("UPDATE rate_limits SET blocked_until = $1 WHERE key = $2")
                .bind(now + secs)
                .bind(key)
                .execute(&mut *self.writer.get().await?)
                .await?;
        }
        Ok(block)
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(key)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn list_tenants(&self, after: &str, limit: i64) -> Result<Vec<Tenant>> {
        let rows = sqlx::query(
            "SELECT id, display_name, created_at FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.tenant_from(r).await?);
        }
        Ok(out)
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<()> {
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        let done = sqlx::query("UPDATE tenants SET display_name = $1 WHERE id = $2")
            .bind(&tenant.display_name)
            .bind(&tenant.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM tenant_domains WHERE tenant_id = $1")
            .bind(&tenant.id)
            .execute(&mut *tx)
            .await?;
        insert_domains(&mut tx, tenant).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        // Tables without a foreign key to the tenant first, then those with
        // one (explicitly, not relying on cascades), then the tenant.
        for sql in [
            "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE tenant_id = $1)",
            "DELETE FROM grants WHERE tenant_id = $1",
            "DELETE FROM sessions WHERE tenant_id = $1",
            "DELETE FROM client_web_origins WHERE tenant_id = $1",
            "DELETE FROM clients WHERE tenant_id = $1",
            "DELETE FROM users WHERE tenant_id = $1",
            "DELETE FROM signing_keys WHERE tenant_id = $1",
            "DELETE FROM tenant_domains WHERE tenant_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn list_clients(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<Client>> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLS} FROM clients WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        rows.iter().map(client_from).collect()
    }

    async fn update_client(&self, c: &Client) -> Result<()> {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        let done = sqlx::query(
            "UPDATE clients SET name = $1, auth_method = $2, redirect_uris = $3, post_logout_redirect_uris = $4, \
             grant_types = $5, refresh_policy = $6, id_token_ttl = $7, access_token_ttl = $8, journeys_api = $9, \
             web_origins = $10, signing_alg = $11 WHERE id = $12 AND tenant_id = $13",
        )
        .bind(&c.name)
        .bind(c.auth_method.as_str())
        .bind(json_list(&c.redirect_uris))
        .bind(json_list(&c.post_logout_redirect_uris))
        .bind(grants.join(","))
        .bind(c.refresh_policy.as_str())
        .bind(c.id_token_ttl)
        .bind(c.access_token_ttl)
        .bind(c.journeys_api as i64)
        .bind(json_list(&c.web_origins))
        .bind(c.signing_alg.as_str())
        .bind(&c.id)
        .bind(&c.tenant_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM client_web_origins WHERE client_id = $1")
            .bind(&c.id)
            .execute(&mut *tx)
            .await?;
        for origin in &c.web_origins {
            sqlx::query(
                "INSERT INTO client_web_origins (client_id, tenant_id, origin) VALUES ($1, $2, $3)",
            )
            .bind(&c.id)
            .bind(&c.tenant_id)
            .bind(origin)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_client_secret(
        &self,
        tenant_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE clients SET secret_hash = $1 WHERE id = $2 AND tenant_id = $3 AND public = 0",
        )
        .bind(secret_hash)
        .bind(client_id)
        .bind(tenant_id)
        .execute(&mut *self.writer.get().await?)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_client(&self, tenant_id: &str, client_id: &str, now: i64) -> Result<bool> {
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        sqlx::query("DELETE FROM client_web_origins WHERE client_id = $1 AND tenant_id = $2")
            .bind(client_id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM clients WHERE id = $1 AND tenant_id = $2")
            .bind(client_id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND client_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_users(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND sub > $2 ORDER BY sub LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        rows.iter().map(user_from).collect()
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        let done = sqlx::query(
            "UPDATE users SET email = $1, email_verified = $2, name = $3, password_hash = $4 WHERE sub = $5 AND tenant_id = $6",
        )
        .bind(&u.email)
        .bind(u.email_verified as i64)
        .bind(&u.name)
        .bind(&u.password_hash)
        .bind(&u.sub)
        .bind(&u.tenant_id)
        .execute(&mut *self.writer.get().await?)
        .await
        .map_err(|e| conflict_as(e, || format!("the e-mail '{}' is already registered", u.email)))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_user(&self, tenant_id: &str, sub: &str, now: i64) -> Result<bool> {
        let mut lease = self.writer.get().await?;
        let mut tx = sqlx::Connection::begin(&mut *lease).await?;
        let done = sqlx::query("DELETE FROM users WHERE sub = $1 AND tenant_id = $2")
            .bind(sub)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND user_sub = $2")
            .bind(tenant_id)
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND user_sub = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(sub)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_admin_token(&self, token: &crate::AdminToken, hash: &str) -> Result<()> {
        sqlx::query("INSERT INTO admin_tokens (id, hash, created_at) VALUES ($1, $2, $3)")
            .bind(&token.id)
            .bind(hash)
            .bind(token.created_at)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(())
    }

    async fn admin_token_exists(&self, hash: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM admin_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *self.reader.get().await?)
            .await?;
        Ok(row.is_some())
    }

    async fn list_admin_tokens(&self) -> Result<Vec<crate::AdminToken>> {
        let rows = sqlx::query("SELECT id, created_at FROM admin_tokens ORDER BY created_at, id")
            .fetch_all(&mut *self.reader.get().await?)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::AdminToken {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn delete_admin_token(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM admin_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *self.writer.get().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
