//! The timed phases' HTTP/1.1 client: one keep-alive connection per
//! worker, driven through hyper's connection API, with requests whose
//! bytes are built once per workload.
//!
//! The load generator shares the machine's cores with the server it
//! measures, so every microsecond it spends is taken from the server.
//! reqwest (used for the untimed setup) parses the URL, consults its pool
//! and builds a header map for every request: about 48 us of CPU per
//! request on a 2-core VM, where wrk needs about 26 us. This client skips
//! all of that: the URL is parsed once, the connection is owned by its
//! worker, and a request is a clone of prebuilt header values.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::Url;

use crate::flow::Result;

/// Where requests go: the address to connect to and the request target.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    addr: (String, u16),
    host: HeaderValue,
    path: String,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Endpoint> {
        let u = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        crate::flow::ensure_loopback(&u)?;
        if u.scheme() != "http" {
            return Err(format!("{url}: the load client speaks plain http only"));
        }
        let host = u.host_str().ok_or_else(|| format!("{url}: no host"))?;
        let port = u.port_or_known_default().unwrap_or(80);
        let authority = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        Ok(Endpoint {
            addr: (host.trim_matches(['[', ']']).to_string(), port),
            host: HeaderValue::from_str(&authority).map_err(|e| e.to_string())?,
            path,
        })
    }

    /// A request to this endpoint with the given headers and body.
    pub(crate) fn request(
        &self,
        method: Method,
        headers: &[(hyper::header::HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = self
            .path
            .parse()
            .expect("a parsed URL's path is a valid URI");
        let h = req.headers_mut();
        h.insert(HOST, self.host.clone());
        for (k, v) in headers {
            h.insert(k.clone(), v.clone());
        }
        req
    }
}

/// One keep-alive connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

/// How long one request may take before it counts as a transport error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Conn {
    pub(crate) async fn open(to: &Endpoint) -> Result<Conn> {
        let stream = TcpStream::connect((to.addr.0.as_str(), to.addr.1))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", to.addr.0, to.addr.1))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends a request and reads the whole answer.
    /// Also keeps the answer's header `name` (W2-DPoP's `DPoP-Nonce`).
    pub(crate) async fn send_keeping(
        &mut self,
        req: Request<Full<Bytes>>,
        name: &'static str,
    ) -> Result<(StatusCode, Option<HeaderValue>, Bytes)> {
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("connection: {e}"))?;
            let resp = self
                .sender
                .send_request(req)
                .await
                .map_err(|e| format!("transport: {e}"))?;
            let status = resp.status();
            let kept = resp.headers().get(name).cloned();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading body: {e}"))?
                .to_bytes();
            Ok((status, kept, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))?
    }

    /// Whether the server closed this connection (it must be opened again).
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_port_path_and_query() {
        let e = Endpoint::parse("http://127.0.0.1:8080/t/as/token?x=1").unwrap();
        assert_eq!(e.addr, ("127.0.0.1".to_string(), 8080));
        assert_eq!(e.host, "127.0.0.1:8080");
        assert_eq!(e.path, "/t/as/token?x=1");
        let e = Endpoint::parse("http://localhost/token").unwrap();
        assert_eq!(e.addr, ("localhost".to_string(), 80));
        assert_eq!(e.host, "localhost");
        assert!(Endpoint::parse("http://example.com/token").is_err());
        assert!(Endpoint::parse("https://127.0.0.1/token").is_err());
    }
}
