//! Validation of the identifiers people type: tenant ids, e-mail addresses,
//! passwords, display names.

/// Tenant ids are `[a-z0-9-]{1,63}` (docs/cli.md), so they can stand in a
/// path segment and a DNS label unchanged.
pub fn is_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The longest client id Keygate looks up.
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// Whether `id` can be a client id at all: 1 to 255 characters of RFC
/// 6749's VSCHAR (printable ASCII). Anything else is refused before any
/// store access, cache entry or rate-limit row, so hostile ids cost nothing
/// but their own parsing.
pub fn is_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Minimum length of a person's password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Upper bound so that hashing cost stays bounded for hostile input.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_LEN`] characters.
    TooShort,
    /// More than [`MAX_PASSWORD_LEN`] bytes.
    TooLong,
}

/// Checks a new password's length: at least [`MIN_PASSWORD_LEN`] characters, at most
/// [`MAX_PASSWORD_LEN`] bytes.
pub fn check_password(password: &str) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        Err(PasswordProblem::TooShort)
    } else if password.len() > MAX_PASSWORD_LEN {
        Err(PasswordProblem::TooLong)
    } else {
        Ok(())
    }
}

/// Normalizes an e-mail address (trimmed, lower-cased) and checks its shape:
/// one `@`, a local part of 1 to 64 printable characters, a domain of
/// dot-separated labels of letters, digits and hyphens with at least one dot.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty()
        || local.len() > 64
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return None;
    }
    if !local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
    {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    for label in &labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return None;
        }
    }
    Some(email)
}

/// A display name: trimmed, at most 200 characters, no control characters.
pub fn normalize_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        None
    } else {
        Some(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        assert!(is_client_id("kg_0123abcd"));
        assert!(is_client_id(&"a".repeat(MAX_CLIENT_ID_LEN)));
        assert!(!is_client_id(&"a".repeat(MAX_CLIENT_ID_LEN + 1)));
        assert!(!is_client_id(""));
        assert!(!is_client_id("caf\u{e9}"));
        assert!(!is_client_id("a\nb"));
    }

    #[test]
    fn tenant_ids() {
        for ok in ["default", "a", "acme-1", &"a".repeat(63)] {
            assert!(is_tenant_id(ok), "{ok}");
        }
        for bad in ["", "Acme", "a_b", "a/b", "é", &"a".repeat(64), "a b"] {
            assert!(!is_tenant_id(bad), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        assert!(normalize_email("a.b+tag@sub.example.org").is_some());
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "an n@example.com",
            "ann@exa_mple.com",
            ".ann@example.com",
            "ann@-x.com",
            "a..b@x.com",
        ] {
            assert!(normalize_email(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(check_password("short"), Err(PasswordProblem::TooShort));
        assert_eq!(check_password("1234567"), Err(PasswordProblem::TooShort));
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(2000)),
            Err(PasswordProblem::TooLong)
        );
    }
}
