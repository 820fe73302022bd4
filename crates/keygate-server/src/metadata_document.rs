//! Client ID Metadata Documents (what MCP clients use): with the tenant's
//! `client_id_metadata_documents` on, a `client_id` that is an https URL
//! names a JSON document at that URL describing the client (docs/apis.md,
//! "Clients named by a metadata document").
//!
//! The document is fetched by [`crate::fetch`] (public addresses only, no
//! redirects, 5 KB, 5 s), must name itself (`client_id` equal to the URL)
//! and is checked by the rules of `keygate client create`. Such a client is
//! public (`token_endpoint_auth_method` `none`: PKCE binds its codes) and
//! third-party (people allow it on the consent page). Documents are kept
//! per their `Cache-Control` max-age, between 1 minute and 1 day; a
//! refused or failed fetch is remembered for 30 seconds, so that a client
//! cannot make Keygate fetch at will.

use crate::error::ApiError;
use crate::fetch::Fetcher;
use crate::provisioning::{self as provision, NewClient};
use keygate_core::model::{Client, MetadataDocuments, Tenant};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest document read.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// Bounds on how long a fetched document is kept.
const MIN_KEEP: u64 = 60;
const MAX_KEEP: u64 = 86_400;
/// How long a refusal is kept.
const KEEP_REFUSAL: u64 = 30;
/// Most documents kept at once (the oldest expiring go first).
const MAX_ENTRIES: usize = 1_000;

/// Whether `client_id` looks like a metadata document's URL.
pub(crate) fn is_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// A document's fields that Keygate reads; others are ignored.
#[derive(Debug, Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

type Entry = (Instant, Result<Client, String>);

/// Fetched documents, by tenant and URL.
pub(crate) struct Documents {
    /// Made on first use: loading the system's trust store costs a few
    /// megabytes that a server whose tenants use no documents never needs.
    fetcher: std::sync::OnceLock<Fetcher>,
    allow_private: bool,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl Documents {
    /// An empty cache with its fetcher.
    pub(crate) fn new(allow_private: bool) -> Documents {
        Documents {
            fetcher: std::sync::OnceLock::new(),
            allow_private,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &(String, String)) -> Option<Result<Client, String>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, v)| v.clone())
    }

    fn keep(&self, key: (String, String), value: Result<Client, String>, secs: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (until, _)| *until > now);
        }
        if entries.len() >= MAX_ENTRIES {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (until, _))| *until)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (now + Duration::from_secs(secs), value));
    }

    /// The client a document URL names for `tenant`, or `None` (the
    /// tenant does not use documents, or the document is refused; why is
    /// logged).
    pub(crate) async fn client(
        &self,
        tenant: &Tenant,
        client_id: &str,
    ) -> Result<Option<Client>, ApiError> {
        if tenant.client_id_metadata_documents != MetadataDocuments::On {
            return Ok(None);
        }
        let key = (tenant.id.clone(), client_id.to_string());
        if let Some(hit) = self.cached(&key) {
            return Ok(hit.ok());
        }
        let (value, keep) = match self.fetch(tenant, client_id).await {
            Ok((client, max_age)) => (Ok(client), max_age.clamp(MIN_KEEP, MAX_KEEP)),
            Err(why) => {
                tracing::info!(tenant = %tenant.id, client_id, reason = %why, "client metadata document refused");
                (Err(why), KEEP_REFUSAL)
            }
        };
        self.keep(key, value.clone(), keep);
        Ok(value.ok())
    }

    async fn fetch(&self, tenant: &Tenant, client_id: &str) -> Result<(Client, u64), String> {
        let url =
            url::Url::parse(client_id).map_err(|_| "the client_id is not a URL".to_string())?;
        // The document's URL names the client: it must be exactly that URL,
        // with a path, and nothing a client could vary to mean the same.
        if url.as_str() != client_id
            || url.fragment().is_some()
            || url.path() == "/"
            || url.path().split('/').any(|seg| seg == "." || seg == "..")
        {
            return Err("the client_id is not a normalized URL with a path".into());
        }
        let fetched = self
            .fetcher
            .get_or_init(|| Fetcher::new(self.allow_private))
            .get(&url, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let doc: Document = serde_json::from_slice(&fetched.body)
            .map_err(|_| "the document is not a JSON object of client metadata".to_string())?;
        if doc.client_id != client_id {
            return Err("the document's client_id is not its URL".into());
        }
        if doc
            .token_endpoint_auth_method
            .as_deref()
            .is_some_and(|m| m != "none")
        {
            return Err("the document's client must use token_endpoint_auth_method none".into());
        }
        if doc
            .response_types
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t != "code"))
        {
            return Err("the document's response_types must be code".into());
        }
        let spec = NewClient {
            name: doc
                .client_name
                .unwrap_or_else(|| url.host_str().unwrap_or("Application").to_string()),
            redirect_uris: doc.redirect_uris,
            public: true,
            grant_types: doc
                .grant_types
                .unwrap_or_else(|| vec!["authorization_code".into()]),
            post_logout_redirect_uris: doc.post_logout_redirect_uris,
            third_party: true,
            ..NewClient::default()
        };
        let (client, _) = provision::client_from_spec(&tenant.id, &spec, crate::now())
            .map_err(|e| e.describe(provision::Front::Api))?;
        Ok((
            Client {
                id: client_id.to_string(),
                ..client
            },
            fetched.max_age,
        ))
    }
}
