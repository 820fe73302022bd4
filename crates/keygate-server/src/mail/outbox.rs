//! The sender loop: claims due messages from the store's outbox, delivers
//! them, and marks each sent, or failed with the time of its next attempt
//! (10 s after the first failure, doubling up to an hour; a message is
//! never dropped). Runs on every node that can deliver; several nodes share
//! the work through the claims' leases.

use super::{domain_of, Delivery};
use crate::AppState;
use keygate_store::{Mail, Store};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// Messages claimed at once.
const BATCH: i64 = 10;
/// How long a claim holds its messages: longer than a batch can take
/// (each message at most the SMTP timeout, 20 s), so no other node sends
/// them meanwhile; a node that died releases its claim when it ends.
const LEASE: i64 = 300;
/// How often the outbox is looked at without a wake-up (messages queued by
/// other nodes, retries coming due).
const POLL: Duration = Duration::from_secs(5);
/// The delay after the first failed attempt, doubling with each further
/// one up to [`MAX_RETRY`].
const FIRST_RETRY: i64 = 10;
const MAX_RETRY: i64 = 3600;

/// The delay before the next attempt, after `attempts` failed ones.
pub fn retry_delay(attempts: i64) -> i64 {
    let doublings = (attempts.max(1) - 1).min(20) as u32;
    FIRST_RETRY.saturating_mul(1i64 << doublings).min(MAX_RETRY)
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Console,
}

/// Starts this node's sender loop when it can deliver; returns an error
/// message for a transport that cannot be built.
pub fn spawn(state: &AppState) -> Result<(), String> {
    let transport = match &state.config.mail.delivery {
        Delivery::None => return Ok(()),
        Delivery::Console => Transport::Console,
        Delivery::Smtp(url) => {
            // EHLO with the deployment's own name when it has one.
            let public = url::Url::parse(&state.config.public_url).ok();
            let hello = public.as_ref().and_then(|u| match u.host() {
                Some(url::Host::Domain(d)) => Some(d.to_string()),
                _ => None,
            });
            Transport::Smtp(url.transport(hello.as_deref())?)
        }
    };
    let from: Mailbox = state
        .config
        .mail
        .from
        .parse()
        .map_err(|e| format!("KEYGATE_MAIL_FROM: {e}"))?;
    tokio::spawn(run(
        state.store.clone(),
        transport,
        from,
        state.mailer.wake(),
    ));
    Ok(())
}

async fn run(
    store: Arc<dyn Store>,
    transport: Transport,
    from: Mailbox,
    wake: Arc<tokio::sync::Notify>,
) {
    loop {
        let claim = keygate_crypto::secrets::random_token(16);
        let mut full = false;
        match store.claim_mail(&claim, crate::now(), LEASE, BATCH).await {
            Ok(batch) => {
                full = batch.len() as i64 >= BATCH;
                for mail in batch {
                    deliver(store.as_ref(), &transport, &from, mail).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not claim mail from the outbox"),
        }
        if !full {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

async fn deliver(store: &dyn Store, transport: &Transport, from: &Mailbox, mail: Mail) {
    let domain = domain_of(&mail.recipient).to_string();
    let outcome = match transport {
        Transport::Console => {
            print_message(&mail);
            Ok(())
        }
        Transport::Smtp(smtp) => match message(from, &mail) {
            Ok(m) => smtp.send(m).await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
    };
    let now = crate::now();
    match outcome {
        Ok(()) => {
            metrics::counter!("keygate_mail_sent_total").increment(1);
            tracing::info!(mail_id = %mail.id, tenant = %mail.tenant_id, recipient_domain = %domain, attempts = mail.attempts, "mail sent");
            if let Err(e) = store.mail_sent(&mail.id, now).await {
                // The lease runs out and the message is sent again: twice
                // rather than never.
                tracing::warn!(mail_id = %mail.id, error = %e, "could not mark mail sent");
            }
        }
        Err(error) => {
            let delay = retry_delay(mail.attempts);
            metrics::counter!("keygate_mail_failures_total").increment(1);
            tracing::warn!(mail_id = %mail.id, tenant = %mail.tenant_id, recipient_domain = %domain, attempts = mail.attempts, retry_in_s = delay, %error, "mail not sent; will retry");
            if let Err(e) = store.mail_failed(&mail.id, now + delay).await {
                tracing::warn!(mail_id = %mail.id, error = %e, "could not mark mail failed");
            }
        }
    }
}

/// The MIME message: multipart/alternative, text first, then HTML.
fn message(from: &Mailbox, mail: &Mail) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("the recipient address is not usable: {e}"))?;
    Message::builder()
        .message_id(Some(format!("<{}@{}>", mail.id, from.email.domain())))
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| e.to_string())
}

/// `serve --dev` without SMTP: the text part on standard output, for the
/// developer at the terminal (never in a log line).
fn print_message(mail: &Mail) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n----- e-mail (dev mode: printed, not sent) -----\nTo: {}\nSubject: {}\n\n{}\n------------------------------------------------",
        mail.recipient, mail.subject, mail.text
    );
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_start_at_ten_seconds_and_double_to_an_hour() {
        let delays: Vec<i64> = (1..=11).map(super::retry_delay).collect();
        assert_eq!(
            delays,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(super::retry_delay(0), 10);
        assert_eq!(super::retry_delay(1000), 3600);
    }
}
