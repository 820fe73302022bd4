//! How a person proved who they are: the authentication methods of a
//! sign-in, as the id_token's `amr` (RFC 8176) and `acr` claims report them,
//! and what an authorization request's `acr_values` demands.
//!
//! A sign-in is multi-factor when it combined a password with a second
//! factor (a code or a passkey), or used a passkey with user verification
//! on its own (the authenticator's PIN or biometric is the second factor);
//! its `amr` then also holds `mfa`.

/// One method used in a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The account's password (`pwd`).
    Password,
    /// A code from an authenticator app (`otp`).
    Otp,
    /// A single-use recovery code; it is a one-time password too (`otp`).
    RecoveryCode,
    /// A passkey (WebAuthn) with user verification: `swk` when the
    /// credential may be synced between devices (backup eligible), else
    /// `hwk` (bound to one authenticator).
    Passkey {
        /// Whether the credential is backup eligible (a synced passkey).
        synced: bool,
    },
    /// An upstream identity provider (`fed`).
    Federated,
}

impl Method {
    /// The RFC 8176 value of this method.
    pub fn amr(self) -> &'static str {
        match self {
            Method::Password => "pwd",
            Method::Otp | Method::RecoveryCode => "otp",
            Method::Passkey { synced: true } => "swk",
            Method::Passkey { synced: false } => "hwk",
            Method::Federated => "fed",
        }
    }

    /// The method an RFC 8176 value stands for (`mfa` and unknown values
    /// stand for none), so a stored `amr` can be extended by a step-up.
    pub fn from_amr(value: &str) -> Option<Method> {
        Some(match value {
            "pwd" => Method::Password,
            "otp" => Method::Otp,
            "swk" => Method::Passkey { synced: true },
            "hwk" => Method::Passkey { synced: false },
            "fed" => Method::Federated,
            _ => return None,
        })
    }

    /// Whether this method is a second factor (possession of a device).
    fn is_possession(self) -> bool {
        matches!(
            self,
            Method::Otp | Method::RecoveryCode | Method::Passkey { .. }
        )
    }
}

/// The value of `amr` that marks a multi-factor sign-in.
pub const MFA: &str = "mfa";

/// The `acr` values that demand a second factor: Auth0's multi-factor
/// policy URI and the short `mfa`. Discovery lists them as
/// `acr_values_supported`.
pub const MFA_ACR_VALUES: [&str; 2] = [
    "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
    "mfa",
];

/// The `amr` values of a sign-in that used `methods`, each once, in the
/// order first used, with `mfa` last when the sign-in was multi-factor.
pub fn amr(methods: &[Method]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for m in methods {
        if !out.iter().any(|v| v == m.amr()) {
            out.push(m.amr().to_string());
        }
    }
    if is_multi_factor(methods) {
        out.push(MFA.to_string());
    }
    out
}

/// Whether `methods` make a multi-factor sign-in: a password (or an
/// upstream sign-in) with a possession factor, or a passkey (which is
/// always used with user verification here).
pub fn is_multi_factor(methods: &[Method]) -> bool {
    let knowledge = methods
        .iter()
        .any(|m| matches!(m, Method::Password | Method::Federated));
    let possession = methods.iter().any(|m| m.is_possession());
    let passkey = methods.iter().any(|m| matches!(m, Method::Passkey { .. }));
    passkey || (knowledge && possession)
}

/// The methods of a stored `amr` list (see [`Method::from_amr`]).
pub fn methods(amr: &[String]) -> Vec<Method> {
    amr.iter().filter_map(|v| Method::from_amr(v)).collect()
}

/// Whether a stored `amr` list records a multi-factor sign-in.
pub fn amr_is_multi_factor(amr: &[String]) -> bool {
    amr.iter().any(|v| v == MFA)
}

/// The value of a request's `acr_values` (space-separated, in order of
/// preference) that demands a second factor, if any.
pub fn demanded_mfa(acr_values: Option<&str>) -> Option<&'static str> {
    let values = acr_values?;
    values
        .split(' ')
        .find_map(|v| MFA_ACR_VALUES.iter().find(|known| **known == v).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_lists_each_method_once_and_marks_mfa() {
        assert_eq!(amr(&[Method::Password]), vec!["pwd"]);
        assert_eq!(
            amr(&[Method::Password, Method::Otp]),
            vec!["pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr(&[Method::Password, Method::RecoveryCode, Method::Otp]),
            vec!["pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr(&[Method::Passkey { synced: false }]),
            vec!["hwk", "mfa"]
        );
        assert_eq!(
            amr(&[Method::Password, Method::Passkey { synced: true }]),
            vec!["pwd", "swk", "mfa"]
        );
        assert_eq!(amr(&[Method::Federated]), vec!["fed"]);
        assert_eq!(
            amr(&[Method::Federated, Method::Otp]),
            vec!["fed", "otp", "mfa"]
        );
        assert!(amr(&[]).is_empty());
        assert!(!is_multi_factor(&[Method::Otp]));
        assert!(amr_is_multi_factor(&amr(&[Method::Password, Method::Otp])));
        assert!(!amr_is_multi_factor(&amr(&[Method::Password])));
        // A stored list read back and extended by a step-up.
        let mut m = methods(&amr(&[Method::Password]));
        m.push(Method::Otp);
        assert_eq!(amr(&m), vec!["pwd", "otp", "mfa"]);
        assert_eq!(
            methods(&["hwk".into(), "mfa".into(), "x".into()]),
            vec![Method::Passkey { synced: false }]
        );
    }

    #[test]
    fn acr_values_demand_mfa_by_either_name() {
        assert_eq!(demanded_mfa(None), None);
        assert_eq!(demanded_mfa(Some("")), None);
        assert_eq!(demanded_mfa(Some("urn:mace:incommon:iap:silver")), None);
        assert_eq!(demanded_mfa(Some("mfa")), Some("mfa"));
        assert_eq!(
            demanded_mfa(Some(
                "silver http://schemas.openid.net/pape/policies/2007/06/multi-factor mfa"
            )),
            Some("http://schemas.openid.net/pape/policies/2007/06/multi-factor")
        );
        assert_eq!(demanded_mfa(Some("MFA")), None);
    }
}
