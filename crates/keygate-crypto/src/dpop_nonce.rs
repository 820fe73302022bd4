//! The DPoP server nonce (RFC 9449 8), stateless: a MAC of the tenant and
//! the time window under a key derived from the master key, so every node
//! mints and accepts the same nonces without storing or sharing any.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The key nonces are MACed with. Debug output never shows it.
pub struct NonceKey(hmac::Key);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// The key of these 32 bytes (from [`crate::sealing::MasterKey::derive_key`]).
    pub fn new(key: &[u8; 32]) -> NonceKey {
        NonceKey(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// The nonce of `tenant` for time window `window`: 128 bits of
    /// HMAC-SHA256, base64url (22 characters). Another tenant's nonce, or
    /// another window's, is a different value.
    pub fn nonce(&self, tenant: &str, window: i64) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(b"dpop-nonce\0");
        ctx.update(tenant.as_bytes());
        ctx.update(b"\0");
        ctx.update(&window.to_be_bytes());
        let tag = ctx.sign();
        URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_differ_by_tenant_window_and_key() {
        let k = NonceKey::new(&[7; 32]);
        let n = k.nonce("t", 100);
        assert_eq!(n.len(), 22);
        assert_eq!(n, NonceKey::new(&[7; 32]).nonce("t", 100));
        assert_ne!(n, k.nonce("t", 101));
        assert_ne!(n, k.nonce("u", 100));
        assert_ne!(n, NonceKey::new(&[8; 32]).nonce("t", 100));
        assert!(!format!("{k:?}").contains('7'));
    }
}
