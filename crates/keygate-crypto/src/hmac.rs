//! HMAC with SHA-2 (RFC 2104; JWS `HS256`, `HS384`, `HS512`, RFC 7518
//! 3.2), for the client assertions of `client_secret_jwt` (OpenID Connect
//! Core 9), whose key is the octets of the client's secret.
//!
//! Verification recomputes the tag and compares it in constant time
//! (aws-lc-rs's `hmac::verify`), so the time taken says nothing about how
//! much of a forged tag was right. RFC 7518 3.2 requires a key at least as
//! long as the hash's output; a shorter key is refused, not used.

use aws_lc_rs::hmac;

/// The HMAC algorithms of JWS (RFC 7518 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlg {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl HmacAlg {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [HmacAlg; 3] = [HmacAlg::HS256, HmacAlg::HS384, HmacAlg::HS512];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            HmacAlg::HS256 => "HS256",
            HmacAlg::HS384 => "HS384",
            HmacAlg::HS512 => "HS512",
        }
    }

    /// The algorithm of a JWS `alg` name (exact, case-sensitive: RFC 7515 4.1.1).
    pub fn parse(alg: &str) -> Option<HmacAlg> {
        HmacAlg::ALL.into_iter().find(|a| a.as_str() == alg)
    }

    /// The shortest key RFC 7518 3.2 allows: the hash's output, in bytes.
    pub fn min_key_len(self) -> usize {
        match self {
            HmacAlg::HS256 => 32,
            HmacAlg::HS384 => 48,
            HmacAlg::HS512 => 64,
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            HmacAlg::HS256 => hmac::HMAC_SHA256,
            HmacAlg::HS384 => hmac::HMAC_SHA384,
            HmacAlg::HS512 => hmac::HMAC_SHA512,
        }
    }
}

/// Why an HMAC could not be computed or checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HmacError {
    /// The key is shorter than RFC 7518 3.2 allows for the algorithm.
    #[error("the key is shorter than {0} requires")]
    ShortKey(&'static str),
    /// The tag does not match.
    #[error("the MAC does not match")]
    Mismatch,
}

/// The tag of `msg` under `key`.
pub fn sign(alg: HmacAlg, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, HmacError> {
    if key.len() < alg.min_key_len() {
        return Err(HmacError::ShortKey(alg.as_str()));
    }
    let key = hmac::Key::new(alg.algorithm(), key);
    Ok(hmac::sign(&key, msg).as_ref().to_vec())
}

/// Checks `tag` against `msg` under `key`, in constant time.
pub fn verify(alg: HmacAlg, key: &[u8], msg: &[u8], tag: &[u8]) -> Result<(), HmacError> {
    if key.len() < alg.min_key_len() {
        return Err(HmacError::ShortKey(alg.as_str()));
    }
    let key = hmac::Key::new(alg.algorithm(), key);
    hmac::verify(&key, msg, tag).map_err(|_| HmacError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4231 test case 6 (a 131-byte key, longer than the block size),
    /// for each hash.
    #[test]
    fn rfc4231_test_case_6() {
        let key = vec![0xaa; 131];
        let msg = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let cases = [
            (
                HmacAlg::HS256,
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                HmacAlg::HS384,
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                 0c2ef6ab4030fe8296248df163f44952",
            ),
            (
                HmacAlg::HS512,
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ),
        ];
        for (alg, expected) in cases {
            let expected = hex(&expected.replace(' ', ""));
            assert_eq!(sign(alg, &key, msg).unwrap(), expected, "{alg:?}");
            assert_eq!(verify(alg, &key, msg, &expected), Ok(()), "{alg:?}");
            let mut wrong = expected.clone();
            wrong[0] ^= 1;
            assert_eq!(
                verify(alg, &key, msg, &wrong),
                Err(HmacError::Mismatch),
                "{alg:?}"
            );
            assert_eq!(
                verify(alg, &key, b"other", &expected),
                Err(HmacError::Mismatch)
            );
            // A truncated tag is not a shorter valid one.
            assert_eq!(
                verify(alg, &key, msg, &expected[..16]),
                Err(HmacError::Mismatch)
            );
        }
    }

    #[test]
    fn keys_shorter_than_the_hash_are_refused() {
        for alg in HmacAlg::ALL {
            let short = vec![7u8; alg.min_key_len() - 1];
            assert_eq!(
                sign(alg, &short, b"m"),
                Err(HmacError::ShortKey(alg.as_str()))
            );
            assert_eq!(
                verify(alg, &short, b"m", &[0; 64]),
                Err(HmacError::ShortKey(alg.as_str()))
            );
            let exact = vec![7u8; alg.min_key_len()];
            let tag = sign(alg, &exact, b"m").unwrap();
            assert_eq!(verify(alg, &exact, b"m", &tag), Ok(()));
        }
    }

    #[test]
    fn names() {
        for alg in HmacAlg::ALL {
            assert_eq!(HmacAlg::parse(alg.as_str()), Some(alg));
        }
        for other in ["hs256", "HS1", "none", "RS256", ""] {
            assert_eq!(HmacAlg::parse(other), None, "{other}");
        }
    }
}
