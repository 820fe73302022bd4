//! Helpers of the Journeys API tests (`journeys_flows`,
//! `journeys_refusals`, `journeys_doors`): JSON requests and replies, the
//! door a request goes through, and the checks of codes and errors.

use crate::harness::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

pub const SCOPE: &str = "openid profile email offline_access";
pub const APP_ORIGIN: &str = "http://app.example.test";
pub const OTHER_ORIGIN: &str = "http://evil.example.test";

/// A response: status, headers and the JSON body (`Null` when not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }

    /// `(status, error)`, for compact assertions on refusals.
    pub fn refusal(&self) -> (u16, Option<&str>) {
        (self.status, self.error())
    }
}

/// How a request is sent besides its body.
#[derive(Default, Clone, Copy)]
pub struct Via<'a> {
    pub basic: Option<(&'a str, &'a str)>,
    pub origin: Option<&'a str>,
    pub host: Option<&'a str>,
}

impl<'a> Via<'a> {
    pub fn basic(id: &'a str, secret: &'a str) -> Self {
        Via {
            basic: Some((id, secret)),
            ..Via::default()
        }
    }
    pub fn origin(origin: &'a str) -> Self {
        Via {
            origin: Some(origin),
            ..Via::default()
        }
    }
    pub fn host(host: &'a str) -> Self {
        Via {
            host: Some(host),
            ..Via::default()
        }
    }

    pub fn apply(self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some((id, secret)) = self.basic {
            req = req.header(
                "authorization",
                keygate_core::basic::encode_basic(id, secret),
            );
        }
        if let Some(o) = self.origin {
            req = req.header("origin", o);
        }
        if let Some(h) = self.host {
            req = req.header("host", h);
        }
        req
    }
}

pub async fn reply(r: reqwest::RequestBuilder) -> Reply {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// POSTs a JSON body (a Journeys call).
pub async fn post_json(url: &str, body: &Value, via: Via<'_>) -> Reply {
    reply(via.apply(reqwest::Client::new().post(url).json(body))).await
}

/// POSTs raw bytes with the given Content-Type (or none).
pub async fn post_raw(url: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    reply(req).await
}

/// POSTs a form to an issuer's token endpoint.
pub async fn token_at(url: &str, form: &[(&str, &str)], via: Via<'_>) -> Reply {
    reply(via.apply(reqwest::Client::new().post(url).form(form))).await
}

/// The body of a Journeys call for `client`: the authorization request
/// (with a PKCE challenge when given) plus `extra` (e-mail, password, ...).
pub fn request(client: &TestClient, challenge: Option<&str>, extra: &[(&str, &str)]) -> Value {
    let mut v = json!({
        "client_id": client.id,
        "redirect_uri": client.redirect_uri,
        "scope": SCOPE,
        "state": "st-9",
        "nonce": "n-9",
    });
    if let Some(c) = challenge {
        v["code_challenge"] = json!(c);
        v["code_challenge_method"] = json!("S256");
    }
    for (k, val) in extra {
        v[*k] = json!(val);
    }
    v
}

pub fn credentials<'a>(email: &'a str, password: &'a str) -> [(&'a str, &'a str); 2] {
    [("email", email), ("password", password)]
}

/// Checks a successful Journeys answer and returns its code.
pub fn code_of(r: &Reply, status: u16, client: &TestClient, issuer: &str) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let code = r.body["code"].as_str().expect("a code").to_string();
    assert!(code.len() >= 20, "{code}");
    assert_eq!(r.body["state"], "st-9");
    // redirect_to is what /authorize would have redirected to.
    let to = url::Url::parse(r.body["redirect_to"].as_str().unwrap()).unwrap();
    let base = to.as_str().split('?').next().unwrap();
    assert_eq!(base, client.redirect_uri);
    let q: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("code"), Some(&code));
    assert_eq!(q.get("state").map(String::as_str), Some("st-9"));
    assert_eq!(q.get("iss").map(String::as_str), Some(issuer));
    code
}

pub fn assert_journeys_error(r: &Reply, status: u16, error: &str, what: &str) {
    assert_eq!(r.refusal(), (status, Some(error)), "{what}: {}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {}",
        r.body
    );
    assert!(r.body.get("code").is_none(), "{what}: a code on failure");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
}

pub async fn sub_of(db: &Database, email: &str) -> String {
    db.query_strings(&format!("SELECT sub FROM users WHERE email = '{email}'"))
        .await
        .pop()
        .unwrap_or_else(|| panic!("no user {email}"))
}
