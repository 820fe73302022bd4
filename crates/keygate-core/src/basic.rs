//! HTTP Basic client authentication (RFC 6749 2.3.1): the client id and
//! secret are form-urlencoded, joined by `:`, then base64-encoded.

use crate::params::decode_component;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Decodes an `Authorization` header value. `Ok(None)` when the scheme is not
/// Basic (e.g. a Bearer token), `Err` when it is Basic but malformed.
pub fn decode_basic(header: &str) -> Result<Option<(String, String)>, &'static str> {
    let header = header.trim();
    let Some((scheme, rest)) = header.split_once(' ') else {
        return if header.eq_ignore_ascii_case("basic") {
            Err("the Basic credentials are empty")
        } else {
            Ok(None)
        };
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let raw = STANDARD
        .decode(rest.trim())
        .map_err(|_| "the Basic credentials are not valid base64")?;
    let text = String::from_utf8(raw).map_err(|_| "the Basic credentials are not UTF-8")?;
    let (id, secret) = text
        .split_once(':')
        .ok_or("the Basic credentials have no ':' between client id and secret")?;
    let id = decode_component(id).map_err(|_| "the Basic client id is not valid UTF-8")?;
    let secret =
        decode_component(secret).map_err(|_| "the Basic client secret is not valid UTF-8")?;
    if id.is_empty() {
        return Err("the Basic client id is empty");
    }
    Ok(Some((id, secret)))
}

/// Encodes credentials the way RFC 6749 2.3.1 says a client must.
pub fn encode_basic(id: &str, secret: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_reserved_characters() {
        let h = encode_basic("client:1", "s3cr%t+/=");
        assert_eq!(
            decode_basic(&h).unwrap(),
            Some(("client:1".into(), "s3cr%t+/=".into()))
        );
    }

    #[test]
    fn plain_base64_is_accepted() {
        let h = format!("basic {}", STANDARD.encode("abc:def"));
        assert_eq!(
            decode_basic(&h).unwrap(),
            Some(("abc".into(), "def".into()))
        );
    }

    #[test]
    fn other_schemes_and_malformed() {
        assert_eq!(decode_basic("Bearer abc").unwrap(), None);
        assert!(decode_basic("Basic").is_err());
        assert!(decode_basic("Basic !!!").is_err());
        assert!(decode_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
        assert!(decode_basic(&format!("Basic {}", STANDARD.encode(":secret"))).is_err());
        assert!(decode_basic(&format!("Basic {}", STANDARD.encode([0xff, b':', b'a']))).is_err());
    }
}
