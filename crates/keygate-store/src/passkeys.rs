//! Passkeys (WebAuthn) of people, and the state of WebAuthn ceremonies
//! between their start and their finish.
//!
//! A passkey is kept as the library's own serialisation (JSON, opaque to
//! the store), found at sign-in by its credential id, which is unique per
//! tenant. A ceremony's state is stored under the SHA-256 of a random
//! handle, so that any node can finish what another started; it is taken
//! once ([`PasskeyStore::take_passkey_ceremony`] is one conditional
//! `DELETE ... WHERE tenant_id = ... AND expires_at > now`, so of racing finishes exactly one
//! gets it).

use crate::Result;
use async_trait::async_trait;

/// A passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Its id (random; the remove form's).
    pub id: String,
    /// The tenant of the person.
    pub tenant_id: String,
    /// The person it belongs to.
    pub user_sub: String,
    /// The WebAuthn credential id, base64url without padding.
    pub credential_id: String,
    /// The credential (public key, counter, backup state) as the WebAuthn
    /// library serialises it.
    pub passkey: String,
    /// The name the person gave it.
    pub name: String,
    /// When it was added (seconds since the epoch).
    pub created_at: i64,
    /// When it last signed someone in.
    pub last_used_at: Option<i64>,
    /// Whether the credential may be synced between devices.
    pub backup_eligible: bool,
}

/// A WebAuthn ceremony between its start and its finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// The tenant it was started for.
    pub tenant_id: String,
    /// The person it was started for, when it is known at the start (a
    /// registration, a second factor); `None` for a passkey sign-in.
    pub user_sub: Option<String>,
    /// What it is (`register`, `sign-in`, `second-factor`), so a state is
    /// never finished as another kind.
    pub kind: String,
    /// The library's ceremony state (JSON, opaque to the store).
    pub state: String,
    /// When it stops working (seconds since the epoch).
    pub expires_at: i64,
}

/// People's passkeys and the ceremonies that add and use them.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Stores a new passkey; `Conflict` when its credential id is already
    /// registered in the tenant.
    async fn create_passkey(&self, passkey: &StoredPasskey) -> Result<()>;
    /// The person's passkeys, oldest first.
    async fn passkeys(&self, tenant_id: &str, user_sub: &str) -> Result<Vec<StoredPasskey>>;
    /// The tenant's passkey with this credential id, if any.
    async fn passkey_by_credential(
        &self,
        tenant_id: &str,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>>;
    /// Records a sign-in with the passkey: its updated credential (counter,
    /// backup state) and when; whether it was there.
    async fn passkey_used(
        &self,
        tenant_id: &str,
        id: &str,
        passkey: &str,
        backup_eligible: bool,
        now: i64,
    ) -> Result<bool>;
    /// Deletes the person's passkey; whether it was there.
    async fn delete_passkey(&self, tenant_id: &str, user_sub: &str, id: &str) -> Result<bool>;
    /// Stores a ceremony's state under the SHA-256 (hex) of its handle.
    async fn create_passkey_ceremony(&self, hash: &str, ceremony: &PasskeyCeremony) -> Result<()>;
    /// Takes the ceremony stored under this hash if it is this tenant's
    /// and unexpired (one conditional `DELETE`: one winner); `None` when it
    /// is unknown, another tenant's, expired or already taken (another
    /// tenant's is left as it was).
    async fn take_passkey_ceremony(
        &self,
        hash: &str,
        tenant_id: &str,
        now: i64,
    ) -> Result<Option<PasskeyCeremony>>;
}
