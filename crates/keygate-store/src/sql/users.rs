//! The statements of [`UserStore`], and what ends with a person's change:
//! their sessions and grants, in the same transaction.

use super::SqlStore;
use crate::row::Cols;
use crate::write::Write;
use crate::{Result, UserStore};
use async_trait::async_trait;
use keygate_core::model::{Address, User};

const USER_COLS: &str =
    "sub, tenant_id, email, email_verified, name, password_hash, created_at, disabled, \
    phone_number, phone_number_verified, address";

/// The stored form of an address: the JSON of the `address` claim.
pub(super) fn address_text(a: &Option<Address>) -> Option<String> {
    a.as_ref().and_then(|a| serde_json::to_string(a).ok())
}

/// Reads a stored address back; one that no longer reads as an address
/// (never written by [`address_text`]) counts as none.
pub(super) fn address_of(text: Option<String>) -> Option<Address> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

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
        phone_number: row.opt_text("phone_number")?,
        phone_number_verified: row.flag("phone_number_verified")?,
        address: address_of(row.opt_text("address")?),
    })
}

/// Adds to `write` the statements that end a person's sessions (queuing
/// their back-channel logouts first) and revoke their grants (so their
/// refresh tokens, and through the grant their access tokens, stop
/// working), in the same transaction as the change that calls for it.
pub(super) fn ends_everything(write: Write, tenant_id: &str, sub: &str, now: i64) -> Write {
    super::logouts::queue_logouts_of_person(write, tenant_id, sub, now)
        .then(
            "DELETE FROM sessions WHERE tenant_id = $1 AND user_sub = $2",
            &[tenant_id.into(), sub.into()],
        )
        .then(
            "UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND user_sub = $3 AND revoked_at IS NULL",
            &[now.into(), tenant_id.into(), sub.into()],
        )
}

/// The insert of a new user: `Conflict` when the e-mail is taken.
pub(super) fn insert_user(u: &User) -> Write {
    let address = address_text(&u.address);
    Write::new()
                .then(
                    format!(
                        "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
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
                        (&u.phone_number).into(),
                        u.phone_number_verified.into(),
                        (&address).into(),
                    ],
                )
                .conflict(format!("the e-mail '{}' is already registered", u.email))
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, u: &User) -> Result<()> {
        self.write(insert_user(u)).await?;
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

    async fn users_by_email_prefix(
        &self,
        tenant_id: &str,
        prefix: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<User>> {
        // substr and length count characters on both engines; no LIKE, so
        // a % or _ in the prefix is only itself.
        self.all(
            &format!(
                "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 \
                 AND substr(email, 1, length($2)) = $3 AND email > $4 ORDER BY email LIMIT $5"
            ),
            &[
                tenant_id.into(),
                prefix.into(),
                prefix.into(),
                after.into(),
                limit.into(),
            ],
            user_from,
        )
        .await
    }

    async fn update_user(&self, u: &User, end_sessions_at: Option<i64>) -> Result<()> {
        let address = address_text(&u.address);
        let mut write = Write::new()
            .then(
                "UPDATE users SET email = $1, email_verified = $2, name = $3, password_hash = $4, disabled = $5, \
                 phone_number = $8, phone_number_verified = $9, address = $10 WHERE sub = $6 AND tenant_id = $7",
                &[
                    (&u.email).into(),
                    u.email_verified.into(),
                    (&u.name).into(),
                    (&u.password_hash).into(),
                    u.disabled.into(),
                    (&u.sub).into(),
                    (&u.tenant_id).into(),
                    (&u.phone_number).into(),
                    u.phone_number_verified.into(),
                    (&address).into(),
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
        let write = ends_everything(write, tenant_id, sub, now)
            .then(
                "DELETE FROM totp_devices WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), sub.into()],
            )
            .then(
                "DELETE FROM passkeys WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), sub.into()],
            )
            .then(
                "DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), sub.into()],
            )
            .then(
                "DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), sub.into()],
            )
            .then(
                "DELETE FROM consents WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), sub.into()],
            )
            .then(
                "DELETE FROM federated_identities WHERE tenant_id = $1 AND user_sub = $2",
                &[tenant_id.into(), sub.into()],
            );
        Ok(!self.write(write).await?.is_undone())
    }
}
