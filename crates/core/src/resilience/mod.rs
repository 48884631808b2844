//! Resilience around outbound provider calls: deadline, breaker, rate limit, timeout, retries
//! with backoff and a budget, and failover between the providers of a family.
//!
//! None of this appears inside a provider: providers classify their failures into
//! [`Error`](crate::error::Error)s with a retryable flag, and this module decides what to do.

mod backoff;
mod breaker;
mod budget;
mod deadline;
mod failover;
mod policy;
mod ratelimit;
#[cfg(test)]
mod tests;

pub use backoff::{Backoff, BackoffError};
pub use breaker::{Breaker, BreakerState, Permit};
pub use budget::RetryBudget;
pub use deadline::{Deadline, parse_grpc_timeout};
pub use failover::{Entry, Providers};
pub use policy::{HealthSnapshot, LATENCY_WINDOW, Policy, PolicyConfig, Repeat, Served};
pub use ratelimit::{Limiter, TokioClock};
