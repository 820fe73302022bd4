//! The machine's signing rate with aws-lc-rs (the crate Keygate signs with),
//! measured on as many threads as there are cores: the floor the token
//! endpoint is compared with.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use serde::{Deserialize, Serialize};

use crate::cli::Alg;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignRate {
    /// When it was measured: "before the workloads", "after W1", ...
    #[serde(default)]
    pub when: String,
    /// RS256 = RSA-2048 PKCS#1 v1.5 SHA-256; ES256 = P-256 SHA-256; EdDSA = Ed25519.
    pub alg: String,
    pub threads: usize,
    pub seconds: f64,
    pub signatures: u64,
    pub per_sec: f64,
}

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Key {
    fn generate(alg: Alg) -> Key {
        match alg {
            Alg::Rs256 => {
                Key::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
            }
            Alg::Es256 => Key::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .expect("P-256 key generation"),
            ),
            Alg::EdDsa => Key::Ed(Ed25519KeyPair::generate().expect("Ed25519 key generation")),
        }
    }

    fn sign(&self, rng: &SystemRandom, msg: &[u8], buf: &mut [u8]) -> usize {
        match self {
            Key::Rsa(kp) => {
                let n = kp.public_modulus_len();
                kp.sign(&signature::RSA_PKCS1_SHA256, rng, msg, &mut buf[..n])
                    .expect("RSA sign");
                n
            }
            Key::Ec(kp) => kp.sign(rng, msg).expect("ECDSA sign").as_ref().len(),
            Key::Ed(kp) => kp.sign(msg).as_ref().len(),
        }
    }
}

/// A JWS signing input of the size of a real id_token (header.payload).
fn sample_message() -> Vec<u8> {
    let mut m = b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIiwidHlwIjoiSldUIn0.".to_vec();
    while m.len() < 640 {
        m.extend_from_slice(
            b"eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAvYmVuY2gvYXMiLCJzdWIiOiJ1c2VyIn0",
        );
    }
    m
}

/// Signs as fast as possible on `threads` threads for about `seconds`.
pub(crate) fn measure(alg: Alg, threads: usize, seconds: f64) -> SignRate {
    let threads = threads.max(1);
    let key = Arc::new(Key::generate(alg));
    let msg = Arc::new(sample_message());
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(threads + 1));

    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (key, msg, stop, total, barrier) = (
                key.clone(),
                msg.clone(),
                stop.clone(),
                total.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                let rng = SystemRandom::new();
                let mut buf = vec![0u8; 1024];
                // Warm up (page in code, fill caches) before the clock starts.
                for _ in 0..20 {
                    std::hint::black_box(key.sign(&rng, &msg, &mut buf));
                }
                barrier.wait();
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(key.sign(&rng, &msg, &mut buf));
                    count += 1;
                }
                total.fetch_add(count, Ordering::Relaxed);
            })
        })
        .collect();

    barrier.wait();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds.max(0.1)));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let signatures = total.load(Ordering::Relaxed);
    SignRate {
        when: String::new(),
        alg: alg.as_str().to_string(),
        threads,
        seconds: elapsed,
        signatures,
        per_sec: signatures as f64 / elapsed,
    }
}
