//! Outbound e-mail. Features queue a message in the store's outbox
//! ([`Mailer::queue`]) and return; the sender loop ([`outbox::run`]) on every
//! node that can deliver (SMTP configured, or `serve --dev` printing to the
//! console) claims due messages, sends them and marks them sent, retrying
//! failures with a growing delay. A crash loses nothing: what was queued is
//! in the store, and a claim whose node died is claimed again when its
//! lease ends.
//!
//! Messages and links carry secrets (a reset link signs its holder in, in
//! effect), so logs name a message by its id and its recipient's domain
//! only, never its body, link or full address.

pub mod outbox;
pub mod smtp;
pub mod templates;

use keygate_store::{NewMail, Store};
use std::sync::Arc;
use tokio::sync::Notify;

/// How this node delivers queued messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Through an SMTP server.
    Smtp(smtp::SmtpUrl),
    /// Printed to standard output (`serve --dev` without SMTP).
    Console,
    /// Not at all: messages stay queued for a node that can.
    None,
}

/// The mail settings of a node.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// How this node delivers the messages it takes from the outbox.
    pub delivery: Delivery,
    /// The `From` of every message (`KEYGATE_MAIL_FROM`), already checked.
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            delivery: Delivery::None,
            from: "Keygate <keygate@localhost>".into(),
        }
    }
}

impl MailSettings {
    /// Whether this node delivers mail (the pages say so when it does not).
    pub fn can_send(&self) -> bool {
        self.delivery != Delivery::None
    }
}

/// Checks a `KEYGATE_MAIL_FROM` value (`addr@example.com` or
/// `Name <addr@example.com>`).
pub fn check_from(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    raw.parse::<lettre::message::Mailbox>()
        .map(|_| raw.to_string())
        .map_err(|e| format!("KEYGATE_MAIL_FROM '{raw}' is not an e-mail address: {e}"))
}

/// The domain of an address, for logs.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("?", |(_, d)| d)
}

/// Queues messages and wakes this node's sender.
#[derive(Clone, Default)]
pub struct Mailer {
    wake: Arc<Notify>,
}

impl Mailer {
    /// Queues a message for `recipient` (committed when this returns) and
    /// wakes the sender of this node, if it has one.
    pub async fn queue(
        &self,
        store: &dyn Store,
        tenant_id: &str,
        recipient: &str,
        message: templates::Rendered,
    ) -> Result<String, keygate_store::StoreError> {
        let mail = NewMail {
            id: keygate_crypto::secrets::new_ordered_id(),
            tenant_id: tenant_id.to_string(),
            recipient: recipient.to_string(),
            subject: message.subject,
            text: message.text,
            html: message.html,
            created_at: crate::now(),
        };
        store.enqueue_mail(&mail).await?;
        metrics::counter!("keygate_mail_queued_total").increment(1);
        self.wake.notify_one();
        Ok(mail.id)
    }

    pub(crate) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
