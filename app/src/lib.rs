//! tfr: the application crate. Configuration, wiring of adapters into use cases, the
//! server, the CLI and telemetry. The black-box tests start the server through
//! [`start`] with [`Settings::for_tests`].

pub mod cli;
pub mod config;
pub mod dev_tls;
pub mod keys;
pub mod publish;
pub mod server;
pub mod signing_key;
pub mod sso;
pub mod storage;
pub mod storage_migrate;
pub mod telemetry;
pub mod wiring;

pub use config::{ConfigError, LogFormat, Secret, Settings};
pub use keys::create_api_key;
pub use server::{RunningServer, start};
