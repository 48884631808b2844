//! A fake Stripe on loopback: `POST /v1/payment_intents` answers a PaymentIntent at once, after
//! a delay, when released (held requests), or 503 with a Stripe error body while failing. It
//! counts the requests it receives and those it is still working on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::watch;

/// The shared behaviour and counters of a fake.
#[derive(Debug)]
struct Inner {
    requests: AtomicU64,
    in_flight: AtomicI64,
    failing: AtomicBool,
    delay_us: AtomicU64,
    close: AtomicBool,
    held: watch::Sender<bool>,
}

/// A running fake provider.
#[derive(Debug, Clone)]
pub struct Fake {
    /// `http://127.0.0.1:port`.
    pub url: String,
    inner: Arc<Inner>,
}

impl Fake {
    /// Starts a fake that answers at once.
    pub async fn start() -> Result<Self> {
        let inner = Arc::new(Inner {
            requests: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            failing: AtomicBool::new(false),
            delay_us: AtomicU64::new(0),
            close: AtomicBool::new(false),
            held: watch::Sender::new(false),
        });
        let app = axum::Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .fallback(not_found)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, inner })
    }

    /// Answers after `delay` from now on (zero: at once).
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.inner.delay_us.store(us, Ordering::SeqCst);
    }

    /// Answers 503 while `failing`.
    pub fn set_failing(&self, failing: bool) {
        self.inner.failing.store(failing, Ordering::SeqCst);
    }

    /// Closes each connection after its answer (so idle pooled connections do not pile up).
    pub fn set_close(&self, close: bool) {
        self.inner.close.store(close, Ordering::SeqCst);
    }

    /// Holds every request until [`Fake::release`].
    pub fn hold(&self) {
        self.inner.held.send_replace(true);
    }

    /// Answers every held request, and no longer holds new ones.
    pub fn release(&self) {
        self.inner.held.send_replace(false);
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Requests received and not answered yet.
    pub fn in_flight(&self) -> i64 {
        self.inner.in_flight.load(Ordering::SeqCst)
    }
}

/// Counts a request as in flight until dropped (also when the caller gives up on it).
struct InFlight<'a>(&'a AtomicI64);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicI64) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn create_intent(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let n = inner.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let _in_flight = InFlight::enter(&inner.in_flight);
    let mut held = inner.held.subscribe();
    if *held.borrow_and_update() {
        let _ = held.wait_for(|h| !*h).await;
    }
    let delay = inner.delay_us.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
    let mut response = if inner.failing.load(Ordering::SeqCst) {
        let body = json!({"error": {"type": "api_error", "message": "Stripe is unavailable (integ-bench fake)."}});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    } else {
        axum::Json(intent(n, &body)).into_response()
    };
    response
        .headers_mut()
        .insert("request-id", HeaderValue::from_static("req_bench"));
    if inner.close.load(Ordering::SeqCst) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The PaymentIntent answering a form-encoded create request.
fn intent(n: u64, form: &[u8]) -> serde_json::Value {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(form).unwrap_or_default();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let amount: i64 = get("amount").and_then(|a| a.parse().ok()).unwrap_or(1000);
    let currency = get("currency").unwrap_or("usd").to_ascii_lowercase();
    let capture = get("capture_method").unwrap_or("automatic");
    let (status, received) = if capture == "manual" {
        ("requires_capture", 0)
    } else {
        ("succeeded", amount)
    };
    let mut metadata = serde_json::Map::new();
    for (k, v) in &fields {
        if let Some(key) = k
            .strip_prefix("metadata[")
            .and_then(|r| r.strip_suffix(']'))
        {
            metadata.insert(key.to_owned(), json!(v));
        }
    }
    json!({
        "id": format!("pi_bench{n:08}"),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount - received,
        "amount_received": received,
        "currency": currency,
        "status": status,
        "capture_method": capture,
        "payment_method": get("payment_method").unwrap_or("pm_card_visa"),
        "customer": get("customer"),
        "description": get("description"),
        "created": 1_700_000_000,
        "livemode": false,
        "metadata": metadata,
    })
}

async fn not_found(State(inner): State<Arc<Inner>>) -> Response {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let body = json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL (integ-bench fake)."}});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}
