//! Results: the JSON document, the table, and the side-by-side comparison.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::signing::SignRate;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub tool: String,
    pub label: String,
    pub date: String,
    pub target: TargetInfo,
    pub machine: Machine,
    pub config: RunConfig,
    /// RS256 always; the --alg algorithm too when it differs.
    pub signing: Vec<SignRate>,
    /// Algorithm whose signing rate defines the floors (the clients' --alg).
    pub floor_alg: String,
    pub idle_rss_kb: Option<u64>,
    pub workloads: Vec<WorkloadResult>,
    /// What hostile requests cost the server (`--hostile`).
    #[serde(default)]
    pub hostile: Vec<crate::hostile::HostileResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TargetInfo {
    /// "keygate" (started by the tool) or "external".
    pub kind: String,
    pub issuer: String,
    pub database: Option<String>,
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub kernel: String,
    /// /proc/loadavg (1, 5, 15 min) when the run started: other work on the
    /// machine skews both the server and the signing measurement.
    #[serde(default)]
    pub loadavg_at_start: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunConfig {
    pub concurrency: usize,
    pub requests: Option<u64>,
    pub duration_s: Option<f64>,
    pub alg: String,
    pub client_threads: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct WorkloadResult {
    pub name: String,
    pub description: String,
    /// Set when the workload could not be prepared; the figures are then absent.
    pub skipped: Option<String>,
    pub requests: u64,
    pub ok: u64,
    /// Answers other than 200.
    pub non_2xx: u64,
    /// 200 answers without the expected fields, and transport errors.
    pub invalid: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub rps: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Peak RSS of the server during this workload (kB).
    pub peak_rss_kb: Option<u64>,
    /// "vmhwm" (VmHWM reset before the workload, plus sampling) or "sampled".
    pub rss_method: Option<String>,
    /// Server CPU use during the workload, in percent of one core.
    pub server_cpu_pct: Option<f64>,
    /// Load generator CPU use during the workload, in percent of one core.
    pub bench_cpu_pct: Option<f64>,
    /// CPU used by every other process of the machine during the workload
    /// (percent of one core): noise on a shared machine, or the database.
    #[serde(default)]
    pub other_cpu_pct: Option<f64>,
    /// CPU microseconds per successful request, by kind of server thread
    /// (from /proc/PID/task): where the server's time goes.
    #[serde(default)]
    pub server_thread_us_per_request: std::collections::BTreeMap<String, f64>,
    /// The load generator's CPU microseconds per successful request.
    #[serde(default)]
    pub bench_us_per_request: Option<f64>,
    pub signatures_per_request: u32,
    /// The signing rate (of the clients' alg, on all cores) this workload's
    /// floor is taken from: the higher of the measurements just before and
    /// just after it.
    #[serde(default)]
    pub floor_signatures_per_sec: Option<f64>,
    pub floor_rps: Option<f64>,
    pub ratio_to_floor: Option<f64>,
    pub codes_exhausted: bool,
    pub setup_s: f64,
}

/// UTC date and time of now, ISO 8601.
pub(crate) fn now_iso() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn mb(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "-".into())
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

pub(crate) fn print_table(r: &Report) {
    println!();
    println!(
        "keygate-bench {}: {} ({}), {}",
        env!("CARGO_PKG_VERSION"),
        r.label,
        r.target.issuer,
        r.date
    );
    let load = match (r.config.requests, r.config.duration_s) {
        (_, Some(d)) => format!("{d} s per workload"),
        (Some(n), None) => format!("{n} requests per workload"),
        _ => String::new(),
    };
    println!(
        "target: {}{}; concurrency {}; {}; client alg {}; load generator threads {}",
        r.target.kind,
        r.target
            .database
            .as_deref()
            .map(|d| format!(" on {d}"))
            .unwrap_or_default(),
        r.config.concurrency,
        load,
        r.config.alg,
        r.config.client_threads
    );
    println!(
        "machine: {} cores, {}, Linux {}; load average at start {}",
        r.machine.cores,
        r.machine.cpu_model,
        r.machine.kernel,
        r.machine.loadavg_at_start.as_deref().unwrap_or("-")
    );
    for s in &r.signing {
        println!(
            "signing {} ({}, aws-lc-rs, {} threads, {:.1} s): {:.0} signatures/s",
            s.when, s.alg, s.threads, s.seconds, s.per_sec
        );
    }
    println!("server RSS idle: {} MB", mb(r.idle_rss_kb));
    println!();
    println!(
        "{:<4} {:<46} {:>9} {:>8} {:>8} {:>8} {:>7} {:>9} {:>8} {:>8} {:>8} {:>9} {:>6}",
        "",
        "workload",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "peak MB",
        "srv CPU",
        "gen CPU",
        "other",
        "floor",
        "ratio"
    );
    for w in &r.workloads {
        if let Some(why) = &w.skipped {
            println!(
                "{:<4} {:<46} skipped: {why}",
                w.name.to_uppercase(),
                w.description
            );
            continue;
        }
        println!(
            "{:<4} {:<46} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9} {:>7}% {:>7}% {:>7}% {:>9} {:>6}",
            w.name.to_uppercase(),
            w.description,
            w.rps,
            w.p50_ms,
            w.p90_ms,
            w.p99_ms,
            w.errors,
            mb(w.peak_rss_kb),
            opt(w.server_cpu_pct, 0),
            opt(w.bench_cpu_pct, 0),
            opt(w.other_cpu_pct, 0),
            opt(w.floor_rps, 0),
            opt(w.ratio_to_floor, 2),
        );
    }
    println!();
    println!(
        "floor = {} signatures/s (the higher of the measurements just before and just after the workload) / signatures per request (W1, W2: 2; W3: 1; W4: none); ratio = req/s / floor.",
        r.floor_alg
    );
    println!(
        "errors = non-2xx + 200s without the expected tokens + transport errors; CPU in % of one core \
         (srv: the server, gen: this tool, other: every other process, e.g. a compiler or the database)."
    );
    for w in &r.workloads {
        if w.server_thread_us_per_request.is_empty() {
            continue;
        }
        let threads: Vec<String> = w
            .server_thread_us_per_request
            .iter()
            .filter(|(_, us)| **us >= 0.5)
            .map(|(k, us)| format!("{k} {us:.0}"))
            .collect();
        println!(
            "{} CPU per request (us): server threads: {}; load generator {}",
            w.name.to_uppercase(),
            threads.join(", "),
            opt(w.bench_us_per_request, 0)
        );
    }
    for w in &r.workloads {
        if w.codes_exhausted {
            println!(
                "{}: the prepared authorization codes ran out before the duration ended.",
                w.name.to_uppercase()
            );
        }
        for s in &w.error_samples {
            println!("{} error sample: {s}", w.name.to_uppercase());
        }
    }
}

/// `--compare A.json B.json`: side by side, ratio A/B.
pub(crate) fn compare(files: &[PathBuf]) -> Result<(), String> {
    let load = |p: &PathBuf| -> Result<Report, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let a = load(&files[0])?;
    let b = load(&files[1])?;
    println!();
    println!(
        "A = {} ({}), B = {} ({})",
        a.label, a.target.issuer, b.label, b.target.issuer
    );
    println!(
        "machine: {} cores, {}; concurrency A {} / B {}; dates {} / {}",
        a.machine.cores,
        a.machine.cpu_model,
        a.config.concurrency,
        b.config.concurrency,
        a.date,
        b.date
    );
    let rs = |r: &Report| {
        r.signing
            .iter()
            .filter(|s| s.alg == "RS256")
            .map(|s| s.per_sec)
            .reduce(f64::max)
    };
    println!(
        "RS256 signatures/s measured in each run: A {} / B {}; idle RSS A {} MB / B {} MB",
        opt(rs(&a), 0),
        opt(rs(&b), 0),
        mb(a.idle_rss_kb),
        mb(b.idle_rss_kb)
    );
    println!(
        "load average at start: A {} / B {}",
        a.machine.loadavg_at_start.as_deref().unwrap_or("-"),
        b.machine.loadavg_at_start.as_deref().unwrap_or("-")
    );
    println!();
    println!(
        "{:<4} {:>10} {:>10} {:>7}  {:>15} {:>15}  {:>8} {:>8}  {:>7} {:>7}",
        "",
        "A req/s",
        "B req/s",
        "A/B",
        "A p50/p99 ms",
        "B p50/p99 ms",
        "A peakMB",
        "B peakMB",
        "A err",
        "B err"
    );
    for wa in &a.workloads {
        let Some(wb) = b.workloads.iter().find(|w| w.name == wa.name) else {
            continue;
        };
        let fmt = |w: &WorkloadResult| {
            if w.skipped.is_some() {
                (
                    "skipped".to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    "-".to_string(),
                )
            } else {
                (
                    format!("{:.1}", w.rps),
                    format!("{:.2}/{:.2}", w.p50_ms, w.p99_ms),
                    mb(w.peak_rss_kb),
                    w.errors.to_string(),
                )
            }
        };
        let (ra, la, ma, ea) = fmt(wa);
        let (rb, lb, mb_, eb) = fmt(wb);
        let ratio = if wa.skipped.is_none() && wb.skipped.is_none() && wb.rps > 0.0 {
            format!("{:.2}x", wa.rps / wb.rps)
        } else {
            "-".into()
        };
        println!(
            "{:<4} {:>10} {:>10} {:>7}  {:>15} {:>15}  {:>8} {:>8}  {:>7} {:>7}",
            wa.name.to_uppercase(),
            ra,
            rb,
            ratio,
            la,
            lb,
            ma,
            mb_,
            ea,
            eb
        );
    }
    let ratios: Vec<(String, f64)> = a
        .workloads
        .iter()
        .filter(|w| w.signatures_per_request > 0 && w.skipped.is_none())
        .filter_map(|wa| {
            let wb = b
                .workloads
                .iter()
                .find(|w| w.name == wa.name && w.skipped.is_none())?;
            (wb.rps > 0.0).then(|| (wa.name.to_uppercase(), wa.rps / wb.rps))
        })
        .collect();
    if let Some((name, min)) = ratios.iter().min_by(|x, y| x.1.total_cmp(&y.1)) {
        println!();
        println!("lowest A/B ratio on the token workloads: {min:.2}x ({name})");
    }
    for (tag, r) in [("A", &a), ("B", &b)] {
        for w in &r.workloads {
            if let Some(why) = &w.skipped {
                println!("{tag} {} skipped: {why}", w.name.to_uppercase());
            }
        }
    }
    Ok(())
}
