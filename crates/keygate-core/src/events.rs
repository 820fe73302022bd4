//! Audit events (docs/events.md): what happened, to whom, by whom, from
//! where and when. The store keeps them append-only; the console, the
//! admin API's `GET /admin/v1/events` and the webhooks read them.
//!
//! An event never holds a secret: no password, code, token, client secret
//! or recovery code, not even hashed. Its `detail` says what changed in
//! words and identifiers (a client's id, a setting's name), never a value
//! that grants access.

use serde::{Deserialize, Serialize};

/// Every event type, as named in the API, the console and webhook
/// subscriptions. `admin.*` types are changes made by an administrator
/// (the admin API, the console or the CLI); the rest happen to people.
pub const TYPES: &[&str] = &[
    "user.signed_in",
    "user.sign_in_failed",
    "user.mfa_passed",
    "user.mfa_failed",
    "user.factor_added",
    "user.factor_removed",
    "user.password_reset_requested",
    "user.password_reset",
    "user.password_changed",
    "user.registered",
    "user.consent_granted",
    "user.consent_revoked",
    "token.reuse_detected",
    "key.rotated",
    "admin.created",
    "admin.updated",
    "admin.deleted",
    "admin.signed_in",
    "admin.sign_in_failed",
];

/// Whether `t` is an event type.
pub fn is_type(t: &str) -> bool {
    TYPES.contains(&t)
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Ordered by time (its first characters are the time), so that
    /// "newest first" is "by id, descending", and paging is by id.
    pub id: String,
    /// The tenant it happened in; empty for deployment-wide changes (a
    /// tenant created, an admin token made).
    pub tenant_id: String,
    /// When (seconds since the epoch).
    pub at: i64,
    /// One of [`TYPES`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it: `user:SUB`, `client:ID`, `operator:EMAIL`,
    /// `admin-token:ID`, `admin-token:static`, `cli`, or `system`.
    pub actor: String,
    /// The IP address the request came from, when it came over HTTP.
    pub ip: Option<String>,
    /// What it is about: `user:SUB`, `client:ID`, `tenant:ID`, `key:KID`...
    pub subject: Option<String>,
    /// More, as a JSON object (never a secret).
    pub detail: serde_json::Value,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this tenant's (`None`: every tenant's).
    pub tenant_id: Option<String>,
    /// Only these types (empty: all).
    pub types: Vec<String>,
    /// Only this actor's.
    pub actor: Option<String>,
    /// Only about this subject.
    pub subject: Option<String>,
    /// Only at or after this time.
    pub since: Option<i64>,
    /// Only before this time.
    pub until: Option<i64>,
    /// Only older than the event with this id (the page cursor).
    pub before: Option<String>,
}
