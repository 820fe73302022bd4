//! Decoding of request parameters from `application/x-www-form-urlencoded`
//! and `application/json` bodies (and query strings) into one [`Params`].
//!
//! The decoder is strict where RFC 6749 asks for it: a parameter may appear
//! only once (section 3.1), bytes must be UTF-8, and parameters sent without
//! a value are treated as omitted. Every failure is an `invalid_request`
//! with a description naming what was wrong, so the caller can answer in the
//! protocol's own format.

use crate::error::OAuthError;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::fmt;

/// Request parameters by name; each name at most once, in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value of `name`, or `None` when absent or empty (RFC 6749 3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` was sent with a non-empty value (an empty one counts as omitted).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every name and value, in the order they came, empty values included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Builds from pairs, refusing a repeated name and more than
    /// [`MAX_PARAMS`] of them. Repeats are found with a set, so the work is
    /// linear in the number of pairs (a list scan made a 64 KiB body of
    /// distinct names cost quadratic time before any authentication).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, OAuthError> {
        if pairs.len() > MAX_PARAMS {
            return Err(too_many());
        }
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
        for (k, _) in &pairs {
            if !seen.insert(k.as_str()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is repeated",
                    printable(k)
                )));
            }
        }
        Ok(Params { pairs })
    }

    /// Decodes `a=b&c=d` (a form body or a query string).
    pub fn from_urlencoded(input: &[u8]) -> Result<Params, OAuthError> {
        let text = std::str::from_utf8(input)
            .map_err(|_| OAuthError::invalid_request("the body is not valid UTF-8"))?;
        let mut pairs = Vec::new();
        for piece in text.split('&') {
            if piece.is_empty() {
                continue;
            }
            if pairs.len() == MAX_PARAMS {
                return Err(too_many());
            }
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            let k = decode_component(k)?;
            let v = decode_component(v)?;
            if k.is_empty() {
                continue;
            }
            pairs.push((k, v));
        }
        Params::from_pairs(pairs)
    }

    /// Decodes a JSON object whose values are strings (numbers and booleans
    /// are taken as their text, as Auth0 does); a repeated key is refused.
    pub fn from_json(input: &[u8]) -> Result<Params, OAuthError> {
        let mut de = serde_json::Deserializer::from_slice(input);
        let pairs = de
            .deserialize_map(PairsVisitor)
            .and_then(|p| de.end().map(|_| p))
            .map_err(|e| OAuthError::invalid_request(format!("the JSON body is malformed: {e}")))?;
        let pairs = pairs.map_err(OAuthError::invalid_request)?;
        Params::from_pairs(pairs)
    }
}

/// The most parameters one request may carry. The largest real requests
/// (an OpenID Connect authorization request with every optional parameter,
/// a Journeys API body) carry about 25; refusing far above that bounds the
/// work done for a request before anything else reads it.
pub const MAX_PARAMS: usize = 100;

fn too_many() -> OAuthError {
    OAuthError::invalid_request(format!(
        "the request carries more than {MAX_PARAMS} parameters"
    ))
}

fn printable(s: &str) -> String {
    s.chars().take(64).filter(|c| !c.is_control()).collect()
}

/// Percent-decodes one form component (`+` is a space), requiring UTF-8.
pub fn decode_component(s: &str) -> Result<String, OAuthError> {
    let replaced;
    let s = if s.contains('+') {
        replaced = s.replace('+', " ");
        replaced.as_str()
    } else {
        s
    };
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| OAuthError::invalid_request("a parameter is not valid UTF-8 once decoded"))
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    /// Outer error: JSON syntax; inner error: a value of the wrong kind.
    type Value = Result<Vec<(String, String)>, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        let mut wrong = None;
        while let Some(key) = map.next_key::<String>()? {
            if pairs.len() == MAX_PARAMS {
                // Read past the rest (the document must still be checked
                // whole) without keeping any of it.
                map.next_value::<serde::de::IgnoredAny>()?;
                wrong = Some(too_many().description.into_owned());
                continue;
            }
            let value: serde_json::Value = map.next_value()?;
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => String::new(),
                _ => {
                    wrong.get_or_insert_with(|| {
                        format!("parameter '{}' must be a string", printable(&key))
                    });
                    continue;
                }
            };
            pairs.push((key, text));
        }
        Ok(match wrong {
            Some(w) => Err(w),
            None => Ok(pairs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn form_decodes_plus_and_percent() {
        let p = Params::from_urlencoded(b"a=b+c&d=%2Fe%3D&empty=&flag").unwrap();
        assert_eq!(p.get("a"), Some("b c"));
        assert_eq!(p.get("d"), Some("/e="));
        assert_eq!(p.get("empty"), None);
        assert_eq!(p.get("flag"), None);
    }

    #[test]
    fn form_refuses_repeats_and_bad_utf8() {
        let e = Params::from_urlencoded(b"a=1&a=2").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("repeated"));
        assert!(Params::from_urlencoded(b"a=\xff").is_err());
        assert!(Params::from_urlencoded(b"a=%ff").is_err());
        assert!(
            Params::from_urlencoded(b"a=%zz").is_ok(),
            "invalid escapes pass through as text"
        );
    }

    #[test]
    fn many_distinct_names_are_refused_past_the_cap_in_linear_time() {
        let body = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(
            Params::from_urlencoded(body(MAX_PARAMS).as_bytes())
                .unwrap()
                .iter()
                .count(),
            MAX_PARAMS
        );
        let e = Params::from_urlencoded(body(MAX_PARAMS + 1).as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(
            e.description.contains("more than 100 parameters"),
            "{}",
            e.description
        );
        let json = |n: usize| {
            let fields: Vec<String> = (0..n).map(|i| format!("\"k{i}\":\"v\"")).collect();
            format!("{{{}}}", fields.join(","))
        };
        assert!(Params::from_json(json(MAX_PARAMS).as_bytes()).is_ok());
        let e = Params::from_json(json(18_000).as_bytes()).unwrap_err();
        assert!(
            e.description.contains("more than 100 parameters"),
            "{}",
            e.description
        );
        // Pairs built elsewhere are checked too, with a set.
        let pairs: Vec<_> = (0..MAX_PARAMS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert!(Params::from_pairs(pairs).is_ok());
    }

    #[test]
    fn json_takes_strings_and_refuses_others() {
        let p = Params::from_json(br#"{"grant_type":"authorization_code","n":5}"#).unwrap();
        assert_eq!(p.get("grant_type"), Some("authorization_code"));
        assert_eq!(p.get("n"), Some("5"));
        assert!(Params::from_json(br#"{"a":"1","a":"2"}"#).is_err());
        assert!(Params::from_json(br#"{"a":{"b":1}}"#).is_err());
        assert!(Params::from_json(br#"["a"]"#).is_err());
        assert!(Params::from_json(br#"{"a":"1"} trailing"#).is_err());
        assert!(Params::from_json(b"{").is_err());
    }
}
