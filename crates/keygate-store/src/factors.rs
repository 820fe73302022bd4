//! Second factors of people: authenticator apps (TOTP, RFC 6238), their
//! secret sealed under the master key with the device id as associated
//! data.
//!
//! A device is created unconfirmed and confirmed by the first correct code.
//! A code (its time step) is accepted once: [`FactorStore::use_totp_step`]
//! is one conditional `UPDATE ... WHERE last_used_step IS NULL OR
//! last_used_step < step`, so of racing uses of one step exactly one wins.
//!
//! Recovery codes are kept only as hashes (the caller hashes them); each is
//! used once by one conditional `UPDATE ... WHERE used_at IS NULL`. They
//! are not a factor of their own: they go when the person's last factor
//! goes ([`FactorStore::delete_recovery_codes_without_factor`]) and with
//! every factor ([`FactorStore::reset_factors`]).

use crate::Result;
use async_trait::async_trait;

/// An authenticator app (TOTP device) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpDevice {
    /// Its id (random, also the associated data of its sealed secret).
    pub id: String,
    /// The tenant of the person.
    pub tenant_id: String,
    /// The person it belongs to.
    pub user_sub: String,
    /// The name the person gave it.
    pub name: String,
    /// The secret, sealed under the master key (label: the device id).
    pub sealed_secret: String,
    /// When it was added (seconds since the epoch).
    pub created_at: i64,
    /// When its first correct code was given; `None` while unconfirmed.
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted.
    pub last_used_step: Option<i64>,
}

/// A sign-in waiting for its second factor: the password was right. Stored
/// only as the SHA-256 of its token; finished once, within its lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPending {
    /// The tenant of the person.
    pub tenant_id: String,
    /// The person whose password was right.
    pub user_sub: String,
    /// When the password was checked (seconds since the epoch).
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When the second factor finished it.
    pub used_at: Option<i64>,
    /// What the person proved so far (RFC 8176 values: `pwd` after a
    /// password, or a step-up session's `amr`); the second factor adds to it.
    pub amr: Vec<String>,
    /// The authorization request (urlencoded) a Journeys sign-in finishes
    /// with; `None` for the hosted pages, whose forms carry it.
    pub request: Option<String>,
}

/// People's second factors (authenticator apps), their recovery codes and
/// the sign-ins waiting for one.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Stores a new device (normally unconfirmed).
    async fn create_totp_device(&self, device: &TotpDevice) -> Result<()>;
    /// Confirms the person's device under `name`, if it is theirs and
    /// unconfirmed, and records `step` as its last used step; whether it did.
    async fn confirm_totp_device(
        &self,
        tenant_id: &str,
        user_sub: &str,
        id: &str,
        name: &str,
        step: i64,
        now: i64,
    ) -> Result<bool>;
    /// The person's devices, confirmed or not, oldest first.
    async fn totp_devices(&self, tenant_id: &str, user_sub: &str) -> Result<Vec<TotpDevice>>;
    /// Deletes the person's device; whether it was there.
    async fn delete_totp_device(&self, tenant_id: &str, user_sub: &str, id: &str) -> Result<bool>;
    /// Accepts the code of time step `step` on this device if no code of
    /// that step or a later one was accepted before; whether it did.
    async fn use_totp_step(&self, device_id: &str, step: i64) -> Result<bool>;
    /// Stores a sign-in waiting for its second factor under the SHA-256
    /// (hex) of its token.
    async fn create_mfa_pending(&self, hash: &str, pending: &MfaPending) -> Result<()>;
    /// The waiting sign-in stored under this hash, used or not, expired or not.
    async fn mfa_pending(&self, hash: &str) -> Result<Option<MfaPending>>;
    /// Finishes the waiting sign-in if it is unused and unexpired (one
    /// conditional `UPDATE`: one winner); whether it did.
    async fn finish_mfa_pending(&self, hash: &str, now: i64) -> Result<bool>;
    /// Replaces every recovery code of the person by these (hashes), in
    /// one write: earlier codes, used or not, stop working.
    async fn replace_recovery_codes(
        &self,
        tenant_id: &str,
        user_sub: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<()>;
    /// Uses the person's recovery code stored under `hash` if it is unused
    /// (one conditional `UPDATE`: of racing uses one wins); whether it did.
    async fn use_recovery_code(
        &self,
        tenant_id: &str,
        user_sub: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool>;
    /// How many of the person's recovery codes are unused.
    async fn recovery_codes_left(&self, tenant_id: &str, user_sub: &str) -> Result<i64>;
    /// Deletes the person's recovery codes if they have no second factor
    /// left (one statement, so a factor added meanwhile keeps them); how
    /// many were deleted. Every factor kind must be named in its condition.
    async fn delete_recovery_codes_without_factor(
        &self,
        tenant_id: &str,
        user_sub: &str,
    ) -> Result<u64>;
    /// Removes every second factor of the person (authenticator apps,
    /// confirmed or not, passkeys, and every other kind) and their recovery codes,
    /// and ends their sessions, in one write: their next sign-in starts
    /// over with the password alone. Every factor kind must be deleted here.
    async fn reset_factors(&self, tenant_id: &str, user_sub: &str, now: i64) -> Result<()>;
}
