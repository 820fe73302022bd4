//! The `claims` request parameter (OpenID Connect Core 5.5): which of a
//! person's claims a client asks for by name, and where (the id_token or
//! the userinfo answer), whatever the scope.
//!
//! Keygate releases the standard claims it knows ([`RELEASABLE`]) when
//! named, whether `null`, `{"essential": true}` or with `value`/`values`
//! (it cannot change a claim's value, so a value only marks the request);
//! other claims are ignored, as Core 5.5 allows. An essential `acr` in
//! `id_token` naming one of [`crate::amr::MFA_ACR_VALUES`] demands a
//! second factor, as the same value in `acr_values` does.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest `claims` value accepted, in bytes: far above what naming
/// every standard claim twice takes.
pub const MAX_CLAIMS_LEN: usize = 4096;

/// The person's claims a `claims` request can release by name.
pub const RELEASABLE: [&str; 6] = [
    "name",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
];

/// The claims named by a request, per place; only [`RELEASABLE`] ones,
/// each once. Stored with the grant as JSON ([`RequestedClaims::to_stored`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    /// Claims to put in the id_token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
    /// Claims to put in the userinfo answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
}

impl RequestedClaims {
    /// Whether nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// The scopes that would release the named claims (OpenID Connect
    /// Core 5.4), in first-named order: what a person allows when a
    /// client names them, so the parameter never releases more than the
    /// consent page showed.
    pub fn covering_scopes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = vec![];
        for claim in self.id_token.iter().chain(&self.userinfo) {
            let scope = match claim.as_str() {
                "name" => crate::scope::PROFILE,
                "email" | "email_verified" => crate::scope::EMAIL,
                "phone_number" | "phone_number_verified" => crate::scope::PHONE,
                "address" => crate::scope::ADDRESS,
                _ => continue,
            };
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        out
    }

    /// The stored form: `""` when nothing was requested, else JSON.
    pub fn to_stored(&self) -> String {
        if self.is_empty() {
            String::new()
        } else {
            serde_json::to_string(self).unwrap_or_default()
        }
    }

    /// Reads the stored form back; anything unreadable (never written by
    /// [`RequestedClaims::to_stored`]) requests nothing.
    pub fn from_stored(s: &str) -> RequestedClaims {
        if s.is_empty() {
            return RequestedClaims::default();
        }
        let mut r: RequestedClaims = serde_json::from_str(s).unwrap_or_default();
        r.id_token.retain(|c| RELEASABLE.contains(&c.as_str()));
        r.userinfo.retain(|c| RELEASABLE.contains(&c.as_str()));
        r
    }
}

/// What a valid `claims` parameter asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsParameter {
    /// The releasable claims named, per place.
    pub claims: RequestedClaims,
    /// The second-factor `acr` value an essential `id_token.acr` named, if
    /// any: the first of its `value`/`values` in
    /// [`crate::amr::MFA_ACR_VALUES`].
    pub acr_mfa: Option<&'static str>,
}

/// Why a `claims` parameter was refused (an `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the claims parameter {0}")]
pub struct ClaimsError(&'static str);

/// Parses the `claims` parameter; `None` (not sent) asks for nothing.
pub fn parse(raw: Option<&str>) -> Result<ClaimsParameter, ClaimsError> {
    let Some(raw) = raw else {
        return Ok(ClaimsParameter::default());
    };
    if raw.len() > MAX_CLAIMS_LEN {
        return Err(ClaimsError("is longer than 4096 bytes"));
    }
    let value: Value = serde_json::from_str(raw).map_err(|_| ClaimsError("is not valid JSON"))?;
    let Value::Object(top) = value else {
        return Err(ClaimsError("must be a JSON object"));
    };
    let mut out = ClaimsParameter::default();
    // Other top-level members are extensions (Core 5.5) and ignored.
    for (place, list) in [
        ("id_token", &mut out.claims.id_token),
        ("userinfo", &mut out.claims.userinfo),
    ] {
        let Some(member) = top.get(place) else {
            continue;
        };
        let Value::Object(requests) = member else {
            return Err(ClaimsError(
                "must have objects as its id_token and userinfo members",
            ));
        };
        for (name, request) in requests {
            check_request(request)?;
            if RELEASABLE.contains(&name.as_str()) && !list.contains(name) {
                list.push(name.clone());
            }
        }
    }
    if let Some(Value::Object(request)) = top
        .get("id_token")
        .and_then(|m| m.as_object())
        .and_then(|m| m.get("acr"))
    {
        out.acr_mfa = essential_mfa(request);
    }
    Ok(out)
}

/// Checks one claim's request: `null` or an object whose `essential` is a
/// boolean and whose `values` is an array (Core 5.5.1).
fn check_request(request: &Value) -> Result<(), ClaimsError> {
    match request {
        Value::Null => Ok(()),
        Value::Object(o) => {
            if o.get("essential").is_some_and(|e| !e.is_boolean()) {
                return Err(ClaimsError("has an essential member that is not a boolean"));
            }
            if o.get("values").is_some_and(|v| !v.is_array()) {
                return Err(ClaimsError("has a values member that is not an array"));
            }
            Ok(())
        }
        _ => Err(ClaimsError(
            "must request each claim with null or an object",
        )),
    }
}

/// The second-factor value an essential `acr` request names, if any.
fn essential_mfa(request: &Map<String, Value>) -> Option<&'static str> {
    if request.get("essential") != Some(&Value::Bool(true)) {
        return None;
    }
    let single = request.get("value").into_iter();
    let many = request
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    single.chain(many).find_map(|v| {
        let v = v.as_str()?;
        crate::amr::MFA_ACR_VALUES.iter().copied().find(|m| *m == v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> ClaimsParameter {
        parse(Some(raw)).unwrap()
    }

    #[test]
    fn not_sent_asks_for_nothing() {
        assert_eq!(parse(None).unwrap(), ClaimsParameter::default());
        assert_eq!(ok("{}"), ClaimsParameter::default());
    }

    #[test]
    fn names_claims_per_place() {
        let p = ok(
            r#"{"id_token":{"email":null,"email_verified":{"essential":true}},
                     "userinfo":{"phone_number":{"value":"+491511234567"},
                                 "address":{"values":["x"]},"name":{"essential":false}}}"#,
        );
        assert_eq!(p.claims.id_token, ["email", "email_verified"]);
        assert_eq!(p.claims.userinfo, ["address", "name", "phone_number"]);
        assert_eq!(p.acr_mfa, None);
    }

    #[test]
    fn unknown_claims_and_members_are_ignored() {
        let p = ok(
            r#"{"id_token":{"picture":null,"sub":{"value":"x"},"email":{"foo":1}},
                     "extension":{"a":1},"userinfo":{}}"#,
        );
        assert_eq!(p.claims.id_token, ["email"]);
        assert!(p.claims.userinfo.is_empty());
    }

    #[test]
    fn repeats_count_once() {
        let p = ok(r#"{"userinfo":{"email":null,"email":{"essential":true}}}"#);
        assert_eq!(p.claims.userinfo, ["email"]);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "not json",
            "[]",
            "null",
            "\"x\"",
            "1",
            r#"{"id_token":[]}"#,
            r#"{"id_token":null}"#,
            r#"{"userinfo":"email"}"#,
            r#"{"userinfo":{"email":true}}"#,
            r#"{"userinfo":{"email":"x"}}"#,
            r#"{"userinfo":{"email":[]}}"#,
            r#"{"id_token":{"email":{"essential":"yes"}}}"#,
            r#"{"id_token":{"email":{"values":"x"}}}"#,
            r#"{"id_token":{"unknown":1}}"#,
        ] {
            assert!(parse(Some(bad)).is_err(), "{bad}");
        }
        let long = format!(
            r#"{{"userinfo":{{"email":null}},"x":"{}"}}"#,
            "a".repeat(4096)
        );
        let e = parse(Some(&long)).unwrap_err();
        assert!(e.to_string().contains("4096"), "{e}");
    }

    #[test]
    fn at_the_length_limit_is_accepted() {
        let pad = MAX_CLAIMS_LEN - r#"{"x":""}"#.len();
        let raw = format!(r#"{{"x":"{}"}}"#, "a".repeat(pad));
        assert_eq!(raw.len(), MAX_CLAIMS_LEN);
        assert!(parse(Some(&raw)).is_ok());
    }

    #[test]
    fn essential_mfa_acr_demands_a_second_factor() {
        let p = ok(r#"{"id_token":{"acr":{"essential":true,"values":["urn:x","mfa"]}}}"#);
        assert_eq!(p.acr_mfa, Some("mfa"));
        let p = ok(r#"{"id_token":{"acr":{"essential":true,
            "value":"http://schemas.openid.net/pape/policies/2007/06/multi-factor"}}}"#);
        assert_eq!(p.acr_mfa, Some(crate::amr::MFA_ACR_VALUES[0]));
        // Voluntary, other values, in userinfo, or null: no demand.
        for none in [
            r#"{"id_token":{"acr":{"values":["mfa"]}}}"#,
            r#"{"id_token":{"acr":{"essential":false,"value":"mfa"}}}"#,
            r#"{"id_token":{"acr":{"essential":true,"values":["urn:x"]}}}"#,
            r#"{"id_token":{"acr":{"essential":true,"values":[1]}}}"#,
            r#"{"id_token":{"acr":null}}"#,
            r#"{"userinfo":{"acr":{"essential":true,"value":"mfa"}}}"#,
        ] {
            assert_eq!(ok(none).acr_mfa, None, "{none}");
        }
        // acr itself is not a person's claim to release.
        assert!(ok(r#"{"id_token":{"acr":null}}"#).claims.is_empty());
    }

    #[test]
    fn scopes_covering_named_claims() {
        let r = ok(r#"{"userinfo":{"phone_number_verified":null,"email":null},
                     "id_token":{"name":null,"phone_number":null,"address":null}}"#)
        .claims;
        assert_eq!(
            r.covering_scopes(),
            ["address", "profile", "phone", "email"]
        );
        assert!(RequestedClaims::default().covering_scopes().is_empty());
    }

    #[test]
    fn stored_form_round_trips() {
        assert_eq!(RequestedClaims::default().to_stored(), "");
        assert_eq!(RequestedClaims::from_stored(""), RequestedClaims::default());
        let r = RequestedClaims {
            id_token: vec!["email".into()],
            userinfo: vec!["phone_number".into(), "address".into()],
        };
        assert_eq!(RequestedClaims::from_stored(&r.to_stored()), r);
        assert_eq!(
            RequestedClaims::from_stored(r#"{"id_token":["email","bogus"]}"#).id_token,
            ["email"]
        );
        assert!(RequestedClaims::from_stored("garbage").is_empty());
    }
}
