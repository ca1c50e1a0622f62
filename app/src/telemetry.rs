//! Logging: `tracing` with JSON or text output and a `RUST_LOG` filter.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber (once; later calls are ignored). `to_stdout` is for the
/// server; commands whose stdout is their output log to stderr. `default_level` applies
/// when `RUST_LOG` is unset or invalid.
pub fn init(format: LogFormat, to_stdout: bool, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let ansi = if to_stdout {
        std::io::stdout().is_terminal()
    } else {
        std::io::stderr().is_terminal()
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let result = match (format, to_stdout) {
        (LogFormat::Json, true) => builder
            .json()
            .with_current_span(false)
            .with_writer(std::io::stdout)
            .try_init(),
        (LogFormat::Json, false) => builder
            .json()
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .try_init(),
        (LogFormat::Text, true) => builder.with_writer(std::io::stdout).try_init(),
        (LogFormat::Text, false) => builder.with_writer(std::io::stderr).try_init(),
    };
    // Already installed (tests, a second call): keep the first.
    drop(result);
}
