//! The conformance suite of the [`Store`](keygate_store::Store) trait: every
//! capability checked against the contract its documentation states
//! (the capability traits in crates/keygate-store/src/), through the public API
//! (`keygate_store::connect`) on a fresh database per test. Tables are read
//! directly only to see what no method shows: rows left behind (a deleted
//! tenant's, a losing exchange's successor) and the applied migrations.
//!
//! It runs on SQLite (a new file in a temporary folder) by default and on
//! PostgreSQL (a new database on 127.0.0.1:5432, dropped at the end) when
//! `KEYGATE_TEST_DATABASE=postgres`, so the one SQL body is held to the same
//! outcomes on both engines, single use of codes and refresh tokens under
//! concurrent exchanges included (RFC 6749 4.1.2 and 10.5: a code is used
//! once; RFC 9700 4.14.2: a rotated refresh token is used once).

#![allow(missing_docs, unreachable_pub)] // helpers of one test binary

#[path = "conformance/harness.rs"]
mod harness;

#[path = "conformance/admin.rs"]
mod admin;
#[path = "conformance/apis.rs"]
mod apis;
#[path = "conformance/consents.rs"]
mod consents;
#[path = "conformance/device.rs"]
mod device;
#[path = "conformance/directory.rs"]
mod directory;
#[path = "conformance/email_links.rs"]
mod email_links;
#[path = "conformance/events.rs"]
mod events;
#[path = "conformance/exchange.rs"]
mod exchange;
#[path = "conformance/factors.rs"]
mod factors;
#[path = "conformance/federation.rs"]
mod federation;
#[path = "conformance/limits.rs"]
mod limits;
#[path = "conformance/logouts.rs"]
mod logouts;
#[path = "conformance/operators.rs"]
mod operators;
#[path = "conformance/outbox.rs"]
mod outbox;
#[path = "conformance/passkeys.rs"]
mod passkeys;
#[path = "conformance/people.rs"]
mod people;
#[path = "conformance/pushed.rs"]
mod pushed;
#[path = "conformance/replay.rs"]
mod replay;
#[path = "conformance/webhooks.rs"]
mod webhooks;

pub use harness::*;
