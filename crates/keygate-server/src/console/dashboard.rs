//! The console's dashboard (docs/console.md, "Dashboard"): sign-ins,
//! failed sign-ins and tokens issued per hour over the last day (per six
//! hours over the last week with `?range=7d`), drawn here as an SVG bar
//! chart, and the latest events.
//!
//! What is counted: events `user.signed_in` and `user.sign_in_failed`
//! (one grouped query over the event log), and grants created, that is
//! authorization codes issued (one grouped query over `grants`; grants are
//! swept some time after their tokens expire, so old buckets may count
//! fewer). Operators of one tenant see that tenant's numbers only.

use super::{page, when, Operator, Shell};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use keygate_core::events::{Event, EventFilter};
use std::fmt::Write as _;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/", get(dashboard))
}

/// How many events the dashboard lists.
const LATEST: i64 = 20;

#[derive(serde::Deserialize, Default)]
struct Params {
    range: Option<String>,
}

/// One bucket's counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Bucket {
    pub start: i64,
    pub label: String,
    pub signins: i64,
    pub failures: i64,
    pub tokens: i64,
}

/// The chart's span: how many buckets of how many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub buckets: i64,
    pub seconds: i64,
}

impl Span {
    pub(crate) fn of(range: Option<&str>) -> Span {
        match range {
            Some("7d") => Span {
                buckets: 28,
                seconds: 6 * 3600,
            },
            _ => Span {
                buckets: 24,
                seconds: 3600,
            },
        }
    }

    /// `[since, until)`: the last `buckets` buckets, the current one last,
    /// aligned to whole buckets (UTC).
    pub(crate) fn window(self, now: i64) -> (i64, i64) {
        let until = (now.div_euclid(self.seconds) + 1) * self.seconds;
        (until - self.buckets * self.seconds, until)
    }
}

struct EventRow {
    at: String,
    kind: String,
    tenant: String,
    actor: String,
    subject: String,
    ip: String,
}

impl From<Event> for EventRow {
    fn from(e: Event) -> Self {
        EventRow {
            at: when(e.at),
            kind: e.kind,
            tenant: e.tenant_id,
            actor: e.actor,
            subject: e.subject.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    shell: Shell,
    week: bool,
    chart: String,
    buckets: Vec<Bucket>,
    signins: i64,
    failures: i64,
    tokens: i64,
    events: Vec<EventRow>,
    scope: String,
}

/// GET /admin/ (`?range=7d` for the week).
async fn dashboard(
    State(state): State<AppState>,
    op: Operator,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let span = Span::of(q.range.as_deref());
    let buckets = counts(&state, op.tenant.as_deref(), span, crate::now()).await?;
    let events = state
        .store
        .list_events(
            &EventFilter {
                tenant_id: op.tenant.clone(),
                ..EventFilter::default()
            },
            LATEST,
        )
        .await?
        .into_iter()
        .map(EventRow::from)
        .collect();
    let week = span.seconds > 3600;
    Ok(page(&DashboardPage {
        shell: Shell::new(&op, "/admin/"),
        week,
        chart: chart(&buckets, week),
        signins: buckets.iter().map(|b| b.signins).sum(),
        failures: buckets.iter().map(|b| b.failures).sum(),
        tokens: buckets.iter().map(|b| b.tokens).sum(),
        buckets,
        events,
        scope: match &op.tenant {
            Some(t) => format!("tenant {t}"),
            None => "every tenant".to_string(),
        },
    }))
}

/// Every bucket of the span, with its counts (two grouped queries).
pub(crate) async fn counts(
    state: &AppState,
    tenant: Option<&str>,
    span: Span,
    now: i64,
) -> Result<Vec<Bucket>, ApiError> {
    let (since, until) = span.window(now);
    let kinds = vec![
        "user.signed_in".to_string(),
        "user.sign_in_failed".to_string(),
    ];
    let events = state
        .store
        .count_events_by_bucket(tenant, &kinds, since, until, span.seconds)
        .await?;
    let grants = state
        .store
        .count_grants_by_bucket(tenant, since, until, span.seconds)
        .await?;
    let label_format = if span.seconds > 3600 {
        time::macros::format_description!("[month]-[day] [hour]:00")
    } else {
        time::macros::format_description!("[hour]:00")
    };
    let mut buckets: Vec<Bucket> = (0..span.buckets)
        .map(|i| {
            let start = since + i * span.seconds;
            Bucket {
                start,
                label: time::OffsetDateTime::from_unix_timestamp(start)
                    .ok()
                    .and_then(|t| t.format(&label_format).ok())
                    .unwrap_or_default(),
                ..Bucket::default()
            }
        })
        .collect();
    let index = |start: i64| -> Option<usize> {
        let i = (start - since).checked_div(span.seconds)?;
        usize::try_from(i).ok().filter(|i| *i < buckets_len(span))
    };
    for (start, kind, n) in events {
        if let Some(b) = index(start).and_then(|i| buckets.get_mut(i)) {
            match kind.as_str() {
                "user.signed_in" => b.signins += n,
                _ => b.failures += n,
            }
        }
    }
    for (start, n) in grants {
        if let Some(b) = index(start).and_then(|i| buckets.get_mut(i)) {
            b.tokens += n;
        }
    }
    Ok(buckets)
}

fn buckets_len(span: Span) -> usize {
    usize::try_from(span.buckets).unwrap_or(0)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The bar chart: three bars per bucket (sign-ins, failures, tokens
/// issued), each with a `<title>` saying its number, the whole with a
/// `<title>` and `<desc>`; colours as attributes (the CSP allows no
/// inline style).
pub(crate) fn chart(buckets: &[Bucket], week: bool) -> String {
    const W: f64 = 960.0;
    const H: f64 = 280.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 36.0;
    const TOP: f64 = 12.0;
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - BOTTOM - TOP;
    let max = buckets
        .iter()
        .flat_map(|b| [b.signins, b.failures, b.tokens])
        .max()
        .unwrap_or(0)
        .max(1);
    let n = buckets.len().max(1) as f64;
    let group = plot_w / n;
    let bar = (group / 4.0).max(1.0);
    let period = if week {
        "per six hours over the last 7 days"
    } else {
        "per hour over the last 24 hours"
    };
    let total = |f: fn(&Bucket) -> i64| buckets.iter().map(f).sum::<i64>();
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-labelledby="chart-title chart-desc"><title id="chart-title">Sign-ins, failed sign-ins and tokens issued {period}</title><desc id="chart-desc">{} sign-ins, {} failed sign-ins and {} tokens issued in all; the highest bar is {max}.</desc>"##,
        total(|b| b.signins),
        total(|b| b.failures),
        total(|b| b.tokens),
    );
    // Axis and grid lines at 0, half and the maximum.
    for (value, y) in [
        (0, TOP + plot_h),
        (
            max / 2,
            TOP + plot_h - plot_h * ((max / 2) as f64) / max as f64,
        ),
        (max, TOP),
    ] {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#d1d5db" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#374151">{value}</text>"##,
            W - 8.0,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let step = if week { 4 } else { 3 };
    for (i, b) in buckets.iter().enumerate() {
        let x0 = LEFT + group * i as f64 + group / 8.0;
        for (j, (value, colour, what)) in [
            (b.signins, "#4338ca", "sign-ins"),
            (b.failures, "#dc2626", "failed sign-ins"),
            (b.tokens, "#059669", "tokens issued"),
        ]
        .into_iter()
        .enumerate()
        {
            if value == 0 {
                continue;
            }
            let h = (plot_h * value as f64 / max as f64).max(1.0);
            let _ = write!(
                s,
                r##"<rect class="{}" x="{:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" fill="{colour}"><title>{}: {value} {what}</title></rect>"##,
                what.replace(' ', "-"),
                x0 + bar * j as f64,
                TOP + plot_h - h,
                escape(&b.label),
            );
        }
        if i % step == 0 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#374151">{}</text>"##,
                x0,
                H - BOTTOM + 16.0,
                escape(&b.label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_whole_buckets() {
        let day = Span::of(None);
        let (since, until) = day.window(7200 + 59);
        assert_eq!(until, 3 * 3600);
        assert_eq!(until - since, 24 * 3600);
        let week = Span::of(Some("7d"));
        let (since, until) = week.window(100);
        assert_eq!(until, 6 * 3600);
        assert_eq!(until - since, 7 * 24 * 3600);
    }

    #[test]
    fn the_chart_has_a_bar_per_number_with_its_title() {
        let buckets = vec![
            Bucket {
                start: 0,
                label: "00:00".into(),
                signins: 2,
                failures: 1,
                tokens: 0,
            },
            Bucket {
                start: 3600,
                label: "01:00".into(),
                signins: 0,
                failures: 0,
                tokens: 4,
            },
        ];
        let svg = chart(&buckets, false);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>00:00: 2 sign-ins</title>"));
        assert!(svg.contains("<title>00:00: 1 failed sign-ins</title>"));
        assert!(svg.contains("<title>01:00: 4 tokens issued</title>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg
            .contains("<desc id=\"chart-desc\">2 sign-ins, 1 failed sign-ins and 4 tokens issued"));
        assert!(!svg.contains("style="));
    }
}
