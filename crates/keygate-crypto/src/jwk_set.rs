//! A client's JWK Set (RFC 7517 5): the public keys a `private_key_jwt`
//! client signs its assertions with, registered inline (`jwks`) or
//! published at its `jwks_uri` (docs/client-auth.md).
//!
//! Only public signature keys of the algorithms Keygate verifies (RS256 on
//! RSA keys of at least 2048 bits, ES256 on P-256, EdDSA on Ed25519) are
//! usable. A member that would make a key private (`d`, `p`, `q`, ...) or
//! symmetric (`kty: oct`) refuses the whole set: a client that publishes its
//! private key has lost it, and saying so beats verifying with it. Keys that
//! are merely of another kind (an encryption key, another curve) are
//! reported, so that registration refuses them and a fetched set simply
//! leaves them out.

use crate::keys::{Alg, VerifyingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The most keys a set may hold.
pub const MAX_KEYS: usize = 20;

/// Members of private or symmetric JWKs (RFC 7518 6.2.2, 6.3.2, 6.4; RFC 8037 2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a JWK Set is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkSetError {
    /// Not a JSON object with a `keys` array of objects.
    #[error("not a JWK Set: a JSON object with a \"keys\" array of JWK objects is expected")]
    NotASet,
    /// More keys than [`MAX_KEYS`].
    #[error("a JWK Set may hold at most {MAX_KEYS} keys")]
    TooMany,
    /// A key carries private or symmetric key material.
    #[error("key {0} holds private or symmetric key material: register public keys only")]
    Private(usize),
    /// A key has the right kind but cannot be read (bad base64url, wrong length).
    #[error("key {0} is malformed: {1}")]
    Malformed(usize, String),
    /// No key of the set is usable for signatures.
    #[error("the set holds no public signature key of RS256, ES256 or EdDSA")]
    NoUsableKey,
}

/// A parsed set: the usable keys, and why each other key was left out
/// (`"key N: ..."`).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// The keys assertions may be verified with.
    pub keys: Vec<VerifyingKey>,
    /// Keys left out, and why.
    pub skipped: Vec<String>,
}

impl KeySet {
    /// The keys that may have signed a JWS with this header: of its
    /// algorithm, and with its `kid` when it names one.
    pub fn candidates<'a>(
        &'a self,
        alg: Alg,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.alg == alg && kid.is_none_or(|kid| k.kid == kid))
    }
}

fn bytes(jwk: &Value, name: &str, i: usize) -> Result<Vec<u8>, JwkSetError> {
    let s = jwk[name]
        .as_str()
        .ok_or_else(|| JwkSetError::Malformed(i, format!("no \"{name}\"")))?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwkSetError::Malformed(i, format!("\"{name}\" is not base64url")))
}

/// The algorithm a public JWK verifies, or why it is not usable. `alg` is
/// taken from the key when present, else from its type and curve.
fn usable(jwk: &Value, i: usize) -> Result<Result<Alg, String>, JwkSetError> {
    let kty = jwk["kty"].as_str().unwrap_or_default();
    if let Some(u) = jwk.get("use") {
        if u.as_str() != Some("sig") {
            return Ok(Err(format!("key {i}: \"use\" is not \"sig\"")));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verifies {
            return Ok(Err(format!("key {i}: \"key_ops\" has no \"verify\"")));
        }
    }
    let by_type = match (kty, jwk["crv"].as_str()) {
        ("RSA", _) => Alg::RS256,
        ("EC", Some("P-256")) => Alg::ES256,
        ("OKP", Some("Ed25519")) => Alg::EdDSA,
        ("EC" | "OKP", crv) => {
            return Ok(Err(format!(
                "key {i}: curve {} is not supported (P-256, Ed25519)",
                crv.unwrap_or("(none)")
            )))
        }
        (kty, _) => {
            return Ok(Err(format!(
                "key {i}: key type \"{kty}\" is not supported (RSA, EC, OKP)"
            )))
        }
    };
    if let Some(alg) = jwk.get("alg") {
        let alg = alg.as_str().unwrap_or_default();
        if Alg::parse(alg) != Some(by_type) {
            return Ok(Err(format!(
                "key {i}: alg \"{alg}\" is not supported for this key (RS256, ES256, EdDSA)"
            )));
        }
    }
    // The material's sizes, so that a bad key is refused at registration
    // rather than failing every assertion later.
    match by_type {
        Alg::RS256 => {
            let n = bytes(jwk, "n", i)?;
            bytes(jwk, "e", i)?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return Ok(Err(format!(
                    "key {i}: RSA keys must have at least 2048 bits"
                )));
            }
        }
        Alg::ES256 => {
            if bytes(jwk, "x", i)?.len() != 32 || bytes(jwk, "y", i)?.len() != 32 {
                return Err(JwkSetError::Malformed(
                    i,
                    "P-256 coordinates are 32 bytes".into(),
                ));
            }
        }
        Alg::EdDSA => {
            if bytes(jwk, "x", i)?.len() != 32 {
                return Err(JwkSetError::Malformed(
                    i,
                    "an Ed25519 key is 32 bytes".into(),
                ));
            }
        }
    }
    Ok(Ok(by_type))
}

/// Reads a JWK Set. Private or symmetric material, malformed keys, more
/// than [`MAX_KEYS`] keys or no usable key refuse it; other keys are left
/// out and listed in [`KeySet::skipped`].
pub fn parse(set: &Value) -> Result<KeySet, JwkSetError> {
    let keys = set["keys"].as_array().ok_or(JwkSetError::NotASet)?;
    if keys.len() > MAX_KEYS {
        return Err(JwkSetError::TooMany);
    }
    let mut out = KeySet::default();
    for (i, jwk) in keys.iter().enumerate() {
        let Some(members) = jwk.as_object() else {
            return Err(JwkSetError::NotASet);
        };
        if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m))
            || jwk["kty"].as_str() == Some("oct")
        {
            return Err(JwkSetError::Private(i));
        }
        match usable(jwk, i)? {
            Ok(alg) => {
                let mut with_alg = jwk.clone();
                with_alg["alg"] = Value::from(alg.as_str());
                let key = VerifyingKey::from_jwk(&with_alg)
                    .map_err(|e| JwkSetError::Malformed(i, e.to_string()))?;
                out.keys.push(key);
            }
            Err(why) => out.skipped.push(why),
        }
    }
    if out.keys.is_empty() {
        return Err(JwkSetError::NoUsableKey);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use serde_json::json;

    fn public(alg: Alg, kid: &str) -> Value {
        SigningKey::generate(alg, kid.into())
            .unwrap()
            .0
            .public_jwk()
    }

    #[test]
    fn public_keys_of_every_algorithm_are_read() {
        let set = json!({"keys": [public(Alg::RS256, "r"), public(Alg::ES256, "e"), public(Alg::EdDSA, "d")]});
        let parsed = parse(&set).unwrap();
        assert_eq!(parsed.keys.len(), 3);
        assert!(parsed.skipped.is_empty());
        assert_eq!(parsed.candidates(Alg::ES256, Some("e")).count(), 1);
        assert_eq!(parsed.candidates(Alg::ES256, None).count(), 1);
        assert_eq!(parsed.candidates(Alg::ES256, Some("r")).count(), 0);
        assert_eq!(parsed.candidates(Alg::RS256, Some("r")).count(), 1);
    }

    #[test]
    fn alg_and_use_may_be_left_out() {
        let mut k = public(Alg::ES256, "e");
        k.as_object_mut().unwrap().remove("alg");
        k.as_object_mut().unwrap().remove("use");
        let parsed = parse(&json!({ "keys": [k] })).unwrap();
        assert_eq!(parsed.keys[0].alg, Alg::ES256);
    }

    #[test]
    fn private_or_symmetric_material_refuses_the_set() {
        for member in PRIVATE_MEMBERS {
            let mut k = public(Alg::ES256, "e");
            k[member] = json!("AAAA");
            assert_eq!(
                parse(&json!({ "keys": [public(Alg::EdDSA, "ok"), k] })).unwrap_err(),
                JwkSetError::Private(1),
                "{member}"
            );
        }
        assert_eq!(
            parse(&json!({"keys": [{"kty": "oct", "kid": "h"}]})).unwrap_err(),
            JwkSetError::Private(0)
        );
    }

    #[test]
    fn other_kinds_of_keys_are_left_out() {
        let mut enc = public(Alg::RS256, "enc");
        enc["use"] = json!("enc");
        let mut no_verify = public(Alg::ES256, "x");
        no_verify["key_ops"] = json!(["encrypt"]);
        let mut ps256 = public(Alg::RS256, "ps");
        ps256["alg"] = json!("PS256");
        let mut mismatched = public(Alg::ES256, "m");
        mismatched["alg"] = json!("RS256");
        let others = [
            enc,
            no_verify,
            ps256,
            mismatched,
            json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            json!({"kty": "OKP", "crv": "X25519", "x": "AA"}),
            json!({"kty": "foo"}),
            json!({}),
        ];
        for other in &others {
            let set = json!({ "keys": [public(Alg::EdDSA, "ok"), other] });
            let parsed = parse(&set).unwrap();
            assert_eq!(parsed.keys.len(), 1, "{other}");
            assert_eq!(parsed.skipped.len(), 1, "{other}");
            assert!(parsed.skipped[0].starts_with("key 1:"), "{other}");
            assert_eq!(
                parse(&json!({ "keys": [other] })).unwrap_err(),
                JwkSetError::NoUsableKey,
                "{other}"
            );
        }
    }

    #[test]
    fn malformed_sets_and_keys_are_refused() {
        for bad in [
            json!([]),
            json!({}),
            json!({"keys": {}}),
            json!({"keys": ["x"]}),
            json!("keys"),
        ] {
            assert_eq!(parse(&bad).unwrap_err(), JwkSetError::NotASet, "{bad}");
        }
        assert_eq!(
            parse(&json!({"keys": []})).unwrap_err(),
            JwkSetError::NoUsableKey
        );
        let many: Vec<Value> = (0..=MAX_KEYS)
            .map(|i| public(Alg::EdDSA, &i.to_string()))
            .collect();
        assert_eq!(
            parse(&json!({ "keys": many })).unwrap_err(),
            JwkSetError::TooMany
        );
        let mut short = public(Alg::ES256, "e");
        short["x"] = json!("AAAA");
        assert!(matches!(
            parse(&json!({ "keys": [short] })).unwrap_err(),
            JwkSetError::Malformed(0, _)
        ));
        let mut not_b64 = public(Alg::EdDSA, "d");
        not_b64["x"] = json!("***");
        assert!(matches!(
            parse(&json!({ "keys": [not_b64] })).unwrap_err(),
            JwkSetError::Malformed(0, _)
        ));
        // RSA under 2048 bits is not usable.
        let small = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xff; 128]), "e": "AQAB"});
        assert_eq!(
            parse(&json!({ "keys": [small] })).unwrap_err(),
            JwkSetError::NoUsableKey
        );
    }
}
