//! Upstream identity providers (docs/federation.md): the records of a
//! tenant's upstreams and of the identities they vouch for, and the rules
//! that need no I/O: what may be configured, how an upstream's answer
//! becomes a profile, and what a sign-in through an upstream does.
//!
//! An identity is the upstream's (`iss`, `sub`) pair, which OpenID Connect
//! Core 2 says is the only stable identifier of a person there; the e-mail
//! address is not (people change it, and an upstream may let anyone claim
//! any address). So the pair maps to one Keygate user forever, and an
//! e-mail match with a local account only ever *offers* a link that the
//! person must confirm by signing in with that account.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How Keygate talks to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    /// OpenID Connect: endpoints and keys by discovery from the issuer,
    /// the person from the verified id_token.
    Oidc,
    /// Plain OAuth 2.0 (GitHub-shaped): configured endpoints, the person
    /// from a userinfo URL read with the access token, by a claim mapping.
    Oauth2,
}

impl IdpKind {
    /// The name used in the CLI, the admin API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            IdpKind::Oidc => "oidc",
            IdpKind::Oauth2 => "oauth2",
        }
    }

    /// The kind named `s`, if any.
    pub fn parse(s: &str) -> Option<IdpKind> {
        match s {
            "oidc" => Some(IdpKind::Oidc),
            "oauth2" => Some(IdpKind::Oauth2),
            _ => None,
        }
    }
}

/// Where each part of a person's profile is in the upstream's claims (the
/// id_token's, or the userinfo answer's): a member name, or a dotted path
/// into nested objects (`user.id`). Numbers are read as their decimal
/// text, so GitHub's numeric `id` serves as a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMap {
    /// The upstream's stable identifier of the person.
    pub sub: String,
    /// The e-mail address.
    pub email: String,
    /// Whether the upstream verified the address; with no such claim (or
    /// an empty path) the address counts as not verified.
    pub email_verified: String,
    /// The person's name.
    pub name: String,
}

impl Default for ClaimMap {
    fn default() -> ClaimMap {
        ClaimMap {
            sub: "sub".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
        }
    }
}

impl ClaimMap {
    /// Sets the part named `key` (`sub`, `email`, `email_verified`, `name`)
    /// to `path`; an error names what is wrong.
    pub fn set(&mut self, key: &str, path: &str) -> Result<(), String> {
        // Only `email_verified` may be empty: "the upstream never says".
        let empty_ok = key == "email_verified" && path.is_empty();
        if path.len() > 200 || (!empty_ok && path.split('.').any(str::is_empty)) {
            return Err(format!(
                "the claim path '{path}' is not a dotted member path"
            ));
        }
        match key {
            "sub" => self.sub = path.into(),
            "email" => self.email = path.into(),
            "email_verified" => self.email_verified = path.into(),
            "name" => self.name = path.into(),
            _ => {
                return Err(format!(
                    "unknown claim '{key}': expected sub, email, email_verified or name"
                ))
            }
        }
        Ok(())
    }
}

/// A tenant's upstream identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdp {
    /// The tenant whose sign-in page offers it.
    pub tenant_id: String,
    /// Random, never changed; named by `idp_hint` and the callback URL.
    pub id: String,
    /// Shown on the button and named by `connection`; unique in the tenant.
    pub name: String,
    /// How Keygate talks to it.
    pub kind: IdpKind,
    /// The upstream's issuer: discovery starts here (`oidc`), and it is the
    /// first half of every identity it vouches for (both kinds).
    pub issuer: String,
    /// Keygate's client ID at the upstream.
    pub client_id: String,
    /// Keygate's client secret there, sealed under the master key
    /// (label [`SECRET_LABEL`]); `None` for a public client (PKCE only).
    pub client_secret_sealed: Option<String>,
    /// The scopes asked for (`openid email profile` by default for `oidc`).
    pub scopes: Vec<String>,
    /// The authorization endpoint (`oauth2`; `oidc` discovers it).
    pub authorize_url: Option<String>,
    /// The token endpoint (`oauth2`; `oidc` discovers it).
    pub token_url: Option<String>,
    /// Where the person is read with the access token (`oauth2`).
    pub userinfo_url: Option<String>,
    /// Where the profile is in the upstream's claims.
    pub claims: ClaimMap,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
}

/// The label the client secret is sealed under (binds the ciphertext to
/// its use, so a sealed signing key cannot be passed off as one).
pub const SECRET_LABEL: &str = "upstream-idp-client-secret";

/// An upstream identity linked to a Keygate user: the upstream's `iss`
/// and `sub` name it, for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentity {
    /// The tenant of the user.
    pub tenant_id: String,
    /// The upstream's issuer.
    pub issuer: String,
    /// The person's subject at the upstream.
    pub subject: String,
    /// The Keygate user it signs in as.
    pub user_sub: String,
    /// The upstream it was first seen through (kept when that is deleted,
    /// as the identity stays the person's).
    pub idp_id: String,
    /// The upstream's name then, for the account page.
    pub idp_name: String,
    /// The address the upstream gave, for the account page.
    pub email: Option<String>,
    /// When it was linked.
    pub created_at: i64,
    /// The last sign-in with it.
    pub last_used_at: i64,
}

/// A short-lived record of a round trip in progress, stored under the
/// SHA-256 of a random value the browser holds (the `state` sent to the
/// upstream, or the token of a link waiting for a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationState {
    /// The tenant it belongs to; another tenant's is never accepted.
    pub tenant_id: String,
    /// What it is for.
    pub purpose: StatePurpose,
    /// Its data, as JSON ([`Trip`] or [`PendingLink`]).
    pub payload: String,
    /// When it stops working.
    pub expires_at: i64,
}

/// What a [`FederationState`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatePurpose {
    /// A round trip to an upstream, waiting for its callback.
    Trip,
    /// An upstream identity whose e-mail is a local account's, waiting for
    /// that account's password to be linked.
    Link,
}

impl StatePurpose {
    /// The name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            StatePurpose::Trip => "trip",
            StatePurpose::Link => "link",
        }
    }

    /// The purpose named `s`.
    pub fn parse(s: &str) -> Option<StatePurpose> {
        match s {
            "trip" => Some(StatePurpose::Trip),
            "link" => Some(StatePurpose::Link),
            _ => None,
        }
    }
}

/// How long a round trip to an upstream may take: the person may have to
/// sign in there, with a second factor.
pub const TRIP_TTL: i64 = 15 * 60;

/// How long a link may wait for the local account's password.
pub const LINK_TTL: i64 = 15 * 60;

/// A round trip in progress: what the callback needs besides the
/// upstream's answer. The PKCE verifier and the nonce are not in it: they
/// are derived from the `state` under a key of the master key, so the
/// store holds nothing that would let a reader finish the trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    /// The upstream.
    pub idp_id: String,
    /// The authorization request to continue (urlencoded), when the trip
    /// signs in to an application.
    #[serde(default)]
    pub request: Option<String>,
    /// The user linking an upstream from their account page, when the
    /// trip is for that.
    #[serde(default)]
    pub link_user: Option<String>,
}

/// What an upstream said about the person, mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The upstream's issuer.
    pub issuer: String,
    /// The person's subject there.
    pub subject: String,
    /// Their e-mail address, if given (normalized).
    pub email: Option<String>,
    /// Whether the upstream says it verified the address.
    pub email_verified: bool,
    /// Their name, if given.
    pub name: Option<String>,
}

/// An upstream identity waiting for the local account's password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLink {
    /// The upstream it came through.
    pub idp_id: String,
    /// The upstream's name, for the page.
    pub idp_name: String,
    /// The person as the upstream said.
    pub profile: Profile,
    /// The local account the e-mail matched.
    pub user_sub: String,
    /// The authorization request to continue (urlencoded).
    pub request: Option<String>,
}

/// Why an upstream's claims cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileError {
    /// No subject at the mapped path, or not a string or number.
    NoSubject,
    /// The subject is longer than 255 characters (OpenID Connect Core 2).
    SubjectTooLong,
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileError::NoSubject => f.write_str("the upstream did not say who the person is"),
            ProfileError::SubjectTooLong => f.write_str("the upstream's subject is too long"),
        }
    }
}

/// The value at a dotted `path` in `claims`.
fn at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.').try_fold(claims, |v, part| v.get(part))
}

/// A string or a number at `path`, as text.
fn text_at(claims: &Value, path: &str) -> Option<String> {
    match at(claims, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The profile in an upstream's `claims` by `map`: the subject must be
/// there; an e-mail that is not a valid address is dropped (the person
/// then has no address from the upstream); a name is kept when it passes
/// the same check as a name typed at registration.
pub fn profile(issuer: &str, claims: &Value, map: &ClaimMap) -> Result<Profile, ProfileError> {
    let subject = text_at(claims, &map.sub)
        .filter(|s| !s.is_empty())
        .ok_or(ProfileError::NoSubject)?;
    if subject.chars().count() > 255 {
        return Err(ProfileError::SubjectTooLong);
    }
    let email = text_at(claims, &map.email).and_then(|e| crate::validate::normalize_email(&e));
    let email_verified = email.is_some()
        && match at(claims, &map.email_verified) {
            Some(Value::Bool(b)) => *b,
            // Some providers send it as a string (AWS Cognito did).
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
    let name = text_at(claims, &map.name).and_then(|n| crate::validate::normalize_name(&n));
    Ok(Profile {
        issuer: issuer.to_string(),
        subject,
        email,
        email_verified,
        name,
    })
}

/// What a sign-in through an upstream does, from what the store knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The identity is linked: sign in as this user.
    SignIn(String),
    /// A new person: create the user (just in time) with the identity.
    Create,
    /// The e-mail is a local account's: that account's password first.
    ConfirmLink(String),
    /// No identity and no usable e-mail address: nobody can be created.
    NeedEmail,
}

/// Decides a sign-in through an upstream: `linked` is the user the
/// identity is linked to, `same_email` the local account that has the
/// profile's e-mail, if any. A linked identity always wins (the e-mail
/// may have changed at either end since); a matching address never links
/// by itself, even when the upstream calls it verified.
pub fn decide(linked: Option<&str>, profile: &Profile, same_email: Option<&str>) -> Outcome {
    match (linked, &profile.email, same_email) {
        (Some(user), _, _) => Outcome::SignIn(user.to_string()),
        (None, None, _) => Outcome::NeedEmail,
        (None, Some(_), Some(user)) => Outcome::ConfirmLink(user.to_string()),
        (None, Some(_), None) => Outcome::Create,
    }
}

/// Whether an upstream's name is acceptable: 1-64 characters, no control
/// characters (it is shown on a button and sent as `connection`).
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(char::is_control) || name.trim() != name {
        return Err("the name must be 1-64 characters, without control characters or outer spaces");
    }
    Ok(())
}

/// Whether a URL the operator gives for an upstream is acceptable: https,
/// or http on a loopback host (development and tests), without
/// credentials or a fragment.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let Ok(u) = url::Url::parse(url) else {
        return Err("not an absolute URL");
    };
    if !u.username().is_empty() || u.password().is_some() || u.fragment().is_some() {
        return Err("the URL may not carry credentials or a fragment");
    }
    match (u.scheme(), u.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => Ok(()),
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(()),
        _ => Err("the URL must be https (or http on a loopback host)"),
    }
}

/// Whether a scope value is acceptable (RFC 6749 3.3 `scope-token`).
pub fn check_scope(scope: &str) -> Result<(), &'static str> {
    if scope.is_empty()
        || scope.len() > 200
        || !scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    {
        return Err("a scope is 1-200 printable characters without spaces, quotes or backslashes");
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// The path, under an issuer, where an upstream sends the person back.
pub fn callback_path(idp_id: &str) -> String {
    format!("/federation/{idp_id}/callback")
}

/// Every callback URL of an upstream, one per front door the tenant is
/// reached through (each must be registered at the upstream for sign-ins
/// that start at that door): the tenant's own domains, then the root of
/// `public_url` for `default`, then the path door `{public_url}/{tenant}/as`.
/// The first is the one to register when only one door is used.
pub fn callback_uris(
    public_url: &str,
    tenant_id: &str,
    domains: &[String],
    idp_id: &str,
) -> Vec<String> {
    let base = public_url.trim_end_matches('/');
    let path = callback_path(idp_id);
    let mut uris: Vec<String> = domains
        .iter()
        .map(|d| format!("{}{path}", d.trim_end_matches('/')))
        .collect();
    if tenant_id == "default" {
        uris.push(format!("{base}{path}"));
    }
    uris.push(format!("{base}/{tenant_id}/as{path}"));
    uris
}
