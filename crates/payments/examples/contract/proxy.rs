//! The recording proxy between a provider under check and Prism, and the judge of each
//! operation's requests.
//!
//! Only violations of the request count. Prism also reports where its own answer (a spec
//! example) breaks the spec's response schema, with a location starting at `response`; those
//! say nothing about what the provider sent and are left out.

use std::future::Future;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The call context of operation `op`: a fixed idempotency key per operation, first attempt.
pub fn ctx(op: &str) -> integ_core::family::CallCtx {
    integ_core::family::CallCtx {
        idempotency_key: format!("integ-contract-{op}"),
        attempt: 1,
    }
}

/// An amount in US dollars.
pub fn usd(amount_minor: i64) -> Option<integ_proto::common::v1::Money> {
    Some(integ_proto::common::v1::Money {
        amount_minor,
        currency: "USD".into(),
    })
}

/// One request as Prism judged it.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    status: u16,
    violations: Option<String>,
}

/// Where the proxy sends requests, and what it changes on the way.
pub struct Routes {
    /// Path prefixes and the Prism each goes to; the first match wins, and a request that
    /// matches none goes to the first Prism.
    pub prisms: Vec<(String, String)>,
    /// Paths the proxy answers itself (with this status and body) because no spec covers them,
    /// such as an OAuth token endpoint. They are not judged. [`Check::answer`] adds more.
    pub canned: Vec<(String, u16, Value)>,
    /// Rewrites a body before Prism sees it (for a reading of the encoding Prism lacks).
    pub rewrite: fn(&[u8]) -> Vec<u8>,
}

impl Routes {
    /// Everything to one Prism, bodies as sent.
    pub fn one(prism: &str) -> Self {
        Self {
            prisms: vec![("/".to_owned(), prism.to_owned())],
            canned: Vec::new(),
            rewrite: <[u8]>::to_vec,
        }
    }
}

struct Proxy {
    routes: Routes,
    canned: Mutex<Vec<(String, u16, Value)>>,
    http: reqwest::Client,
    seen: Mutex<Vec<Exchange>>,
}

/// Runs operations through the proxy and counts those that do not conform.
pub struct Check {
    proxy: Arc<Proxy>,
    /// The base URL to give the provider.
    pub url: String,
    /// Operations that failed so far.
    pub failures: usize,
}

impl Check {
    /// Starts the proxy on a free loopback port.
    pub async fn start(routes: Routes) -> Result<Self> {
        let proxy = Arc::new(Proxy {
            canned: Mutex::new(routes.canned.clone()),
            routes,
            http: reqwest::Client::new(),
            seen: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            proxy,
            url,
            failures: 0,
        })
    }

    /// Answers `path` with `status` and `body` from now on, without asking Prism: the state an
    /// operation starts from, where the spec's example is in another state (an order the payer
    /// has approved). Such answers are not judged.
    pub fn answer(&self, path: &str, status: u16, body: Value) {
        let mut canned = self.proxy.canned.lock().unwrap();
        canned.retain(|(p, _, _)| p != path);
        canned.push((path.to_owned(), status, body));
    }

    /// Runs one operation and judges the requests it made.
    pub async fn op<T>(&mut self, name: &str, call: impl Future<Output = integ_core::Result<T>>) {
        let before = self.proxy.seen.lock().unwrap().len();
        let result = call.await;
        let exchanges: Vec<Exchange> = self
            .proxy
            .seen
            .lock()
            .unwrap()
            .iter()
            .skip(before)
            .cloned()
            .collect();
        let mut problems = Vec::new();
        if exchanges.is_empty() {
            problems.push("no request reached Prism".to_owned());
        }
        for e in &exchanges {
            if !(200..300).contains(&e.status) || e.violations.is_some() {
                problems.push(format!(
                    "{} {} -> {}: {}",
                    e.method,
                    e.path,
                    e.status,
                    e.violations.as_deref().unwrap_or("no violations listed")
                ));
            }
        }
        if let (Err(error), true) = (&result, problems.is_empty()) {
            problems.push(format!("the provider could not use the answer: {error}"));
        }
        if problems.is_empty() {
            println!("ok    {name}");
        } else {
            self.failures += 1;
            println!("FAIL  {name}");
            for p in problems {
                println!("        {p}");
            }
        }
    }
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let canned = proxy
        .canned
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _, _)| p == path)
        .cloned();
    if let Some((_, status, answer)) = canned {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, axum::Json(answer)).into_response();
    }
    let prism = proxy
        .routes
        .prisms
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        .or(proxy.routes.prisms.first())
        .map(|(_, prism)| prism.clone())
        .unwrap_or_default();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = proxy
        .http
        .request(method.clone(), format!("{prism}{path_and_query}"));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    if !body.is_empty() {
        request = request.body((proxy.routes.rewrite)(&body));
    }
    let (status, violations, answer) = match request.send().await {
        Ok(response) => {
            let status = response.status();
            let violations = response
                .headers()
                .get("sl-violations")
                .and_then(|v| about_the_request(v.as_bytes()));
            (
                status,
                violations,
                response.bytes().await.unwrap_or_default(),
            )
        }
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            Some(format!("Prism did not answer: {error}")),
            Bytes::new(),
        ),
    };
    proxy.seen.lock().unwrap().push(Exchange {
        method: method.to_string(),
        path: path.to_owned(),
        status: status.as_u16(),
        violations,
    });
    let mut response = (status, answer).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

/// The violations Prism listed about the request, or `None` when there are none. Prism
/// writes a JSON list, or `Too many violations! ` and a list cut short; each entry has a
/// `"location":["<where>", …]`, and those located at `response` are left out. A list whose
/// locations cannot be read is kept whole, so that nothing is hidden by accident.
fn about_the_request(header: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(header).into_owned();
    let list = text.strip_prefix("Too many violations! ").unwrap_or(&text);
    if let Ok(Value::Array(all)) = serde_json::from_str::<Value>(list) {
        let kept: Vec<Value> = all
            .into_iter()
            .filter(|v| v.pointer("/location/0").and_then(Value::as_str) != Some("response"))
            .collect();
        return (!kept.is_empty()).then(|| Value::Array(kept).to_string());
    }
    let marker = "\"location\":[\"";
    let places: Vec<&str> = list
        .split(marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    if places.is_empty() || places.iter().any(|p| *p != "response") {
        return Some(text);
    }
    None
}
