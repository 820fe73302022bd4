//! Scopes: parsing (RFC 6749 3.3), the set Keygate knows, and narrowing.

use crate::error::OAuthError;

/// `openid`: the request is OpenID Connect, so an id_token is issued (Core 3.1.2.1).
pub const OPENID: &str = "openid";
/// `profile`: releases the person's `name` (OpenID Connect Core 5.4).
pub const PROFILE: &str = "profile";
/// `email`: releases `email` and `email_verified` (OpenID Connect Core 5.4).
pub const EMAIL: &str = "email";
/// `address`: releases the `address` claim (OpenID Connect Core 5.4).
pub const ADDRESS: &str = "address";
/// `phone`: releases `phone_number` and `phone_number_verified` (OpenID
/// Connect Core 5.4).
pub const PHONE: &str = "phone";
/// `offline_access`: asks for a refresh token (OpenID Connect Core 11), for clients whose policy
/// requires it.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The scopes a person can grant through /authorize.
pub const USER_SCOPES: [&str; 6] = [OPENID, PROFILE, EMAIL, ADDRESS, PHONE, OFFLINE_ACCESS];

/// The most distinct scope values one request may name (far above what any
/// real client asks for at once).
pub const MAX_SCOPE_VALUES: usize = 100;

/// A set of scope tokens, kept in first-seen order without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a space-delimited scope string; each token must be NQCHAR
    /// (`%x21 / %x23-5B / %x5D-7E`).
    ///
    /// At most [`MAX_SCOPE_VALUES`] distinct values; repeats are found with a
    /// set, so the work is linear in the string's length.
    pub fn parse(s: &str) -> Result<Scope, OAuthError> {
        let mut out: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            if !tok
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(OAuthError::invalid_scope(
                    "a scope contains characters that are not allowed",
                ));
            }
            if seen.insert(tok) {
                if out.len() == MAX_SCOPE_VALUES {
                    return Err(OAuthError::invalid_scope(format!(
                        "the request asks for more than {MAX_SCOPE_VALUES} scopes"
                    )));
                }
                out.push(tok.to_string());
            }
        }
        Ok(Scope(out))
    }

    /// Whether the set holds the scope value `tok`.
    pub fn contains(&self, tok: &str) -> bool {
        self.0.iter().any(|t| t == tok)
    }

    /// Whether the set holds no scope value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every value of this set is in `other` (a narrowing, RFC 6749 6).
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// The scope values, in first-seen order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_scope_values_are_refused_past_the_cap() {
        let n = |n: usize| {
            (0..n)
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            Scope::parse(&n(MAX_SCOPE_VALUES)).unwrap().tokens().count(),
            MAX_SCOPE_VALUES
        );
        let e = Scope::parse(&n(MAX_SCOPE_VALUES + 1)).unwrap_err();
        assert!(
            e.description.contains("more than 100 scopes"),
            "{}",
            e.description
        );
        // Repeats do not count towards the cap.
        let repeated = vec!["openid"; 10_000].join(" ");
        assert_eq!(Scope::parse(&repeated).unwrap().to_string(), "openid");
    }

    #[test]
    fn parse_and_print() {
        let s = Scope::parse("openid  email openid").unwrap();
        assert_eq!(s.to_string(), "openid email");
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn subset() {
        let all = Scope::parse("openid email offline_access").unwrap();
        assert!(Scope::parse("email").unwrap().is_subset_of(&all));
        assert!(!Scope::parse("profile").unwrap().is_subset_of(&all));
    }
}
