//! The loopback server every fake provider runs on: it records each request, injects faults,
//! and can cut a connection after the request ran, as a lost response would.
//!
//! A fake provider is an [`Api`]: what the provider does with a request, how it answers an
//! injected failure (its own error body), and how its parameters read for assertions. The
//! server holds the API behind one lock, so each request sees the effects of the ones before.
//!
//! Faults are queued with [`FakeServer::inject`] (any request) or [`FakeServer::inject_at`]
//! (requests whose path starts with a prefix) and each is used by one request:
//! - [`Fault::Status`] and [`Fault::RateLimited`] answer before the request runs, as a load
//!   balancer or the provider's throttle would, so nothing happens at the provider;
//! - [`Fault::Slow`], [`Fault::Drop`] and [`Fault::Malformed`] run the request first, so the
//!   provider did the work and only the answer is late, lost or unreadable.

mod cut;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;

use cut::{Cut, Cuttable};

/// A request as the fake provider sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The raw body.
    pub body: Bytes,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The path's non-empty segments.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// The body read as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What the fake answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the answer replays a saved one (an idempotent replay).
    pub replayed: bool,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
            replayed: false,
        }
    }

    /// An answer with no body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            replayed: false,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A fake provider's behaviour.
pub trait Api: Send + 'static {
    /// Handles one request that no injected fault stopped.
    fn handle(&mut self, request: &Request) -> Reply;

    /// The provider's answer to an injected failure with `status` (a 5xx, or 429 with
    /// `retry_after` seconds), in the provider's own error format.
    fn failure(&self, status: u16, retry_after: Option<u64>) -> Reply;

    /// The request's parameters as JSON, for assertions: the form or JSON body, or the query.
    fn params(&self, request: &Request) -> Value;
}

/// An injected fault, used by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` with the provider's error body before the request runs.
    Status(u16),
    /// Answer 429 with `Retry-After: secs` and the provider's throttling body, before it runs.
    RateLimited(u64),
    /// Run the request, then answer only after this long (past the caller's deadline).
    Slow(Duration),
    /// Run the request, then close the connection without answering: a lost response.
    Drop,
    /// Run the request, then answer 200 with a body that is not JSON.
    Malformed,
}

/// One request the fake received, and how it was answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The parameters, as the provider's [`Api::params`] reads them.
    pub params: Value,
    /// The raw body, as text.
    pub body: String,
    /// The status answered (0 when the connection was cut instead).
    pub status: u16,
    /// Whether the answer was an idempotent replay.
    pub replayed: bool,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

struct Inner<A> {
    api: A,
    requests: Vec<Recorded>,
    faults: Vec<(String, Fault)>,
}

/// A running fake provider; stops when dropped.
pub struct FakeServer<A: Api> {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner<A>>>,
    task: tokio::task::JoinHandle<()>,
}

impl<A: Api> Drop for FakeServer<A> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<A: Api + Default> FakeServer<A> {
    /// Starts the provider's fake in its initial state on a free loopback port.
    pub async fn start() -> Self {
        Self::start_with(A::default()).await
    }
}

impl<A: Api> FakeServer<A> {
    /// Starts `api` on a free loopback port.
    pub async fn start_with(api: A) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            api,
            requests: Vec::new(),
            faults: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(handle::<A>)
            .with_state(inner.clone())
            .into_make_service_with_connect_info::<Cut>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(Cuttable(listener), app).await;
        });
        Self { addr, inner, task }
    }

    /// The base URL to give the adapter (`INTEG_<PROVIDER>_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues `fault` for the next `n` requests, whatever their path.
    pub fn inject(&self, n: usize, fault: Fault) {
        self.inject_at("/", n, fault);
    }

    /// Queues `fault` for the next `n` requests whose path starts with `prefix`.
    pub fn inject_at(&self, prefix: &str, n: usize, fault: Fault) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .faults
            .extend(std::iter::repeat_n((prefix.to_owned(), fault), n));
    }

    /// Answers the next `n` requests with `status` and the provider's error body, before they
    /// run.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inject(n, Fault::Status(status));
    }

    /// Runs the next `n` requests, then closes each connection without answering.
    pub fn drop_next(&self, n: usize) {
        self.inject(n, Fault::Drop);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The requests to `method path` so far.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// Runs `f` on the provider's state (to read it, or to arrange a test).
    pub fn with_api<R>(&self, f: impl FnOnce(&mut A) -> R) -> R {
        f(&mut self.inner.lock().unwrap().api)
    }
}

async fn handle<A: Api>(
    State(inner): State<Arc<Mutex<Inner<A>>>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body,
    };
    let (mut reply, fault) = {
        let mut inner = inner.lock().unwrap();
        let fault = inner
            .faults
            .iter()
            .position(|(prefix, _)| request.path.starts_with(prefix.as_str()))
            .map(|i| inner.faults.remove(i).1);
        let reply = match &fault {
            Some(Fault::Status(status)) => inner.api.failure(*status, None),
            Some(Fault::RateLimited(secs)) => inner
                .api
                .failure(429, Some(*secs))
                .with_header("retry-after", secs.to_string()),
            _ => inner.api.handle(&request),
        };
        let params = inner.api.params(&request);
        inner.requests.push(Recorded {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            params,
            body: String::from_utf8_lossy(&request.body).into_owned(),
            status: if fault == Some(Fault::Drop) {
                0
            } else {
                reply.status
            },
            replayed: reply.replayed,
        });
        (reply, fault)
    };
    match fault {
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Drop) => cut.sever(),
        Some(Fault::Malformed) => {
            reply = Reply::empty(200).with_header("content-type", "application/json");
            reply.body = b"<html><body>upstream glitch</body></html>".to_vec();
        }
        _ => {}
    }
    into_response(reply)
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
