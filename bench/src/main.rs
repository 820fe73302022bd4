//! keygate-bench: Keygate's token endpoint benchmark.
//!
//! See bench/README.md. Untimed setup (provisioning, sign-in, codes,
//! first refresh tokens), then per workload a timed phase at a fixed
//! concurrency that stops by itself, with the server's memory and CPU
//! sampled from /proc and the machine's signing rate measured in the same run.

mod cli;
mod dpop;
mod flow;
mod hostile;
mod html;
mod load;
mod procinfo;
mod report;
mod server;
mod setup;
mod signing;
mod targets;
mod wire;

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::header::HeaderValue;
use reqwest::Client;

use cli::{Alg, Args, Workload};
use flow::{
    discover, ensure_loopback, exchange_code, random_b64, random_hex, Browser, ClientAuth, Result,
    Target,
};
use load::{Plan, Seed, Stop};
use report::{Machine, Report, RunConfig, TargetInfo, WorkloadResult};
use server::ManagedServer;
use setup::*;
use targets::*;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(files) = &args.compare {
        return match report::compare(files) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("keygate-bench: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.concurrency == 0 || args.client_threads == 0 {
        eprintln!("keygate-bench: --concurrency and --client-threads must be at least 1");
        return ExitCode::from(2);
    }
    if args.duration.is_some_and(|d| d.is_nan() || d <= 0.0) || args.requests == Some(0) {
        eprintln!("keygate-bench: --duration and --requests must be positive");
        return ExitCode::from(2);
    }
    // reqwest's rustls (enabled by the server's features in a shared
    // build) needs a process-wide crypto provider to build a client.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // One thread: a current-thread runtime, whose tasks run on the thread
    // that waits for their sockets, with no hand-over to a worker thread.
    let mut builder = if args.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.client_threads);
        b
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keygate-bench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        tokio::select! {
            r = run(args) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keygate-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plain_client() -> Result<Client> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

fn has_scope(scope: &str, s: &str) -> bool {
    scope.split(' ').any(|x| x == s)
}

fn str_field(v: &serde_json::Value, k: &str) -> Result<String> {
    v.get(k)
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("no \"{k}\" in {v}"))
}

/// The machine's signing rate (RS256, and `alg` when it differs) on
/// `cores` threads, with the server idle.
async fn measure_signing(
    alg: Alg,
    cores: usize,
    secs: f64,
    when: &str,
) -> Result<Vec<signing::SignRate>> {
    eprintln!("measuring the signing rate on {cores} threads ({when})...");
    let mut algs = vec![Alg::Rs256];
    if alg != Alg::Rs256 {
        algs.push(alg);
    }
    let mut out = Vec::new();
    for a in algs {
        let mut r = tokio::task::spawn_blocking(move || signing::measure(a, cores, secs))
            .await
            .map_err(|e| e.to_string())?;
        r.when = when.to_string();
        out.push(r);
    }
    Ok(out)
}

async fn run(args: Args) -> Result<()> {
    let loadavg_at_start = procinfo::loadavg();
    let http = plain_client()?;
    let mut server: Option<ManagedServer> = None;
    let (target, pid, target_info) = if let Some(issuer) = args.issuer.clone() {
        ensure_loopback(&url::Url::parse(&issuer).map_err(|e| format!("--issuer: {e}"))?)?;
        let t = external_target(&args, &http, &issuer).await?;
        let info = TargetInfo {
            kind: "external".into(),
            issuer: t.issuer.clone(),
            database: None,
            server_pid: args.server_pid,
        };
        (t, args.server_pid, info)
    } else {
        let mut s = ManagedServer::start(
            &args.server,
            args.database_url.as_deref(),
            args.code_ttl,
            &args.token_rate_limit,
            args.keep,
        )
        .await?;
        eprintln!(
            "started keygate (pid {}) at {} on {}",
            s.pid, s.public_url, s.database
        );
        s.wait_ready(&http).await?;
        let t = provision(&s, &args, &http)
            .await
            .map_err(|e| format!("{e}\nserver log:\n{}", s.log_tail()))?;
        eprintln!("provisioned issuer {}", t.issuer);
        let info = TargetInfo {
            kind: "keygate".into(),
            issuer: t.issuer.clone(),
            database: Some(s.database.clone()),
            server_pid: Some(s.pid),
        };
        let pid = s.pid;
        server = Some(s);
        (t, Some(pid), info)
    };
    if let Some(p) = pid {
        if procinfo::rss_kb(p).is_none() {
            eprintln!("warning: cannot read /proc/{p}/status; no memory figures");
        }
    }
    let target = Arc::new(target);

    // Idle memory, then the machine's signing rate while the server is idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss_kb = pid.and_then(procinfo::rss_kb);
    let cores = procinfo::cores();
    const OPENING: &str = "before the workloads";
    let mut signing = measure_signing(args.alg, cores, args.sign_seconds, OPENING).await?;
    // Each token workload's floor comes from the measurements just before
    // and just after it: this machine's signing rate has been seen to move
    // by a third within minutes, so one measurement at each end of a
    // minutes-long run says little about the workloads in its middle.
    let floor_rate = |s: &[signing::SignRate]| {
        s.iter()
            .rev()
            .find(|m| m.alg == args.alg.as_str())
            .map(|m| m.per_sec)
    };
    let mut rate_before = floor_rate(&signing);

    // Sessions signed in for the setup: one on Keygate (each sign-in is an
    // Argon2id hash whose memory would count in the server's RSS), one per
    // concurrent flow on an external target.
    let sessions = args
        .setup_sessions
        .unwrap_or(if args.issuer.is_some() {
            args.setup_parallelism
        } else {
            1
        })
        .max(1);
    let mut ctx = Ctx {
        args: args.clone(),
        browsers: (0..sessions)
            .map(|_| Browser::new(target.clone()).map(Arc::new))
            .collect::<Result<Vec<_>>>()?,
        target: target.clone(),
        http: http.clone(),
        signed_in: false,
    };

    let mut workloads: Vec<Workload> = Vec::new();
    for w in &args.workloads {
        if !workloads.contains(w) {
            workloads.push(*w);
        }
    }
    let mut results = Vec::new();
    for w in workloads {
        eprintln!("{}: {}", w.name().to_uppercase(), w.description());
        let setup_start = Instant::now();
        let mut res = WorkloadResult {
            name: w.name().into(),
            description: w.description().into(),
            signatures_per_request: w.signatures(),
            ..Default::default()
        };
        let plan = match ctx.prepare(w).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("  skipped: {e}");
                res.skipped = Some(e);
                results.push(res);
                continue;
            }
        };
        res.setup_s = setup_start.elapsed().as_secs_f64();

        let reset = pid.map(procinfo::reset_hwm).unwrap_or(false);
        let sampler = pid.map(procinfo::RssSampler::start);
        eprintln!("  timed phase: concurrency {}", args.concurrency);
        let mut out = load::Outcome::default();
        let (mut srv_cpu, mut gen_cpu, mut all_cpu) = (Some(0.0), Some(0.0), Some(0.0));
        let mut thread_cpu = std::collections::BTreeMap::<String, f64>::new();
        let mut plan = Some(plan);
        // W1 in --duration mode without --w1-codes runs in segments: codes
        // for about 3 s at the rate measured so far, prepared (untimed)
        // between segments, so that no server holds tens of thousands of
        // unused codes. The timed figures add up the segments only.
        let segmented = w == Workload::W1 && args.duration.is_some() && args.w1_codes.is_none();
        let mut remaining = args.duration.map(Duration::from_secs_f64);
        while let Some(mut p) = plan.take() {
            if let (Some(rem), Stop::Duration(_)) = (remaining, p.stop) {
                p.stop = Stop::Duration(rem);
            }
            let t0 = pid.map(procinfo::thread_cpu_seconds).unwrap_or_default();
            let s0 = pid.and_then(|p| procinfo::cpu_seconds(Some(p)));
            let g0 = procinfo::cpu_seconds(None);
            let m0 = procinfo::machine_busy_seconds();
            let seg = load::run(target.clone(), p).await;
            let s1 = pid.and_then(|p| procinfo::cpu_seconds(Some(p)));
            let g1 = procinfo::cpu_seconds(None);
            let m1 = procinfo::machine_busy_seconds();
            for (kind, t) in pid.map(procinfo::thread_cpu_seconds).unwrap_or_default() {
                let before = t0.get(&kind).copied().unwrap_or(0.0);
                *thread_cpu.entry(kind).or_insert(0.0) += t - before;
            }
            all_cpu = all_cpu.zip(m0.zip(m1)).map(|(t, (a, b))| t + b - a);
            srv_cpu = srv_cpu.zip(s0.zip(s1)).map(|(t, (a, b))| t + b - a);
            gen_cpu = gen_cpu.zip(g0.zip(g1)).map(|(t, (a, b))| t + b - a);
            let seg_rate = seg.ok as f64 / seg.elapsed.as_secs_f64().max(1e-9);
            out.absorb(seg);
            remaining = remaining.map(|r| r.saturating_sub(out.elapsed_last));
            if segmented && out.codes_exhausted {
                let rem = remaining.unwrap_or_default();
                if rem < Duration::from_millis(50) {
                    out.codes_exhausted = false;
                    break;
                }
                let n = (seg_rate * rem.as_secs_f64().min(3.0) * 1.25) as usize + args.concurrency;
                match ctx.more_w1_codes(n).await {
                    Ok(codes) => {
                        out.codes_exhausted = false;
                        plan = Some(Plan {
                            workload: w,
                            stop: Stop::Duration(rem),
                            codes,
                            seeds: (0..args.concurrency).map(|_| Seed::None).collect(),
                            want_id_token: has_scope(&args.scope, "openid"),
                        });
                    }
                    Err(e) => {
                        eprintln!("  could not prepare more codes: {e}");
                    }
                }
            }
        }
        let elapsed = out.elapsed.as_secs_f64().max(1e-9);
        let sampled = sampler.map(|s| s.finish());
        let hwm = if reset {
            pid.and_then(procinfo::hwm_kb)
        } else {
            None
        };

        out.latencies_us.sort_unstable();
        let lat = &out.latencies_us;
        res.requests = lat.len() as u64;
        res.ok = out.ok;
        res.non_2xx = out.non_2xx;
        res.invalid = out.invalid + out.transport;
        res.errors = res.non_2xx + res.invalid;
        res.error_samples = out.samples;
        res.elapsed_s = elapsed;
        res.rps = out.ok as f64 / elapsed;
        res.mean_ms = if lat.is_empty() {
            0.0
        } else {
            lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64 / 1000.0
        };
        res.p50_ms = load::percentile_ms(lat, 0.50);
        res.p90_ms = load::percentile_ms(lat, 0.90);
        res.p99_ms = load::percentile_ms(lat, 0.99);
        res.max_ms = load::percentile_ms(lat, 1.0);
        res.peak_rss_kb = match (sampled, hwm) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        res.rss_method = pid.map(|_| {
            if reset {
                "vmhwm".to_string()
            } else {
                "sampled".to_string()
            }
        });
        let per_request = |cpu_s: f64| cpu_s * 1e6 / (out.ok.max(1) as f64);
        res.server_thread_us_per_request = thread_cpu
            .into_iter()
            .map(|(k, t)| (k, per_request(t)))
            .collect();
        res.bench_us_per_request = gen_cpu.map(per_request);
        res.server_cpu_pct = srv_cpu.map(|c| c / elapsed * 100.0);
        res.bench_cpu_pct = gen_cpu.map(|c| c / elapsed * 100.0);
        // Everything else the machine ran meanwhile (with an external
        // target's database, that database too).
        res.other_cpu_pct = all_cpu.zip(gen_cpu).map(|(all, g)| {
            ((all - g - srv_cpu.filter(|_| pid.is_some()).unwrap_or(0.0)) / elapsed * 100.0)
                .max(0.0)
        });
        res.codes_exhausted = out.codes_exhausted;
        eprintln!(
            "  {:.1} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors, {} requests in {:.2} s",
            res.rps, res.p50_ms, res.p99_ms, res.errors, res.requests, elapsed
        );
        if res.signatures_per_request > 0 {
            // The signing rate again, with the server idle: the floor takes
            // the higher of this and the one before the workload (the
            // conservative choice when the machine is shared).
            let when = format!("after {}", w.name().to_uppercase());
            signing.extend(measure_signing(args.alg, cores, args.sign_seconds, &when).await?);
            let rate_after = floor_rate(&signing);
            if let Some(rate) = rate_before.into_iter().chain(rate_after).reduce(f64::max) {
                let floor = rate / res.signatures_per_request as f64;
                res.floor_signatures_per_sec = Some(rate);
                res.floor_rps = Some(floor);
                res.ratio_to_floor = Some(res.rps / floor);
            }
            rate_before = rate_after;
        }
        results.push(res);
    }
    if signing.last().is_some_and(|m| m.when == OPENING) {
        // No token workload ran: still measure at both ends of the run.
        signing.extend(
            measure_signing(args.alg, cores, args.sign_seconds, "after the workloads").await?,
        );
    }

    let mut hostile_results = Vec::new();
    if let (Some(p), true) = (pid, args.hostile > 0) {
        eprintln!("hostile requests: {} of each kind", args.hostile);
        match hostile::run(&target, p, &http, args.hostile, args.concurrency).await {
            Some(r) => hostile_results = r,
            None => eprintln!("  skipped: no client_credentials client or no server CPU figures"),
        }
    }

    let label = args
        .label
        .clone()
        .unwrap_or_else(|| match &target_info.database {
            Some(db) => format!("keygate ({db})"),
            None => "external".to_string(),
        });
    let report = Report {
        tool: format!("keygate-bench {}", env!("CARGO_PKG_VERSION")),
        label,
        date: report::now_iso(),
        target: target_info,
        machine: Machine {
            cores,
            cpu_model: procinfo::cpu_model(),
            kernel: procinfo::kernel(),
            loadavg_at_start,
        },
        config: RunConfig {
            concurrency: args.concurrency,
            requests: if args.duration.is_some() {
                None
            } else {
                Some(args.requests.unwrap_or(5000))
            },
            duration_s: args.duration,
            alg: args.alg.as_str().into(),
            client_threads: args.client_threads,
        },
        signing,
        floor_alg: args.alg.as_str().into(),
        idle_rss_kb,
        workloads: results,
        hostile: hostile_results,
    };
    if let Some(s) = server.take() {
        s.stop().await;
    }
    report::print_table(&report);
    if !report.hostile.is_empty() {
        hostile::print(&report.hostile);
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
