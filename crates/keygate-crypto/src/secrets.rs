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

/// `n` random bytes from the system CSPRNG (an authenticator app's secret).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system CSPRNG failed");
    buf
}

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
    stamped::<16>()
}

/// `N` bytes, base64url: the time ([`millis_be`]), then random ones.
fn stamped<const N: usize>() -> String {
    let mut buf = [0u8; N];
    buf[..6].copy_from_slice(&millis_be());
    SystemRandom::new()
        .fill(&mut buf[6..])
        .expect("the system CSPRNG failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Milliseconds since the Unix epoch, as the six big-endian bytes that
/// begin ordered ids and refresh tokens (good until the year 10889).
fn millis_be() -> [u8; 6] {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut out = [0u8; 6];
    out.copy_from_slice(&millis.to_be_bytes()[2..]);
    out
}

/// How long a refresh token is: 33 bytes, 44 base64url characters. The
/// 43-character tokens of earlier releases (32 random bytes) still work:
/// [`refresh_token_key`] tells the two apart by length.
const REFRESH_TOKEN_LEN: usize = 44;

/// A refresh token: the time in milliseconds (6 bytes, big-endian), then
/// 27 random bytes (216 bits, more than the 128 that RFC 6749 10.10 and
/// RFC 9700 ask a guess to face), base64url.
///
/// The time is there for the store, not for the client: see
/// [`refresh_token_key`].
pub fn new_refresh_token() -> String {
    stamped::<33>()
}

/// The key a refresh token is stored and looked up under: the token's
/// issue time in hex (12 characters), then the SHA-256 of the whole token
/// in hex. Only the time is readable from it; the 216 random bits are
/// stored hashed, like every other secret.
///
/// A key that is only a hash puts each new token on a random leaf page of
/// the key's index, and at the next rotation its successor on another, so
/// every exchange dirtied a page of that index for the commit to write
/// (W2 made 4.6 WAL writes per rotation). Keys that begin with the time
/// land at the index's end, on the few pages the same commit writes anyway.
///
/// Tokens of earlier releases (43 characters, all random) keep their
/// plain SHA-256 key, so they stay valid across an upgrade.
pub fn refresh_token_key(token: &str) -> String {
    let stamp = (token.len() == REFRESH_TOKEN_LEN)
        .then(|| URL_SAFE_NO_PAD.decode(&token.as_bytes()[..8]).ok())
        .flatten();
    match stamp {
        Some(time) => {
            let mut key = String::with_capacity(12 + 64);
            push_hex(&mut key, &time);
            push_sha256_hex(&mut key, token);
            key
        }
        None => sha256_hex(token),
    }
}

/// Appends `bytes` in lower-case hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Every request hashes a secret, a code or a refresh token (or two):
    // two table lookups per byte, not a formatted string per byte.
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// Appends the lower-case hex SHA-256 of `token`.
fn push_sha256_hex(out: &mut String, token: &str) {
    push_hex(
        out,
        digest::digest(&digest::SHA256, token.as_bytes()).as_ref(),
    );
}

/// Lower-case hex SHA-256 of a token.
pub fn sha256_hex(token: &str) -> String {
    let mut out = String::with_capacity(64);
    push_sha256_hex(&mut out, token);
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

/// Whether `token` has the shape of a secret of [`new_secret`] (base64url,
/// 43 characters for 32 bytes, with a little leeway): links carrying
/// anything else are refused before any store lookup.
pub fn is_well_formed_secret(token: &str) -> bool {
    (20..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A keyed hash (HMAC-SHA256, hex) of small secrets, under a key derived
/// from the master key ([`crate::sealing::MasterKey::keyed_hash`]).
pub struct KeyedHash(aws_lc_rs::hmac::Key);

impl KeyedHash {
    pub(crate) fn new(key: aws_lc_rs::hmac::Key) -> Self {
        KeyedHash(key)
    }

    /// The keyed hash of `text`, as 64 hex characters.
    pub fn hex(&self, text: &str) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.0, text.as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHash(..)")
    }
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
    fn refresh_tokens_are_keyed_by_their_time_then_their_hash() {
        let (a, b) = (new_refresh_token(), new_refresh_token());
        assert_eq!(a.len(), 44);
        assert_ne!(a, b);
        let (ka, kb) = (refresh_token_key(&a), refresh_token_key(&b));
        assert_eq!(ka.len(), 76);
        assert_eq!(&ka[12..], sha256_hex(&a));
        // The key begins with the issue time in hex, so keys sort by time.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ms = u64::from_str_radix(&ka[..12], 16).unwrap();
        assert!(ms.abs_diff(now) < 5_000, "{ka}");
        assert!(ka[..12] <= kb[..12]);
        // Nothing of the random part is readable from the key.
        assert!(!ka.contains(&a[8..16]));
        // A token of an earlier release (43 characters) keeps its plain hash;
        // anything else that is not a new token too.
        let old = new_secret();
        assert_eq!(refresh_token_key(&old), sha256_hex(&old));
        assert_eq!(refresh_token_key("x"), sha256_hex("x"));
        let bad = format!("*{}", &a[1..]);
        assert_eq!(refresh_token_key(&bad), sha256_hex(&bad));
        // A multi-byte character across the eighth byte is not a panic.
        let wide = format!("1234567é{}", &a[9..]);
        assert_eq!(wide.len(), 44);
        assert_eq!(refresh_token_key(&wide), sha256_hex(&wide));
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

    #[test]
    fn well_formed_secrets() {
        assert!(is_well_formed_secret(&new_secret()));
        assert!(!is_well_formed_secret("short"));
        assert!(!is_well_formed_secret(&"a".repeat(129)));
        assert!(!is_well_formed_secret("abc+def/ghi=jklmnopqrstu"));
    }
}
