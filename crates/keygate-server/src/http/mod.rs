//! HTTP plumbing shared by the endpoints and the pages: request bodies,
//! cookies and CORS.

pub(crate) mod body;
pub(crate) mod cookies;
pub(crate) mod cors;
