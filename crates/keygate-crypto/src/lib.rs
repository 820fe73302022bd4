//! Cryptography of Keygate, all on aws-lc-rs (and argon2 for passwords).
//!
//! - [`keys`]: signing keys (RSA-2048, P-256, Ed25519): generation, PKCS#8,
//!   the public JWK, signing.
//! - [`sealing`]: the master key that encrypts signing keys at rest (AES-256-GCM).
//! - [`jws`]: compact JWS creation and verification for id and access tokens.
//! - [`secrets`]: random tokens, SHA-256 hashing of codes, refresh tokens and
//!   client secrets, constant-time comparison.
//! - [`password`]: Argon2id hashing of people's passwords.
//! - [`thumbprint`]: JWK thumbprints (RFC 7638) and signatures checked with
//!   an inline JWK (DPoP proofs, RFC 9449).
//! - [`dpop_nonce`]: the stateless DPoP server nonce (RFC 9449 8).
//! - [`hmac`]: HMAC-SHA-2 (JWS `HS256`/`HS384`/`HS512`), checked in constant time.
//! - [`jwk_set`]: a client's JWK Set (public signature keys only).
//! - [`client_jws`]: verifying a JWS a client signed (its client assertion).

pub mod client_jws;
pub mod dpop_nonce;
pub mod hmac;
pub mod jwk_set;
pub mod jws;
pub mod keys;
pub mod password;
pub mod sealing;
pub mod secrets;
pub mod thumbprint;

/// A failure of the cryptography: generating, parsing or using a key, or unsealing.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The system could not generate a key (or encode it as PKCS#8).
    #[error("key generation failed")]
    KeyGeneration,
    /// Stored PKCS#8 or a JWK is not a valid key of its algorithm; the parser's reason.
    #[error("the key could not be parsed: {0}")]
    BadKey(String),
    /// The signature operation itself failed.
    #[error("signing failed")]
    Signing,
    /// A sealed key did not open: the master key is wrong, or the data or its key id changed.
    #[error("decryption failed: wrong master key or damaged data")]
    Unseal,
    /// The configured master key is not 32 bytes of hex; what is wrong with it.
    #[error("malformed master key: {0}")]
    MasterKey(String),
}
