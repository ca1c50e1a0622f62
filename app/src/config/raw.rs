//! The raw layer: figment sources, then validation into [`Settings`] with errors that
//! name the key where the user set it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;

use super::values::{byte_size, validate_public_url};
use super::*;

pub const ENV_PREFIX: &str = "TFR_";
const ENV_SOURCE: &str = "environment variable";

/// `TFR_*` variables the CLI reads itself (not settings keys).
const CLI_ENV: &[&str] = &["config", "url", "token", "ca_cert"];

/// The core keys; the identity and mirror keys are extracted separately
/// (`auth::RawAuth`, `mirror::RawMirror`), and unknown keys are caught by
/// [`check_known_keys`].
#[derive(Debug, Default, Deserialize)]
struct RawSettings {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<Secret>,
    database_url_file: Option<PathBuf>,
    public_url: Option<String>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "byte_size")]
    max_module_bytes: Option<u64>,
    #[serde(default, deserialize_with = "byte_size")]
    max_provider_package_bytes: Option<u64>,
    download_url_ttl_secs: Option<u64>,
    read_cache_ttl_secs: Option<u64>,
    api_key_cache_ttl_secs: Option<u64>,
    url_signing_key: Option<Secret>,
    url_signing_key_file: Option<PathBuf>,
    bcrypt_cost: Option<u32>,
    log_format: Option<String>,
}

/// `TFR_*` environment variables as plain strings (figment's own `Env` would turn a
/// numeric-looking secret into a number and lose digits). Numbers are parsed later by
/// `extract_lossy`.
struct EnvStrings;

impl Provider for EnvStrings {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_SOURCE).interpolater(|_profile, keys| {
            format!("{ENV_PREFIX}{}", keys.join("_").to_ascii_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, value) in Env::prefixed(ENV_PREFIX).iter() {
            let key = key.as_str().to_ascii_lowercase();
            if is_known_key(&key) {
                dict.insert(key, Value::from(value));
            } else if !CLI_ENV.contains(&key.as_str()) {
                // Logging is not set up yet; say it plainly.
                eprintln!(
                    "warning: ignoring unknown environment variable {ENV_PREFIX}{}",
                    key.to_ascii_uppercase()
                );
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

pub(super) fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::new(
                "TFR_CONFIG / --config",
                format!("config file {} does not exist", path.display()),
            ));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let figment = figment.merge(EnvStrings);
    check_known_keys(&figment)?;
    let raw: RawSettings = figment.extract_lossy().map_err(figment_error)?;
    let raw_auth: super::auth::RawAuth = figment.extract_lossy().map_err(figment_error)?;
    let raw_mirror: super::mirror::RawMirror = figment.extract_lossy().map_err(figment_error)?;
    let raw_storage: super::storage::RawStorage = figment.extract_lossy().map_err(figment_error)?;
    let validator = Validator { figment: &figment };
    let mut settings = validator.validate(raw)?;
    settings.auth = validator.auth(raw_auth)?;
    settings.mirror = validator.mirror(raw_mirror)?;
    settings.storage = validator.storage(raw_storage)?;
    Ok(settings)
}

/// Loads only storage keys from `path` (the `--to` file of `tfr storage migrate`): any
/// other key is refused, and `TFR_*` variables are not read.
pub(super) fn load_storage_file(path: &Path) -> Result<StorageSettings, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError::new(
            "--to",
            format!("storage settings file {} does not exist", path.display()),
        ));
    }
    let figment = Figment::new().merge(Toml::file_exact(path));
    let data = figment.data().map_err(figment_error)?;
    for dict in data.values() {
        if let Some(key) = dict
            .keys()
            .find(|k| !super::storage::storage_keys().any(|s| s == k.as_str()))
        {
            return Err(ConfigError::new(
                format!("{key} (in {})", path.display()),
                "only storage_* keys belong in a storage settings file",
            ));
        }
    }
    let raw: super::storage::RawStorage = figment.extract_lossy().map_err(figment_error)?;
    Validator { figment: &figment }.storage(raw)
}

/// Core, identity, mirror and storage keys.
fn is_known_key(key: &str) -> bool {
    KEYS.contains(&key) || super::storage::storage_keys().any(|k| k == key)
}

fn known_keys() -> Vec<&'static str> {
    KEYS.iter()
        .copied()
        .chain(super::storage::storage_keys())
        .collect()
}

/// Every key set (in the file; the environment is filtered already) must be a known one.
fn check_known_keys(figment: &Figment) -> Result<(), ConfigError> {
    let data = figment.data().map_err(figment_error)?;
    for dict in data.values() {
        for key in dict.keys() {
            if !is_known_key(key) {
                let where_ = figment
                    .find_metadata(key)
                    .map(|md| label_for(md, key))
                    .unwrap_or_else(|| key.clone());
                return Err(ConfigError::new(
                    where_,
                    format!(
                        "unknown key `{key}` (known keys: {})",
                        known_keys().join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn figment_error(err: figment::Error) -> ConfigError {
    let mut first: Option<ConfigError> = None;
    let mut more = Vec::new();
    for e in err {
        let key = match (&e.metadata, e.path.is_empty()) {
            (_, true) => "config".to_string(),
            (Some(md), false) => label_for(md, &e.path.join(".")),
            (None, false) => e.path.join("."),
        };
        let message = match &e.kind {
            figment::error::Kind::UnknownField(field, _) => {
                format!(
                    "unknown key `{field}` (known keys: {})",
                    known_keys().join(", ")
                )
            }
            kind => kind.to_string(),
        };
        if first.is_none() {
            first = Some(ConfigError::new(key, message));
        } else {
            more.push(format!("{key}: {message}"));
        }
    }
    let mut out = first.unwrap_or_else(|| ConfigError::new("config", "invalid configuration"));
    if !more.is_empty() {
        out.message = format!("{}; {}", out.message, more.join("; "));
    }
    out
}

fn label_for(md: &Metadata, key: &str) -> String {
    if md.name == ENV_SOURCE {
        return md.interpolate(&Profile::Default, &[key]);
    }
    match &md.source {
        Some(figment::Source::File(path)) => format!("{key} (in {})", path.display()),
        _ => key.to_string(),
    }
}

pub(super) struct Validator<'a> {
    figment: &'a Figment,
}

impl Validator<'_> {
    /// How the user wrote `key`: `TFR_LISTEN` when it came from the environment,
    /// `listen (in FILE)` from the file, else the bare key.
    fn key(&self, key: &str) -> String {
        match self.figment.find_metadata(key) {
            Some(md) => label_for(md, key),
            None => key.to_string(),
        }
    }

    pub(super) fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.key(key), message)
    }

    fn validate(&self, raw: RawSettings) -> Result<Settings, ConfigError> {
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            return Err(self.err("data_dir", "must not be empty"));
        }

        let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text
            .trim()
            .parse()
            .map_err(|_| self.err("listen", format!("invalid socket address {listen_text:?} (expected e.g. 127.0.0.1:8080 or [::]:443)")))?;

        let database_url = match (raw.database_url, raw.database_url_file) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "database_url_file",
                    "set either database_url or database_url_file, not both",
                ));
            }
            (Some(url), None) => url.expose().trim().to_string(),
            (None, Some(path)) => self
                .read_secret_file("database_url_file", &path)?
                .expose()
                .to_string(),
            (None, None) => default_database_url(&data_dir),
        };
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| database_url.starts_with(p));
        if !scheme_ok {
            return Err(self.err(
                "database_url",
                format!(
                    "unsupported database URL {:?} (expected sqlite://PATH?mode=rwc or postgres://USER:PASSWORD@HOST/DB)",
                    redact_url(&database_url)
                ),
            ));
        }

        let public_url = raw
            .public_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| validate_public_url(&u).map_err(|m| self.err("public_url", m)))
            .transpose()?;

        let (tls_cert_file, tls_key_file) = match (raw.tls_cert_file, raw.tls_key_file) {
            (Some(cert), Some(key)) => {
                for (name, path) in [("tls_cert_file", &cert), ("tls_key_file", &key)] {
                    if !path.is_file() {
                        return Err(
                            self.err(name, format!("file {} does not exist", path.display()))
                        );
                    }
                }
                (Some(cert), Some(key))
            }
            (Some(_), None) => {
                return Err(self.err("tls_cert_file", format!("is set but {ENV_PREFIX}TLS_KEY_FILE (tls_key_file) is not; set both or neither")));
            }
            (None, Some(_)) => {
                return Err(self.err("tls_key_file", format!("is set but {ENV_PREFIX}TLS_CERT_FILE (tls_cert_file) is not; set both or neither")));
            }
            (None, None) => (None, None),
        };

        let max_module_bytes = raw.max_module_bytes.unwrap_or(DEFAULT_MAX_MODULE_BYTES);
        if max_module_bytes == 0 {
            return Err(self.err("max_module_bytes", "must be greater than 0"));
        }
        let max_provider_package_bytes = raw
            .max_provider_package_bytes
            .unwrap_or(DEFAULT_MAX_PROVIDER_PACKAGE_BYTES);
        if max_provider_package_bytes == 0 {
            return Err(self.err("max_provider_package_bytes", "must be greater than 0"));
        }
        let download_url_ttl_secs = raw
            .download_url_ttl_secs
            .unwrap_or(DEFAULT_DOWNLOAD_URL_TTL_SECS);
        if !(10..=7 * 24 * 3600).contains(&download_url_ttl_secs) {
            return Err(self.err(
                "download_url_ttl_secs",
                format!("{download_url_ttl_secs} is out of range (10 to 604800 seconds)"),
            ));
        }
        let read_cache_ttl_secs = raw
            .read_cache_ttl_secs
            .unwrap_or(DEFAULT_READ_CACHE_TTL_SECS);
        if read_cache_ttl_secs > 3600 {
            return Err(self.err(
                "read_cache_ttl_secs",
                format!("{read_cache_ttl_secs} is out of range (0 to 3600 seconds)"),
            ));
        }
        let api_key_cache_ttl_secs = raw
            .api_key_cache_ttl_secs
            .unwrap_or(DEFAULT_API_KEY_CACHE_TTL_SECS);
        if api_key_cache_ttl_secs > 300 {
            return Err(self.err(
                "api_key_cache_ttl_secs",
                format!("{api_key_cache_ttl_secs} is out of range (0 to 300 seconds)"),
            ));
        }

        let url_signing_key = match (raw.url_signing_key, &raw.url_signing_key_file) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "url_signing_key_file",
                    "set either url_signing_key or url_signing_key_file, not both",
                ));
            }
            (Some(key), None) => Some(key),
            (None, Some(path)) => Some(self.read_secret_file("url_signing_key_file", path)?),
            (None, None) => None,
        };
        if let Some(key) = &url_signing_key
            && key.len() < MIN_URL_SIGNING_KEY_BYTES
        {
            let name = if raw.url_signing_key_file.is_some() {
                "url_signing_key_file"
            } else {
                "url_signing_key"
            };
            return Err(self.err(
                name,
                format!("the URL signing key must be at least {MIN_URL_SIGNING_KEY_BYTES} bytes (got {}); generate one with `openssl rand -base64 32`", key.len()),
            ));
        }

        let bcrypt_cost = raw.bcrypt_cost.unwrap_or(DEFAULT_BCRYPT_COST);
        if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&bcrypt_cost) {
            return Err(self.err(
                "bcrypt_cost",
                format!("{bcrypt_cost} is out of range ({MIN_BCRYPT_COST} to {MAX_BCRYPT_COST})"),
            ));
        }

        let log_format = match raw
            .log_format
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase())
        {
            None => LogFormat::Json,
            Some(f) if f == "json" => LogFormat::Json,
            Some(f) if f == "text" => LogFormat::Text,
            Some(other) => {
                return Err(self.err("log_format", format!("{other:?} is not one of json, text")));
            }
        };

        Ok(Settings {
            data_dir,
            listen,
            database_url,
            public_url,
            tls_cert_file,
            tls_key_file,
            max_module_bytes,
            max_provider_package_bytes,
            download_url_ttl_secs,
            read_cache_ttl_secs,
            api_key_cache_ttl_secs,
            url_signing_key,
            url_signing_key_file: raw.url_signing_key_file,
            bcrypt_cost,
            log_format,
            auth: AuthSettings::default(),
            mirror: MirrorSettings::default(),
            storage: StorageSettings::default(),
        })
    }

    pub(super) fn read_secret_file(&self, key: &str, path: &Path) -> Result<Secret, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| self.err(key, format!("cannot read {}: {e}", path.display())))?;
        let value = text.trim_end_matches(['\r', '\n']);
        if value.is_empty() {
            return Err(self.err(key, format!("{} is empty", path.display())));
        }
        Ok(Secret::new(value))
    }
}
