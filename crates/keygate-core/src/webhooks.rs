//! Webhooks (docs/webhooks.md): the pure parts of delivering audit events
//! to a tenant's HTTP endpoints per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>): the secret's form, the body, the
//! signature, and the retry schedule. No I/O here; the sender is
//! `keygate-server`'s `webhooks` module.

use crate::events::Event;
use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

/// The prefix of a signing secret (Standard Webhooks: `whsec_` then the
/// key in standard base64).
pub const SECRET_PREFIX: &str = "whsec_";

/// The first retry waits this long (seconds); each later one twice the
/// one before, up to [`MAX_DELAY`].
pub const BASE_DELAY: i64 = 10;
/// The longest wait between two attempts (seconds).
pub const MAX_DELAY: i64 = 3600;
/// Attempts stop once this long (seconds) has passed since the event.
pub const GIVE_UP_AFTER: i64 = 86_400;
/// Attempts stop after this many, whatever the time.
pub const MAX_ATTEMPTS: i64 = 30;

/// A new signing secret from 32 random bytes: `whsec_` + standard base64.
pub fn secret_from_key(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key of a secret: the base64-decoded part after `whsec_`; `None`
/// when it is not of that form or empty.
pub fn key_of_secret(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix(SECRET_PREFIX)?;
    STANDARD.decode(b64).ok().filter(|k| !k.is_empty())
}

/// The `webhook-signature` header value: `v1,` + base64 of
/// HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}").
pub fn signature(key: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let signed = format!("{msg_id}.{timestamp}.{body}");
    let tag = hmac::sign(&key, signed.as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// The JSON body of a delivery: `{"type", "timestamp", "data"}`, `data`
/// the event as the admin API shows it (members in this order).
pub fn body(event: &Event) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        id: &'a str,
        tenant: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        actor: &'a str,
        ip: Option<&'a str>,
        subject: Option<&'a str>,
        detail: &'a serde_json::Value,
        at: i64,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        timestamp: String,
        data: Data<'a>,
    }
    serde_json::to_string(&Body {
        kind: &event.kind,
        timestamp: rfc3339(event.at),
        data: Data {
            id: &event.id,
            tenant: &event.tenant_id,
            kind: &event.kind,
            actor: &event.actor,
            ip: event.ip.as_deref(),
            subject: event.subject.as_deref(),
            detail: &event.detail,
            at: event.at,
        },
    })
    // Strings, integers and a JSON value: serializing cannot fail.
    .unwrap_or_default()
}

/// Whether a webhook subscribed to `types` (empty: every type) gets
/// events of type `kind`.
pub fn subscribed(types: &[String], kind: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == kind)
}

/// What to do after attempt number `attempts` (1 for the first) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time (seconds since the epoch).
    RetryAt(i64),
    /// Stop: too many attempts, or too long since the event.
    GiveUp,
}

/// The wait after attempt number `attempts` failed, with `base` the first
/// wait: `base`, then doubling, at most [`MAX_DELAY`].
pub fn retry_delay(base: i64, attempts: i64) -> i64 {
    let base = base.max(1);
    let doublings = (attempts - 1).clamp(0, 30) as u32;
    base.saturating_mul(1i64 << doublings).min(MAX_DELAY)
}

/// The next step after attempt number `attempts` of the delivery of an
/// event created at `created_at` failed at `now`, the first wait `base`.
pub fn after_failure(base: i64, created_at: i64, attempts: i64, now: i64) -> AfterFailure {
    let next = now.saturating_add(retry_delay(base, attempts));
    if attempts >= MAX_ATTEMPTS || next > created_at.saturating_add(GIVE_UP_AFTER) {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAt(next)
    }
}

/// The most webhooks a tenant may have.
pub const MAX_PER_TENANT: usize = 20;

/// Checks a webhook URL, by the rules of back-channel logout URIs:
/// absolute, no fragment, no user info, at most 2000 characters, and
/// `https`, or `http` on a loopback host only (an event sent in clear to
/// another host can be read on the way). Private addresses are refused
/// when delivering unless `KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS` is set.
pub fn validate_url(raw: &str) -> Result<(), String> {
    if raw.len() > 2000 {
        return Err("the webhook URL is longer than 2000 characters".into());
    }
    if raw.contains('#') {
        return Err(format!(
            "webhook URL '{raw}' must not contain a fragment (#)"
        ));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("webhook URL '{raw}' contains white space"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("webhook URL '{raw}' is malformed: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if crate::redirect::is_loopback_host(&url) => {}
        "http" => {
            return Err(format!(
                "webhook URL '{raw}' uses http, which is allowed only for loopback hosts \
                 (localhost, 127.0.0.1, [::1]): use https"
            ))
        }
        s => return Err(format!("webhook URL '{raw}' uses scheme '{s}': use https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("webhook URL '{raw}' has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("webhook URL '{raw}' must not contain user info"));
    }
    Ok(())
}

/// Checks a subscription: each type is one of [`crate::events::TYPES`];
/// duplicates are dropped, the order kept.
pub fn validate_types(types: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !crate::events::is_type(t) {
            return Err(format!(
                "unknown event type '{t}': expected one of {}",
                crate::events::TYPES.join(", ")
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

/// `t` (seconds since the epoch, UTC) as RFC 3339: `2021-02-25T14:22:10Z`.
pub fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries (secret,
    /// message id, timestamp and payload), checked against Python's hmac.
    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        let key = key_of_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        // Any change to the id, time or body changes it.
        assert_ne!(
            signature(&key, "msg_other", 1_614_265_330, r#"{"test": 2432232314}"#),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_is_whsec_and_standard_base64() {
        let s = secret_from_key(&[0xfb; 32]);
        assert!(s.starts_with("whsec_+/"), "{s}");
        assert_eq!(key_of_secret(&s).unwrap(), vec![0xfb; 32]);
        for bad in ["", "whsec_", "whsec_!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            assert_eq!(key_of_secret(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_body_carries_the_type_time_and_event() {
        let e = Event {
            id: "01ev".into(),
            tenant_id: "acme".into(),
            at: 1_614_265_330,
            kind: "user.sign_in_failed".into(),
            actor: "system".into(),
            ip: Some("127.0.0.1".into()),
            subject: None,
            detail: serde_json::json!({"reason": "password"}),
        };
        let text = body(&e);
        assert!(
            text.starts_with(r#"{"type":"user.sign_in_failed","timestamp":"2021-02-25T15:02:10Z","data":{"id":"01ev","tenant":"acme","type":"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "user.sign_in_failed");
        assert_eq!(v["timestamp"], "2021-02-25T15:02:10Z");
        assert_eq!(v["data"]["id"], "01ev");
        assert_eq!(v["data"]["tenant"], "acme");
        assert_eq!(v["data"]["ip"], "127.0.0.1");
        assert_eq!(v["data"]["subject"], serde_json::Value::Null);
        assert_eq!(v["data"]["detail"]["reason"], "password");
        assert_eq!(v["data"]["at"], 1_614_265_330);
    }

    #[test]
    fn rfc3339_of_known_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn retries_double_from_the_base_up_to_an_hour_and_stop_after_a_day() {
        assert_eq!(retry_delay(10, 1), 10);
        assert_eq!(retry_delay(10, 2), 20);
        assert_eq!(retry_delay(10, 4), 80);
        assert_eq!(retry_delay(10, 20), MAX_DELAY);
        assert_eq!(retry_delay(1, 1), 1);
        assert_eq!(retry_delay(0, 1), 1);
        assert_eq!(after_failure(10, 0, 1, 0), AfterFailure::RetryAt(10));
        assert_eq!(after_failure(10, 0, 3, 100), AfterFailure::RetryAt(140));
        assert_eq!(
            after_failure(10, 0, 20, GIVE_UP_AFTER - 3600),
            AfterFailure::RetryAt(GIVE_UP_AFTER)
        );
        assert_eq!(
            after_failure(10, 0, 20, GIVE_UP_AFTER - 3599),
            AfterFailure::GiveUp
        );
        assert_eq!(after_failure(1, 0, MAX_ATTEMPTS, 5), AfterFailure::GiveUp);
        assert_eq!(after_failure(10, 0, 1, i64::MAX), AfterFailure::GiveUp);
    }

    #[test]
    fn a_webhook_url_is_https_or_loopback_http_without_fragment_or_user() {
        for ok in [
            "https://hooks.example.com/in",
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:8080/h",
        ] {
            assert_eq!(validate_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/in",
            "https://hooks.example.com/in#x",
            "https://user:pw@hooks.example.com/in",
            "ftp://hooks.example.com/in",
            "hooks.example.com/in",
            "https://hooks.example.com/ in",
            "",
        ] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
        assert!(validate_url(&format!("https://h.example/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn subscribed_types_are_known_and_deduplicated() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            validate_types(&t(&["user.registered", "key.rotated", "user.registered"])),
            Ok(t(&["user.registered", "key.rotated"]))
        );
        assert!(validate_types(&t(&["user.nope"]))
            .unwrap_err()
            .contains("user.nope"));
        assert_eq!(validate_types(&[]), Ok(vec![]));
    }

    #[test]
    fn an_empty_subscription_gets_every_type() {
        assert!(subscribed(&[], "user.registered"));
        let t = vec!["user.sign_in_failed".to_string()];
        assert!(subscribed(&t, "user.sign_in_failed"));
        assert!(!subscribed(&t, "user.registered"));
    }
}
