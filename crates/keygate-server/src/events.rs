//! Recording audit events (docs/events.md): one call per thing that
//! happened, from wherever it happened.
//!
//! An event is written by its own store write after the change it records
//! (the change stands whether or not the event could be written; a failure
//! to write it is logged at `error`). It never carries a secret.

use crate::AppState;
use keygate_core::events::Event;
use keygate_store::Store;
use std::net::IpAddr;

/// How long the CLI keeps what it records (it has no server config): the
/// server's default retention, or `KEYGATE_EVENT_RETENTION` when set.
pub const DEFAULT_RETENTION: i64 = 90 * 86400;

/// A new event id: the time in milliseconds (12 hex digits) then 80
/// random bits (20 hex digits). Lower-case hex sorts the same by bytes and
/// in any collation, so "newest first" is "by id, descending" on both
/// engines, and the id is the page cursor. Within one process the
/// milliseconds never repeat (a second event of the same millisecond takes
/// the next one), so one node's events keep their order.
pub fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let prev = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(0);
    let millis = now.max(prev + 1);
    let mut id = format!("{millis:012x}");
    for b in keygate_crypto::secrets::random_bytes(10) {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// What to record; [`Record::new`] then the optional parts.
pub struct Record {
    event: Event,
}

impl Record {
    /// An event of `kind` (one of `keygate_core::events::TYPES`) in
    /// `tenant` ("" for deployment-wide), by `actor`.
    pub fn new(tenant: &str, kind: &'static str, actor: impl Into<String>) -> Record {
        debug_assert!(keygate_core::events::is_type(kind), "{kind}");
        Record {
            event: Event {
                id: new_id(),
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
    pub fn ip(mut self, ip: Option<IpAddr>) -> Record {
        self.event.ip = ip.map(|i| i.to_string());
        self
    }

    /// What the event is about (`user:SUB`, `client:ID`...).
    pub fn subject(mut self, subject: impl Into<String>) -> Record {
        self.event.subject = Some(subject.into());
        self
    }

    /// More, as a JSON object (never a secret).
    pub fn detail(mut self, detail: serde_json::Value) -> Record {
        self.event.detail = detail;
        self
    }

    /// Writes it (kept for the configured retention).
    pub(crate) async fn save(self, state: &AppState) {
        self.save_in(state.store.as_ref(), state.config.event_retention)
            .await;
    }

    /// Writes it to `store`, kept `retention` seconds (the CLI's way).
    pub async fn save_in(self, store: &dyn Store, retention: i64) {
        let expires_at = self.event.at + retention;
        if let Err(e) = store.append_event(&self.event, expires_at).await {
            tracing::error!(error = %e, kind = %self.event.kind, "the audit event could not be written");
        } else {
            // Its webhook deliveries were queued with it.
            crate::webhooks::wake();
        }
    }
}

/// `user.signed_in`: a session started from a completed sign-in, by
/// `amr`, for `client_id` (none on the account page).
pub(crate) async fn signed_in(
    state: &AppState,
    door: &crate::door::Door,
    sub: &str,
    amr: &[String],
    client_id: Option<&str>,
) {
    Record::new(&door.tenant.id, "user.signed_in", format!("user:{sub}"))
        .ip(door.client_ip)
        .subject(format!("user:{sub}"))
        .detail(serde_json::json!({"amr": amr, "client_id": client_id}))
        .save(state)
        .await;
}

/// `user.mfa_passed` or `user.mfa_failed` at a second step, by `method`
/// (`otp`, `recovery_code` or `passkey`); a failure says why.
pub(crate) async fn mfa(
    state: &AppState,
    door: &crate::door::Door,
    sub: &str,
    method: &str,
    failure: Option<&str>,
) {
    let (kind, detail) = match failure {
        None => ("user.mfa_passed", serde_json::json!({"method": method})),
        Some(reason) => (
            "user.mfa_failed",
            serde_json::json!({"method": method, "reason": reason}),
        ),
    };
    Record::new(&door.tenant.id, kind, format!("user:{sub}"))
        .ip(door.client_ip)
        .subject(format!("user:{sub}"))
        .detail(detail)
        .save(state)
        .await;
}

/// An event a person caused about themselves (`user:SUB` both actor and
/// subject), from the request's IP.
pub(crate) async fn by_user(
    state: &AppState,
    door: &crate::door::Door,
    kind: &'static str,
    sub: &str,
    detail: serde_json::Value,
) {
    Record::new(&door.tenant.id, kind, format!("user:{sub}"))
        .ip(door.client_ip)
        .subject(format!("user:{sub}"))
        .detail(detail)
        .save(state)
        .await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| super::new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|i| i.len() == 32));
    }
}
