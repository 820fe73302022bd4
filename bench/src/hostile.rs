//! Hostile requests: what an unauthenticated attacker's request costs the
//! server in CPU, against an ordinary token request.
//!
//! Each kind sends `n` requests at the run's concurrency and reads the
//! server process's CPU time (`/proc/PID/stat`) before and after, so the
//! figure is the server's own work per request, whatever the network and
//! the load generator cost. Bodies stay under the server's 64 KiB limit, so
//! each request is read in full and answered, not cut off.

use crate::flow::Target;
use crate::procinfo;
use reqwest::Client;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One kind of request and what it cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HostileResult {
    pub kind: String,
    pub description: String,
    pub requests: usize,
    /// Answers with the status the kind expects (anything else is listed
    /// in the table as unexpected).
    pub expected_status: u16,
    pub unexpected: usize,
    pub server_us_per_request: f64,
    /// Against the ordinary request (the first kind).
    pub ratio_to_normal: f64,
}

struct Kind {
    name: &'static str,
    description: &'static str,
    expected: u16,
    body: fn(&(String, String), usize) -> String,
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const KINDS: [Kind; 4] = [
    Kind {
        name: "normal",
        description: "client_credentials, client_secret_post (one signature)",
        expected: 200,
        body: |(id, secret), _| {
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
        },
    },
    Kind {
        name: "many-params",
        description: "60 KB body of ~11,000 distinct parameter names",
        expected: 400,
        body: |(id, secret), _| {
            let mut b = form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ]);
            let mut i = 0u32;
            while b.len() < 60_000 {
                b.push_str(&format!("&{i:x}="));
                i += 1;
            }
            b
        },
    },
    Kind {
        name: "many-scopes",
        description: "scope of ~6,000 distinct values",
        expected: 400,
        body: |(id, secret), _| {
            let scope = (0..6_000)
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>()
                .join(" ");
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", &scope),
            ])
        },
    },
    Kind {
        name: "long-client-id",
        description: "a unique 60 KB client_id with a guessed secret",
        expected: 401,
        body: |_, n| {
            let id = format!("{n}-{}", "x".repeat(60_000));
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "guess"),
            ])
        },
    },
];

/// Runs every kind against the token endpoint; `None` without the
/// client_credentials client or the server's PID.
pub(crate) async fn run(
    target: &Target,
    pid: u32,
    http: &Client,
    n: usize,
    concurrency: usize,
) -> Option<Vec<HostileResult>> {
    let creds = target.cc.clone()?;
    let mut out: Vec<HostileResult> = Vec::new();
    for kind in &KINDS {
        // Bodies are built before the timed part (only the server's CPU is
        // read, but the generator shares the machine).
        let bodies: Arc<Vec<String>> = Arc::new((0..n).map(|i| (kind.body)(&creds, i)).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let unexpected = Arc::new(AtomicUsize::new(0));
        let before = procinfo::cpu_seconds(Some(pid))?;
        let mut tasks = Vec::new();
        for _ in 0..concurrency.max(1) {
            let (http, url) = (http.clone(), target.token_endpoint.clone());
            let (bodies, next, unexpected) = (bodies.clone(), next.clone(), unexpected.clone());
            let expected = kind.expected;
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let status = http
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body.clone())
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status != expected {
                        unexpected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let after = procinfo::cpu_seconds(Some(pid))?;
        let us = (after - before) * 1e6 / n.max(1) as f64;
        let normal = out.first().map_or(us, |r| r.server_us_per_request);
        out.push(HostileResult {
            kind: kind.name.into(),
            description: kind.description.into(),
            requests: n,
            expected_status: kind.expected,
            unexpected: unexpected.load(Ordering::Relaxed),
            server_us_per_request: us,
            ratio_to_normal: us / normal.max(1e-9),
        });
    }
    Some(out)
}

/// The table printed after the workloads.
pub(crate) fn print(results: &[HostileResult]) {
    println!();
    println!(
        "Hostile requests (server CPU per request, against an ordinary one; target under 5x):"
    );
    println!(
        "  {:<16} {:>9} {:>10} {:>7} {:>11}  what",
        "kind", "requests", "us/req", "ratio", "unexpected"
    );
    for r in results {
        println!(
            "  {:<16} {:>9} {:>10.1} {:>6.2}x {:>11}  {} (expects {})",
            r.kind,
            r.requests,
            r.server_us_per_request,
            r.ratio_to_normal,
            r.unexpected,
            r.description,
            r.expected_status
        );
    }
}
