//! The timed phases: `concurrency` workers, each with its own keep-alive
//! connection ([`crate::wire`]) opened before the clock starts, stop by
//! themselves after the request count or the duration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, StatusCode};

use crate::cli::Workload;
use crate::flow::{check_token_response, enc, snippet, Target, TokenResponse, FORM};
use crate::wire::{Conn, Endpoint};

/// Hard cap on one workload's wall time, whatever the settings.
pub(crate) const MAX_WORKLOAD_SECS: u64 = 900;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    Requests(u64),
    Duration(Duration),
}

/// Per-worker input of a workload.
pub(crate) enum Seed {
    None,
    /// W2: the worker's own refresh token chain.
    Refresh(String),
    /// W2-DPoP: the chain and the worker's DPoP key with the latest nonce.
    DpopRefresh(String, Box<crate::dpop::Prover>),
    /// W4: the bearer header.
    Bearer(HeaderValue),
}

pub(crate) struct Plan {
    pub workload: Workload,
    pub stop: Stop,
    /// W1: (code, code_verifier), consumed in order by all workers.
    pub codes: Vec<(String, String)>,
    pub seeds: Vec<Seed>,
    /// W1/W2: expect an id_token (openid was requested).
    pub want_id_token: bool,
}

#[derive(Default)]
pub(crate) struct Outcome {
    pub latencies_us: Vec<u32>,
    pub ok: u64,
    pub non_2xx: u64,
    pub invalid: u64,
    pub transport: u64,
    pub codes_exhausted: bool,
    pub samples: Vec<String>,
    pub elapsed: Duration,
    /// Elapsed time of the last segment added with `absorb`.
    pub elapsed_last: Duration,
}

impl Outcome {
    /// Adds a segment's figures to these.
    pub(crate) fn absorb(&mut self, seg: Outcome) {
        self.latencies_us.extend_from_slice(&seg.latencies_us);
        self.ok += seg.ok;
        self.non_2xx += seg.non_2xx;
        self.invalid += seg.invalid;
        self.transport += seg.transport;
        self.codes_exhausted = seg.codes_exhausted;
        for s in seg.samples {
            if self.samples.len() < 5 && !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
        self.elapsed += seg.elapsed;
        self.elapsed_last = seg.elapsed;
    }
}

enum Failure {
    Status(StatusCode, String),
    Invalid(String),
    Transport(String),
}

struct Shared {
    workload: Workload,
    target: Arc<Target>,
    /// The token endpoint, or userinfo for W4.
    endpoint: Endpoint,
    /// The headers every request of the workload carries (W4 adds its bearer).
    headers: Vec<(HeaderName, HeaderValue)>,
    next: AtomicU64,
    limit: u64,
    deadline: Instant,
    codes: Vec<(String, String)>,
    /// W1: "&redirect_uri=..&client_id=.."; W3: the whole body.
    fixed: String,
    want_id_token: bool,
}

pub(crate) async fn run(target: Arc<Target>, plan: Plan) -> Outcome {
    let (limit, deadline) = match plan.stop {
        Stop::Requests(n) => (n, Instant::now() + Duration::from_secs(MAX_WORKLOAD_SECS)),
        Stop::Duration(d) => (
            u64::MAX,
            Instant::now() + d.min(Duration::from_secs(MAX_WORKLOAD_SECS)),
        ),
    };
    let fixed = match plan.workload {
        Workload::W1 => format!(
            "&redirect_uri={}&client_id={}",
            enc(&target.redirect_uri),
            enc(target.public_client_id.as_deref().unwrap_or_default())
        ),
        Workload::W3 => {
            let (id, secret) = target.cc.clone().unwrap_or_default();
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                enc(&id),
                enc(&secret)
            )
        }
        _ => String::new(),
    };
    let url = match plan.workload {
        Workload::W4 => target.userinfo_endpoint.clone().unwrap_or_default(),
        _ => target.token_endpoint.clone(),
    };
    let endpoint = match Endpoint::parse(&url) {
        Ok(e) => e,
        Err(e) => {
            return Outcome {
                transport: 1,
                samples: vec![e],
                ..Default::default()
            }
        }
    };
    let mut headers = vec![(ACCEPT, HeaderValue::from_static("application/json"))];
    if plan.workload != Workload::W4 {
        headers.push((CONTENT_TYPE, HeaderValue::from_static(FORM)));
    }
    if let (Workload::W2 | Workload::W2Dpop, Some((id, s))) = (plan.workload, &target.confidential)
    {
        headers.push((AUTHORIZATION, crate::flow::basic_auth(id, s)));
    }
    let shared = Arc::new(Shared {
        workload: plan.workload,
        target,
        endpoint,
        headers,
        next: AtomicU64::new(0),
        limit,
        deadline,
        codes: plan.codes,
        fixed,
        want_id_token: plan.want_id_token,
    });
    let per_worker = match plan.stop {
        Stop::Requests(n) => (n as usize / plan.seeds.len().max(1)) + 1,
        Stop::Duration(d) => (d.as_secs_f64() * 500.0) as usize,
    };
    let mut total = Outcome::default();
    let mut conns = Vec::with_capacity(plan.seeds.len());
    for _ in &plan.seeds {
        match Conn::open(&shared.endpoint).await {
            Ok(c) => conns.push(c),
            Err(e) => {
                total.transport += 1;
                total.samples.push(e);
                return total;
            }
        }
    }
    let start = Instant::now();
    let handles: Vec<_> = plan
        .seeds
        .into_iter()
        .zip(conns)
        .map(|(seed, conn)| {
            tokio::spawn(worker(conn, shared.clone(), seed, per_worker.min(1 << 20)))
        })
        .collect();
    for h in handles {
        match h.await {
            Ok(o) => {
                total.latencies_us.extend_from_slice(&o.latencies_us);
                total.ok += o.ok;
                total.non_2xx += o.non_2xx;
                total.invalid += o.invalid;
                total.transport += o.transport;
                total.codes_exhausted |= o.codes_exhausted;
                for s in o.samples {
                    if total.samples.len() < 5 && !total.samples.contains(&s) {
                        total.samples.push(s);
                    }
                }
            }
            Err(e) => {
                total.transport += 1;
                total.samples.push(format!("worker panicked: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

async fn worker(mut conn: Conn, sh: Arc<Shared>, mut seed: Seed, capacity: usize) -> Outcome {
    let mut out = Outcome {
        latencies_us: Vec::with_capacity(capacity),
        ..Default::default()
    };
    let mut last_token = None;
    loop {
        let idx = sh.next.fetch_add(1, Ordering::Relaxed);
        if idx >= sh.limit || Instant::now() >= sh.deadline {
            break;
        }
        if sh.workload == Workload::W1 && idx as usize >= sh.codes.len() {
            out.codes_exhausted = true;
            break;
        }
        if conn.is_closed() {
            // The server closed the connection (counted as the transport
            // error of the request it failed); open another, untimed.
            match Conn::open(&sh.endpoint).await {
                Ok(c) => conn = c,
                Err(e) => {
                    out.transport += 1;
                    if out.samples.len() < 5 {
                        out.samples.push(e);
                    }
                    break;
                }
            }
        }
        let t0 = Instant::now();
        let result = one(&mut conn, &sh, idx as usize, &mut seed, &mut last_token).await;
        out.latencies_us
            .push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
        match result {
            Ok(()) => out.ok += 1,
            Err(f) => {
                let msg = match f {
                    Failure::Status(s, body) => {
                        out.non_2xx += 1;
                        format!("{s}: {body}")
                    }
                    Failure::Invalid(m) => {
                        out.invalid += 1;
                        m
                    }
                    Failure::Transport(m) => {
                        out.transport += 1;
                        m
                    }
                };
                if out.samples.len() < 5 && !out.samples.contains(&msg) {
                    out.samples.push(msg);
                }
            }
        }
    }
    out
}

/// One request and the check of its answer. `last_token` is the worker's
/// previous access token: a token endpoint must mint a fresh one per
/// request, never hand out a cached one.
async fn one(
    conn: &mut Conn,
    sh: &Shared,
    idx: usize,
    seed: &mut Seed,
    last_token: &mut Option<String>,
) -> Result<(), Failure> {
    let mut proof = None;
    let (method, body, bearer) = match (sh.workload, &*seed) {
        (Workload::W1, _) => {
            let (code, verifier) = &sh.codes[idx];
            let body = format!(
                "grant_type=authorization_code&code={}&code_verifier={}{}",
                enc(code),
                enc(verifier),
                sh.fixed
            );
            (Method::POST, Bytes::from(body), None)
        }
        (Workload::W2, Seed::Refresh(rt)) => {
            let body = format!("grant_type=refresh_token&refresh_token={}", enc(rt));
            (Method::POST, Bytes::from(body), None)
        }
        (Workload::W2Dpop, Seed::DpopRefresh(rt, prover)) => {
            let body = format!("grant_type=refresh_token&refresh_token={}", enc(rt));
            proof = Some(
                HeaderValue::from_str(&prover.proof())
                    .map_err(|e| Failure::Invalid(e.to_string()))?,
            );
            (Method::POST, Bytes::from(body), None)
        }
        (Workload::W3, _) => (Method::POST, Bytes::from(sh.fixed.clone()), None),
        (Workload::W4, Seed::Bearer(h)) => (Method::GET, Bytes::new(), Some(h.clone())),
        _ => return Err(Failure::Invalid("worker without its seed".into())),
    };
    let mut req = sh.endpoint.request(method, &sh.headers, body);
    if let Some(h) = bearer {
        req.headers_mut().insert(AUTHORIZATION, h);
    }
    if let Some(p) = proof {
        req.headers_mut().insert(HeaderName::from_static("dpop"), p);
    }
    let (status, nonce, body) = conn
        .send_keeping(req, "dpop-nonce")
        .await
        .map_err(Failure::Transport)?;
    if let (Some(n), Seed::DpopRefresh(_, prover)) = (nonce, &mut *seed) {
        prover.nonce = n.to_str().ok().map(str::to_string);
    }
    if status != StatusCode::OK {
        return Err(Failure::Status(status, snippet(&body)));
    }
    if sh.workload == Workload::W4 {
        #[derive(serde::Deserialize)]
        struct UserInfo {
            sub: Option<String>,
        }
        let u: UserInfo = serde_json::from_slice(&body).map_err(|e| {
            Failure::Invalid(format!("userinfo: bad JSON ({e}): {}", snippet(&body)))
        })?;
        return match u.sub {
            Some(s) if !s.is_empty() => Ok(()),
            _ => Err(Failure::Invalid(format!(
                "userinfo without sub: {}",
                snippet(&body)
            ))),
        };
    }
    let tr: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| Failure::Invalid(format!("bad JSON ({e}): {}", snippet(&body))))?;
    let (want_id, want_refresh) = match sh.workload {
        Workload::W1 => (sh.want_id_token, false),
        Workload::W2 | Workload::W2Dpop => (sh.want_id_token, true),
        _ => (false, false),
    };
    let token_type = if sh.workload == Workload::W2Dpop {
        "DPoP"
    } else {
        "Bearer"
    };
    check_token_response(
        &tr,
        sh.target.jwt_access_tokens,
        want_id,
        want_refresh,
        token_type,
    )
    .map_err(|why| Failure::Invalid(format!("{why}: {}", snippet(&body))))?;
    if tr.access_token.is_some() && *last_token == tr.access_token {
        return Err(Failure::Invalid(
            "the same access_token as the previous response".into(),
        ));
    }
    *last_token = tr.access_token;
    match (&mut *seed, tr.refresh_token) {
        (Seed::Refresh(old), Some(rt)) | (Seed::DpopRefresh(old, _), Some(rt)) => *old = rt,
        _ => {}
    }
    Ok(())
}

/// p in [0, 1] of sorted latencies, in milliseconds.
pub(crate) fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}
