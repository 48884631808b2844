//! The baselines integ is compared with: a bare tonic server implementing
//! `integ.payments.v1.PaymentsService/CreatePayment` only, run as a child process
//! (`integ-bench serve-bare`) so that its CPU and memory are accounted like the adapter's.
//!
//! - `--mode pass`: one form-encoded `POST /v1/payment_intents` to the provider per call with a
//!   pooled reqwest client set up like integ's, the JSON answer mapped to the response: the
//!   least any gRPC-in, HTTP-out gateway must do. No store, no retries, no logs.
//! - `--mode echo`: answers at once without any HTTP call: the cost of tonic itself.
//!
//! Both serve `grpc.health.v1` (SERVING for the payments service) for the cold-start scenario.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use integ_proto::common::v1::Money;
use integ_proto::payments::v1::payments_service_server::{PaymentsService, PaymentsServiceServer};
use integ_proto::payments::v1::*;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// The hidden subcommand that runs the bare server.
pub const SUBCOMMAND: &str = "serve-bare";

/// The gRPC name of the payments service.
pub const SERVICE: &str = "integ.payments.v1.PaymentsService";

/// Runs the bare server with `args` (after the subcommand) until killed.
pub fn main(args: &[String]) -> Result<()> {
    let mut mode = String::from("echo");
    let mut provider = String::new();
    let mut port: u16 = 0;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--mode" => mode = it.next().context("--mode needs a value")?.clone(),
            "--provider" => provider = it.next().context("--provider needs a value")?.clone(),
            "--port" => port = it.next().context("--port needs a value")?.parse()?,
            other => bail!("serve-bare: unknown argument {other}"),
        }
    }
    let pass = match mode.as_str() {
        "pass" => true,
        "echo" => false,
        other => bail!("serve-bare: --mode must be pass or echo, not {other}"),
    };
    if pass && provider.is_empty() {
        bail!("serve-bare: --mode pass needs --provider URL");
    }
    // The same runtime as the adapters: multi-threaded, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(pass, provider, port))
}

async fn serve(pass: bool, provider: String, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    let service = Bare {
        client: pass.then(client),
        url: format!("{}/v1/payment_intents", provider.trim_end_matches('/')),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}",
            serde_json::json!({"message": "integ listening", "grpc": addr.to_string(), "http": "", "metrics": ""})
        )?;
        out.flush()?;
    }
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(PaymentsServiceServer::new(service))
        .serve_with_incoming(TcpIncoming::from(listener))
        .await?;
    Ok(())
}

/// A client set up like integ's shared one (`integ_core::http::client`).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("integ-bench-bare/0")
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

struct Bare {
    client: Option<reqwest::Client>,
    url: String,
}

impl Bare {
    async fn pass(
        &self,
        client: &reqwest::Client,
        req: CreatePaymentRequest,
    ) -> Result<CreatePaymentResponse, Status> {
        let amount = req.amount.clone().unwrap_or_default();
        let capture = if req.capture_method() == CaptureMethod::Manual {
            "manual"
        } else {
            "automatic"
        };
        let mut form = vec![
            ("amount".to_owned(), amount.amount_minor.to_string()),
            ("currency".to_owned(), amount.currency.to_ascii_lowercase()),
            ("payment_method".to_owned(), req.payment_method.clone()),
            ("capture_method".to_owned(), capture.to_owned()),
            ("confirm".to_owned(), "true".to_owned()),
        ];
        for (k, v) in &req.metadata {
            form.push((format!("metadata[{k}]"), v.clone()));
        }
        let answer = client
            .post(&self.url)
            .bearer_auth("sk_test_integbench")
            .header("idempotency-key", &req.idempotency_key)
            .form(&form)
            .send()
            .await
            .map_err(|e| Status::unavailable(format!("provider: {e}")))?;
        if !answer.status().is_success() {
            return Err(Status::unavailable(format!(
                "provider answered HTTP {}",
                answer.status().as_u16()
            )));
        }
        let intent: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| Status::unavailable(format!("provider: {e}")))?;
        let id = intent
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let status = match intent.get("status").and_then(serde_json::Value::as_str) {
            Some("succeeded") => PaymentStatus::Succeeded,
            Some("requires_capture") => PaymentStatus::RequiresCapture,
            _ => PaymentStatus::Processing,
        };
        Ok(response(&req, id, status))
    }
}

fn response(
    req: &CreatePaymentRequest,
    provider_id: String,
    status: PaymentStatus,
) -> CreatePaymentResponse {
    let amount = req.amount.clone().unwrap_or_default();
    let captured = if status == PaymentStatus::Succeeded {
        amount.clone()
    } else {
        Money {
            amount_minor: 0,
            currency: amount.currency.clone(),
        }
    };
    CreatePaymentResponse {
        payment: Some(Payment {
            id: format!("pay_{provider_id}"),
            provider: "stripe".to_owned(),
            provider_id,
            status: status.into(),
            capture_method: req.capture_method,
            amount: Some(amount.clone()),
            amount_captured: Some(captured),
            amount_refunded: Some(Money {
                amount_minor: 0,
                currency: amount.currency,
            }),
            metadata: req.metadata.clone(),
            create_time: Some(prost_types_now()),
            update_time: Some(prost_types_now()),
            ..Payment::default()
        }),
        provider: "stripe".to_owned(),
    }
}

fn prost_types_now() -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(now.as_secs()).unwrap_or(0),
        nanos: i32::try_from(now.subsec_nanos()).unwrap_or(0),
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn no<T>() -> Reply<T> {
    Err(Status::unimplemented(
        "the bare baseline implements CreatePayment only",
    ))
}

#[tonic::async_trait]
impl PaymentsService for Bare {
    async fn create_payment(
        &self,
        request: Request<CreatePaymentRequest>,
    ) -> Reply<CreatePaymentResponse> {
        let req = request.into_inner();
        match &self.client {
            Some(client) => self.pass(client, req).await.map(Response::new),
            None => Ok(Response::new(response(
                &req,
                "pi_echo".to_owned(),
                PaymentStatus::Succeeded,
            ))),
        }
    }
    async fn get_payment(&self, _: Request<GetPaymentRequest>) -> Reply<GetPaymentResponse> {
        no()
    }
    async fn capture_payment(
        &self,
        _: Request<CapturePaymentRequest>,
    ) -> Reply<CapturePaymentResponse> {
        no()
    }
    async fn cancel_payment(
        &self,
        _: Request<CancelPaymentRequest>,
    ) -> Reply<CancelPaymentResponse> {
        no()
    }
    async fn create_refund(&self, _: Request<CreateRefundRequest>) -> Reply<CreateRefundResponse> {
        no()
    }
    async fn get_refund(&self, _: Request<GetRefundRequest>) -> Reply<GetRefundResponse> {
        no()
    }
    async fn create_customer(
        &self,
        _: Request<CreateCustomerRequest>,
    ) -> Reply<CreateCustomerResponse> {
        no()
    }
    async fn get_customer(&self, _: Request<GetCustomerRequest>) -> Reply<GetCustomerResponse> {
        no()
    }
    async fn create_subscription(
        &self,
        _: Request<CreateSubscriptionRequest>,
    ) -> Reply<CreateSubscriptionResponse> {
        no()
    }
    async fn get_subscription(
        &self,
        _: Request<GetSubscriptionRequest>,
    ) -> Reply<GetSubscriptionResponse> {
        no()
    }
    async fn cancel_subscription(
        &self,
        _: Request<CancelSubscriptionRequest>,
    ) -> Reply<CancelSubscriptionResponse> {
        no()
    }
    async fn create_payout(&self, _: Request<CreatePayoutRequest>) -> Reply<CreatePayoutResponse> {
        no()
    }
    async fn get_payout(&self, _: Request<GetPayoutRequest>) -> Reply<GetPayoutResponse> {
        no()
    }
    async fn get_provider_health(
        &self,
        _: Request<GetProviderHealthRequest>,
    ) -> Reply<GetProviderHealthResponse> {
        no()
    }
}
