//! End-to-end tests: a real `keygate` process over HTTP on a real database.
//! One binary (each test binary links the whole server). Set
//! `KEYGATE_TEST_DATABASE=postgres` to run everything on PostgreSQL.

// Helpers shared by the modules of this one test binary: `pub` is how they reach each other.
#![allow(missing_docs, unreachable_pub)]

mod harness;

mod account_email;
mod account_page;
mod admin_api;
mod admin_clients;
mod admin_helpers;
mod admin_users;
mod apis;
mod backchannel_logout;
mod browser;
mod claims;
mod cli_admin;
mod client_auth_jwt;
mod codes;
mod consent;
mod console_auth;
mod console_browser;
mod console_pages;
mod console_passkeys;
mod dev_mode;
mod device_flow;
mod dpop;
mod email_verification;
mod error_fixture;
mod events;
mod federation;
mod federation_upstream;
mod form_post;
mod foundation;
mod grant_errors;
mod hardening;
mod idp_admin;
mod interop;
mod issued_tokens;
mod journeys_doors;
mod journeys_flows;
mod journeys_helpers;
mod journeys_refusals;
mod limits;
mod mail;
mod mail_tls;
mod metadata_documents;
mod mfa_policy;
mod mfa_recovery;
mod mfa_totp;
mod multi_node;
mod oidc_client;
mod operations;
mod pages_helpers;
mod par;
mod passkeys;
mod password_reset;
mod real_clients;
mod registration;
mod request_errors;
mod security;
mod sessions;
mod sign_in_pages;
mod tenant_settings;
mod token_exchange;
mod token_helpers;
mod token_services;
mod vendor_requests;
mod webhooks;
