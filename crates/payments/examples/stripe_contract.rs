//! Checks the requests our Stripe provider builds against Stripe's OpenAPI description, by
//! driving the real provider (config, request builders, headers, form encoding, parsing)
//! against a Prism mock of the spec. Run by `scripts/contract-check.sh`:
//!
//! ```text
//! cargo run -p integ-payments --example stripe_contract -- http://127.0.0.1:4010
//! ```
//!
//! Every operation of the provider is called once. The provider talks to a recording proxy in
//! this process, which forwards to Prism; an operation passes when each of its requests got a
//! 2xx answer without an `sl-violations` header (Prism's report of what the spec does not
//! allow) and the provider read the answer. Any failure is listed and the exit status is 1.
//!
//! One adaptation: Prism cannot read arrays of objects in a form body (`items[0][price]=…`,
//! which is how Stripe and its libraries send them) and answers 415. The proxy rewrites such
//! groups into the JSON array Prism reads; the rest of the body is checked as sent. Prism then
//! accepts the items without checking their fields, which the unit tests of the request
//! builders and the black-box tests against the fake Stripe cover instead.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)] // A CLI check.

use std::collections::BTreeMap;
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use integ_core::config::Env;
use integ_core::family::CallCtx;
use integ_payments::provider::PaymentsProvider;
use integ_payments::stripe::{Stripe, StripeConfig};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::*;
use serde_json::Value;

/// One request as Prism judged it.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    status: u16,
    violations: Option<String>,
}

struct Proxy {
    prism: String,
    http: reqwest::Client,
    seen: Mutex<Vec<Exchange>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(prism) = std::env::args().nth(1) else {
        eprintln!("usage: stripe_contract <prism base URL>");
        return ExitCode::from(64);
    };
    match run(prism.trim_end_matches('/').to_owned()).await {
        Ok(0) => {
            println!("stripe contract: every operation conforms to the spec");
            ExitCode::SUCCESS
        }
        Ok(failures) => {
            eprintln!("stripe contract: {failures} operation(s) do not conform");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("stripe contract: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(prism: String) -> Result<usize> {
    let proxy = Arc::new(Proxy {
        prism,
        http: reqwest::Client::new(),
        seen: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let env = Env::from_pairs([
        ("INTEG_STRIPE_API_KEY", "sk_test_contract_check".to_owned()),
        ("INTEG_STRIPE_BASE_URL", format!("http://{addr}")),
        ("INTEG_STRIPE_ACCOUNT", "acct_1ContractCheck".to_owned()),
    ]);
    let config = StripeConfig::from_env(&env).context("Stripe settings")?;
    let mut check = Check {
        stripe: Stripe::new(config),
        proxy,
        failures: 0,
    };
    check.all().await;
    Ok(check.failures)
}

struct Check {
    stripe: Stripe,
    proxy: Arc<Proxy>,
    failures: usize,
}

fn ctx(op: &str) -> CallCtx {
    CallCtx {
        idempotency_key: format!("integ-contract-{op}"),
        attempt: 1,
    }
}

fn usd(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "USD".into(),
    })
}

impl Check {
    async fn all(&mut self) {
        let s = self.stripe.clone();
        let metadata = BTreeMap::from([("order".to_owned(), "42".to_owned())]);
        let payment = CreatePaymentRequest {
            amount: usd(5000),
            capture_method: CaptureMethod::Manual.into(),
            payment_method: "pm_card_visa".into(),
            customer_id: "cus_contract".into(),
            description: "order 42".into(),
            metadata: metadata.clone(),
            ..Default::default()
        };
        self.op("create payment", s.create_payment(&ctx("pay"), &payment))
            .await;
        let redirecting = CreatePaymentRequest {
            capture_method: CaptureMethod::Immediate.into(),
            return_url: "https://shop.example/return".into(),
            customer_id: String::new(),
            ..payment
        };
        self.op(
            "create payment, return URL",
            s.create_payment(&ctx("pay2"), &redirecting),
        )
        .await;
        self.op("get payment", s.get_payment(&ctx(""), "pi_contract"))
            .await;
        let part = usd(3000);
        self.op(
            "capture payment",
            s.capture_payment(&ctx("capture"), "pi_contract", part.as_ref()),
        )
        .await;
        self.op(
            "capture payment, in full",
            s.capture_payment(&ctx("capture2"), "pi_contract", None),
        )
        .await;
        self.op(
            "cancel payment",
            s.cancel_payment(&ctx("cancel"), "pi_contract"),
        )
        .await;
        let refund = CreateRefundRequest {
            payment_id: "pi_contract".into(),
            amount: usd(1000),
            reason: RefundReason::RequestedByCustomer.into(),
            note: "asked nicely".into(),
            ..Default::default()
        };
        self.op("create refund", s.create_refund(&ctx("refund"), &refund))
            .await;
        self.op("get refund", s.get_refund(&ctx(""), "re_contract"))
            .await;
        let customer = CreateCustomerRequest {
            email: "ada@example.com".into(),
            name: "Ada Lovelace".into(),
            phone: "+15555550100".into(),
            metadata: metadata.clone(),
            ..Default::default()
        };
        self.op(
            "create customer",
            s.create_customer(&ctx("customer"), &customer),
        )
        .await;
        self.op("get customer", s.get_customer(&ctx(""), "cus_contract"))
            .await;
        let subscription = CreateSubscriptionRequest {
            customer_id: "cus_contract".into(),
            price_id: "price_contract".into(),
            quantity: 2,
            payment_method: "pm_card_visa".into(),
            metadata,
            ..Default::default()
        };
        self.op(
            "create subscription",
            s.create_subscription(&ctx("sub"), &subscription),
        )
        .await;
        self.op(
            "get subscription",
            s.get_subscription(&ctx(""), "sub_contract"),
        )
        .await;
        self.op(
            "cancel subscription, at period end",
            s.cancel_subscription(&ctx("sub-end"), "sub_contract", true),
        )
        .await;
        self.op(
            "cancel subscription, now",
            s.cancel_subscription(&ctx("sub-now"), "sub_contract", false),
        )
        .await;
        let payout = CreatePayoutRequest {
            amount: usd(700),
            destination: "ba_contract".into(),
            description: "Weekly payout".into(),
            ..Default::default()
        };
        self.op("create payout", s.create_payout(&ctx("payout"), &payout))
            .await;
        self.op("get payout", s.get_payout(&ctx(""), "po_contract"))
            .await;
    }

    /// Runs one operation and judges the requests it made.
    async fn op<T>(&mut self, name: &str, call: impl Future<Output = integ_core::Result<T>>) {
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
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = proxy
        .http
        .request(method.clone(), format!("{}{path_and_query}", proxy.prism));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    if !body.is_empty() {
        request = request.body(prism_form(&body));
    }
    let (status, violations, answer) = match request.send().await {
        Ok(response) => {
            let status = response.status();
            let violations = response
                .headers()
                .get("sl-violations")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
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
        path: uri.path().to_owned(),
        status: status.as_u16(),
        violations,
    });
    let mut response = (status, answer).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

/// The body with `name[N][field]=v` groups turned into `name=<JSON array>`, which is how Prism
/// reads arrays of objects in a form; everything else is passed as sent.
fn prism_form(body: &[u8]) -> Vec<u8> {
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    let mut arrays: BTreeMap<String, BTreeMap<usize, serde_json::Map<String, Value>>> =
        BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        match object_in_array(&key) {
            Some((name, index, field)) => {
                arrays
                    .entry(name)
                    .or_default()
                    .entry(index)
                    .or_default()
                    .insert(field, Value::String(value.into_owned()));
            }
            None => {
                kept.append_pair(&key, &value);
            }
        }
    }
    for (name, items) in arrays {
        let list: Vec<Value> = items.into_values().map(Value::Object).collect();
        kept.append_pair(&name, &Value::Array(list).to_string());
    }
    kept.finish().into_bytes()
}

/// `items[0][price]` as `("items", 0, "price")`.
fn object_in_array(key: &str) -> Option<(String, usize, String)> {
    let (name, rest) = key.split_once('[')?;
    let (index, rest) = rest.split_once("][")?;
    let field = rest.strip_suffix(']')?;
    let index = index.parse().ok()?;
    (!field.contains('[')).then(|| (name.to_owned(), index, field.to_owned()))
}
