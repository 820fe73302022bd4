//! Recording audit events (docs/events.md): one call per thing that
//! happened, from wherever it happened.
//!
//! An event is written by its own store write after the change it records
//! (the change stands whether or not the event could be written; a failure
//! to write it is logged at `error`). It never carries a secret.

use crate::AppState;
use keygate_core::events::Event;
use std::net::IpAddr;

/// What to record; [`Record::new`] then the optional parts.
pub(crate) struct Record {
    event: Event,
}

impl Record {
    /// An event of `kind` (one of `keygate_core::events::TYPES`) in
    /// `tenant` ("" for deployment-wide), by `actor`.
    pub(crate) fn new(tenant: &str, kind: &'static str, actor: impl Into<String>) -> Record {
        debug_assert!(keygate_core::events::is_type(kind), "{kind}");
        Record {
            event: Event {
                id: keygate_crypto::secrets::new_ordered_id(),
                tenant_id: tenant.to_string(),
                at: crate::now(),
                kind: kind.to_string(),
                actor: actor.into(),
                ip: None,
                subject: None,
                detail: serde_json::json!({}),
            },
        }
    }

    /// The client IP of the request, when known.
    pub(crate) fn ip(mut self, ip: Option<IpAddr>) -> Record {
        self.event.ip = ip.map(|i| i.to_string());
        self
    }

    /// What the event is about (`user:SUB`, `client:ID`...).
    pub(crate) fn subject(mut self, subject: impl Into<String>) -> Record {
        self.event.subject = Some(subject.into());
        self
    }

    /// More, as a JSON object (never a secret).
    pub(crate) fn detail(mut self, detail: serde_json::Value) -> Record {
        self.event.detail = detail;
        self
    }

    /// Writes it (kept for the configured retention).
    pub(crate) async fn save(self, state: &AppState) {
        let expires_at = self.event.at + state.config.event_retention;
        if let Err(e) = state.store.append_event(&self.event, expires_at).await {
            tracing::error!(error = %e, kind = %self.event.kind, "the audit event could not be written");
        } else {
            // Its webhook deliveries were queued with it.
            crate::webhooks::wake();
        }
    }
}
