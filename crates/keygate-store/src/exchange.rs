//! The exchange of a code or refresh token, the same on both engines: read
//! what it was issued with, let the caller's check decide ([`decide`]), and
//! consume it if approved ([`consume_write`], then [`settle`]).
//!
//! PostgreSQL does the three steps one after the other on its pool (the
//! consume's conditional UPDATE decides races). SQLite does them as one
//! task on the writer thread (`sqlite/exchange.rs`), within the transaction
//! that consumes.

use crate::write::{Outcome, Returned, Write};
use crate::{Approved, Check, Exchange, NewRefresh};

/// What the check decided about what was found.
pub(crate) enum Decided<T> {
    /// Answered without a write.
    Answer(Exchange<T>),
    /// Approved: consume, then [`settle`].
    Consume(T, Approved),
}

/// What `check` makes of what was found: an answer without a write, or a
/// consume.
pub(crate) fn decide<T>(found: Option<T>, check: Check<T>) -> Decided<T> {
    let Some(found) = found else {
        return Decided::Answer(Exchange::NotFound);
    };
    match check(&found) {
        Ok(approved) => Decided::Consume(found, approved),
        Err(refusal) => Decided::Answer(Exchange::Refused(refusal)),
    }
}

/// The consume: `sql` marks the row consumed only if it is still unused,
/// stores the successor's hash and expiry (a trigger inserts it), and
/// returns the consumed row's hash. A grant newly bound to a DPoP key
/// (RFC 9449 5) gets it in the same transaction; should the consume lose
/// (a reuse, or a race), the grant is revoked anyway.
pub(crate) fn consume_write(sql: &'static str, hash: &str, now: i64, approved: &Approved) -> Write {
    let successor: Option<&NewRefresh> = approved.successor.as_ref();
    let write = Write::new()
        .then(
            sql,
            &[
                hash.into(),
                now.into(),
                successor.map(|r| r.hash.as_str()).into(),
                successor.map(|r| r.token.expires_at).into(),
            ],
        )
        .returning();
    match &approved.bind_dpop {
        Some(b) => write.then(
            "UPDATE grants SET dpop_jkt = $1 WHERE id = $2 AND dpop_jkt IS NULL",
            &[b.jkt.as_str().into(), b.grant_id.as_str().into()],
        ),
        None => write,
    }
}

/// The end of an approved exchange, by what its consume did.
pub(crate) fn settle<T>(
    found: T,
    approved: Approved,
    consumed: &Outcome,
    hash: &str,
) -> Exchange<T> {
    match consumed.first_returned(0) {
        Some(Returned::Text(h)) if h == hash => Exchange::Won(found, approved),
        _ => Exchange::Lost(found),
    }
}
