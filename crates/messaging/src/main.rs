//! `integ-messaging`: reads its configuration from the environment and serves until SIGTERM.

use std::process::ExitCode;

use integ_core::server::{Family, main as adapter_main};

fn main() -> ExitCode {
    adapter_main(
        Family::Messaging,
        integ_messaging::config::load,
        |config, shutdown| async move {
            integ_messaging::run(config, shutdown)
                .await
                .map_err(Into::into)
        },
    )
}
