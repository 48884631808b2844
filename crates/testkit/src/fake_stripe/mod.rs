//! A fake Stripe on loopback that speaks Stripe's wire format, for black-box tests.
//!
//! - Requests are form-encoded with bracketed keys and must carry
//!   `Authorization: Bearer sk_test_…` (or `rk_test_…`); anything else gets Stripe's 401
//!   body. Unlike Stripe, which masks all but the last four characters, the 401 message quotes
//!   the whole key, so a client that passes Stripe's messages on leaks it in tests.
//! - Answers are Stripe-shaped JSON objects (`pi_…`, `re_…`, `cus_…`, `sub_…`, `po_…`); see
//!   `api.rs` for the objects and the test payment methods.
//! - `Idempotency-Key` on a POST works as at Stripe: the same key with the same endpoint and
//!   parameters replays the saved answer (with `Idempotent-Replayed: true`), declines included;
//!   with anything else it is a 400 `idempotency_error`.
//! - Faults: [`FakeStripe::fail_next`] answers the next requests with a 5xx before they run
//!   (as a load balancer would, so nothing is saved); [`FakeStripe::drop_next`] runs the next
//!   requests and then closes the connection without an answer (a lost response).
//! - Every request is recorded with its headers and parameters.

mod api;
mod form;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The parameters, brackets read into objects and arrays.
    pub params: Value,
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

#[derive(Debug, Clone, PartialEq)]
struct Saved {
    method: String,
    path: String,
    params: Value,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct Inner {
    book: api::Book,
    saved: HashMap<(String, String), Saved>,
    requests: Vec<Recorded>,
    fail: Vec<u16>,
    drop: u32,
}

/// A running fake Stripe; stops when dropped.
pub struct FakeStripe {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeStripe {
    /// Starts a fake on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone())
            .into_make_service_with_connect_info::<Cut>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(Cuttable(listener), app).await;
        });
        Self { addr, inner, task }
    }

    /// The base URL to give the adapter (`INTEG_STRIPE_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next `n` requests with `status` and an `api_error` body, before they run.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inner
            .lock()
            .unwrap()
            .fail
            .extend(std::iter::repeat_n(status, n));
    }

    /// Runs the next `n` requests, then closes each connection without answering.
    pub fn drop_next(&self, n: u32) {
        self.inner.lock().unwrap().drop += n;
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

    /// How many PaymentIntents were created: each one is a charge attempt.
    pub fn payment_intents_created(&self) -> usize {
        self.inner.lock().unwrap().book.payment_intents_created
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = match method {
        Method::POST => String::from_utf8_lossy(&body).into_owned(),
        _ => uri.query().unwrap_or_default().to_owned(),
    };
    let mut record = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        params: form::parse(&raw),
        status: 0,
        replayed: false,
    };
    let mut inner = inner.lock().unwrap();
    let (status, body) = answer(&mut inner, &mut record);
    if inner.drop > 0 {
        inner.drop -= 1;
        cut.0.store(true, Ordering::SeqCst);
    } else {
        record.status = status;
    }
    let replayed = record.replayed;
    inner.requests.push(record);
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "request-id",
        format!("req_fake{}", inner.requests.len()).parse().unwrap(),
    );
    if replayed {
        headers.insert("idempotent-replayed", "true".parse().unwrap());
    }
    response
}

fn answer(inner: &mut Inner, record: &mut Recorded) -> (u16, Value) {
    let key = record
        .header("authorization")
        .unwrap_or_default()
        .to_owned();
    let key = key.strip_prefix("Bearer ").unwrap_or(&key);
    if !(key.starts_with("sk_test_") || key.starts_with("rk_test_")) {
        return api::error(
            401,
            "invalid_request_error",
            None,
            None,
            &format!("Invalid API Key provided: {key}"),
        );
    }
    if !inner.fail.is_empty() {
        let status = inner.fail.remove(0);
        return api::error(
            status,
            "api_error",
            None,
            None,
            "Stripe is temporarily unavailable.",
        );
    }
    let idempotency = match (record.method.as_str(), record.header("idempotency-key")) {
        ("POST", Some(k)) => Some((
            record
                .header("stripe-account")
                .unwrap_or_default()
                .to_owned(),
            k.to_owned(),
        )),
        _ => None,
    };
    if let Some(saved) = idempotency.as_ref().and_then(|k| inner.saved.get(k)) {
        if saved.method == record.method
            && saved.path == record.path
            && saved.params == record.params
        {
            record.replayed = true;
            return (saved.status, saved.body.clone());
        }
        return api::error(
            400,
            "idempotency_error",
            None,
            None,
            "Keys for idempotent requests can only be used with the same parameters.",
        );
    }
    let segments: Vec<&str> = record.path.split('/').filter(|s| !s.is_empty()).collect();
    let (status, body) = inner.book.handle(&record.method, &segments, &record.params);
    if let Some(key) = idempotency {
        let saved = Saved {
            method: record.method.clone(),
            path: record.path.clone(),
            params: record.params.clone(),
            status,
            body: body.clone(),
        };
        inner.saved.insert(key, saved);
    }
    (status, body)
}

/// A TCP listener whose connections a handler can cut: after [`Cut`] is set, the connection
/// refuses to write, so hyper drops it without sending the response.
struct Cuttable(TcpListener);

/// The cut switch of one connection, handed to handlers as connect info.
#[derive(Debug, Clone, Default)]
struct Cut(Arc<AtomicBool>);

struct CuttableStream {
    inner: TcpStream,
    cut: Arc<AtomicBool>,
}

impl Listener for Cuttable {
    type Io = CuttableStream;
    type Addr = Cut;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((inner, _)) = self.0.accept().await {
                let cut = Cut::default();
                let stream = CuttableStream {
                    inner,
                    cut: cut.0.clone(),
                };
                return (stream, cut);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Cut::default())
    }
}

impl Connected<IncomingStream<'_, Cuttable>> for Cut {
    fn connect_info(stream: IncomingStream<'_, Cuttable>) -> Self {
        stream.remote_addr().clone()
    }
}

impl CuttableStream {
    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

fn reset<T>() -> Poll<io::Result<T>> {
    Poll::Ready(Err(io::Error::from(io::ErrorKind::ConnectionReset)))
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return reset();
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_cut() {
            return reset();
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return reset();
        }
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
