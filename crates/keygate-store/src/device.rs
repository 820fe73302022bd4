//! Device authorizations (RFC 8628): the requests of devices waiting for a
//! person to allow them on another screen.
//!
//! A device authorization is found by the SHA-256 of its device code (the
//! device's polls) or by the keyed hash of its user code (the device
//! page); neither code is stored. A user code belongs to one live device
//! authorization at a time: a new one taking the code of an expired one
//! replaces it, a live one keeps it. The person's answer is one
//! conditional `UPDATE ... WHERE status = 'pending' AND expires_at > now`,
//! so of two answers (two tabs, two nodes) exactly one counts; allowing
//! stores, in the same transaction, the grant whose code the next poll
//! redeems through [`crate::GrantStore::exchange_code`] (single use
//! decided by the database, as for authorization codes). The sweeper
//! deletes expired ones.

use crate::Result;
use async_trait::async_trait;
use keygate_core::device::DeviceAuthorization;
use keygate_core::model::Grant;

/// Device authorizations, their polls and the person's answer.
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Stores a new device authorization under `device_hash` and
    /// `user_code_hash`, unless a live one (unexpired at `d.created_at`)
    /// holds that user code hash; whether it was stored.
    async fn create_device_authorization(
        &self,
        device_hash: &str,
        user_code_hash: &str,
        d: &DeviceAuthorization,
    ) -> Result<bool>;
    /// The device authorization of a device code's hash, expired or not.
    async fn device_authorization(&self, device_hash: &str) -> Result<Option<DeviceAuthorization>>;
    /// The device authorization holding a user code's hash, with its
    /// device code's hash, expired or not.
    async fn device_authorization_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> Result<Option<(String, DeviceAuthorization)>>;
    /// Records a poll of a pending device authorization at `now`, with its
    /// (possibly raised) `interval`.
    async fn record_device_poll(&self, device_hash: &str, now: i64, interval: i64) -> Result<()>;
    /// The person's consent: if the device authorization is still pending
    /// and unexpired at `now`, marks it allowed by `grant.user_sub` with
    /// `grant`, and stores `grant` under `code_hash` in the same
    /// transaction; whether this call did.
    async fn approve_device(
        &self,
        device_hash: &str,
        grant: &Grant,
        code_hash: &str,
        now: i64,
    ) -> Result<bool>;
    /// The person's refusal: if still pending and unexpired at `now`,
    /// marks it denied by `user_sub`; whether this call did.
    async fn deny_device(&self, device_hash: &str, user_sub: &str, now: i64) -> Result<bool>;
}
