//! The statements of [`OperatorStore`]: operators, their sessions, and the
//! dashboard's grouped counts.

use super::SqlStore;
use crate::operators::{Operator, OperatorPasskey, OperatorSession, OperatorStore};
use crate::row::{Cols, OwnedParam};
use crate::write::Write;
use crate::Result;
use async_trait::async_trait;

const COLS: &str = "id, email, password_hash, role, tenant_id, totp_secret_sealed, totp_confirmed, created_at, disabled";
const SESSION_COLS: &str =
    "id_hash, operator_id, created_at, expires_at, last_seen_at, mfa_passed, ip, user_agent";

fn operator_from(r: &dyn Cols) -> Result<Operator> {
    Ok(Operator {
        id: r.text("id")?,
        email: r.text("email")?,
        password_hash: r.text("password_hash")?,
        role: r.text("role")?,
        tenant_id: r.opt_text("tenant_id")?,
        totp_secret_sealed: r.opt_text("totp_secret_sealed")?,
        totp_confirmed: r.int("totp_confirmed")? != 0,
        created_at: r.int("created_at")?,
        disabled: r.int("disabled")? != 0,
    })
}

const PASSKEY_COLS: &str =
    "id, operator_id, credential_id, passkey, name, created_at, last_used_at";

fn passkey_from(r: &dyn Cols) -> Result<OperatorPasskey> {
    Ok(OperatorPasskey {
        id: r.text("id")?,
        operator_id: r.text("operator_id")?,
        credential_id: r.text("credential_id")?,
        passkey: r.text("passkey")?,
        name: r.text("name")?,
        created_at: r.int("created_at")?,
        last_used_at: r.opt_int("last_used_at")?,
    })
}

fn session_from(r: &dyn Cols) -> Result<OperatorSession> {
    Ok(OperatorSession {
        id_hash: r.text("id_hash")?,
        operator_id: r.text("operator_id")?,
        created_at: r.int("created_at")?,
        expires_at: r.int("expires_at")?,
        last_seen_at: r.int("last_seen_at")?,
        mfa_passed: r.int("mfa_passed")? != 0,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
    })
}

/// The bucket of `at`, as its start: `since + (at - since) / bucket * bucket`
/// (integer division on both engines, `at >= since`).
const BUCKET: &str = "($1 + ((at - $1) / $3) * $3)";

#[async_trait]
impl OperatorStore for SqlStore {
    async fn create_operator(&self, o: &Operator) -> Result<()> {
        self.write(
            Write::new()
                .then(
                    format!(
                        "INSERT INTO operators ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ),
                    &[
                        (&o.id).into(),
                        (&o.email).into(),
                        (&o.password_hash).into(),
                        (&o.role).into(),
                        (&o.tenant_id).into(),
                        (&o.totp_secret_sealed).into(),
                        o.totp_confirmed.into(),
                        o.created_at.into(),
                        o.disabled.into(),
                    ],
                )
                .conflict(format!("an operator with the e-mail '{}' exists", o.email)),
        )
        .await?;
        Ok(())
    }

    async fn get_operator(&self, id: &str) -> Result<Option<Operator>> {
        self.first(
            &format!("SELECT {COLS} FROM operators WHERE id = $1"),
            &[id.into()],
            operator_from,
        )
        .await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>> {
        self.first(
            &format!("SELECT {COLS} FROM operators WHERE email = $1"),
            &[email.into()],
            operator_from,
        )
        .await
    }

    async fn list_operators(&self) -> Result<Vec<Operator>> {
        self.all(
            &format!("SELECT {COLS} FROM operators ORDER BY email"),
            &[],
            operator_from,
        )
        .await
    }

    async fn delete_operator(&self, id: &str) -> Result<bool> {
        self.write_one(
            Write::new()
                .then("DELETE FROM operators WHERE id = $1", &[id.into()])
                .then(
                    "DELETE FROM operator_sessions WHERE operator_id = $1",
                    &[id.into()],
                )
                .then(
                    "DELETE FROM operator_passkeys WHERE operator_id = $1",
                    &[id.into()],
                ),
        )
        .await
    }

    async fn create_operator_passkey(&self, p: &OperatorPasskey) -> Result<()> {
        self.write(
            Write::new()
                .then(
                    format!(
                        "INSERT INTO operator_passkeys ({PASSKEY_COLS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ),
                    &[
                        (&p.id).into(),
                        (&p.operator_id).into(),
                        (&p.credential_id).into(),
                        (&p.passkey).into(),
                        (&p.name).into(),
                        p.created_at.into(),
                        p.last_used_at.into(),
                    ],
                )
                .conflict("this passkey is already registered"),
        )
        .await?;
        Ok(())
    }

    async fn operator_passkeys(&self, operator_id: &str) -> Result<Vec<OperatorPasskey>> {
        self.all(
            &format!(
                "SELECT {PASSKEY_COLS} FROM operator_passkeys WHERE operator_id = $1 \
                 ORDER BY created_at, id"
            ),
            &[operator_id.into()],
            passkey_from,
        )
        .await
    }

    async fn operator_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<OperatorPasskey>> {
        self.first(
            &format!("SELECT {PASSKEY_COLS} FROM operator_passkeys WHERE credential_id = $1"),
            &[credential_id.into()],
            passkey_from,
        )
        .await
    }

    async fn operator_passkey_used(&self, id: &str, passkey: &str, now: i64) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE operator_passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3",
            &[passkey.into(), now.into(), id.into()],
        ))
        .await
    }

    async fn delete_operator_passkey(&self, operator_id: &str, id: &str) -> Result<bool> {
        self.write_one(Write::new().then(
            "DELETE FROM operator_passkeys WHERE id = $1 AND operator_id = $2",
            &[id.into(), operator_id.into()],
        ))
        .await
    }

    async fn set_operator_totp(&self, id: &str, sealed: &str) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE operators SET totp_secret_sealed = $2, totp_confirmed = 0, last_totp_step = NULL \
             WHERE id = $1 AND totp_confirmed = 0",
            &[id.into(), sealed.into()],
        ))
        .await
    }

    async fn use_operator_totp_step(&self, id: &str, step: i64, confirm: bool) -> Result<bool> {
        // Confirming takes an unconfirmed secret; a sign-in a confirmed one.
        self.write_one(Write::new().then(
            "UPDATE operators SET last_totp_step = $2, totp_confirmed = 1 \
             WHERE id = $1 AND totp_secret_sealed IS NOT NULL AND totp_confirmed = $3 \
             AND (last_totp_step IS NULL OR last_totp_step < $2)",
            &[id.into(), step.into(), (!confirm).into()],
        ))
        .await
    }

    async fn create_operator_session(&self, s: &OperatorSession) -> Result<()> {
        self.write(Write::new().then(
            format!(
                "INSERT INTO operator_sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                (&s.id_hash).into(),
                (&s.operator_id).into(),
                s.created_at.into(),
                s.expires_at.into(),
                s.last_seen_at.into(),
                s.mfa_passed.into(),
                (&s.ip).into(),
                (&s.user_agent).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn operator_session(&self, id_hash: &str, now: i64) -> Result<Option<OperatorSession>> {
        let found = self
            .first(
                &format!(
                    "SELECT {SESSION_COLS} FROM operator_sessions WHERE id_hash = $1 AND expires_at > $2"
                ),
                &[id_hash.into(), now.into()],
                session_from,
            )
            .await?;
        // Seen at most once a minute, so reads do not all become writes.
        if let Some(s) = &found {
            if now - s.last_seen_at >= 60 {
                self.write(Write::new().then(
                    "UPDATE operator_sessions SET last_seen_at = $2 WHERE id_hash = $1",
                    &[id_hash.into(), now.into()],
                ))
                .await?;
            }
        }
        Ok(found)
    }

    async fn pass_operator_mfa(&self, id_hash: &str) -> Result<bool> {
        self.write_one(Write::new().then(
            "UPDATE operator_sessions SET mfa_passed = 1 WHERE id_hash = $1",
            &[id_hash.into()],
        ))
        .await
    }

    async fn delete_operator_session(&self, id_hash: &str) -> Result<bool> {
        self.write_one(Write::new().then(
            "DELETE FROM operator_sessions WHERE id_hash = $1",
            &[id_hash.into()],
        ))
        .await
    }

    async fn count_events_by_bucket(
        &self,
        tenant: Option<&str>,
        kinds: &[String],
        since: i64,
        until: i64,
        bucket: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        if kinds.is_empty() || bucket <= 0 {
            return Ok(Vec::new());
        }
        let mut params = vec![
            OwnedParam::Int(since),
            OwnedParam::Int(until),
            OwnedParam::Int(bucket),
        ];
        let mut sql = format!(
            "SELECT {BUCKET} AS b, kind, COUNT(*) AS n FROM events WHERE at >= $1 AND at < $2"
        );
        if let Some(t) = tenant {
            params.push(OwnedParam::Text(t.to_string()));
            sql.push_str(&format!(" AND tenant_id = ${}", params.len()));
        }
        sql.push_str(" AND kind IN (");
        for (i, k) in kinds.iter().enumerate() {
            params.push(OwnedParam::Text(k.clone()));
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", params.len()));
        }
        sql.push_str(") GROUP BY b, kind ORDER BY b, kind");
        let params: Vec<_> = params.iter().map(OwnedParam::as_param).collect();
        self.all(&sql, &params, |r| {
            Ok((r.int("b")?, r.text("kind")?, r.int("n")?))
        })
        .await
    }

    async fn count_grants_by_bucket(
        &self,
        tenant: Option<&str>,
        since: i64,
        until: i64,
        bucket: i64,
    ) -> Result<Vec<(i64, i64)>> {
        if bucket <= 0 {
            return Ok(Vec::new());
        }
        let bucket_of = BUCKET.replace("at", "created_at");
        let mut sql = format!(
            "SELECT {bucket_of} AS b, COUNT(*) AS n FROM grants WHERE created_at >= $1 AND created_at < $2"
        );
        let mut params = vec![
            OwnedParam::Int(since),
            OwnedParam::Int(until),
            OwnedParam::Int(bucket),
        ];
        if let Some(t) = tenant {
            params.push(OwnedParam::Text(t.to_string()));
            sql.push_str(" AND tenant_id = $4");
        }
        sql.push_str(" GROUP BY b ORDER BY b");
        let params: Vec<_> = params.iter().map(OwnedParam::as_param).collect();
        self.all(&sql, &params, |r| Ok((r.int("b")?, r.int("n")?)))
            .await
    }
}
