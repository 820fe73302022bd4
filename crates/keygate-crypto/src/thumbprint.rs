//! JWK thumbprints (RFC 7638) and signatures checked with a key sent
//! inline: what DPoP (RFC 9449) binds tokens to (`cnf.jkt`) and how its
//! proofs are verified with their own `jwk` header.

use crate::keys::{Alg, VerifyingKey};
use crate::CryptoError;
use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The SHA-256 JWK thumbprint of a public key, base64url without padding
/// (RFC 7638 3): the hash of a JSON object holding only the key type's
/// required members, in lexicographic order, without whitespace. RSA:
/// `e`, `kty`, `n`; EC: `crv`, `kty`, `x`, `y` (RFC 7638 3.2); OKP: `crv`,
/// `kty`, `x` (RFC 8037 2).
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, CryptoError> {
    let member = |name: &str| -> Result<String, CryptoError> {
        let v = jwk[name]
            .as_str()
            .ok_or_else(|| CryptoError::BadKey(format!("JWK has no '{name}'")))?;
        // serde_json writes a string with the escapes RFC 7638 3.3 expects
        // of JSON; the members here are base64url or fixed names anyway.
        serde_json::to_string(v).map_err(|e| CryptoError::BadKey(e.to_string()))
    };
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            member("e")?,
            member("n")?
        ),
        Some("EC") => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        Some("OKP") => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            member("crv")?,
            member("x")?
        ),
        _ => return Err(CryptoError::BadKey("JWK kty".into())),
    };
    let d = digest::digest(&digest::SHA256, canonical.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(d.as_ref()))
}

/// Verifies `sig` over `msg` with the public key `jwk` under `alg`, and
/// gives the key's thumbprint when it verifies (`None` when it does not, or
/// the key is not one of `alg`'s). The JWK need not name its algorithm
/// (RFC 9449 proofs seldom do): `alg` is the proof header's, which the
/// caller has checked fits the key type. RSA keys under 2048 bits are
/// refused by the verification itself.
pub fn verify_with_jwk(alg: Alg, jwk: &Value, msg: &[u8], sig: &[u8]) -> Option<String> {
    let mut named = jwk.clone();
    named["alg"] = Value::String(alg.as_str().to_string());
    let key = VerifyingKey::from_jwk(&named).ok()?;
    if !key.verify(msg, sig) {
        return None;
    }
    jwk_thumbprint(jwk).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use serde_json::json;

    #[test]
    fn rfc_7638_example() {
        // RFC 7638 3.1: the RSA key of RFC 7517 A.1 and its thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc_9449_example() {
        // RFC 9449 6.1: the EC key of the example proof and its jkt.
        let jwk = json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn optional_members_do_not_change_the_thumbprint_and_required_ones_must_be_there() {
        let (key, _) = SigningKey::generate(Alg::ES256, "k".into()).unwrap();
        let jwk = key.public_jwk();
        let mut bare = jwk.clone();
        for m in ["kid", "alg", "use"] {
            bare.as_object_mut().unwrap().remove(m);
        }
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            jwk_thumbprint(&bare).unwrap()
        );
        for m in ["kty", "crv", "x", "y"] {
            let mut missing = bare.clone();
            missing.as_object_mut().unwrap().remove(m);
            assert!(jwk_thumbprint(&missing).is_err(), "{m}");
        }
        assert!(jwk_thumbprint(&json!({"kty": "oct", "k": "AA"})).is_err());
    }

    #[test]
    fn every_alg_verifies_with_its_bare_jwk() {
        for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
            let (key, _) = SigningKey::generate(alg, "k".into()).unwrap();
            let mut jwk = key.public_jwk();
            for m in ["kid", "alg", "use"] {
                jwk.as_object_mut().unwrap().remove(m);
            }
            let sig = key.sign(b"input").unwrap();
            assert_eq!(
                verify_with_jwk(alg, &jwk, b"input", &sig),
                Some(jwk_thumbprint(&jwk).unwrap()),
                "{alg:?}"
            );
            assert_eq!(verify_with_jwk(alg, &jwk, b"inpuT", &sig), None, "{alg:?}");
            // Another key's signature does not verify.
            let (other, _) = SigningKey::generate(alg, "o".into()).unwrap();
            let forged = other.sign(b"input").unwrap();
            assert_eq!(
                verify_with_jwk(alg, &jwk, b"input", &forged),
                None,
                "{alg:?}"
            );
        }
        // A key read under another algorithm than its own verifies nothing.
        let (ec, _) = SigningKey::generate(Alg::ES256, "k".into()).unwrap();
        let sig = ec.sign(b"input").unwrap();
        assert_eq!(
            verify_with_jwk(Alg::EdDSA, &ec.public_jwk(), b"input", &sig),
            None
        );
        assert_eq!(
            verify_with_jwk(Alg::RS256, &ec.public_jwk(), b"input", &sig),
            None
        );
    }
}
