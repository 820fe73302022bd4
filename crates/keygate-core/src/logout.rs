//! OpenID Connect Back-Channel Logout 1.0: what a client may register as
//! its back-channel logout URI, the logout token's claims, and when the
//! delivery of one is retried or given up. No I/O: the server signs the
//! claims and posts them, the store queues them (docs/logout.md).

use serde::{Deserialize, Serialize};
use url::Url;

/// The `events` member of a logout token (Back-Channel Logout 2.4): this
/// one key, with an empty JSON object as its value.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The JWS `typ` of a logout token (Back-Channel Logout 2.4, as the
/// JWT Security Best Current Practices, RFC 8725 3.11, recommend), so that
/// it cannot be taken for an id_token.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// How long a logout token is valid after it is signed. The receiver
/// checks it at once (Back-Channel Logout 2.6); two minutes leave room for
/// clock skew and nothing more. Each delivery attempt signs a new token.
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// The delay after the first failed delivery, doubling with each further
/// one up to [`MAX_RETRY`].
pub const FIRST_RETRY: i64 = 10;
/// The longest delay between two attempts.
pub const MAX_RETRY: i64 = 3600;
/// A logout not delivered this long after the session ended is given up:
/// the client's own sessions have ended by themselves by then in most
/// applications, and a receiver down for a day is not coming back for it.
pub const GIVE_UP_AFTER: i64 = 86_400;

/// The claims of a logout token (Back-Channel Logout 2.4). It carries both
/// `sub` and `sid`, and never a `nonce` (2.4: a logout token must not
/// contain one, so it cannot pass for an id_token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    /// The issuer: the tenant's issuer.
    pub iss: String,
    /// The client the token is for.
    pub aud: String,
    /// When it was signed.
    pub iat: i64,
    /// When it stops being valid: `iat` plus [`LOGOUT_TOKEN_TTL`].
    pub exp: i64,
    /// A unique identifier, so the receiver can refuse a replay.
    pub jti: String,
    /// The person whose session ended.
    pub sub: String,
    /// The session that ended, as in the id_tokens it issued.
    pub sid: String,
    /// `{BACKCHANNEL_LOGOUT_EVENT: {}}`.
    pub events: serde_json::Value,
}

impl LogoutTokenClaims {
    /// The claims of the token telling `client_id` that session `sid` of
    /// `sub` ended, signed at `now` with the unique `jti`.
    pub fn new(iss: &str, client_id: &str, sub: &str, sid: &str, jti: &str, now: i64) -> Self {
        LogoutTokenClaims {
            iss: iss.to_string(),
            aud: client_id.to_string(),
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL,
            jti: jti.to_string(),
            sub: sub.to_string(),
            sid: sid.to_string(),
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        }
    }
}

/// What to do after a failed delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time (seconds since the epoch).
    RetryAt(i64),
    /// Stop trying: [`GIVE_UP_AFTER`] has passed since the session ended.
    GiveUp,
}

/// The delay before the next attempt after `attempts` failed ones: 10 s,
/// doubling, at most an hour.
pub fn retry_delay(attempts: i64) -> i64 {
    let doublings = (attempts.max(1) - 1).min(20) as u32;
    FIRST_RETRY.saturating_mul(1i64 << doublings).min(MAX_RETRY)
}

/// After the `attempts`-th attempt failed at `now`, for a logout queued
/// at `queued_at`: retry with backoff, or give up once the next attempt
/// would come more than [`GIVE_UP_AFTER`] after it was queued.
pub fn after_failure(queued_at: i64, attempts: i64, now: i64) -> AfterFailure {
    let next = now.saturating_add(retry_delay(attempts));
    if next > queued_at.saturating_add(GIVE_UP_AFTER) {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAt(next)
    }
}

/// Checks a back-channel logout URI offered for registration
/// (Back-Channel Logout 2.2): absolute, no fragment, no user info, and
/// `https`, or `http` on a loopback host only (as redirect URIs, RFC 9700
/// 2.6: a logout token sent in clear to another host can be read on the
/// way).
pub fn validate_backchannel_logout_uri(raw: &str) -> Result<(), String> {
    if raw.contains('#') {
        return Err(format!(
            "back-channel logout URI '{raw}' must not contain a fragment (#)"
        ));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "back-channel logout URI '{raw}' contains white space"
        ));
    }
    let url = Url::parse(raw)
        .map_err(|e| format!("back-channel logout URI '{raw}' is malformed: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if crate::redirect::is_loopback_host(&url) => {}
        "http" => {
            return Err(format!(
                "back-channel logout URI '{raw}' uses http, which is allowed only for loopback \
                 hosts (localhost, 127.0.0.1, [::1]): use https"
            ))
        }
        s => {
            return Err(format!(
                "back-channel logout URI '{raw}' uses scheme '{s}': use https"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("back-channel logout URI '{raw}' has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "back-channel logout URI '{raw}' must not carry user info"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_token_has_the_claims_of_section_2_4_and_no_nonce() {
        let c = LogoutTokenClaims::new("https://id.test", "app", "ann", "s1", "j1", 1000);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "iss": "https://id.test", "aud": "app", "iat": 1000, "exp": 1120,
                "jti": "j1", "sub": "ann", "sid": "s1",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
            })
        );
        assert!(v.get("nonce").is_none());
    }

    #[test]
    fn retries_start_at_ten_seconds_and_double_to_an_hour() {
        let delays: Vec<i64> = (1..=11).map(retry_delay).collect();
        assert_eq!(
            delays,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(retry_delay(0), 10);
        assert_eq!(retry_delay(i64::MAX), 3600);
    }

    #[test]
    fn a_logout_is_given_up_a_day_after_it_was_queued() {
        assert_eq!(after_failure(0, 1, 0), AfterFailure::RetryAt(10));
        assert_eq!(after_failure(0, 3, 100), AfterFailure::RetryAt(140));
        // The last attempt that still falls within the day.
        assert_eq!(
            after_failure(0, 30, GIVE_UP_AFTER - 3600),
            AfterFailure::RetryAt(GIVE_UP_AFTER)
        );
        assert_eq!(
            after_failure(0, 30, GIVE_UP_AFTER - 3599),
            AfterFailure::GiveUp
        );
        assert_eq!(after_failure(0, 1, i64::MAX), AfterFailure::GiveUp);
    }

    #[test]
    fn a_backchannel_logout_uri_is_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://app.example.com/logout",
            "https://app.example.com:8443/bc?tenant=a",
            "http://127.0.0.1:9000/logout",
            "http://localhost/logout",
            "http://[::1]:8080/bc",
        ] {
            assert_eq!(validate_backchannel_logout_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://app.example.com/logout",
            "https://app.example.com/logout#frag",
            "https://user:pw@app.example.com/logout",
            "/logout",
            "com.example.app:/logout",
            "javascript:alert(1)",
            "https://app.example.com/ logout",
            "ftp://app.example.com/logout",
            "",
        ] {
            assert!(validate_backchannel_logout_uri(bad).is_err(), "{bad}");
        }
    }
}
