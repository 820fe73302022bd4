//! The statements of [`GrantStore`]: grants with their codes, refresh
//! tokens, revoked jtis, and the exchanges that consume codes and refresh
//! tokens once ([`crate::exchange`]; on SQLite `sqlite/exchange.rs`).

use super::{Backend, Engine, SqlStore};
use crate::exchange::{consume_write, decide, settle, Decided};
use crate::row::{Cols, Decode};
use crate::sqlite::exchange::ExchangeTask;
use crate::write::Write;
use crate::{Check, CodeGrant, GrantStore, RefreshGrant, Result, Standing, StoreError, Then};
use async_trait::async_trait;
use keygate_core::model::*;
use keygate_core::pkce::CodeChallengeMethod;

/// The user of a grant, joined in the same query (`LEFT JOIN users u`).
const PERSON_COLS: &str = "u.sub AS u_sub, u.tenant_id AS u_tenant_id, u.email AS u_email, \
    u.email_verified AS u_email_verified, u.name AS u_name, u.password_hash AS u_password_hash, \
    u.created_at AS u_created_at, u.disabled AS u_disabled, u.phone_number AS u_phone_number, \
    u.phone_number_verified AS u_phone_number_verified, u.address AS u_address";
/// Joins the user of a grant `g`, if they still exist.
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
        phone_number: row.opt_text("u_phone_number")?,
        phone_number_verified: row.flag("u_phone_number_verified")?,
        address: super::users::address_of(row.opt_text("u_address")?),
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
    g.code_expires_at, g.code_consumed_at, g.revoked_at, g.amr, g.acr, g.resource, g.claims, g.sid, g.sid_issuer, g.dpop_jkt";

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
        amr: crate::row::words(&row.text("amr")?),
        acr: row.opt_text("acr")?,
        resource: row.opt_text("resource")?,
        claims: keygate_core::claims_request::RequestedClaims::from_stored(&row.text("claims")?),
        session: match (row.opt_text("sid")?, row.opt_text("sid_issuer")?) {
            (Some(sid), Some(issuer)) => Some(GrantSession { sid, issuer }),
            _ => None,
        },
        dpop_jkt: row.opt_text("dpop_jkt")?,
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

/// The UPDATE that consumes a code (see [`GrantStore::exchange_code`]); a trigger
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

impl SqlStore {
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
                            let write = consume_write(consume, hash, now, &approved);
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

#[async_trait]
impl GrantStore for SqlStore {
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
        let amr = g.amr.join(" ");
        let claims = g.claims.to_stored();
        let inserted = write.steps.len();
        let write = write.then(
            "INSERT INTO grants (id, tenant_id, client_id, user_sub, scope, auth_time, nonce, code_challenge, \
             code_challenge_method, redirect_uri, redirect_uri_sent, created_at, code_hash, code_expires_at, amr, acr, resource, claims, sid, sid_issuer, dpop_jkt) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $16, $17, $18, $19, $20, $21, $22 \
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
                (&amr).into(),
                (&g.acr).into(),
                (&g.resource).into(),
                (&claims).into(),
                g.session.as_ref().map(|s| s.sid.as_str()).into(),
                g.session.as_ref().map(|s| s.issuer.as_str()).into(),
                (&g.dpop_jkt).into(),
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
}
