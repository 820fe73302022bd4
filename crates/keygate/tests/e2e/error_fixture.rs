//! The fixture of the token-endpoint error tests (`request_errors`,
//! `grant_errors`): a tenant, its clients and a signed-in person, and the
//! requests those tests vary.

use crate::harness::*;
use crate::token_helpers::*;

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other";

/// A client-authentication case: name, Authorization header, extra body parameters.
pub type AuthCase<'a> = (&'a str, Option<String>, Vec<(&'a str, String)>);

/// A server, a public client (two redirect URIs), a confidential one
/// (Basic) and a browser signed in once.
pub struct Fx {
    pub w: World,
    pub public: TestClient,
    pub conf: TestClient,
    pub browser: Browser,
}

impl Fx {
    pub async fn new() -> Fx {
        let w = World::new().await;
        let public = w.public_client(&["--redirect-uri", OTHER_REDIRECT]);
        let conf = w.confidential_client(&["--redirect-uri", OTHER_REDIRECT]);
        Fx {
            w,
            public,
            conf,
            browser: Browser::new(),
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.w.issuer)
    }

    /// A fresh code of the public client and its verifier.
    pub async fn public_code(&self) -> (String, String) {
        let (verifier, challenge) = pkce();
        (
            obtain_code(
                &self.browser,
                &self.w.issuer,
                &self.public,
                Some(&challenge),
                &[],
            )
            .await,
            verifier,
        )
    }

    /// A fresh code of the confidential client (no PKCE).
    pub async fn conf_code(&self) -> String {
        obtain_code(&self.browser, &self.w.issuer, &self.conf, None, &[]).await
    }

    /// The proof: this public code exchanges normally now.
    pub async fn public_ok(&self, code: &str, verifier: &str) -> serde_json::Value {
        exchange(&self.w.issuer, &self.public, code, Some(verifier))
            .await
            .tokens()
    }

    pub async fn conf_ok(&self, code: &str) -> serde_json::Value {
        exchange(&self.w.issuer, &self.conf, code, None)
            .await
            .tokens()
    }

    /// The proof when the refused request carried no usable code: a fresh
    /// code of `client` works.
    pub async fn fresh_ok(&self, client: &TestClient) {
        fresh_tokens(&self.browser, &self.w.issuer, client).await;
    }

    pub async fn raw(&self, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut req = http().post(self.token_url()).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        send(req).await
    }
}
