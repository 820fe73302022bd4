//! Random tokens and their hashes.
//!
//! Codes, refresh tokens, session ids and client secrets are 256-bit random
//! values; only their SHA-256 is stored. A fast hash is right for them (no
//! dictionary to guess from), and it keeps the token endpoint cheap.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// `n` random bytes from the system CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system CSPRNG failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 256-bit token: codes, refresh tokens, secrets, session ids.
pub fn new_secret() -> String {
    random_token(32)
}

/// A short random identifier (128 bits) for records: subjects, client ids, grants.
pub fn new_id() -> String {
    random_token(16)
}

/// Lower-case hex SHA-256 of a token.
pub fn sha256_hex(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    // Every request hashes a secret, a code or a refresh token (or two):
    // two table lookups per byte, not a formatted string per byte.
    let mut out = String::with_capacity(64);
    for b in d.as_ref() {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Compares two byte strings in constant time (for their common length).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn secret_matches(stored_hash: &str, secret: &str) -> bool {
    ct_eq(sha256_hex(secret).as_bytes(), stored_hash.as_bytes())
}

/// Standard base64 SHA-256 of a text (for CSP source hashes).
pub fn sha256_base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(digest::digest(&digest::SHA256, text.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_hashes() {
        let a = new_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_secret());
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(secret_matches(&sha256_hex(&a), &a));
        assert!(!secret_matches(&sha256_hex(&a), "x"));
    }
}
