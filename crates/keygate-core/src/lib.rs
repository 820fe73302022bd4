//! The OAuth 2.0 / OpenID Connect rules of Keygate, as pure functions with no I/O.
//!
//! Every decision the server makes about a request lives here: how a body is
//! decoded ([`params`]), whether an authorization request is acceptable and
//! where its errors go ([`authorize`]), how a client proves who it is
//! ([`client_auth`], [`client_assertion`]), what a token request asks for ([`token_request`]), and
//! whether a stored code or refresh token may be exchanged ([`grant`]). The
//! server feeds these functions the stored records and the current time
//! (`now`, seconds since the Unix epoch) and acts on what they return; so the
//! rules are tested exhaustively here, without a database or a socket.
//!
//! ```
//! use keygate_core::pkce::{CodeChallengeMethod, verify};
//! // RFC 7636 appendix B
//! let ok = verify(CodeChallengeMethod::S256,
//!     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
//!     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
//! assert!(ok);
//! ```

pub mod amr;
pub mod authorize;
pub mod basic;
pub mod claims;
pub mod claims_request;
pub mod client_assertion;
pub mod client_auth;
pub mod consent;
pub mod contact;
pub mod device;
pub mod dpop;
pub mod error;
pub mod events;
pub mod federation;
pub mod grant;
pub mod logout;
pub mod model;
pub mod par;
pub mod params;
pub mod pkce;
pub mod redirect;
pub mod resource;
pub mod scope;
pub mod token_exchange;
pub mod token_request;
pub mod validate;
pub mod webhooks;

pub use error::{ErrorCode, OAuthError};
