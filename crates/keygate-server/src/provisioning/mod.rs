//! Provisioning: the one code path behind both `keygate tenant|client|user
//! create` and the admin API. Every rule about what a tenant, client or user
//! may look like lives here; the two fronts only read their input (flags or
//! JSON) into the same request types and print or answer the result.
//!
//! The checks that need no database (`tenant_from_spec`,
//! `client_from_spec`, `check_new_user`) are separate from the writes, so
//! the CLI can refuse bad arguments before it opens (or creates) a database.

use keygate_core::model::*;
use keygate_core::redirect::{parse_origin, validate_redirect_uri};
use keygate_core::validate;
use keygate_crypto::secrets;
use keygate_store::{Store, StoreError};
use serde::Deserialize;
use utoipa::ToSchema;

mod admin_tokens;
mod apis;
mod client_keys;
mod clients;
mod consents;
pub mod duration;
mod factors;
mod idps;
mod operators;
mod tenants;
mod users;
mod webhooks;

pub use admin_tokens::*;
pub use apis::*;
pub use client_keys::{new_client, sealed_secret};
pub use clients::*;
pub use consents::*;
pub use duration::parse_duration;
pub use factors::*;
pub use idps::*;
pub use operators::*;
pub use tenants::*;
pub use users::*;
pub use webhooks::*;

/// Why a provisioning request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionError {
    /// A value is not acceptable; `field` is its name in the admin API.
    Invalid {
        /// The refused field's name in the admin API; `None` when no one field is at fault.
        field: Option<&'static str>,
        /// What is wrong with the value.
        message: String,
    },
    /// The tenant, client or user does not exist.
    NotFound(String),
    /// The request contradicts what is stored (a taken id, e-mail or domain).
    Conflict(String),
    /// The store failed (or hashing a password did).
    Store(StoreError),
}

/// Which front reports an error: field names differ (`grant_types` in JSON,
/// `--grant` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The admin API: fields by their JSON names (`grant_types`).
    Api,
    /// The command line: fields by their flags (`--grant`).
    Cli,
}

/// How the CLI names a field, and what separates the name from the message.
fn cli_flag(field: &str) -> (String, &'static str) {
    match field {
        "id" => ("tenant id".into(), " "),
        "password" => ("the password".into(), " "),
        "grant_types" => ("--grant".into(), ": "),
        "redirect_uris" => ("--redirect-uri".into(), ": "),
        "post_logout_redirect_uris" => ("--post-logout-redirect-uri".into(), ": "),
        "web_origins" => ("--web-origin".into(), ": "),
        "exchange_audiences" => ("--exchange-audience".into(), ": "),
        "domains" => ("--domain".into(), ": "),
        "jwks" => ("--jwks-file".into(), ": "),
        "scopes" => ("--scope".into(), ": "),
        "claims" => ("--claim".into(), ": "),
        "events" => ("--event".into(), ": "),
        "client_secret" => ("--client-secret-stdin".into(), ": "),
        other => (format!("--{}", other.replace('_', "-")), ": "),
    }
}

impl ProvisionError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ProvisionError::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    /// The message for people, naming the field as this front spells it.
    pub fn describe(&self, front: Front) -> String {
        match self {
            ProvisionError::Invalid {
                field: Some(f),
                message,
            } => match front {
                Front::Api => format!("{f}: {message}"),
                Front::Cli => {
                    let (flag, sep) = cli_flag(f);
                    format!("{flag}{sep}{message}")
                }
            },
            ProvisionError::Invalid {
                field: None,
                message,
            }
            | ProvisionError::NotFound(message)
            | ProvisionError::Conflict(message) => message.clone(),
            ProvisionError::Store(e) => e.to_string(),
        }
    }
}

impl From<StoreError> for ProvisionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ProvisionError::Conflict(m),
            StoreError::NotFound => ProvisionError::NotFound("not found".into()),
            e @ StoreError::Backend(_) => ProvisionError::Store(e),
        }
    }
}

/// A provisioning outcome: the value, or why it was refused.
pub type Result<T> = std::result::Result<T, ProvisionError>;

fn no_tenant(id: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("tenant '{id}' does not exist"))
}

/// The stored tenant, or `NotFound`.
pub async fn existing_tenant(store: &dyn Store, id: &str) -> Result<Tenant> {
    if !validate::is_tenant_id(id) {
        return Err(no_tenant(id));
    }
    store.get_tenant(id).await?.ok_or_else(|| no_tenant(id))
}

fn origins(raw: &[String], field: &'static str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for o in raw {
        let o = parse_origin(o).map_err(|e| ProvisionError::invalid(field, e))?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

fn name(raw: &str, field: &'static str) -> Result<String> {
    validate::normalize_name(raw).ok_or_else(|| {
        ProvisionError::invalid(
            field,
            "must be 1 to 200 characters, without control characters",
        )
    })
}

/// A field that may be sent as `null` to clear it: absent is `None`,
/// `null` is `Some(None)`.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The most token-endpoint requests per second a setting may name.
const MAX_TOKEN_RATE_LIMIT: i64 = 1_000_000;

fn token_rate_limit(v: Option<i64>) -> Result<Option<i64>> {
    match v {
        Some(n) if !(0..=MAX_TOKEN_RATE_LIMIT).contains(&n) => Err(ProvisionError::invalid(
            "token_rate_limit",
            format!("{n} is not a rate: use 0 (off) to {MAX_TOKEN_RATE_LIMIT} requests per second"),
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(spec: NewClient) -> Result<Client> {
        client_from_spec("acme", &spec, 1).map(|(c, _)| c)
    }

    #[test]
    fn client_defaults_and_rules() {
        let (c, secret) = client_from_spec(
            "acme",
            &NewClient {
                name: " Web ".into(),
                redirect_uris: vec!["https://a.test/cb".into(), "https://a.test/cb".into()],
                ..Default::default()
            },
            7,
        )
        .unwrap();
        assert_eq!(c.name, "Web");
        assert_eq!(c.redirect_uris, vec!["https://a.test/cb"]);
        assert_eq!(c.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(
            c.secret_hash.as_deref(),
            Some(secrets::sha256_hex(&secret.unwrap()).as_str())
        );
        let e = client(NewClient {
            name: "A".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.describe(Front::Cli),
            "--redirect-uri: at least one redirect URI is needed for the authorization_code grant"
        );
        let e = client(NewClient {
            name: "A".into(),
            redirect_uris: vec!["https://a.test/cb".into()],
            grant_types: vec!["password".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e
            .describe(Front::Api)
            .starts_with("grant_types: unknown grant"));
        assert!(e.describe(Front::Cli).starts_with("--grant: unknown grant"));
        let ok = client(NewClient {
            name: "A".into(),
            redirect_uris: vec!["https://a.test/cb".into()],
            id_token_ttl: Some(Ttl::Seconds(90)),
            access_token_ttl: Some(Ttl::Text("15m".into())),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((ok.id_token_ttl, ok.access_token_ttl), (90, 900));
        for bad in [Ttl::Seconds(0), Ttl::Seconds(-5), Ttl::Text("10x".into())] {
            assert!(client(NewClient {
                name: "A".into(),
                redirect_uris: vec!["https://a.test/cb".into()],
                id_token_ttl: Some(bad.clone()),
                ..Default::default()
            })
            .is_err());
        }
    }

    /// RFC 8693: only confidential clients get the token-exchange grant;
    /// exchange audiences are absolute URIs without a fragment, kept once.
    #[test]
    fn exchange_audiences_and_the_grant() {
        let grant = "urn:ietf:params:oauth:grant-type:token-exchange".to_string();
        let ok = client(NewClient {
            name: "Svc".into(),
            grant_types: vec![format!("client_credentials,{grant}")],
            exchange_audiences: vec![
                "https://orders.example.com".into(),
                "urn:example:legacy".into(),
                "https://orders.example.com".into(),
            ],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            ok.grant_types,
            vec![GrantType::ClientCredentials, GrantType::TokenExchange]
        );
        assert_eq!(
            ok.exchange_audiences,
            vec!["https://orders.example.com", "urn:example:legacy"]
        );
        let public = client(NewClient {
            name: "Spa".into(),
            public: true,
            grant_types: vec![grant.clone()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(public
            .describe(Front::Cli)
            .starts_with("--grant: public clients cannot use token exchange"));
        for bad in ["orders", "/orders", "https://a.example.com/#x", ""] {
            let e = client(NewClient {
                name: "Svc".into(),
                grant_types: vec![grant.clone()],
                exchange_audiences: vec![bad.into()],
                ..Default::default()
            })
            .unwrap_err();
            assert!(
                e.describe(Front::Cli).starts_with("--exchange-audience: "),
                "{bad}: {}",
                e.describe(Front::Cli)
            );
            assert!(e.describe(Front::Api).starts_with("exchange_audiences: "));
        }
        let many: Vec<String> = (0..51)
            .map(|i| format!("https://a{i}.example.com"))
            .collect();
        assert!(client(NewClient {
            name: "Svc".into(),
            grant_types: vec![grant.clone()],
            exchange_audiences: many,
            ..Default::default()
        })
        .is_err());
        // A patch replaces the list, by the same rules.
        let p = apply_client_patch(
            &ok,
            &ClientPatch {
                exchange_audiences: Some(vec!["https://b.example.com".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.exchange_audiences, vec!["https://b.example.com"]);
        assert!(apply_client_patch(
            &ok,
            &ClientPatch {
                exchange_audiences: Some(vec!["nope".into()]),
                ..Default::default()
            },
        )
        .is_err());
    }

    #[test]
    fn patch_keeps_identity_and_applies_the_same_rules() {
        let (c, _) = client_from_spec(
            "acme",
            &NewClient {
                name: "Web".into(),
                redirect_uris: vec!["https://a.test/cb".into()],
                ..Default::default()
            },
            7,
        )
        .unwrap();
        let p = apply_client_patch(
            &c,
            &ClientPatch {
                redirect_uris: Some(vec!["https://a.test/cb".into(), "https://b.test/cb".into()]),
                journeys_api: Some(true),
                web_origins: Some(vec!["https://b.test".into()]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (&p.id, &p.secret_hash, p.created_at),
            (&c.id, &c.secret_hash, c.created_at)
        );
        assert_eq!(p.redirect_uris.len(), 2);
        assert!(p.journeys_api);
        assert_eq!(p.web_origins, vec!["https://b.test"]);
        // An empty patch changes nothing.
        assert_eq!(apply_client_patch(&c, &ClientPatch::default()).unwrap(), c);
        assert!(apply_client_patch(
            &c,
            &ClientPatch {
                redirect_uris: Some(vec!["https://a.test/cb#x".into()]),
                ..Default::default()
            }
        )
        .is_err());
        assert!(apply_client_patch(
            &c,
            &ClientPatch {
                redirect_uris: Some(vec![]),
                ..Default::default()
            }
        )
        .is_err());
    }

    #[test]
    fn tenants_and_users() {
        let t = tenant_from_spec(
            &NewTenant {
                id: "acme".into(),
                domains: vec!["https://LOGIN.acme.test".into()],
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!(t.display_name, "acme");
        assert_eq!(t.domains, vec!["https://login.acme.test"]);
        let e = tenant_from_spec(
            &NewTenant {
                id: "Bad_Id".into(),
                ..Default::default()
            },
            1,
        )
        .unwrap_err();
        assert_eq!(
            e.describe(Front::Cli),
            "tenant id 'Bad_Id' must match [a-z0-9-]{1,63}"
        );
        let u = check_new_user(&NewUser {
            email: " Ann@Example.com".into(),
            password: "long enough".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(u.email, "ann@example.com");
        assert!(check_new_user(&NewUser {
            email: "ann@example.com".into(),
            password: "short".into(),
            ..Default::default()
        })
        .unwrap_err()
        .describe(Front::Cli)
        .contains("at least 8"));
    }

    #[test]
    fn contact_details_of_new_users() {
        let base = || NewUser {
            email: "ann@example.com".into(),
            password: "long enough".into(),
            ..Default::default()
        };
        let u = check_new_user(&NewUser {
            phone_number: Some(" +4915112345678 ".into()),
            phone_number_verified: true,
            address: Some(AddressFields {
                locality: Some(" Berlin ".into()),
                region: Some("".into()),
                ..AddressFields::default()
            }),
            ..base()
        })
        .unwrap();
        assert_eq!(u.phone_number.as_deref(), Some("+4915112345678"));
        let a = u.address.unwrap();
        assert_eq!((a.locality.as_deref(), a.region), (Some("Berlin"), None));
        let blank = check_new_user(&NewUser {
            address: Some(AddressFields::default()),
            ..base()
        })
        .unwrap();
        assert_eq!(blank.address, None);
        let e = check_new_user(&NewUser {
            phone_number: Some("0151 1234567".into()),
            ..base()
        })
        .unwrap_err();
        assert!(
            e.describe(Front::Cli).starts_with("--phone-number: "),
            "{e:?}"
        );
        let e = check_new_user(&NewUser {
            phone_number_verified: true,
            ..base()
        })
        .unwrap_err();
        assert!(e
            .describe(Front::Api)
            .starts_with("phone_number_verified: "));
        let e = check_new_user(&NewUser {
            address: Some(AddressFields {
                country: Some("a\u{7}b".into()),
                ..AddressFields::default()
            }),
            ..base()
        })
        .unwrap_err();
        assert_eq!(
            e.describe(Front::Api),
            "address: address.country must not contain control characters"
        );
    }

    #[test]
    fn a_patch_clears_with_null() {
        let p: UserPatch =
            serde_json::from_str(r#"{"phone_number":null,"address":{"locality":"x"}}"#).unwrap();
        assert_eq!(p.phone_number, Some(None));
        assert!(matches!(p.address, Some(Some(_))));
        let p: UserPatch = serde_json::from_str(r#"{"address":null}"#).unwrap();
        assert_eq!((p.phone_number, p.address), (None, Some(None)));
        assert!(serde_json::from_str::<UserPatch>(r#"{"address":{"city":"x"}}"#).is_err());
    }
}
