//! `integ-storage`: reads its configuration from the environment and serves until SIGTERM.

use std::process::ExitCode;

use integ_core::server::{Family, main as adapter_main};

fn main() -> ExitCode {
    adapter_main(
        Family::Storage,
        integ_storage::config::load,
        |config, shutdown| async move {
            integ_storage::run(config, shutdown)
                .await
                .map_err(Into::into)
        },
    )
}
