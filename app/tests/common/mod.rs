//! Shared setup for the configuration tests (`config`, `config_auth`, `config_mirror`):
//! a clean environment to load settings in, and the "refused, naming this key" check.
#![allow(dead_code, reason = "each test file uses its own part of this module")]

use std::path::Path;

use figment::Jail;
use tfr::config::Settings;

/// Runs `f` with a clean environment in a temporary working directory.
#[allow(
    clippy::result_large_err,
    reason = "figment's Jail fixes the closure's error type"
)]
pub fn jail(f: impl FnOnce(&mut Jail)) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        f(jail);
        Ok(())
    });
}

/// Loads the settings (from `file`, when given, and the environment), expecting a refusal.
pub fn load_err(file: Option<&Path>) -> tfr::ConfigError {
    Settings::load(file).expect_err("configuration should be refused")
}

/// With only `env` set, loading is refused naming `key`, with a message mentioning `mentions`.
pub fn refused(env: &[(&str, &str)], key: &str, mentions: &str) {
    jail(|jail| {
        for (k, v) in env {
            jail.set_env(k, v);
        }
        let err = load_err(None);
        assert_eq!(err.key, key, "{err}");
        assert!(err.message.contains(mentions), "{err}");
    });
}
