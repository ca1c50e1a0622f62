//! The `tfr` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Several crates compile rustls with different crypto providers; choose one for the
    // whole process before anything builds a TLS config.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = tfr::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(tfr::cli::run(cli))
}
