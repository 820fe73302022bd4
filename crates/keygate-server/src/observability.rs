//! What operators see: request ids and a log line per request, Prometheus
//! metrics, and the health probes.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument;

/// The process-wide Prometheus recorder (installed once, even when several
/// servers run in one process, as in tests).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .expect("static buckets")
            // Counts of writes per commit, not seconds: with the buckets
            // above, every batch of three or more fell into +Inf.
            .set_buckets_for_metric(
                Matcher::Full("keygate_store_write_batch_size".into()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
            )
            .expect("static buckets")
            .build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// A request id from the caller (`X-Request-Id`, if short and printable)
/// or a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| keygate_crypto::secrets::random_token(12))
}

/// The metric label of a path: the tenant segment folded, the admin API
/// one label, and every 404 one label, so hostile paths cannot grow the
/// metric set.
fn endpoint_label(path: &str, status: u16) -> String {
    if status == 404 {
        return "unmatched".into();
    }
    if path.starts_with("/admin/") {
        return "/admin/v1".into();
    }
    let mut parts = path.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_), Some("as"), rest) => format!("/{{tenant}}/as/{}", rest.unwrap_or("")),
        _ => path.to_string(),
    }
}

/// Wraps every request in a span carrying its id (so every log line has
/// it), answers with `X-Request-Id`, logs one line per request (the path
/// only: query strings carry codes and states), and records metrics.
pub async fn observe(req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let endpoint = endpoint_label(&path, status);
    span.in_scope(|| {
        tracing::info!(method = %method, path = %path, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request")
    });
    metrics::counter!("keygate_http_requests_total", "endpoint" => endpoint.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("keygate_http_request_duration_seconds", "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// `GET /metrics`: the node's metrics in the Prometheus text format (version 0.0.4).
pub async fn metrics_endpoint() -> Response {
    let mut res = prometheus().render().into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

/// Liveness: the process answers.
pub async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Readiness: the store answers and every migration is applied.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Deletes expired codes, sessions, tokens, revocations, limits and
/// password-reset links, and messages sent a day ago, in
/// bounded batches, forever, every `interval`. Several nodes may run it.
pub async fn sweeper(
    store: std::sync::Arc<dyn keygate_store::Store>,
    interval: std::time::Duration,
) {
    const BATCH: i64 = 1000;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A few rounds per tick at most, so a backlog drains without
        // holding the writer for long.
        for _ in 0..10 {
            let now = crate::now();
            let swept = match store.sweep(now, BATCH).await {
                Ok(mut counts) => store.sweep_outbox(now, BATCH).await.map(|more| {
                    counts.extend(more);
                    counts
                }),
                Err(e) => Err(e),
            };
            match swept {
                Ok(counts) => {
                    let mut full = false;
                    for (table, n) in counts {
                        if n > 0 {
                            metrics::counter!("keygate_sweeper_deleted_total", "table" => table)
                                .increment(n);
                            tracing::debug!(table, deleted = n, "swept");
                        }
                        full |= n as i64 >= BATCH;
                    }
                    metrics::counter!("keygate_sweeper_runs_total").increment(1);
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sweep failed");
                    break;
                }
            }
        }
    }
}
