//! Cryptography of Keygate, all on aws-lc-rs (and argon2 for passwords).
//!
//! - [`keys`]: signing keys (RSA-2048, P-256, Ed25519): generation, PKCS#8,
//!   the public JWK, signing.
//! - [`sealing`]: the master key that encrypts signing keys at rest (AES-256-GCM).
//! - [`jws`]: compact JWS creation and verification for id and access tokens.
//! - [`secrets`]: random tokens, SHA-256 hashing of codes, refresh tokens and
//!   client secrets, constant-time comparison.
//! - [`password`]: Argon2id hashing of people's passwords.

pub mod jws;
pub mod keys;
pub mod password;
pub mod sealing;
pub mod secrets;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("the key could not be parsed: {0}")]
    BadKey(String),
    #[error("signing failed")]
    Signing,
    #[error("decryption failed: wrong master key or damaged data")]
    Unseal,
    #[error("malformed master key: {0}")]
    MasterKey(String),
}
