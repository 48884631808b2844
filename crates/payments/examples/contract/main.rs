//! Checks the requests our payment providers build against the providers' published OpenAPI
//! descriptions, by driving the real provider code (config, request builders, headers,
//! encoding, parsing) against Prism mocks of the specs. Run by `scripts/contract-check.sh`:
//!
//! ```text
//! cargo run -p integ-payments --example contract -- stripe http://127.0.0.1:4010
//! cargo run -p integ-payments --example contract -- square http://127.0.0.1:4011
//! cargo run -p integ-payments --example contract -- paypal http://127.0.0.1:4012 http://127.0.0.1:4013
//! ```
//!
//! Every operation of the provider is called once. The provider talks to a recording proxy in
//! this process ([`proxy`]), which forwards to Prism; an operation passes when each of its
//! requests got a 2xx answer without an `sl-violations` header (Prism's report of what the
//! spec does not allow) and the provider read the answer. Any failure is listed and the exit
//! status is 1. Each provider's module says what it adapts and what the spec cannot check.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)] // A CLI check.

mod paypal;
mod proxy;
mod square;
mod stripe;

use std::process::ExitCode;

use anyhow::{Result, bail};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((provider, prisms)) = args.split_first() else {
        eprintln!("usage: contract <stripe|square|paypal> <prism base URL>...");
        return ExitCode::from(64);
    };
    let prisms: Vec<String> = prisms
        .iter()
        .map(|p| p.trim_end_matches('/').to_owned())
        .collect();
    match run(provider, &prisms).await {
        Ok(0) => {
            println!("{provider} contract: every operation conforms to the spec");
            ExitCode::SUCCESS
        }
        Ok(failures) => {
            eprintln!("{provider} contract: {failures} operation(s) do not conform");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{provider} contract: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(provider: &str, prisms: &[String]) -> Result<usize> {
    match (provider, prisms) {
        ("stripe", [prism]) => stripe::check(prism).await,
        ("square", [prism]) => square::check(prism).await,
        ("paypal", [orders, payments]) => paypal::check(orders, payments).await,
        ("stripe" | "square", _) => bail!("{provider} takes one Prism URL"),
        ("paypal", _) => bail!("paypal takes two Prism URLs: Orders v2, then Payments v2"),
        (other, _) => bail!("no contract check for {other:?}"),
    }
}
