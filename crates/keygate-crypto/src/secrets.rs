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

/// A 128-bit identifier whose first 48 bits are the time in milliseconds
/// (big-endian) and the other 80 random, for records that are looked up by
/// id in an index that grows with them (grants: every refresh token row is
/// indexed by its grant's id).
///
/// Random ids put each new index entry on a random leaf page, so every
/// exchange dirtied one more page for the commit to write (profiled on
/// W1, writing WAL frames was half of the SQLite writer's time); ids of the
/// same second share their first characters and land on the same few pages.
pub fn new_ordered_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut buf = [0u8; 16];
    buf[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    SystemRandom::new()
        .fill(&mut buf[6..])
        .expect("the system CSPRNG failed");
    URL_SAFE_NO_PAD.encode(buf)
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
    fn ordered_ids_begin_with_the_time_and_end_random() {
        let millis = |id: &str| {
            let bytes = URL_SAFE_NO_PAD.decode(id).unwrap();
            assert_eq!(bytes.len(), 16);
            let mut be = [0u8; 8];
            be[2..].copy_from_slice(&bytes[..6]);
            u64::from_be_bytes(be)
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (a, b) = (new_ordered_id(), new_ordered_id());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(
            millis(&a).abs_diff(now) < 5_000,
            "{a} is not stamped with the time"
        );
        assert!(millis(&b) >= millis(&a));
        // Ids of the same moment share their leading characters.
        assert_eq!(a[..5], b[..5]);
    }

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
