//! The outbox: messages (e-mail) queued in the store and delivered later by
//! any node that has a way to send them.
//!
//! A sender claims a batch of due messages with a lease: one statement marks
//! them as its own (`claim`) until `claimed_until`, so two nodes never send
//! the same message at once (on PostgreSQL the claim skips rows another
//! node is claiming, `FOR UPDATE SKIP LOCKED`; on SQLite the one writer
//! thread runs claims one after the other). A sender that dies mid-batch
//! leaves its messages to be claimed again once the lease has passed, so a
//! crash loses none. After each attempt the sender marks the message sent
//! or failed (with the time of its next attempt); sent messages are deleted
//! by the sweeper a day later ([`OutboxStore::sweep_outbox`]).

use crate::Result;
use async_trait::async_trait;

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Unique (the caller draws it).
    pub id: String,
    /// The tenant the message is sent for (its name is in the message).
    pub tenant_id: String,
    /// The recipient's e-mail address.
    pub recipient: String,
    /// The Subject header.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
    /// When it was queued (seconds since the epoch); it is due at once.
    pub created_at: i64,
}

/// A claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The id it was queued with.
    pub id: String,
    /// The tenant the message is sent for.
    pub tenant_id: String,
    /// The recipient's e-mail address.
    pub recipient: String,
    /// The Subject header.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
    /// When it was queued (seconds since the epoch).
    pub created_at: i64,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How long a sent message is kept before the sweeper deletes it.
pub(crate) const KEEP_SENT: i64 = 86_400;

/// The queue of outgoing messages, shared by every node.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues a message, due at once.
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<()>;
    /// Claims up to `limit` due messages (unsent, their next attempt due, no
    /// live lease) for `lease` seconds under the caller's random `claim`,
    /// counting an attempt of each, and returns them.
    async fn claim_mail(&self, claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Mail>>;
    /// The message was accepted by the mail server.
    async fn mail_sent(&self, id: &str, now: i64) -> Result<()>;
    /// The attempt failed: the message is due again at `next_attempt_at`.
    async fn mail_failed(&self, id: &str, next_attempt_at: i64) -> Result<()>;
    /// Deletes up to `batch` messages sent more than [`KEEP_SENT`] seconds
    /// before `now`, and up to `batch` expired password-reset and e-mail
    /// links; what was deleted per table.
    async fn sweep_outbox(&self, now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>>;
}
