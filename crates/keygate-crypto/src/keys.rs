//! Signing keys: generation, PKCS#8 serialization, the public JWK, signing,
//! and verification keys built from a published JWK.

use crate::CryptoError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// The JWS algorithms (RFC 7518 / RFC 8037); the core names them.
pub use keygate_core::model::SigningAlg as Alg;

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its `kid`. Debug output never shows key material.
pub struct SigningKey {
    /// The key id (`kid`) put in the JWS header and the published JWK.
    pub kid: String,
    /// The algorithm the key signs with.
    pub alg: Alg,
    inner: Inner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, {})", self.kid, self.alg.as_str())
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// Generates a key; returns it with its PKCS#8 DER (to be sealed and stored).
    pub fn generate(alg: Alg, kid: String) -> Result<(SigningKey, Vec<u8>), CryptoError> {
        let pkcs8 = match alg {
            Alg::RS256 => {
                let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| CryptoError::KeyGeneration)?;
                kp.as_der()
                    .map_err(|_| CryptoError::KeyGeneration)?
                    .as_ref()
                    .to_vec()
            }
            Alg::ES256 => {
                let kp = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| CryptoError::KeyGeneration)?;
                kp.to_pkcs8v1()
                    .map_err(|_| CryptoError::KeyGeneration)?
                    .as_ref()
                    .to_vec()
            }
            Alg::EdDSA => {
                let kp = Ed25519KeyPair::generate().map_err(|_| CryptoError::KeyGeneration)?;
                kp.to_pkcs8v1()
                    .map_err(|_| CryptoError::KeyGeneration)?
                    .as_ref()
                    .to_vec()
            }
        };
        let key = SigningKey::from_pkcs8(alg, kid, &pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Loads a key of `alg` from its PKCS#8 DER (as stored, once unsealed).
    pub fn from_pkcs8(alg: Alg, kid: String, pkcs8: &[u8]) -> Result<SigningKey, CryptoError> {
        let bad = |e: aws_lc_rs::error::KeyRejected| CryptoError::BadKey(e.to_string());
        let inner = match alg {
            Alg::RS256 => Inner::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?),
            Alg::ES256 => Inner::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(bad)?,
            ),
            Alg::EdDSA => Inner::Ed(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(bad)?),
        };
        Ok(SigningKey { kid, alg, inner })
    }

    /// Signs `msg` (the JWS signing input), giving the raw signature of the key's algorithm.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.inner {
            Inner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|_| CryptoError::Signing)?;
                Ok(sig)
            }
            Inner::Ec(kp) => Ok(kp
                .sign(&SystemRandom::new(), msg)
                .map_err(|_| CryptoError::Signing)?
                .as_ref()
                .to_vec()),
            Inner::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }

    /// The public key as a JWK (RFC 7517), with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &self.inner {
            Inner::Rsa(kp) => {
                let c: PublicKeyComponents<Vec<u8>> = kp.public_key().into();
                json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)})
            }
            Inner::Ec(kp) => {
                let point = kp.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Inner::Ed(kp) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(kp.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg.as_str());
        jwk["use"] = json!("sig");
        jwk
    }
}

/// A public key from a JWK, able to verify signatures.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    /// The key id from the JWK's `kid` (empty if it had none).
    pub kid: String,
    /// The algorithm from the JWK's `alg`; only signatures of it are checked.
    pub alg: Alg,
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Raw(Vec<u8>),
}

impl VerifyingKey {
    /// Reads a published public JWK (RFC 7517): `n`/`e` for RSA, `x`/`y` for P-256, `x` for
    /// Ed25519.
    pub fn from_jwk(jwk: &Value) -> Result<VerifyingKey, CryptoError> {
        let field = |name: &str| -> Result<Vec<u8>, CryptoError> {
            let s = jwk[name]
                .as_str()
                .ok_or_else(|| CryptoError::BadKey(format!("JWK has no '{name}'")))?;
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| CryptoError::BadKey(format!("JWK '{name}' is not base64url")))
        };
        let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
        let alg = jwk["alg"]
            .as_str()
            .and_then(Alg::parse)
            .ok_or_else(|| CryptoError::BadKey("JWK alg".into()))?;
        let material = match alg {
            Alg::RS256 => Material::Rsa {
                n: field("n")?,
                e: field("e")?,
            },
            Alg::ES256 => {
                let mut point = vec![4u8];
                point.extend(field("x")?);
                point.extend(field("y")?);
                Material::Raw(point)
            }
            Alg::EdDSA => Material::Raw(field("x")?),
        };
        Ok(VerifyingKey { kid, alg, material })
    }

    /// Whether `sig` is a valid signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.material {
            Material::Rsa { n, e } => PublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
            .is_ok(),
            Material::Raw(raw) => {
                let alg: &dyn signature::VerificationAlgorithm = match self.alg {
                    Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                    _ => &signature::ED25519,
                };
                signature::UnparsedPublicKey::new(alg, raw)
                    .verify(msg, sig)
                    .is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alg_signs_and_verifies_through_its_jwk() {
        for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
            let (key, pkcs8) = SigningKey::generate(alg, "k1".into()).unwrap();
            let again = SigningKey::from_pkcs8(alg, "k1".into(), &pkcs8).unwrap();
            let sig = again.sign(b"hello").unwrap();
            let vk = VerifyingKey::from_jwk(&key.public_jwk()).unwrap();
            assert!(vk.verify(b"hello", &sig), "{alg:?}");
            assert!(!vk.verify(b"hellO", &sig), "{alg:?}");
            assert!(!format!("{key:?}").contains(&b64(&pkcs8)));
        }
    }
}
