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

use tonic::Code;
use tonic_types::StatusExt;

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
