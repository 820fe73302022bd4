//! Sign-in through upstream identity providers (docs/federation.md): the
//! round trip to an upstream and back, as an OpenID Connect (or plain
//! OAuth 2.0) client of it.
//!
//! - [`upstream`] talks to the upstream: discovery and keys (cached), the
//!   authorization URL, the code redeemed, the id_token verified (all by
//!   the `openidconnect` crate) or, for `oauth2` upstreams, the userinfo
//!   URL read and mapped.
//! - [`trip`] keeps a round trip: its record in the store under the
//!   SHA-256 of its `state`, the cookie that binds it to the browser, and
//!   the PKCE verifier and nonce derived from the state under a key of the
//!   master key (so the store holds nothing that finishes a trip).
//!
//! The pages that start a trip, receive its callback and confirm a link
//! are in `pages::federation`; the account page's list is in
//! `pages::account::identities`.

pub(crate) mod trip;
pub(crate) mod upstream;

use crate::fetch::Fetcher;
use keygate_crypto::sealing::MasterKey;
use keygate_crypto::secrets::KeyedHash;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A node's federation state: the HTTP client for upstreams, the key the
/// trips' secrets are derived under, and the discovered upstreams.
pub(crate) struct Federation {
    /// The operator's upstreams may be on a private network (a company's
    /// own provider), so private addresses are allowed; the URLs were set
    /// by an administrator, never by a client (docs/federation.md).
    fetcher: OnceLock<Fetcher>,
    pub(crate) trip_key: KeyedHash,
    /// Discovered `oidc` upstreams, by tenant, id and issuer.
    pub(crate) discovered: Mutex<HashMap<String, Arc<upstream::Discovered>>>,
}

impl Federation {
    pub(crate) fn new(master: &MasterKey) -> Federation {
        Federation {
            fetcher: OnceLock::new(),
            trip_key: master.keyed_hash("keygate federation trip"),
            discovered: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn fetcher(&self) -> &Fetcher {
        self.fetcher.get_or_init(|| Fetcher::new(true))
    }
}
