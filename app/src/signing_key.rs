//! The HMAC key that signs tfr's own download links: configured, or generated once into
//! `<data_dir>/url-signing.key` (mode 0600).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::TryRngCore;

use crate::config::{
    JWT_SECRET_FILE, MIN_JWT_SECRET_BYTES, MIN_URL_SIGNING_KEY_BYTES, Secret, Settings,
    URL_SIGNING_KEY_FILE,
};

/// 32 random bytes from the operating system, base64-encoded (44 characters).
pub fn random_key() -> String {
    let mut bytes = [0u8; 32];
    if rand::rngs::OsRng.try_fill_bytes(&mut bytes).is_err() {
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
    }
    STANDARD.encode(bytes)
}

/// The configured key, else the one in `<data_dir>/url-signing.key`, created on first use.
pub fn resolve(settings: &Settings) -> anyhow::Result<Secret> {
    resolve_or_generate(
        settings.url_signing_key.as_ref(),
        &settings.data_dir.join(URL_SIGNING_KEY_FILE),
        MIN_URL_SIGNING_KEY_BYTES,
        "URL signing key",
        "TFR_URL_SIGNING_KEY_FILE",
        "links signed by one replica fail on another",
    )
}

/// The session (JWT) secret: configured, else `<data_dir>/jwt-secret`, created on first use.
pub fn resolve_jwt_secret(settings: &Settings) -> anyhow::Result<Secret> {
    resolve_or_generate(
        settings.auth.jwt_secret.as_ref(),
        &settings.data_dir.join(JWT_SECRET_FILE),
        MIN_JWT_SECRET_BYTES,
        "session (JWT) secret",
        "TFR_JWT_SECRET_FILE",
        "sessions made on one replica are refused by another",
    )
}

/// A configured secret, or one kept in `path` (mode 0600), generated on first start with
/// a warning that replicas must share a configured one.
fn resolve_or_generate(
    configured: Option<&Secret>,
    path: &Path,
    min_len: usize,
    what: &str,
    env_key: &str,
    consequence: &str,
) -> anyhow::Result<Secret> {
    if let Some(key) = configured {
        return Ok(key.clone());
    }
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = text.trim_end_matches(['\r', '\n']);
        anyhow::ensure!(
            key.len() >= min_len,
            "{}: the {what} must be at least {min_len} bytes; delete the file to generate a new one",
            path.display()
        );
        return Ok(Secret::new(key));
    }
    let key = random_key();
    write_private(path, format!("{key}\n").as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "generated a new {what}; every replica must share one (set {env_key}), or {consequence}"
    );
    Ok(Secret::new(key))
}

/// Writes a new file readable by its owner only (0600 on Unix). Fails if it exists.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
