//! The SQL behind [`Store`], written once for SQLite and PostgreSQL.
//!
//! Integers are BIGINT/INTEGER (times in Unix seconds, booleans as 0/1) and
//! lists are JSON text, so one statement text serves both engines. Reads
//! are a statement, its parameters and a decoder ([`crate::row`]); writes
//! are [`Write`]s. Each engine runs them its own way ([`Engine`]).

use crate::exchange::{consume_write, decide, settle, Decided, ExchangeTask};
use crate::lease::Connections;
use crate::migrate::Migration;
use crate::row::{bind, Cols, Decode, OwnedParam, Param};
use crate::sqlite::inline::InlineReads;
use crate::sqlite::writer::Writer;
use crate::write::{run_on, Outcome, Returned, Write};
use crate::{Check, CodeGrant, RefreshGrant, Result, Standing, Store, StoreError, StoredKey, Then};
use async_trait::async_trait;
use keygate_core::model::*;
use keygate_core::pkce::CodeChallengeMethod;
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

/// Adds to `write` the statements that end a person's sessions and revoke
/// their grants (so their refresh tokens, and through the grant their access
/// tokens, stop working), in the same transaction as the change that calls
/// for it.
fn ends_everything(write: Write, tenant_id: &str, sub: &str, now: i64) -> Write {
    write
        .then(
            "DELETE FROM sessions WHERE tenant_id = $1 AND user_sub = $2",
            &[tenant_id.into(), sub.into()],
        )
        .then(
            "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND user_sub = $3 AND revoked_at IS NULL",
            &[now.into(), tenant_id.into(), sub.into()],
        )
}

/// One statement reserves an attempt (see [`Store::reserve_attempt`]):
/// while `key` is blocked nothing changes and the attempt is refused;
/// otherwise the attempt is counted (a new window starts when the old one has
/// passed) and the one that reaches the limit blocks `key` for `base_block`.
/// `granted` keeps this statement's verdict for RETURNING, which sees only
/// the new row: the count when granted, minus the seconds left when refused.
/// ($1 key, $2 now, $3 window, $4 max failures, $5 base block.)
const RESERVE_ATTEMPT_SQL: &str = "INSERT INTO rate_limits (key, window_start, failures, blocked_until, granted) \
     VALUES ($1, $2, 1, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE 0 END, 1) \
     ON CONFLICT (key) DO UPDATE SET \
       granted = CASE WHEN rate_limits.blocked_until > $2 THEN 0 ELSE 1 END, \
       failures = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.failures \
         WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END, \
       window_start = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.window_start \
         WHEN rate_limits.window_start + $3 < $2 THEN $2 ELSE rate_limits.window_start END, \
       blocked_until = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.blocked_until \
         WHEN (CASE WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END) >= $4 \
         THEN $2 + $5 ELSE 0 END \
     RETURNING CASE WHEN granted = 1 THEN failures ELSE $2 - blocked_until END";

/// How statements reach the database.
#[derive(Clone)]
pub(crate) enum Engine {
    /// Reads on the calling thread ([`crate::sqlite::inline`]), writes on the one
    /// writer thread ([`crate::sqlite::writer`]), and one sqlx connection for the
    /// readiness probe and the background checkpoints.
    Sqlite {
        reads: Arc<InlineReads>,
        writer: Arc<Writer>,
        probe: Connections,
    },
    /// Everything on sqlx's pool.
    Postgres(Connections),
}

/// The SQL store.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) engine: Engine,
    pub(crate) backend: Backend,
    pub(crate) migrations: &'static [Migration],
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
    journeys_api, web_origins, signing_alg, pkce_policy, created_at, token_rate_limit, \
    refresh_token_max_ttl";

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
    })
}

const USER_COLS: &str =
    "sub, tenant_id, email, email_verified, name, password_hash, created_at, disabled";

fn user_from(row: &dyn Cols) -> Result<User> {
    Ok(User {
        sub: row.text("sub")?,
        tenant_id: row.text("tenant_id")?,
        email: row.text("email")?,
        email_verified: row.flag("email_verified")?,
        name: row.opt_text("name")?,
        password_hash: row.text("password_hash")?,
        created_at: row.int("created_at")?,
        disabled: row.flag("disabled")?,
    })
}

/// The user of a grant, joined in the same query (`LEFT JOIN users u`).
const PERSON_COLS: &str = "u.sub AS u_sub, u.tenant_id AS u_tenant_id, u.email AS u_email, \
    u.email_verified AS u_email_verified, u.name AS u_name, u.password_hash AS u_password_hash, \
    u.created_at AS u_created_at, u.disabled AS u_disabled";
const PERSON_JOIN: &str = "LEFT JOIN users u ON u.sub = g.user_sub AND u.tenant_id = g.tenant_id";

fn person_from(row: &dyn Cols) -> Result<Option<User>> {
    let Some(sub) = row.opt_text("u_sub")? else {
        return Ok(None);
    };
    Ok(Some(User {
        sub,
        tenant_id: row.text("u_tenant_id")?,
        email: row.text("u_email")?,
        email_verified: row.flag("u_email_verified")?,
        name: row.opt_text("u_name")?,
        password_hash: row.text("u_password_hash")?,
        created_at: row.int("u_created_at")?,
        disabled: row.flag("u_disabled")?,
    }))
}

/// One row whatever is found: the two checks as 0/1 (cast, so that
/// PostgreSQL returns a BIGINT as SQLite does) and the person, if asked
/// for and present, through a LEFT JOIN from a one-row table. A NULL
/// tenant or sub (no person asked for) matches no user.
fn token_standing_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM revoked_jtis WHERE jti = $1) THEN 1 ELSE 0 END AS BIGINT) AS jti_revoked, \
             CAST(CASE WHEN $2 IS NULL THEN 1 \
                  WHEN EXISTS (SELECT 1 FROM grants WHERE id = $2 AND revoked_at IS NULL) THEN 1 \
                  ELSE 0 END AS BIGINT) AS grant_live, \
             {PERSON_COLS} \
             FROM (SELECT 1 AS one) AS one \
             LEFT JOIN users u ON u.tenant_id = $3 AND u.sub = $4"
        )
    })
}

fn standing_from(row: &dyn Cols) -> Result<Standing> {
    Ok(Standing {
        jti_revoked: row.flag("jti_revoked")?,
        grant_live: row.flag("grant_live")?,
        person: person_from(row)?,
    })
}

const GRANT_COLS: &str =
    "g.id, g.tenant_id, g.client_id, g.user_sub, g.scope, g.auth_time, g.nonce, \
    g.code_challenge, g.code_challenge_method, g.redirect_uri, g.redirect_uri_sent, g.created_at, \
    g.code_expires_at, g.code_consumed_at, g.revoked_at";

fn grant_from(row: &dyn Cols) -> Result<Grant> {
    Ok(Grant {
        id: row.text("id")?,
        tenant_id: row.text("tenant_id")?,
        client_id: row.text("client_id")?,
        user_sub: row.text("user_sub")?,
        scope: row.text("scope")?,
        auth_time: row.int("auth_time")?,
        nonce: row.opt_text("nonce")?,
        code_challenge: row.opt_text("code_challenge")?,
        code_challenge_method: row
            .opt_text("code_challenge_method")?
            .as_deref()
            .and_then(CodeChallengeMethod::parse),
        redirect_uri: row.text("redirect_uri")?,
        redirect_uri_sent: row.flag("redirect_uri_sent")?,
        created_at: row.int("created_at")?,
        code_expires_at: row.int("code_expires_at")?,
        code_consumed_at: row.opt_int("code_consumed_at")?,
        revoked_at: row.opt_int("revoked_at")?,
    })
}

fn grant_and_person(row: &dyn Cols) -> Result<(Grant, Option<User>)> {
    Ok((grant_from(row)?, person_from(row)?))
}

fn refresh_grant_person(row: &dyn Cols) -> Result<(RefreshToken, Grant, Option<User>)> {
    let token = RefreshToken {
        grant_id: row.text("r_grant_id")?,
        tenant_id: row.text("r_tenant_id")?,
        client_id: row.text("r_client_id")?,
        created_at: row.int("r_created_at")?,
        expires_at: row.int("r_expires_at")?,
        consumed_at: row.opt_int("r_consumed_at")?,
    };
    Ok((token, grant_from(row)?, person_from(row)?))
}

fn key_from(row: &dyn Cols) -> Result<StoredKey> {
    Ok(StoredKey {
        kid: row.text("kid")?,
        tenant_id: row.text("tenant_id")?,
        alg: row.text("alg")?,
        seq: row.int("seq")?,
        sealed_private: row.text("sealed_private")?,
        public_jwk: row.text("public_jwk")?,
        created_at: row.int("created_at")?,
        activates_at: row.int("activates_at")?,
        retires_at: row.opt_int("retires_at")?,
    })
}

/// A tenant's row, without its domains (read separately).
fn tenant_row(row: &dyn Cols) -> Result<Tenant> {
    Ok(Tenant {
        id: row.text("id")?,
        display_name: row.text("display_name")?,
        created_at: row.int("created_at")?,
        domains: Vec::new(),
        token_rate_limit: row.opt_int("token_rate_limit")?,
    })
}

fn one_text(row: &dyn Cols) -> Result<String> {
    row.text("v")
}

fn one_int(row: &dyn Cols) -> Result<i64> {
    row.int("v")
}

impl SqlStore {
    pub(crate) fn new(
        engine: Engine,
        backend: Backend,
        migrations: &'static [Migration],
    ) -> SqlStore {
        SqlStore {
            engine,
            backend,
            migrations,
        }
    }

    /// Every row of a read, decoded.
    pub(crate) async fn all<T: Send + 'static>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: Decode<T>,
    ) -> Result<Vec<T>> {
        match &self.engine {
            Engine::Sqlite { reads, .. } => reads.query(sql, params, decode).await,
            Engine::Postgres(pool) => {
                let rows = bind(sqlx::query(sql), params)
                    .fetch_all(&mut *pool.get().await?)
                    .await?;
                rows.iter().map(|r| decode(r)).collect()
            }
        }
    }

    /// The first row of a read, decoded, if there is one.
    pub(crate) async fn first<T: Send + 'static>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: Decode<T>,
    ) -> Result<Option<T>> {
        Ok(self.all(sql, params, decode).await?.into_iter().next())
    }

    /// Whether a read finds a row.
    async fn exists(&self, sql: &str, params: &[Param<'_>]) -> Result<bool> {
        Ok(self.first(sql, params, |_| Ok(())).await?.is_some())
    }

    /// Runs a write: committed when this returns `Outcome::Done`.
    pub(crate) async fn write(&self, write: Write) -> Result<Outcome> {
        match &self.engine {
            Engine::Sqlite { writer, .. } => writer.write(write).await,
            Engine::Postgres(pool) => run_on(&mut *pool.get().await?, &write).await,
        }
    }

    /// A write that must find its row: `NotFound` when it was undone.
    async fn write_found(&self, write: Write) -> Result<()> {
        if self.write(write).await?.is_undone() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A write whose first statement creates or removes one row; whether it did.
    async fn write_one(&self, write: Write) -> Result<bool> {
        Ok(self.write(write).await?.changed(0) == 1)
    }

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

    /// Exchanges a code or refresh token ([`crate::exchange`]): `read`
    /// finds it by `hash`, `check` decides, `consume` consumes it, and
    /// `then` is given the outcome.
    #[allow(clippy::too_many_arguments)]
    async fn exchange<T: Send + 'static>(
        &self,
        read: &'static str,
        decode: Decode<T>,
        consume: &'static str,
        hash: &str,
        now: i64,
        check: Check<T>,
        then: Then<T>,
    ) {
        match &self.engine {
            Engine::Sqlite { writer, .. } => writer.run(Box::new(ExchangeTask {
                read,
                decode,
                consume,
                hash: hash.to_string(),
                now,
                check: Some(check),
                then: Some(then),
                result: None,
            })),
            Engine::Postgres(_) => {
                let outcome = async {
                    let found = self.first(read, &[hash.into()], decode).await?;
                    Ok(match decide(found, check) {
                        Decided::Answer(done) => done,
                        Decided::Consume(found, approved) => {
                            let write =
                                consume_write(consume, hash, now, approved.successor.as_ref());
                            let consumed = self.write(write).await?;
                            settle(found, approved, &consumed, hash)
                        }
                    })
                };
                then(outcome.await)
            }
        }
    }
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
    pkce_policy, token_rate_limit, refresh_token_max_ttl";

/// The values of [`CLIENT_SETTINGS`] ($1 to $14 of the client statements).
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
    ]
}

/// The UPDATE that consumes a code (see [`Store::exchange_code`]); a trigger
/// (migration 3) stores the successor refresh token in the same statement.
const CONSUME_CODE: &str = "UPDATE grants SET code_consumed_at = $2, successor_hash = $3, successor_expires_at = $4 \
    WHERE code_hash = $1 AND code_consumed_at IS NULL AND code_expires_at > $2 AND revoked_at IS NULL \
    RETURNING code_hash";

/// The UPDATE that consumes a refresh token, storing its successor likewise.
const CONSUME_REFRESH: &str = "UPDATE refresh_tokens SET consumed_at = $2, successor_hash = $3, successor_expires_at = $4 \
    WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
    AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = refresh_tokens.grant_id AND g.revoked_at IS NOT NULL) \
    RETURNING hash";

/// A code's grant and person, by the code's hash.
fn grant_by_code_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT {GRANT_COLS}, {PERSON_COLS} FROM grants g {PERSON_JOIN} WHERE g.code_hash = $1"
        )
    })
}

/// A refresh token with its grant and person, by the token's hash.
fn refresh_by_hash_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT {GRANT_COLS}, r.grant_id AS r_grant_id, r.tenant_id AS r_tenant_id, r.client_id AS r_client_id, \
             r.created_at AS r_created_at, r.expires_at AS r_expires_at, r.consumed_at AS r_consumed_at, {PERSON_COLS} \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id {PERSON_JOIN} WHERE r.hash = $1"
        )
    })
}

/// The statements of one sweep, each deleting at most `$2` rows of its
/// table that expired before `$1`.
///
/// A grant must outlive every access token minted from it: those
/// were minted at code redemption (before the code expired) or with
/// one of its refresh tokens (before that token expired), and live
/// the client's access token lifetime. So a refresh token row goes
/// once it expired that long ago, and a grant once its code expired
/// that long ago and no refresh token row is left. Each filter
/// repeats its bare `column < now` form (implied by the sum, as
/// lifetimes are not negative) so that the expiry index serves it:
/// an index cannot serve `column + ttl < now`, and without it every
/// sweep read the whole table.
pub(crate) const SWEEP: [(&str, &str); 6] = [
    ("sessions", "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)"),
    ("revoked_jtis", "DELETE FROM revoked_jtis WHERE jti IN (SELECT jti FROM revoked_jtis WHERE expires_at < $1 LIMIT $2)"),
    ("rate_limits", "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE blocked_until < $1 AND window_start < $1 - 86400 LIMIT $2)"),
    ("refresh_tokens", "DELETE FROM refresh_tokens WHERE hash IN (SELECT r.hash FROM refresh_tokens r LEFT JOIN clients c ON c.id = r.client_id \
        WHERE r.expires_at < $1 AND r.expires_at + COALESCE(c.access_token_ttl, 0) < $1 LIMIT $2)"),
    ("grants", "DELETE FROM grants WHERE id IN (SELECT g.id FROM grants g LEFT JOIN clients c ON c.id = g.client_id \
        WHERE g.code_expires_at < $1 AND g.code_expires_at + COALESCE(c.access_token_ttl, 0) < $1 \
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id) LIMIT $2)"),
    ("signing_keys", "DELETE FROM signing_keys WHERE kid IN (SELECT kid FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at + 86400 < $1 LIMIT $2)"),
];

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        let conn = match &self.engine {
            Engine::Sqlite { writer, .. } if !writer.is_running() => {
                return Err(StoreError::Backend("the SQLite writer has stopped".into()))
            }
            Engine::Sqlite { probe, .. } => probe,
            Engine::Postgres(pool) => pool,
        };
        if crate::migrate::is_current(&mut *conn.get().await?, self.migrations).await? {
            Ok(())
        } else {
            Err(StoreError::Backend("migrations are not all applied".into()))
        }
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        let write = Write::new()
            .then(
                "INSERT INTO tenants (id, display_name, created_at, token_rate_limit) VALUES ($1, $2, $3, $4)",
                &[
                    (&tenant.id).into(),
                    (&tenant.display_name).into(),
                    tenant.created_at.into(),
                    tenant.token_rate_limit.into(),
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
                "INSERT INTO tenants (id, display_name, created_at, token_rate_limit) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
                &[
                    (&tenant.id).into(),
                    (&tenant.display_name).into(),
                    tenant.created_at.into(),
                    tenant.token_rate_limit.into(),
                ],
            )
            .exactly_one();
        self.write(insert_domains(write, tenant)?).await?;
        Ok(())
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        match self
            .first(
                "SELECT id, display_name, created_at, token_rate_limit FROM tenants WHERE id = $1",
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
                "SELECT t.id, t.display_name, t.created_at, t.token_rate_limit, d.origin FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.authority = $1",
                &[authority.into()],
                |r| Ok((tenant_row(r)?, r.text("origin")?)),
            )
            .await?;
        match found {
            Some((t, origin)) => Ok(Some((self.with_domains(t).await?, origin))),
            None => Ok(None),
        }
    }

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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            ),
            params,
        );
        self.write(insert_web_origins(write, c)).await?;
        Ok(())
    }

    async fn is_web_origin(&self, tenant_id: &str, origin: &str) -> Result<bool> {
        self.exists(
            "SELECT 1 FROM client_web_origins WHERE tenant_id = $1 AND origin = $2 LIMIT 1",
            &[tenant_id.into(), origin.into()],
        )
        .await
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

    async fn create_user(&self, u: &User) -> Result<()> {
        self.write(
            Write::new()
                .then(
                    format!(
                        "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ),
                    &[
                        (&u.sub).into(),
                        (&u.tenant_id).into(),
                        (&u.email).into(),
                        u.email_verified.into(),
                        (&u.name).into(),
                        (&u.password_hash).into(),
                        u.created_at.into(),
                        u.disabled.into(),
                    ],
                )
                .conflict(format!("the e-mail '{}' is already registered", u.email)),
        )
        .await?;
        Ok(())
    }

    async fn get_user(&self, tenant_id: &str, sub: &str) -> Result<Option<User>> {
        self.first(
            &format!("SELECT {USER_COLS} FROM users WHERE sub = $1 AND tenant_id = $2"),
            &[sub.into(), tenant_id.into()],
            user_from,
        )
        .await
    }

    async fn user_by_email(&self, tenant_id: &str, email: &str) -> Result<Option<User>> {
        self.first(
            &format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND email = $2"),
            &[tenant_id.into(), email.into()],
            user_from,
        )
        .await
    }

    async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<StoredKey>> {
        self.all(
            "SELECT kid, tenant_id, alg, seq, sealed_private, public_jwk, created_at, activates_at, retires_at \
             FROM signing_keys WHERE tenant_id = $1 ORDER BY alg, seq",
            &[tenant_id.into()],
            key_from,
        )
        .await
    }

    async fn insert_signing_key(&self, k: &StoredKey) -> Result<bool> {
        self.write_one(Write::new().then(
            "INSERT INTO signing_keys (kid, tenant_id, alg, seq, sealed_private, public_jwk, created_at, activates_at, retires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, alg, seq) DO NOTHING",
            &[
                (&k.kid).into(),
                (&k.tenant_id).into(),
                (&k.alg).into(),
                k.seq.into(),
                (&k.sealed_private).into(),
                (&k.public_jwk).into(),
                k.created_at.into(),
                k.activates_at.into(),
                k.retires_at.into(),
            ],
        ))
        .await
    }

    async fn set_key_retirement(&self, kid: &str, retires_at: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE signing_keys SET retires_at = $1 WHERE kid = $2",
            &[retires_at.into(), kid.into()],
        ))
        .await?;
        Ok(())
    }

    async fn max_token_ttl(&self, tenant_id: &str) -> Result<i64> {
        let ttl = self
            .first(
                "SELECT COALESCE(MAX(CASE WHEN id_token_ttl > access_token_ttl THEN id_token_ttl ELSE access_token_ttl END), 0) AS v \
                 FROM clients WHERE tenant_id = $1",
                &[tenant_id.into()],
                one_int,
            )
            .await?
            .unwrap_or(0);
        Ok(ttl.max(keygate_core::model::DEFAULT_ID_TOKEN_TTL))
    }

    async fn sweep(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>> {
        let write = SWEEP.iter().fold(Write::new(), |w, (_, sql)| {
            w.then(*sql, &[now.into(), batch.into()])
        });
        let done = self.write(write).await?;
        Ok(SWEEP
            .iter()
            .enumerate()
            .map(|(i, (table, _))| (*table, done.changed(i)))
            .collect())
    }

    async fn create_session(&self, id_hash: &str, s: &Session) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO sessions (id_hash, tenant_id, user_sub, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                id_hash.into(),
                (&s.tenant_id).into(),
                (&s.user_sub).into(),
                s.auth_time.into(),
                s.expires_at.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>> {
        self.first(
            "SELECT tenant_id, user_sub, auth_time, expires_at FROM sessions WHERE id_hash = $1",
            &[id_hash.into()],
            |r| {
                Ok(Session {
                    tenant_id: r.text("tenant_id")?,
                    user_sub: r.text("user_sub")?,
                    auth_time: r.int("auth_time")?,
                    expires_at: r.int("expires_at")?,
                })
            },
        )
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.write(Write::new().then("DELETE FROM sessions WHERE id_hash = $1", &[id_hash.into()]))
            .await?;
        Ok(())
    }

    async fn create_grant(&self, g: &Grant, code_hash: &str, max_outstanding: i64) -> Result<bool> {
        let mut write = Write::new();
        let lock = format!("grants/{}/{}/{}", g.tenant_id, g.user_sub, g.client_id);
        if self.backend == Backend::Postgres {
            // On PostgreSQL the one INSERT below is not enough: under READ
            // COMMITTED it counts from a snapshot taken when it starts, so
            // parallel inserts do not see one another's codes and pass the
            // cap together (SQLite's one writer runs them one at a time). A
            // lock per person and client, held until the commit, makes them
            // count in turn. (COUNT only so that the row decodes: the lock
            // function returns `void`.)
            write = write.then(
                "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked",
                &[lock.as_str().into()],
            );
        }
        let inserted = write.steps.len();
        let write = write.then(
            "INSERT INTO grants (id, tenant_id, client_id, user_sub, scope, auth_time, nonce, code_challenge, \
             code_challenge_method, redirect_uri, redirect_uri_sent, created_at, code_hash, code_expires_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 \
             WHERE (SELECT COUNT(*) FROM grants WHERE tenant_id = $2 AND user_sub = $4 AND client_id = $3 \
               AND code_consumed_at IS NULL AND revoked_at IS NULL AND code_expires_at > $12) < $15",
            &[
                (&g.id).into(),
                (&g.tenant_id).into(),
                (&g.client_id).into(),
                (&g.user_sub).into(),
                (&g.scope).into(),
                g.auth_time.into(),
                (&g.nonce).into(),
                (&g.code_challenge).into(),
                g.code_challenge_method.map(|m| m.as_str()).into(),
                (&g.redirect_uri).into(),
                g.redirect_uri_sent.into(),
                g.created_at.into(),
                code_hash.into(),
                g.code_expires_at.into(),
                max_outstanding.into(),
            ],
        );
        Ok(self.write(write).await?.changed(inserted) == 1)
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>> {
        self.first(
            &format!("SELECT {GRANT_COLS} FROM grants g WHERE g.id = $1"),
            &[grant_id.into()],
            grant_from,
        )
        .await
    }

    /// Single use, decided by the database: a conditional UPDATE marks the
    /// code consumed only if it is still unused, and a trigger (migration
    /// 3) stores the successor refresh token within the same statement, so
    /// the winner's successor exists exactly when its consumption does and
    /// a loser writes nothing.
    async fn exchange_code(
        &self,
        code_hash: &str,
        now: i64,
        check: Check<CodeGrant>,
        then: Then<CodeGrant>,
    ) {
        self.exchange(
            grant_by_code_sql(),
            grant_and_person,
            CONSUME_CODE,
            code_hash,
            now,
            check,
            then,
        )
        .await
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            &[now.into(), grant_id.into()],
        ))
        .await?;
        Ok(())
    }

    async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshGrant>> {
        self.first(refresh_by_hash_sql(), &[hash.into()], refresh_grant_person)
            .await
    }

    async fn exchange_refresh(
        &self,
        hash: &str,
        now: i64,
        check: Check<RefreshGrant>,
        then: Then<RefreshGrant>,
    ) {
        self.exchange(
            refresh_by_hash_sql(),
            refresh_grant_person,
            CONSUME_REFRESH,
            hash,
            now,
            check,
            then,
        )
        .await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
            &[jti.into(), expires_at.into()],
        ))
        .await?;
        Ok(())
    }

    async fn token_standing(
        &self,
        jti: &str,
        grant_id: Option<&str>,
        person: Option<(&str, &str)>,
    ) -> Result<Standing> {
        let (tenant_id, sub) = person.unzip();
        let found = self
            .first(
                token_standing_sql(),
                &[jti.into(), grant_id.into(), tenant_id.into(), sub.into()],
                standing_from,
            )
            .await?;
        found.ok_or_else(|| StoreError::Backend("the standing query returned no row".into()))
    }

    async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<crate::Attempt> {
        let done = self
            .write(
                Write::new()
                    .then(
                        RESERVE_ATTEMPT_SQL,
                        &[
                            key.into(),
                            now.into(),
                            policy.window.into(),
                            policy.max_failures.into(),
                            policy.base_block.into(),
                        ],
                    )
                    .returning(),
            )
            .await?;
        match done.first_returned(0) {
            Some(Returned::Int(n)) if *n > 0 => Ok(crate::Attempt::Granted { count: *n }),
            Some(Returned::Int(n)) => Ok(crate::Attempt::Refused {
                retry_after: (-*n).max(1),
            }),
            _ => Err(StoreError::Backend("no attempt verdict returned".into())),
        }
    }

    async fn attempt_failed(
        &self,
        key: &str,
        count: i64,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<()> {
        if let Some(secs) = policy.block_for(count) {
            self.write(Write::new().then(
                "UPDATE rate_limits SET blocked_until = CASE WHEN blocked_until < $1 THEN $1 ELSE blocked_until END WHERE key = $2",
                &[(now + secs).into(), key.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn release_attempt(&self, key: &str, policy: &crate::LimitPolicy) -> Result<()> {
        self.write(Write::new().then(
            "UPDATE rate_limits SET failures = failures - 1, \
               blocked_until = CASE WHEN failures - 1 < $2 THEN 0 ELSE blocked_until END \
             WHERE key = $1 AND failures > 0",
            &[key.into(), policy.max_failures.into()],
        ))
        .await?;
        Ok(())
    }

    async fn record_failure(
        &self,
        key: &str,
        now: i64,
        policy: &crate::LimitPolicy,
    ) -> Result<Option<i64>> {
        // One statement: a new window starts when the old one has passed.
        let done = self
            .write(
                Write::new()
                    .then(
                        "INSERT INTO rate_limits (key, window_start, failures, blocked_until) VALUES ($1, $2, 1, 0) \
                         ON CONFLICT (key) DO UPDATE SET \
                           failures = CASE WHEN rate_limits.window_start + $3 < $2 THEN 1 ELSE rate_limits.failures + 1 END, \
                           window_start = CASE WHEN rate_limits.window_start + $3 < $2 THEN $2 ELSE rate_limits.window_start END \
                         RETURNING failures",
                        &[key.into(), now.into(), policy.window.into()],
                    )
                    .returning(),
            )
            .await?;
        let failures = match done.first_returned(0) {
            Some(Returned::Int(n)) => *n,
            _ => return Err(StoreError::Backend("no failure count returned".into())),
        };
        let block = policy.block_for(failures);
        if let Some(secs) = block {
            self.write(Write::new().then(
                "UPDATE rate_limits SET blocked_until = $1 WHERE key = $2",
                &[(now + secs).into(), key.into()],
            ))
            .await?;
        }
        Ok(block)
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        self.write(Write::new().then("DELETE FROM rate_limits WHERE key = $1", &[key.into()]))
            .await?;
        Ok(())
    }

    async fn list_tenants(&self, after: &str, limit: i64) -> Result<Vec<Tenant>> {
        let rows = self
            .all(
                "SELECT id, display_name, created_at, token_rate_limit FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
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
                "UPDATE tenants SET display_name = $1, token_rate_limit = $2 WHERE id = $3",
                &[
                    (&tenant.display_name).into(),
                    tenant.token_rate_limit.into(),
                    (&tenant.id).into(),
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
                format!("UPDATE clients SET {set} WHERE id = $15 AND tenant_id = $16"),
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
                "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND client_id = $3 AND revoked_at IS NULL",
                &[now.into(), tenant_id.into(), client_id.into()],
            );
        Ok(!self.write(write).await?.is_undone())
    }

    async fn list_users(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<User>> {
        self.all(
            &format!(
                "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND sub > $2 ORDER BY sub LIMIT $3"
            ),
            &[tenant_id.into(), after.into(), limit.into()],
            user_from,
        )
        .await
    }

    async fn update_user(&self, u: &User, end_sessions_at: Option<i64>) -> Result<()> {
        let mut write = Write::new()
            .then(
                "UPDATE users SET email = $1, email_verified = $2, name = $3, password_hash = $4, disabled = $5 WHERE sub = $6 AND tenant_id = $7",
                &[
                    (&u.email).into(),
                    u.email_verified.into(),
                    (&u.name).into(),
                    (&u.password_hash).into(),
                    u.disabled.into(),
                    (&u.sub).into(),
                    (&u.tenant_id).into(),
                ],
            )
            .conflict(format!("the e-mail '{}' is already registered", u.email))
            .exactly_one();
        if let Some(now) = end_sessions_at {
            write = ends_everything(write, &u.tenant_id, &u.sub, now);
        }
        self.write_found(write).await
    }

    async fn delete_user(&self, tenant_id: &str, sub: &str, now: i64) -> Result<bool> {
        let write = Write::new()
            .then(
                "DELETE FROM users WHERE sub = $1 AND tenant_id = $2",
                &[sub.into(), tenant_id.into()],
            )
            .exactly_one();
        let write = ends_everything(write, tenant_id, sub, now);
        Ok(!self.write(write).await?.is_undone())
    }

    async fn create_admin_token(&self, token: &crate::AdminToken, hash: &str) -> Result<()> {
        self.write(Write::new().then(
            "INSERT INTO admin_tokens (id, hash, created_at) VALUES ($1, $2, $3)",
            &[(&token.id).into(), hash.into(), token.created_at.into()],
        ))
        .await?;
        Ok(())
    }

    async fn admin_token_exists(&self, hash: &str) -> Result<bool> {
        self.exists("SELECT 1 FROM admin_tokens WHERE hash = $1", &[hash.into()])
            .await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<crate::AdminToken>> {
        self.all(
            "SELECT id, created_at FROM admin_tokens ORDER BY created_at, id",
            &[],
            |r| {
                Ok(crate::AdminToken {
                    id: r.text("id")?,
                    created_at: r.int("created_at")?,
                })
            },
        )
        .await
    }

    async fn delete_admin_token(&self, id: &str) -> Result<bool> {
        self.write_one(Write::new().then("DELETE FROM admin_tokens WHERE id = $1", &[id.into()]))
            .await
    }
}

#[cfg(test)]
mod tests {
    /// The sweep runs every minute against tables that hold every live
    /// refresh token and grant; a statement that scans its table instead of
    /// searching an expiry index costs a read of the whole table each time.
    #[test]
    fn sweep_statements_search_an_index() {
        let (dir, conn) = crate::sqlite::writer::tests::database("sweep-plan");
        for (table, sql) in super::SWEEP {
            if table == "signing_keys" {
                continue; // a handful of rows per tenant
            }
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map([1_000_000i64, 100], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{table}: {plan:?}"
            );
            assert!(
                plan.iter().any(|step| step.contains("_by_")),
                "{table} uses no expiry index: {plan:?}"
            );
        }
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }
}
