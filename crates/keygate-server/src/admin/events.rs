//! `GET /admin/v1/events`: the audit events (docs/events.md), newest
//! first, filtered and paged like the other lists (`limit`, `after`,
//! `next`).

use super::error::{AdminError, ErrorBody};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use keygate_core::events::{Event, EventFilter};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Events per page unless asked otherwise.
pub const DEFAULT_PAGE: i64 = 50;
/// The largest page of events.
pub const MAX_PAGE: i64 = 100;

/// The filters and paging of the event list (all optional).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by hand (`type` repeats); this describes it.
pub struct EventQuery {
    /// Only this tenant's events.
    tenant: Option<String>,
    /// Only events of these types: repeat the parameter or separate them
    /// with commas. An unknown type is refused (400).
    #[param(rename = "type")]
    kind: Option<Vec<String>>,
    /// Only events by this actor (`user:SUB`, `admin-token:ID`, `cli`...).
    actor: Option<String>,
    /// Only events about this subject (`user:SUB`, `client:ID`...).
    subject: Option<String>,
    /// Only events at or after this time (Unix seconds).
    since: Option<i64>,
    /// Only events before this time (Unix seconds).
    until: Option<i64>,
    /// Events per page, 1 to 100 (default 50).
    limit: Option<i64>,
    /// The `next` value of the previous page (absent for the first page).
    after: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Its id; ids grow with time.
    #[schema(example = "0193a5c8e2f1a1b2c3d4e5f60718293a")]
    pub id: String,
    /// The tenant it happened in; empty for changes to tenants themselves
    /// and other deployment-wide ones.
    pub tenant_id: String,
    /// When (Unix seconds).
    pub at: i64,
    /// Its type, one of those listed in docs/events.md.
    #[serde(rename = "type")]
    #[schema(example = "user.signed_in")]
    pub kind: String,
    /// Who did it: `user:SUB`, `client:ID`, `admin-token:ID`,
    /// `admin-token:static`, `cli`, `anonymous`...
    pub actor: String,
    /// The client IP it came from, for requests over HTTP.
    pub ip: Option<String>,
    /// What it is about: `user:SUB`, `client:ID`, `tenant:ID`, `key:KID`...
    pub subject: Option<String>,
    /// More, by type (never a secret).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            id: e.id,
            tenant_id: e.tenant_id,
            at: e.at,
            kind: e.kind,
            actor: e.actor,
            ip: e.ip,
            subject: e.subject,
            detail: e.detail,
        }
    }
}

/// One page of events, newest first. `next` is set when older events
/// follow: pass it as `after` to read them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// The events of this page, newest first.
    pub items: Vec<EventView>,
    /// The `after` value for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// The filter, page size and cursor a query string asks for.
pub(crate) fn parse(query: &str) -> Result<(EventFilter, i64), AdminError> {
    let bad = |m: String| AdminError::BadRequest(m);
    let mut f = EventFilter::default();
    let mut limit = DEFAULT_PAGE;
    let time = |name: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| bad(format!("{name}: must be a time in Unix seconds")))
    };
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "tenant" => f.tenant_id = Some(v.into_owned()),
            "type" => {
                for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !keygate_core::events::is_type(t) {
                        return Err(bad(format!("type: unknown event type '{t}'")));
                    }
                    if !f.types.iter().any(|x| x == t) {
                        f.types.push(t.to_string());
                    }
                }
            }
            "actor" => f.actor = Some(v.into_owned()),
            "subject" => f.subject = Some(v.into_owned()),
            "since" => f.since = Some(time("since", &v)?),
            "until" => f.until = Some(time("until", &v)?),
            "limit" => {
                limit = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| bad(format!("limit: must be 1 to {MAX_PAGE}")))?
            }
            // Empty: the first page, as in the other lists.
            "after" if v.is_empty() => f.before = None,
            "after" => f.before = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok((f, limit))
}

#[utoipa::path(
    get,
    path = "/admin/v1/events",
    tag = "events",
    operation_id = "list_events",
    summary = "List audit events",
    description = "Sign-ins and failures, second factors, password resets, consents, token reuse, \
        key rotations and every admin change, newest first (docs/events.md). \
        An event never holds a secret.",
    params(EventQuery),
    responses(
        (status = 200, description = "One page of events, newest first", body = EventList),
        (status = 400, description = "An unknown type, or a bad time or paging parameter", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Json<EventList>, AdminError> {
    let (filter, limit) = parse(q.as_deref().unwrap_or(""))?;
    let rows = state.store.list_events(&filter, limit + 1).await?;
    let (rows, next) = super::views::page(rows, limit, |e| e.id.clone());
    Ok(Json(EventList {
        items: rows.into_iter().map(EventView::from).collect(),
        next,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_repeat_or_are_separated_by_commas() {
        let (f, limit) =
            parse("type=user.signed_in,key.rotated&type=user.signed_in&limit=7&after=x").unwrap();
        assert_eq!(f.types, vec!["user.signed_in", "key.rotated"]);
        assert_eq!((limit, f.before.as_deref()), (7, Some("x")));
        assert!(parse("type=user.nope").is_err());
        assert!(parse("limit=0").is_err());
        assert!(parse("limit=101").is_err());
        assert!(parse("since=yesterday").is_err());
    }
}
