//! The protocol endpoints under each issuer: the token endpoint (one file
//! per grant), userinfo, revocation, introspection, discovery and JWKS, and
//! the Journeys API for applications with their own sign-in screens, and
//! the device authorization endpoint (RFC 8628).

pub(crate) mod device_authorization;
pub(crate) mod discovery;
pub(crate) mod introspect;
pub(crate) mod journeys;
pub(crate) mod journeys_mfa;
pub(crate) mod par;
pub(crate) mod registration;
pub(crate) mod revoke;
pub(crate) mod token;
pub(crate) mod userinfo;
