//! `integ-payments`: reads its configuration from the environment and serves until SIGTERM.

use std::process::ExitCode;

use integ_core::server::{Family, main as adapter_main};

fn main() -> ExitCode {
    adapter_main(
        Family::Payments,
        integ_payments::config::load,
        |config, shutdown| async move {
            integ_payments::run(config, shutdown)
                .await
                .map_err(Into::into)
        },
    )
}
