//! JSON Web Tokens: minting id_tokens and access tokens ([`mint`]) and the
//! tenants' signing keys that sign and verify them ([`keyring`]).

pub mod keyring;
pub(crate) mod mint;
