//! Compact JWS (RFC 7515) for tokens: `base64url(header).base64url(claims).base64url(sig)`.

use crate::keys::{Alg, SigningKey, VerifyingKey};
use crate::CryptoError;
use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

/// Signs `claims` with a JOSE header carrying `alg`, `kid` and `typ`.
pub fn sign<T: Serialize>(key: &SigningKey, typ: &str, claims: &T) -> Result<String, CryptoError> {
    let header = json!({"alg": key.alg.as_str(), "kid": key.kid, "typ": typ});
    let mut out =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|_| CryptoError::Signing)?);
    out.push('.');
    out.push_str(
        &URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|_| CryptoError::Signing)?),
    );
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(out)
}

/// The OpenID Connect `at_hash`: the left half of the hash of the access
/// token, with the hash of the signing algorithm (SHA-512 for Ed25519).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    let algo = match alg {
        Alg::EdDSA => &digest::SHA512,
        _ => &digest::SHA256,
    };
    let d = digest::digest(algo, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..d.as_ref().len() / 2])
}

/// The JOSE header of a compact JWS (RFC 7515 4.1), as far as Keygate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg`: the signature algorithm the token claims, kept as sent.
    pub alg: String,
    /// `kid`: the signing key's id, to pick the key from the key set.
    pub kid: Option<String>,
    /// `typ`: the token type, `at+jwt` for access tokens (RFC 9068 2.1) and `JWT` for id_tokens.
    pub typ: Option<String>,
}

/// Why a token was not accepted as a JWS signed by one of our keys.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts with a JSON header and payload (or over 16 KiB).
    #[error("the token is not a compact JWS")]
    Malformed,
    /// No key of the set has the header's `kid` and `alg` (a reload of the key set may find it).
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    /// `alg` is not one Keygate signs with (RS256, ES256, EdDSA), or the
    /// header names no key: no key set could ever verify it.
    #[error("the token's algorithm or key id is not one this server uses")]
    Unsupported,
    /// The signature does not verify with the named key.
    #[error("the token's signature is invalid")]
    BadSignature,
}

/// Splits and decodes a JWS header without verifying anything.
pub fn peek_header(token: &str) -> Result<Header, JwtError> {
    let (h, _) = token.split_once('.').ok_or(JwtError::Malformed)?;
    let raw = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Malformed)?;
    let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| JwtError::Malformed)?;
    Ok(Header {
        alg: v["alg"].as_str().ok_or(JwtError::Malformed)?.to_string(),
        kid: v["kid"].as_str().map(str::to_string),
        typ: v["typ"].as_str().map(str::to_string),
    })
}

/// Verifies a compact JWS against `keys` (chosen by `kid` and `alg`) and
/// decodes its claims. `none`, any algorithm Keygate does not sign with and
/// a header without `kid` are [`JwtError::Unsupported`] (no reload of the
/// key set can help); a `kid` not in `keys` is [`JwtError::UnknownKey`].
pub fn verify<T: DeserializeOwned>(
    token: &str,
    keys: &[VerifyingKey],
) -> Result<(Header, T), JwtError> {
    if token.len() > 16 * 1024 {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = peek_header(token)?;
    let alg = Alg::parse(&header.alg).ok_or(JwtError::Unsupported)?;
    let kid = header.kid.as_deref().ok_or(JwtError::Unsupported)?;
    let key = keys
        .iter()
        .find(|k| k.alg == alg && k.kid == kid)
        .ok_or(JwtError::UnknownKey)?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let signed_len = h.len() + 1 + p.len();
    if !key.verify(&token.as_bytes()[..signed_len], &sig) {
        return Err(JwtError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed)?;
    let claims = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn sign_then_verify() {
        let (key, _) = SigningKey::generate(Alg::ES256, "k".into()).unwrap();
        let vk = VerifyingKey::from_jwk(&key.public_jwk()).unwrap();
        let t = sign(&key, "at+jwt", &json!({"sub": "s"})).unwrap();
        let (h, c): (Header, Value) = verify(&t, std::slice::from_ref(&vk)).unwrap();
        assert_eq!(h.typ.as_deref(), Some("at+jwt"));
        assert_eq!(c["sub"], "s");
        let mut tampered = t.clone();
        tampered.insert(t.find('.').unwrap() + 2, 'A');
        assert!(verify::<Value>(&tampered, std::slice::from_ref(&vk)).is_err());
        assert_eq!(
            verify::<Value>("a.b", std::slice::from_ref(&vk)).unwrap_err(),
            JwtError::Malformed
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k"}"#),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert_eq!(
            verify::<Value>(&none, std::slice::from_ref(&vk)).unwrap_err(),
            JwtError::Unsupported
        );
        // Algorithms Keygate never uses, and a missing kid, are refused
        // as such; an unknown kid of a known algorithm is an unknown key.
        let (body, sig) = t.split_once('.').unwrap().1.split_once('.').unwrap();
        let with = |h: &str| format!("{}.{body}.{sig}", URL_SAFE_NO_PAD.encode(h));
        for h in [
            r#"{"alg":"HS256","kid":"k"}"#,
            r#"{"alg":"RS512","kid":"k"}"#,
            r#"{"alg":"ES256"}"#,
        ] {
            assert_eq!(
                verify::<Value>(&with(h), std::slice::from_ref(&vk)).unwrap_err(),
                JwtError::Unsupported,
                "{h}"
            );
        }
        assert_eq!(
            verify::<Value>(&with(r#"{"alg":"ES256","kid":"other"}"#), &[vk]).unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn at_hash_example() {
        // OpenID Connect Core A.3 example access token and at_hash.
        assert_eq!(
            at_hash(Alg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
