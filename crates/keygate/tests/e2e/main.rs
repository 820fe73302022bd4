//! End-to-end tests: a real `keygate` process over HTTP on a real database.
//! One binary (each test binary links the whole server). Set
//! `KEYGATE_TEST_DATABASE=postgres` to run everything on PostgreSQL.

mod harness;

mod admin;
mod browser;
mod cli_admin;
mod dev_mode;
mod foundation;
mod hardening;
mod hosted_pages;
mod interop;
mod journeys;
mod limits;
mod multi_node;
mod oidc_client;
mod operations;
mod security;
mod token_endpoint;
mod token_errors;
