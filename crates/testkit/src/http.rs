//! One-shot HTTP calls into an [`axum::Router`] (feature `http`): each surface's tests wire their
//! own router (the kit sits below the surfaces) and send requests through it with these.
//!
//! ```ignore
//! let app = TestApp::new(router);
//! let r = app.post("/account/v1/password").bearer(&token).json(body).send().await;
//! assert_eq!(r.status, StatusCode::OK, "{}", r.body);
//! ```

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A router under test, called one request at a time.
#[derive(Clone)]
pub struct TestApp {
    router: Router,
}

impl TestApp {
    /// Calls `router` as it is.
    pub fn new(router: Router) -> TestApp {
        TestApp { router }
    }

    /// Calls `router` as if every request came from `peer` (what the server's listener would
    /// give the client-IP layer).
    pub fn from_peer(router: Router, peer: SocketAddr) -> TestApp {
        TestApp::new(router.layer(MockConnectInfo(peer)))
    }

    /// The router itself.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// A request with `method` to `path` (with its query), sent by [`Call::send`].
    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: self,
            request: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> Call<'_> {
        self.request(Method::GET, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> Call<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> Call<'_> {
        self.request(Method::PUT, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> Call<'_> {
        self.request(Method::DELETE, path)
    }

    /// A JSON call: `method` to `path`, with a bearer token and a JSON body when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.request(method, path)
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    /// Sends a request built elsewhere and reads the whole answer.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .collect()
            .await
            .expect("the whole body")
            .to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
        }
    }
}

/// A request being built; [`Call::send`] sends it.
pub struct Call<'a> {
    app: &'a TestApp,
    request: http::request::Builder,
    body: Body,
}

impl<'b> Call<'_> {
    /// Adds a header.
    pub fn header(mut self, name: impl TryInto<HeaderName>, value: &str) -> Self {
        let Ok(name) = name.try_into() else {
            panic!("a valid header name")
        };
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.request = self.request.header(name, value);
        self
    }

    /// `Authorization: Bearer <token>` when a token is given.
    pub fn bearer(self, token: impl Into<Option<&'b str>>) -> Self {
        match token.into() {
            Some(t) => self.header(header::AUTHORIZATION, &format!("Bearer {t}")),
            None => self,
        }
    }

    /// `Cookie: <cookie>` when one is given.
    pub fn cookie(self, cookie: impl Into<Option<&'b str>>) -> Self {
        match cookie.into() {
            Some(c) => self.header(header::COOKIE, c),
            None => self,
        }
    }

    /// A JSON body with `Content-Type: application/json`, when one is given.
    pub fn json(self, body: impl Into<Option<Value>>) -> Self {
        match body.into() {
            Some(v) => self
                .header(header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            None => self,
        }
    }

    /// An `application/x-www-form-urlencoded` body of these pairs, values percent-encoded.
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", form_escape(v)))
            .collect();
        self.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.join("&"))
    }

    /// A body as it is, with no content type.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(self) -> Reply {
        let request = self.request.body(self.body).expect("a valid request");
        self.app.send(request).await
    }
}

/// A whole answer.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON; `Null` when it is not JSON.
    pub body: Value,
    /// The body's bytes.
    pub raw: Bytes,
}

impl Reply {
    /// A header's value, `""` when absent or not text.
    pub fn header(&self, name: impl http::header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// Asserts an RFC 9457 problem (`application/problem+json`) with this status and `code`, and
    /// returns its detail.
    pub fn problem(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.body["status"], status.as_u16());
        assert_eq!(self.body["code"], code, "{}", self.body);
        self.body["detail"].as_str().unwrap_or("").to_owned()
    }

    /// The value this answer sets for a cookie (`Set-Cookie: name=value; …`).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_owned))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }
}

/// Percent-encodes all but ASCII letters, digits, `-`, `_` and `.`, as a form or query value.
pub fn form_escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
