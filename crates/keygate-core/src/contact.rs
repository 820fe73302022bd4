//! A person's contact details, the `phone_number` and `address` claims
//! (OpenID Connect Core 5.1): what an operator or the person may store, so
//! that tokens only ever carry bounded, printable text.

use crate::model::Address;

/// The fewest digits of a telephone number (after the `+`).
pub const MIN_PHONE_DIGITS: usize = 7;
/// The most digits of a telephone number: E.164's fifteen.
pub const MAX_PHONE_DIGITS: usize = 15;
/// The longest part of an address, in characters.
pub const MAX_ADDRESS_PART: usize = 200;
/// The longest `formatted` address, in characters (several lines).
pub const MAX_FORMATTED_ADDRESS: usize = 500;

/// Why a contact detail was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContactError(pub String);

/// Checks a telephone number in E.164 form: `+` then 7 to 15 digits, no
/// spaces or punctuation (so clients can compare numbers as strings).
pub fn check_phone_number(s: &str) -> Result<(), ContactError> {
    let digits = s.strip_prefix('+').unwrap_or("");
    if s.starts_with('+')
        && (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(ContactError(format!(
            "phone_number must be '+' then {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits (E.164), such as +4915112345678"
        )))
    }
}

/// Checks every part of `a`: at most [`MAX_ADDRESS_PART`] characters
/// ([`MAX_FORMATTED_ADDRESS`] for `formatted`), no control characters but
/// line breaks in the two parts that may span lines, and not blank.
pub fn check_address(a: &Address) -> Result<(), ContactError> {
    let parts = [
        ("formatted", &a.formatted, MAX_FORMATTED_ADDRESS, true),
        ("street_address", &a.street_address, MAX_ADDRESS_PART, true),
        ("locality", &a.locality, MAX_ADDRESS_PART, false),
        ("region", &a.region, MAX_ADDRESS_PART, false),
        ("postal_code", &a.postal_code, MAX_ADDRESS_PART, false),
        ("country", &a.country, MAX_ADDRESS_PART, false),
    ];
    for (name, value, max, lines) in parts {
        let Some(v) = value else { continue };
        if v.trim().is_empty() {
            return Err(ContactError(format!("address.{name} must not be blank")));
        }
        if v.chars().count() > max {
            return Err(ContactError(format!(
                "address.{name} is longer than {max} characters"
            )));
        }
        if v.chars()
            .any(|c| c.is_control() && !(lines && (c == '\n' || c == '\r')))
        {
            return Err(ContactError(format!(
                "address.{name} must not contain control characters"
            )));
        }
    }
    Ok(())
}

/// Trims each part and drops the empty ones (as an empty form field
/// sends), so an address of nothing but blanks becomes `None`.
pub fn tidy_address(a: Address) -> Option<Address> {
    let t = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let a = Address {
        formatted: t(a.formatted),
        street_address: t(a.street_address),
        locality: t(a.locality),
        region: t(a.region),
        postal_code: t(a.postal_code),
        country: t(a.country),
    };
    (!a.is_empty()).then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers() {
        for ok in ["+4915112345678", "+1234567", "+123456789012345"] {
            assert!(check_phone_number(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "+",
            "4915112345678",
            "+123456",
            "+1234567890123456",
            "+49 151 1234567",
            "+49-1511234567",
            "++4915112345",
            "+٤٩١٥١١٢٣٤٥٦٧",
            "+4915112345678\n",
        ] {
            assert!(check_phone_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        let ok = Address {
            street_address: Some("Hauptstr. 1\nHinterhaus".into()),
            locality: Some("Berlin".into()),
            postal_code: Some("10115".into()),
            country: Some("Germany".into()),
            ..Address::default()
        };
        assert!(check_address(&ok).is_ok());
        assert!(check_address(&Address::default()).is_ok());
        let with = |f: fn(&mut Address)| {
            let mut a = ok.clone();
            f(&mut a);
            check_address(&a)
        };
        assert!(with(|a| a.locality = Some("Ber\nlin".into())).is_err());
        assert!(with(|a| a.street_address = Some("a\u{0}b".into())).is_err());
        assert!(with(|a| a.region = Some("  ".into())).is_err());
        assert!(with(|a| a.country = Some("x".repeat(201))).is_err());
        assert!(with(|a| a.country = Some("é".repeat(200))).is_ok());
        assert!(with(|a| a.formatted = Some("x".repeat(500))).is_ok());
        assert!(with(|a| a.formatted = Some("x".repeat(501))).is_err());
        let e = with(|a| a.postal_code = Some("1\t2".into())).unwrap_err();
        assert!(e.0.contains("address.postal_code"), "{e}");
    }

    #[test]
    fn tidying() {
        assert_eq!(tidy_address(Address::default()), None);
        let a = Address {
            locality: Some("  Berlin ".into()),
            region: Some(" ".into()),
            ..Address::default()
        };
        let t = tidy_address(a).unwrap();
        assert_eq!(t.locality.as_deref(), Some("Berlin"));
        assert_eq!(t.region, None);
    }

    #[test]
    fn address_json_is_the_claim() {
        let a: Address = serde_json::from_str(r#"{"locality":"Berlin","country":"DE"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"locality":"Berlin","country":"DE"}"#
        );
        assert!(serde_json::from_str::<Address>(r#"{"city":"Berlin"}"#).is_err());
    }
}
