//! `saga-local`: runs the local cloud until Ctrl-C or SIGTERM. See
//! `saga-local --help` and the crate docs.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match saga_local::cli::run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("saga-local: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
