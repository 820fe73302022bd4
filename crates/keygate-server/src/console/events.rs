//! The audit events in the console: newest first, filtered by type,
//! actor and (for an operator of every tenant) tenant, paged by the id of
//! the last event shown. An operator of one tenant sees only its events.

use super::resources::{when, Ctx};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use keygate_core::events::{EventFilter, TYPES};
use serde::Deserialize;

/// The navigation entry of this page.
const NAV: &str = "/admin/events";

/// How many events a page lists.
const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub(super) struct EventQuery {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

/// One event as listed.
pub(super) struct Row {
    pub at: String,
    pub kind: String,
    pub tenant: String,
    pub actor: String,
    pub ip: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct ListPage {
    rows: Vec<Row>,
    types: &'static [&'static str],
    kind: String,
    actor: String,
    tenant: String,
    /// Whether the tenant filter is offered (an operator of every tenant).
    any_tenant: bool,
    /// The query string of the next (older) page.
    older: Option<String>,
}

fn blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `GET /admin/events[?type=T][&actor=A][&tenant=T][&before=ID]`
pub(super) async fn list(ctx: Ctx, q: Result<Query<EventQuery>, QueryRejection>) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return ctx.problem(StatusCode::BAD_REQUEST, &e.body_text(), NAV),
    };
    let kind = blank(q.kind);
    if let Some(k) = &kind {
        if !keygate_core::events::is_type(k) {
            return ctx.problem(
                StatusCode::BAD_REQUEST,
                &format!("type: '{k}' is not an event type"),
                NAV,
            );
        }
    }
    let tenant = match &ctx.op.tenant {
        Some(t) => Some(t.clone()),
        None => blank(q.tenant),
    };
    let actor = blank(q.actor);
    let before = blank(q.before);
    let plain = |s: &Option<String>| {
        s.as_deref()
            .is_none_or(|s| s.len() <= 300 && !s.chars().any(char::is_control))
    };
    if !plain(&actor) || !plain(&before) || !plain(&tenant) {
        return ctx.problem(StatusCode::BAD_REQUEST, "A filter is not plain text.", NAV);
    }
    let filter = EventFilter {
        tenant_id: tenant.clone(),
        types: kind.iter().cloned().collect(),
        actor: actor.clone(),
        before,
        ..Default::default()
    };
    let mut events = match ctx.state.store.list_events(&filter, PAGE + 1).await {
        Ok(e) => e,
        Err(e) => return ctx.provision_error(e.into(), "/admin/"),
    };
    let older = (events.len() as i64 > PAGE).then(|| {
        events.truncate(PAGE as usize);
        let last = events.last().map(|e| e.id.clone()).unwrap_or_default();
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(k) = &kind {
            q.append_pair("type", k);
        }
        if let Some(a) = &actor {
            q.append_pair("actor", a);
        }
        if let (Some(t), None) = (&tenant, &ctx.op.tenant) {
            q.append_pair("tenant", t);
        }
        q.append_pair("before", &last);
        q.finish()
    });
    ctx.page(
        NAV,
        "Events",
        ListPage {
            rows: events
                .into_iter()
                .map(|e| Row {
                    at: when(e.at),
                    kind: e.kind,
                    tenant: e.tenant_id,
                    actor: e.actor,
                    ip: e.ip.unwrap_or_default(),
                    subject: e.subject.unwrap_or_default(),
                    detail: if e.detail.as_object().is_some_and(|o| o.is_empty()) {
                        String::new()
                    } else {
                        e.detail.to_string()
                    },
                })
                .collect(),
            types: TYPES,
            kind: kind.unwrap_or_default(),
            actor: actor.unwrap_or_default(),
            tenant: if ctx.op.tenant.is_some() {
                String::new()
            } else {
                tenant.unwrap_or_default()
            },
            any_tenant: ctx.op.tenant.is_none(),
            older,
        },
    )
}
