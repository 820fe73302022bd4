//! Pushed authorization requests (RFC 9126): the parameters a client
//! pushed, kept under the SHA-256 of their `request_uri` until they expire.
//!
//! A pushed request is opened by the first `/authorize` that names it,
//! which extends its life to the length of a sign-in (the person may take
//! minutes over their password and second factor, and the hosted forms
//! carry only the `request_uri`); it is used once, when the authorization
//! code is issued, by one conditional `UPDATE`.

use crate::Result;
use async_trait::async_trait;

/// A pushed authorization request as stored (its hash aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequest {
    /// The tenant of the client that pushed it.
    pub tenant_id: String,
    /// The client that pushed it; only this client may name it.
    pub client_id: String,
    /// The authorization request's parameters, urlencoded.
    pub params: String,
    /// When it stops working.
    pub expires_at: i64,
}

/// Pushed authorization requests, opened once and used once.
#[async_trait]
pub trait PushedRequestStore: Send + Sync {
    /// Stores a pushed request under the SHA-256 (hex) of its `request_uri`.
    async fn create_pushed_request(&self, hash: &str, request: &PushedRequest) -> Result<()>;
    /// The live (unexpired, unused) request stored under `hash` for this
    /// tenant and client; the first call opens it, moving its expiry to
    /// `open_until` (later calls leave the expiry alone).
    async fn open_pushed_request(
        &self,
        hash: &str,
        tenant_id: &str,
        client_id: &str,
        now: i64,
        open_until: i64,
    ) -> Result<Option<PushedRequest>>;
    /// Uses the request (once): whether this call won.
    async fn use_pushed_request(&self, hash: &str, now: i64) -> Result<bool>;
}
