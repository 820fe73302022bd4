//! Operators of the admin console (docs/console.md), their sessions, and
//! the dashboard's counts per time bucket.
//!
//! An operator's password is stored as its Argon2id hash and its TOTP
//! secret sealed under the master key (both by the caller); a session as
//! the SHA-256 of its cookie value. A TOTP code works once: its time step
//! must be later than the last accepted one, decided by one conditional
//! `UPDATE`.

use crate::Result;
use async_trait::async_trait;

/// An operator of the admin console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Its id.
    pub id: String,
    /// Its e-mail address (unique, lower case), how it signs in.
    pub email: String,
    /// The Argon2id hash of its password.
    pub password_hash: String,
    /// `owner`, `admin` or `viewer`.
    pub role: String,
    /// The one tenant it manages; `None` for every tenant.
    pub tenant_id: Option<String>,
    /// Its TOTP secret, sealed under the master key; `None` before enrolment.
    pub totp_secret_sealed: Option<String>,
    /// Whether the TOTP secret was confirmed with a first code.
    pub totp_confirmed: bool,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// A disabled operator cannot sign in.
    pub disabled: bool,
}

/// A session of the admin console, kept by the SHA-256 of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSession {
    /// The SHA-256 (hex) of the cookie value.
    pub id_hash: String,
    /// Whose.
    pub operator_id: String,
    /// When it began.
    pub created_at: i64,
    /// When it ends.
    pub expires_at: i64,
    /// When it was last used.
    pub last_seen_at: i64,
    /// Whether the second factor was given (only then is it signed in).
    pub mfa_passed: bool,
    /// The IP address it began from.
    pub ip: Option<String>,
    /// The browser's User-Agent when it began (bounded by the caller).
    pub user_agent: Option<String>,
}

/// A passkey of an operator: a second factor beside the authenticator
/// app (docs/console.md, "Passkeys").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorPasskey {
    /// Its id.
    pub id: String,
    /// Whose.
    pub operator_id: String,
    /// The WebAuthn credential id, base64url without padding.
    pub credential_id: String,
    /// The credential (public key, counter, backup state) as the WebAuthn
    /// library serialises it.
    pub passkey: String,
    /// The name the operator gave it.
    pub name: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// When it was last used to sign in.
    pub last_used_at: Option<i64>,
}

/// Operators, their sessions, and the dashboard's counts.
#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    /// Stores a new operator: `Conflict` when the e-mail is taken.
    async fn create_operator(&self, operator: &Operator) -> Result<()>;
    /// The operator with this id.
    async fn get_operator(&self, id: &str) -> Result<Option<Operator>>;
    /// The operator with this (lower-case) e-mail.
    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>>;
    /// Every operator, by e-mail.
    async fn list_operators(&self) -> Result<Vec<Operator>>;
    /// Deletes an operator, its sessions and its passkeys; whether it existed.
    async fn delete_operator(&self, id: &str) -> Result<bool>;
    /// Sets a new, unconfirmed TOTP secret (an enrolment started again
    /// replaces the earlier secret); refused (`false`) once one is confirmed.
    async fn set_operator_totp(&self, id: &str, sealed: &str) -> Result<bool>;
    /// Accepts a TOTP code's time `step` for the operator, once: only when
    /// it is later than the last accepted one; `confirm` also marks the
    /// secret confirmed. Whether it was accepted.
    async fn use_operator_totp_step(&self, id: &str, step: i64, confirm: bool) -> Result<bool>;
    /// Stores an operator's new passkey; `Conflict` when its credential id
    /// is already registered.
    async fn create_operator_passkey(&self, passkey: &OperatorPasskey) -> Result<()>;
    /// The operator's passkeys, oldest first.
    async fn operator_passkeys(&self, operator_id: &str) -> Result<Vec<OperatorPasskey>>;
    /// The passkey with this credential id, whoever's it is.
    async fn operator_passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<OperatorPasskey>>;
    /// Records a sign-in with the passkey: its updated credential (counter,
    /// backup state) and when; whether it was there.
    async fn operator_passkey_used(&self, id: &str, passkey: &str, now: i64) -> Result<bool>;
    /// Deletes the operator's passkey; whether it was there.
    async fn delete_operator_passkey(&self, operator_id: &str, id: &str) -> Result<bool>;
    /// Stores a new session.
    async fn create_operator_session(&self, session: &OperatorSession) -> Result<()>;
    /// The session with this hash, if it has not expired at `now`; marks
    /// it seen at `now`.
    async fn operator_session(&self, id_hash: &str, now: i64) -> Result<Option<OperatorSession>>;
    /// Marks the session's second factor given; whether it exists.
    async fn pass_operator_mfa(&self, id_hash: &str) -> Result<bool>;
    /// Ends a session; whether it existed.
    async fn delete_operator_session(&self, id_hash: &str) -> Result<bool>;
    /// How many events of each of `kinds` happened per bucket of
    /// `bucket` seconds in `[since, until)`, in `tenant` (or every
    /// tenant): `(bucket start, kind, count)`, buckets aligned to
    /// `since`, empty buckets left out. One grouped query.
    async fn count_events_by_bucket(
        &self,
        tenant: Option<&str>,
        kinds: &[String],
        since: i64,
        until: i64,
        bucket: i64,
    ) -> Result<Vec<(i64, String, i64)>>;
    /// How many grants (authorization codes issued) were created per
    /// bucket, as [`OperatorStore::count_events_by_bucket`]: `(bucket
    /// start, count)`.
    async fn count_grants_by_bucket(
        &self,
        tenant: Option<&str>,
        since: i64,
        until: i64,
        bucket: i64,
    ) -> Result<Vec<(i64, i64)>>;
}
