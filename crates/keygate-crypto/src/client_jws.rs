//! Verifying a compact JWS (RFC 7515 7.1) signed by a client: its
//! assertion for `private_key_jwt` (public keys from its JWK Set) or
//! `client_secret_jwt` (HMAC under its secret). The claims are the
//! protocol core's to judge (`keygate_core::client_assertion`); this module
//! answers only "did this client's key sign these bytes".
//!
//! Unlike [`crate::jws::verify`] (Keygate's own tokens, always with a
//! `kid`), a client's JWS may omit `kid`: every key of the set with the
//! header's algorithm is then tried (a set holds at most
//! [`crate::jwk_set::MAX_KEYS`]). A header with `crit` is refused, since no
//! extension is understood here (RFC 7515 4.1.11).

use crate::hmac::{self, HmacAlg};
use crate::jwk_set::KeySet;
use crate::keys::Alg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The largest JWS read.
pub const MAX_LEN: usize = 8 * 1024;

/// A compact JWS, split and decoded but not verified.
#[derive(Debug, Clone)]
pub struct Compact {
    /// `alg` as sent.
    pub alg: String,
    /// `kid`, when sent.
    pub kid: Option<String>,
    /// The decoded payload (a JSON object for a JWT).
    pub payload: Value,
    signing_input: String,
    signature: Vec<u8>,
}

/// Why a client's JWS was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientJwsError {
    /// Not three base64url parts with a JSON object header and payload, or too long.
    #[error("the assertion is not a compact JWS with a JSON header and claims")]
    Malformed,
    /// The header has `crit`: an extension this server does not understand.
    #[error("the assertion's header has \"crit\" extensions, which are not supported")]
    Critical,
    /// No key of the client's set has the header's algorithm (and `kid`).
    #[error("no key of the client matches the assertion's alg and kid")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the assertion's signature is invalid")]
    BadSignature,
    /// The HMAC key is shorter than the algorithm requires (RFC 7518 3.2).
    #[error("the client's secret is too short for {0}")]
    ShortKey(&'static str),
}

/// Splits and decodes `token`.
pub fn split(token: &str) -> Result<Compact, ClientJwsError> {
    if token.len() > MAX_LEN {
        return Err(ClientJwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ClientJwsError::Malformed);
    };
    let json = |part: &str| -> Result<Value, ClientJwsError> {
        let raw = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| ClientJwsError::Malformed)?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| ClientJwsError::Malformed)?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(ClientJwsError::Malformed)
        }
    };
    let header = json(h)?;
    let payload = json(p)?;
    if header.get("crit").is_some() {
        return Err(ClientJwsError::Critical);
    }
    let alg = header["alg"]
        .as_str()
        .ok_or(ClientJwsError::Malformed)?
        .to_string();
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(ClientJwsError::Malformed),
    };
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| ClientJwsError::Malformed)?;
    Ok(Compact {
        alg,
        kid,
        payload,
        signing_input: token[..h.len() + 1 + p.len()].to_string(),
        signature,
    })
}

impl Compact {
    /// Verifies the signature with the keys of `set` that have the header's
    /// algorithm (`RS256`, `ES256`, `EdDSA`) and `kid`.
    pub fn verify_with(&self, set: &KeySet) -> Result<(), ClientJwsError> {
        let alg = Alg::parse(&self.alg).ok_or(ClientJwsError::UnknownKey)?;
        let mut tried = false;
        for key in set.candidates(alg, self.kid.as_deref()) {
            tried = true;
            if key.verify(self.signing_input.as_bytes(), &self.signature) {
                return Ok(());
            }
        }
        if tried {
            Err(ClientJwsError::BadSignature)
        } else {
            Err(ClientJwsError::UnknownKey)
        }
    }

    /// Verifies the HMAC (`HS256`, `HS384`, `HS512`) under `secret`.
    pub fn verify_hmac(&self, secret: &[u8]) -> Result<(), ClientJwsError> {
        let alg = HmacAlg::parse(&self.alg).ok_or(ClientJwsError::UnknownKey)?;
        hmac::verify(alg, secret, self.signing_input.as_bytes(), &self.signature).map_err(|e| {
            match e {
                hmac::HmacError::ShortKey(a) => ClientJwsError::ShortKey(a),
                hmac::HmacError::Mismatch => ClientJwsError::BadSignature,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk_set;
    use crate::keys::SigningKey;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn signed(key: &SigningKey, header: Value, claims: Value) -> String {
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn hs(alg: HmacAlg, secret: &[u8], header: Value) -> String {
        let input = format!("{}.{}", b64(&header), b64(&json!({"sub": "c"})));
        let tag = hmac::sign(alg, secret, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    #[test]
    fn public_key_signatures() {
        for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
            let (key, _) = SigningKey::generate(alg, "k1".into()).unwrap();
            let (other, _) = SigningKey::generate(alg, "k2".into()).unwrap();
            let set =
                jwk_set::parse(&json!({"keys": [other.public_jwk(), key.public_jwk()]})).unwrap();
            let with_kid = signed(&key, json!({"alg": alg.as_str(), "kid": "k1"}), json!({}));
            assert_eq!(split(&with_kid).unwrap().verify_with(&set), Ok(()));
            // Without kid, every key of the algorithm is tried.
            let no_kid = signed(&key, json!({"alg": alg.as_str()}), json!({"a": 1}));
            let c = split(&no_kid).unwrap();
            assert_eq!(c.payload["a"], 1);
            assert_eq!(c.verify_with(&set), Ok(()));
            // The kid names the other key: its signature does not verify.
            let wrong_kid = signed(&key, json!({"alg": alg.as_str(), "kid": "k2"}), json!({}));
            assert_eq!(
                split(&wrong_kid).unwrap().verify_with(&set),
                Err(ClientJwsError::BadSignature)
            );
            let unknown = signed(&key, json!({"alg": alg.as_str(), "kid": "k9"}), json!({}));
            assert_eq!(
                split(&unknown).unwrap().verify_with(&set),
                Err(ClientJwsError::UnknownKey)
            );
        }
    }

    #[test]
    fn algorithms_outside_the_set_find_no_key() {
        let (key, _) = SigningKey::generate(Alg::ES256, "k".into()).unwrap();
        let set = jwk_set::parse(&json!({"keys": [key.public_jwk()]})).unwrap();
        for alg in ["none", "HS256", "RS256", "ES384", "PS256"] {
            let t = signed(&key, json!({"alg": alg, "kid": "k"}), json!({}));
            assert_eq!(
                split(&t).unwrap().verify_with(&set),
                Err(ClientJwsError::UnknownKey),
                "{alg}"
            );
        }
        // alg none with an empty signature
        let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&json!({})));
        assert_eq!(
            split(&none).unwrap().verify_with(&set),
            Err(ClientJwsError::UnknownKey)
        );
        assert_eq!(
            split(&none).unwrap().verify_hmac(&[0; 64]),
            Err(ClientJwsError::UnknownKey)
        );
    }

    #[test]
    fn hmac_signatures() {
        let secret = [b'x'; 86];
        for alg in HmacAlg::ALL {
            let t = hs(alg, &secret, json!({"alg": alg.as_str()}));
            assert_eq!(split(&t).unwrap().verify_hmac(&secret), Ok(()));
            assert_eq!(
                split(&t).unwrap().verify_hmac(&[b'y'; 86]),
                Err(ClientJwsError::BadSignature)
            );
            // The header says another HMAC than the one that made the tag.
            let lying = {
                let other = if alg == HmacAlg::HS256 {
                    HmacAlg::HS512
                } else {
                    HmacAlg::HS256
                };
                let t = hs(alg, &secret, json!({"alg": other.as_str()}));
                split(&t).unwrap().verify_hmac(&secret)
            };
            assert_eq!(lying, Err(ClientJwsError::BadSignature));
        }
        let t = hs(HmacAlg::HS512, &[b'x'; 64], json!({"alg": "HS512"}));
        assert_eq!(
            split(&t).unwrap().verify_hmac(&[b'x'; 43]),
            Err(ClientJwsError::ShortKey("HS512"))
        );
        let rs = format!("{}.{}.AAAA", b64(&json!({"alg": "RS256"})), b64(&json!({})));
        assert_eq!(
            split(&rs).unwrap().verify_hmac(&secret),
            Err(ClientJwsError::UnknownKey)
        );
    }

    #[test]
    fn malformed_tokens() {
        let ok_h = b64(&json!({"alg": "HS256"}));
        let ok_p = b64(&json!({}));
        for bad in [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{ok_h}.{ok_p}.***"),
            format!("***.{ok_p}.AA"),
            format!("{}.{ok_p}.AA", b64(&json!([1]))),
            format!("{ok_h}.{}.AA", b64(&json!("s"))),
            format!("{}.{ok_p}.AA", b64(&json!({"alg": 1}))),
            format!("{}.{ok_p}.AA", b64(&json!({"alg": "HS256", "kid": 3}))),
            format!("{ok_h}.{ok_p}.{}", "A".repeat(MAX_LEN)),
        ] {
            assert_eq!(split(&bad).unwrap_err(), ClientJwsError::Malformed, "{bad}");
        }
        let crit = format!(
            "{}.{ok_p}.AA",
            b64(&json!({"alg": "HS256", "crit": ["exp"]}))
        );
        assert_eq!(split(&crit).unwrap_err(), ClientJwsError::Critical);
    }
}
