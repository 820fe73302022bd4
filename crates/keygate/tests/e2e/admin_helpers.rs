//! Helpers of the admin API tests (`admin_api`, `admin_clients`,
//! `admin_users`): an HTTP client with a bearer token, and the flows that
//! obtain tokens to watch what a change does to them.

use crate::harness::*;
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "admin-test-token-6f1e0c55a2b94d0e8c7d3b1a9f2e4c6d";

/// An HTTP client of the admin API with a bearer token.
pub struct Admin {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Admin {
    pub fn new(server: &Server, token: Option<&str>) -> Admin {
        Admin {
            http: reqwest::Client::new(),
            base: format!("{}/admin/v1", server.base),
            token: token.map(str::to_string),
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path} answered {status} with no JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

/// A database with tenant `acme` and the harness user, and a server with
/// the admin token configured.
pub async fn admin_world() -> (World, Admin) {
    let db = Database::new();
    db.tenant("acme", &[]);
    db.user("acme", EMAIL, PASSWORD);
    let server = Server::start_with(&db, &[("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let issuer = server.issuer("acme");
    let admin = Admin::new(&server, Some(ADMIN_TOKEN));
    (World { db, server, issuer }, admin)
}

pub fn assert_error(a: &Answer, status: u16, error: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"], error, "{}", a.body);
    assert!(
        a.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        a.body
    );
}

/// Every id of a list, reading it page by page with `limit`.
pub async fn all_pages(admin: &Admin, path: &str, limit: usize, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let url = match &after {
            None => format!("{path}?limit={limit}"),
            Some(a) => format!("{path}?limit={limit}&after={a}"),
        };
        let page = admin.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(|i| i[key].as_str().unwrap().to_string()));
        match page.body["next"].as_str() {
            Some(n) => {
                assert_eq!(items.len(), limit, "a page before the last is full");
                after = Some(n.to_string());
            }
            None => return ids,
        }
    }
    panic!("paging did not end");
}

pub async fn client_credentials(issuer: &str, id: &str, secret: &str) -> (u16, Value) {
    let (s, _, body) = token(
        issuer,
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    (s, body)
}

pub async fn userinfo(issuer: &str, access_token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn introspect(issuer: &str, caller: &TestClient, tok: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{issuer}/introspect"))
        .basic_auth(&caller.id, Some(caller.secret()))
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

/// Signs in through the hosted page and exchanges the code: (access, refresh).
pub async fn tokens_for(w: &World, browser: &Browser, client: &TestClient) -> (String, String) {
    let code = obtain_code(browser, &w.issuer, client, None, &[]).await;
    let (s, _, body) = token(
        &w.issuer,
        Some((&client.id, client.secret())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

pub async fn refresh(w: &World, client: &TestClient, rt: &str) -> (u16, Value) {
    let (s, _, body) = token(
        &w.issuer,
        Some((&client.id, client.secret())),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    (s, body)
}
