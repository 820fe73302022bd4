//! DPoP proofs (RFC 9449) for the `w2-dpop` workload: one P-256 key per
//! worker, a fresh proof (new `jti`, current `iat`, the server's latest
//! nonce) signed for every request, as a DPoP client does. Signing is the
//! load generator's CPU, not the server's.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub(crate) struct Prover {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// `base64url(header)` with the public key, the same for every proof.
    header: String,
    /// The token endpoint's URL (`htu`).
    htu: String,
    /// The server's latest `DPoP-Nonce`.
    pub(crate) nonce: Option<String>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Prover {
    pub(crate) fn new(htu: &str) -> Result<Prover, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "P-256 key generation failed")?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| "P-256 key")?;
        let point = key.public_key().as_ref();
        let header = serde_json::json!({
            "typ": "dpop+jwt",
            "alg": "ES256",
            "jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }
        });
        Ok(Prover {
            key,
            rng,
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            htu: htu.to_string(),
            nonce: None,
        })
    }

    /// A proof for one POST to the token endpoint.
    pub(crate) fn proof(&self) -> String {
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&self.rng, &mut jti).expect("the system CSPRNG");
        let mut claims = serde_json::json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": "POST",
            "htu": self.htu,
            "iat": now(),
        });
        if let Some(n) = &self.nonce {
            claims["nonce"] = serde_json::json!(n);
        }
        let input = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .expect("P-256 signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}
