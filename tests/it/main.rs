//! Black-box tests: each adapter binary is started as a process on loopback and called over
//! gRPC and HTTP, as an internal service or kubelet would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod config;
mod conformance;
mod events;
mod health;
mod identity;
mod inbox;
mod messaging;
mod payments;
mod paypal;
mod replicas;
mod secrets;
mod square;
mod storage;
mod stripe;
mod webhooks;

use integ_proto::common::v1::Money;
use tonic::Code;
use tonic_types::StatusExt;

/// An amount in `currency`.
pub fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: currency.into(),
    })
}

/// An amount in US dollars.
pub fn usd(amount_minor: i64) -> Option<Money> {
    money(amount_minor, "USD")
}

/// An idempotency key no other test uses: `label` and the time in nanoseconds.
pub fn key(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{label}-{nanos}")
}

/// A payment read back through `GetPayment`.
pub async fn get_payment(
    c: &mut integ_proto::payments::v1::payments_service_client::PaymentsServiceClient<
        tonic::transport::Channel,
    >,
    id: &str,
) -> integ_proto::payments::v1::Payment {
    let request = integ_proto::payments::v1::GetPaymentRequest {
        id: id.into(),
        ..Default::default()
    };
    c.get_payment(request)
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap()
}

/// Header pairs (a signer's output) as a reqwest header map.
pub fn headers(pairs: &[(String, String)]) -> reqwest::header::HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
        .collect()
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// Asserts a status's code and reason.
#[track_caller]
pub fn assert_status(status: &tonic::Status, code: Code, why: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(status), why, "{status:?}");
}
