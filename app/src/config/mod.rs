//! Configuration: defaults, then an optional TOML file (`--config FILE` or `TFR_CONFIG`),
//! then `TFR_` environment variables. Everything is validated at load time and every error
//! names the key that is wrong, as the user spelled it (`TFR_LISTEN` or `listen` in the file).

mod auth;
mod mirror;
mod raw;
mod secret;
mod storage;
mod values;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use auth::{
    AuthSettings, AzureSettings, GroupMappingSetting, JWT_SECRET_FILE, MIN_JWT_SECRET_BYTES,
    OidcSettings,
};
pub use mirror::{
    DEFAULT_MIRROR_API_TIMEOUT_SECS, DEFAULT_MIRROR_CONCURRENCY,
    DEFAULT_MIRROR_DOWNLOAD_TIMEOUT_SECS, DEFAULT_MIRROR_LEASE_SECS,
    DEFAULT_MIRROR_MAX_PACKAGE_BYTES, DEFAULT_MIRROR_METADATA_TTL_SECS,
    DEFAULT_MIRROR_SCHEDULER_INTERVAL_SECS, MirrorSettings,
};
pub use raw::ENV_PREFIX;
pub use secret::{Secret, redact_url};
pub use storage::{
    AzureStorageCredentials, AzureStorageSettings, GcsStorageCredentials, GcsStorageSettings,
    S3StorageSettings, STORAGE_EMULATOR_HOST, StorageSettings, storage_keys,
};

/// Settings keys, as written in the TOML file (env vars are `TFR_` + upper case); the
/// storage keys are listed in `storage.rs` ([`storage_keys`]).
pub const KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "database_url",
    "database_url_file",
    "public_url",
    "tls_cert_file",
    "tls_key_file",
    "max_module_bytes",
    "max_provider_package_bytes",
    "download_url_ttl_secs",
    "read_cache_ttl_secs",
    "api_key_cache_ttl_secs",
    "url_signing_key",
    "url_signing_key_file",
    "bcrypt_cost",
    "log_format",
    "jwt_secret",
    "jwt_secret_file",
    "session_ttl_secs",
    "auth_anonymous_read",
    "auth_bootstrap_admins",
    "auth_default_role",
    "auth_group_mappings",
    "oidc_issuer_url",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_client_secret_file",
    "oidc_display_name",
    "oidc_scopes",
    "oidc_username_claim",
    "oidc_email_claim",
    "oidc_groups_claim",
    "oidc_require_verified_email",
    "azure_tenant_id",
    "azure_client_id",
    "azure_client_secret",
    "azure_client_secret_file",
    "azure_authority_host",
    "azure_groups_claim",
    "azure_display_name",
    "terraform_login_ports",
    "terraform_login_token_ttl_days",
    "cors_allowed_origins",
    "rate_limit_anonymous_per_minute",
    "rate_limit_authenticated_per_minute",
    "rate_limit_failed_auth_per_minute",
    "trust_forwarded_for",
    "mirror_sync_enabled",
    "mirror_scheduler_interval_secs",
    "mirror_concurrency",
    "mirror_lease_secs",
    "mirror_metadata_ttl_secs",
    "mirror_max_package_bytes",
    "mirror_api_timeout_secs",
    "mirror_download_timeout_secs",
    "mirror_extra_ca_files",
];

pub const DEFAULT_DATA_DIR: &str = "./tfr-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_MODULE_BYTES: u64 = 100 * 1024 * 1024;
pub const DEFAULT_MAX_PROVIDER_PACKAGE_BYTES: u64 = 500 * 1024 * 1024;
pub const DEFAULT_DOWNLOAD_URL_TTL_SECS: u64 = 900;
pub const DEFAULT_READ_CACHE_TTL_SECS: u64 = 5;
pub const DEFAULT_API_KEY_CACHE_TTL_SECS: u64 = 15;
pub const DEFAULT_BCRYPT_COST: u32 = 12;
/// The lowest bcrypt cost accepted from configuration (tests use 4 via `for_tests`).
pub const MIN_BCRYPT_COST: u32 = 10;
pub const MAX_BCRYPT_COST: u32 = 31;
/// The shortest URL signing key accepted (HMAC-SHA256 block of entropy).
pub const MIN_URL_SIGNING_KEY_BYTES: usize = 32;
/// The file under the data directory holding the generated URL signing key.
pub const URL_SIGNING_KEY_FILE: &str = "url-signing.key";

/// A configuration error naming the key (`TFR_LISTEN`, or `listen (in tfr.toml)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// The validated, effective configuration.
#[derive(Clone, Serialize)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// May hold a password: printed only through [`redact_url`].
    #[serde(serialize_with = "serialize_redacted_url")]
    pub database_url: String,
    /// Absolute base URL for links (`https://registry.example.com`), without a trailing slash.
    pub public_url: Option<String>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub max_module_bytes: u64,
    pub max_provider_package_bytes: u64,
    pub download_url_ttl_secs: u64,
    /// How long versions lists stay in each replica's memory (0: no cache). Another
    /// replica's publish or delete shows here within this time.
    pub read_cache_ttl_secs: u64,
    /// How long a verified API key is trusted without bcrypt (0: always bcrypt). A key
    /// revoked on another replica keeps working here for at most this long.
    pub api_key_cache_ttl_secs: u64,
    /// The HMAC key for download links (from `url_signing_key` or `url_signing_key_file`).
    /// `None`: generated on first start into `<data_dir>/url-signing.key`.
    pub url_signing_key: Option<Secret>,
    pub url_signing_key_file: Option<PathBuf>,
    pub bcrypt_cost: u32,
    pub log_format: LogFormat,
    /// Identity, sessions, SSO, CORS and rate limits.
    pub auth: AuthSettings,
    /// Provider mirrors: the sync scheduler and the upstream client.
    pub mirror: MirrorSettings,
    /// Where blobs live (`storage_backend` and its keys).
    pub storage: StorageSettings,
}

fn serialize_redacted_url<S: serde::Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("max_module_bytes", &self.max_module_bytes)
            .field(
                "max_provider_package_bytes",
                &self.max_provider_package_bytes,
            )
            .field("download_url_ttl_secs", &self.download_url_ttl_secs)
            .field("read_cache_ttl_secs", &self.read_cache_ttl_secs)
            .field("api_key_cache_ttl_secs", &self.api_key_cache_ttl_secs)
            .field("url_signing_key", &self.url_signing_key)
            .field("url_signing_key_file", &self.url_signing_key_file)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("log_format", &self.log_format)
            .field("auth", &self.auth)
            .field("mirror", &self.mirror)
            .field("storage", &self.storage)
            .finish()
    }
}

impl Settings {
    /// Loads defaults < `config_file` (or `TFR_CONFIG`) < `TFR_*` env vars, and validates.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let from_env = std::env::var_os("TFR_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let file = config_file.map(Path::to_path_buf).or(from_env);
        raw::load(file.as_deref())
    }

    /// Settings for tests: everything under `data_dir` (SQLite file included), listening on
    /// 127.0.0.1:0 without TLS, bcrypt cost 4, text logs, a fresh random signing key, no
    /// scheduled mirror sync (tests sync on demand or turn the scheduler on).
    pub fn for_tests(data_dir: &Path) -> Settings {
        Settings {
            data_dir: data_dir.to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: default_database_url(data_dir),
            public_url: None,
            tls_cert_file: None,
            tls_key_file: None,
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_provider_package_bytes: DEFAULT_MAX_PROVIDER_PACKAGE_BYTES,
            download_url_ttl_secs: DEFAULT_DOWNLOAD_URL_TTL_SECS,
            read_cache_ttl_secs: DEFAULT_READ_CACHE_TTL_SECS,
            api_key_cache_ttl_secs: DEFAULT_API_KEY_CACHE_TTL_SECS,
            url_signing_key: Some(Secret::new(crate::signing_key::random_key())),
            url_signing_key_file: None,
            bcrypt_cost: 4,
            log_format: LogFormat::Text,
            // Tests that exercise rate limiting turn it on themselves.
            auth: AuthSettings {
                jwt_secret: Some(Secret::new(crate::signing_key::random_key())),
                rate_limit_anonymous_per_minute: 0,
                rate_limit_authenticated_per_minute: 0,
                rate_limit_failed_auth_per_minute: 0,
                ..AuthSettings::default()
            },
            mirror: MirrorSettings {
                sync_enabled: false,
                ..MirrorSettings::default()
            },
            storage: StorageSettings::default(),
        }
    }

    /// Loads a storage settings file (only `storage_*` keys, as in the main config), for
    /// `tfr storage migrate --to FILE`.
    pub fn load_storage_file(path: &Path) -> Result<StorageSettings, ConfigError> {
        raw::load_storage_file(path)
    }

    /// Whether the server speaks TLS itself.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_file.is_some() && self.tls_key_file.is_some()
    }

    /// The local backend's directory: `storage_local_dir`, else `<data_dir>/blobs`
    /// (also where it would be for another backend, unused there).
    pub fn blob_dir(&self) -> PathBuf {
        match &self.storage {
            StorageSettings::Local { dir: Some(dir) } => dir.clone(),
            _ => self.data_dir.join("blobs"),
        }
    }

    /// `<data_dir>/staging`: uploads are spooled here before they are checked.
    pub fn staging_dir(&self) -> PathBuf {
        self.data_dir.join("staging")
    }

    /// `<data_dir>/dev-tls`
    pub fn dev_tls_dir(&self) -> PathBuf {
        self.data_dir.join("dev-tls")
    }

    /// The effective configuration as pretty JSON, secrets redacted.
    pub fn to_redacted_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// `sqlite://<data_dir>/tfr.db?mode=rwc`
pub fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("tfr.db").display())
}
