//! What every integ adapter stands on.
//!
//! # Layout
//! - [`config`]: typed settings from the environment and mounted files; exit 64 on bad input.
//! - [`seal`]: AES-256-GCM for stored records that hold credentials.
//! - [`secret`]: credentials that cannot be printed, re-read when their file rotates.
//! - [`error`]: the neutral error kind with a retryable flag, and its one mapping to gRPC.
//! - [`resilience`]: deadline, breaker, rate limit, timeout, retries with backoff and a budget,
//!   failover between the providers of a family.
//! - [`http`]: the one pooled outbound HTTP client and transport-failure classification.
//! - [`store`]: SQLite or PostgreSQL, migrations, idempotency records, sandbox records.
//! - [`idempotent`]: running a mutating RPC once per idempotency key.
//! - [`telemetry`]: JSON logs with one completion line per RPC, Prometheus metrics, OTLP.
//! - [`server`]: ports, health, reflection, start-up and graceful shutdown.
//! - [`events`]: the durable inbox, consumer groups and at-least-once delivery.
//! - [`webhook`]: receiving providers' webhooks: signature schemes, normalisers, the route.
//! - [`ids`]: prefixed ids we mint.
//! - [`money`]: ISO 4217 currencies, exponents and validation.
//! - [`time`]: RFC 3339 date-times and calendar dates as providers write them.
//!
//! # How a call flows
//! A family service (in its own crate) validates the request, then calls its providers through
//! [`resilience::Providers::call`], inside [`idempotent::once`] when the RPC mutates. The
//! provider speaks its wire protocol and classifies failures into [`error::Error`]; the policy
//! retries or fails over on the flags alone; the service maps the result to its response, or
//! the error to a `tonic::Status` with details.

pub mod config;
pub mod error;
pub mod events;
pub mod family;
pub mod http;
pub mod idempotent;
pub mod ids;
pub mod money;
pub mod resilience;
pub mod seal;
pub mod secret;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod webhook;

pub use error::{Error, Kind, Result};
