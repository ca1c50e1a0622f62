//! The HMAC key that signs tfr's own download links: configured, or generated once into
//! `<data_dir>/url-signing.key` (mode 0600).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::TryRngCore;

use crate::config::{MIN_URL_SIGNING_KEY_BYTES, Secret, Settings, URL_SIGNING_KEY_FILE};

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
    if let Some(key) = &settings.url_signing_key {
        return Ok(key.clone());
    }
    let path = settings.data_dir.join(URL_SIGNING_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let key = text.trim_end_matches(['\r', '\n']);
        anyhow::ensure!(
            key.len() >= MIN_URL_SIGNING_KEY_BYTES,
            "{}: the URL signing key must be at least {MIN_URL_SIGNING_KEY_BYTES} bytes; delete the file to generate a new one",
            path.display()
        );
        return Ok(Secret::new(key));
    }
    let key = random_key();
    write_private(&path, format!("{key}\n").as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "generated a new URL signing key; every replica must share one key (set TFR_URL_SIGNING_KEY_FILE), or links signed by one replica fail on another"
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
