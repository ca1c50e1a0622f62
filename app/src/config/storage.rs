//! Blob storage settings: which backend (`storage_backend = local|s3|azure|gcs`) and its
//! keys. Validated here for shape (required keys, pairs, no keys of another backend); the
//! store itself is checked with a real call at startup (`crate::storage`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::raw::Validator;
use super::{ConfigError, Secret};

/// The standard variable Google's clients read to target a GCS emulator.
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";

/// The raw storage keys, as read (extracted beside `raw::RawSettings`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawStorage {
    pub storage_backend: Option<String>,
    pub storage_local_dir: Option<PathBuf>,
    pub storage_s3_bucket: Option<String>,
    pub storage_s3_region: Option<String>,
    pub storage_s3_prefix: Option<String>,
    pub storage_s3_endpoint: Option<String>,
    pub storage_s3_force_path_style: Option<bool>,
    pub storage_s3_access_key_id: Option<String>,
    pub storage_s3_secret_access_key: Option<Secret>,
    pub storage_s3_secret_access_key_file: Option<PathBuf>,
    pub storage_s3_session_token: Option<Secret>,
    pub storage_azure_account: Option<String>,
    pub storage_azure_container: Option<String>,
    pub storage_azure_prefix: Option<String>,
    pub storage_azure_endpoint: Option<String>,
    pub storage_azure_account_key: Option<Secret>,
    pub storage_azure_account_key_file: Option<PathBuf>,
    pub storage_azure_connection_string: Option<Secret>,
    pub storage_azure_connection_string_file: Option<PathBuf>,
    pub storage_azure_managed_identity: Option<bool>,
    pub storage_gcs_bucket: Option<String>,
    pub storage_gcs_prefix: Option<String>,
    pub storage_gcs_endpoint: Option<String>,
    pub storage_gcs_credentials_file: Option<PathBuf>,
    pub storage_gcs_credentials_json: Option<Secret>,
}

/// Where blobs live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum StorageSettings {
    /// A directory (local disk or a mount). `dir: None` is `<data_dir>/blobs`.
    Local {
        dir: Option<PathBuf>,
    },
    S3(S3StorageSettings),
    Azure(AzureStorageSettings),
    Gcs(GcsStorageSettings),
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self::Local { dir: None }
    }
}

impl StorageSettings {
    /// `local`, `s3`, `azure` or `gcs`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::S3(_) => "s3",
            Self::Azure(_) => "azure",
            Self::Gcs(_) => "gcs",
        }
    }

    /// A one-line description without secrets (`s3://bucket/prefix`).
    pub fn describe(&self, data_dir: &std::path::Path) -> String {
        let with_prefix = |scheme: &str, container: &str, prefix: &str| {
            if prefix.is_empty() {
                format!("{scheme}://{container}")
            } else {
                format!("{scheme}://{container}/{prefix}")
            }
        };
        match self {
            Self::Local { dir } => {
                let dir = dir.clone().unwrap_or_else(|| data_dir.join("blobs"));
                format!("local:{}", dir.display())
            }
            Self::S3(s) => with_prefix("s3", &s.bucket, &s.prefix),
            Self::Azure(a) => with_prefix("azure", &a.container, &a.prefix),
            Self::Gcs(g) => with_prefix("gs", &g.bucket, &g.prefix),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3StorageSettings {
    pub bucket: String,
    /// `None`: from the AWS chain (`AWS_REGION`, profile), else us-east-1.
    pub region: Option<String>,
    /// `""` or `a/b`: objects live under `<prefix>/`.
    pub prefix: String,
    /// For S3-compatible stores (MinIO, Ceph, ...).
    pub endpoint: Option<String>,
    pub force_path_style: bool,
    /// Static keys; `None` uses the standard AWS chain (environment, profile, web
    /// identity / IRSA, container and instance roles).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AzureStorageSettings {
    pub account: String,
    pub container: String,
    pub prefix: String,
    /// Blob endpoint, e.g. Azurite's `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: Option<String>,
    pub credentials: AzureStorageCredentials,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AzureStorageCredentials {
    AccountKey(Secret),
    ConnectionString(Secret),
    /// Workload identity (AKS), App Service identity or the VM's identity (IMDS); SAS
    /// links are then user delegation SAS.
    ManagedIdentity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcsStorageSettings {
    pub bucket: String,
    pub prefix: String,
    /// Emulator or private endpoint (`storage_gcs_endpoint`, else `STORAGE_EMULATOR_HOST`).
    pub endpoint: Option<String>,
    pub credentials: GcsStorageCredentials,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GcsStorageCredentials {
    /// Application default credentials (`GOOGLE_APPLICATION_CREDENTIALS`, workload
    /// identity, the metadata server).
    ApplicationDefault,
    ServiceAccountFile(PathBuf),
    ServiceAccountJson(Secret),
    /// No credentials: only with an endpoint (an emulator). No signed URLs.
    Anonymous,
}

/// Every storage key of each backend, to refuse one backend's keys under another.
const S3_KEYS: &[&str] = &[
    "storage_s3_bucket",
    "storage_s3_region",
    "storage_s3_prefix",
    "storage_s3_endpoint",
    "storage_s3_force_path_style",
    "storage_s3_access_key_id",
    "storage_s3_secret_access_key",
    "storage_s3_secret_access_key_file",
    "storage_s3_session_token",
];
const AZURE_KEYS: &[&str] = &[
    "storage_azure_account",
    "storage_azure_container",
    "storage_azure_prefix",
    "storage_azure_endpoint",
    "storage_azure_account_key",
    "storage_azure_account_key_file",
    "storage_azure_connection_string",
    "storage_azure_connection_string_file",
    "storage_azure_managed_identity",
];
const GCS_KEYS: &[&str] = &[
    "storage_gcs_bucket",
    "storage_gcs_prefix",
    "storage_gcs_endpoint",
    "storage_gcs_credentials_file",
    "storage_gcs_credentials_json",
];
const LOCAL_KEYS: &[&str] = &["storage_local_dir"];

/// Every storage key (for `KEYS` and for the `--to` file of `tfr storage migrate`).
pub fn storage_keys() -> impl Iterator<Item = &'static str> {
    std::iter::once("storage_backend")
        .chain(LOCAL_KEYS.iter().copied())
        .chain(S3_KEYS.iter().copied())
        .chain(AZURE_KEYS.iter().copied())
        .chain(GCS_KEYS.iter().copied())
}

impl RawStorage {
    /// The keys that are set, by name.
    fn set_keys(&self) -> Vec<&'static str> {
        let set = [
            ("storage_local_dir", self.storage_local_dir.is_some()),
            ("storage_s3_bucket", self.storage_s3_bucket.is_some()),
            ("storage_s3_region", self.storage_s3_region.is_some()),
            ("storage_s3_prefix", self.storage_s3_prefix.is_some()),
            ("storage_s3_endpoint", self.storage_s3_endpoint.is_some()),
            (
                "storage_s3_force_path_style",
                self.storage_s3_force_path_style.is_some(),
            ),
            (
                "storage_s3_access_key_id",
                self.storage_s3_access_key_id.is_some(),
            ),
            (
                "storage_s3_secret_access_key",
                self.storage_s3_secret_access_key.is_some(),
            ),
            (
                "storage_s3_secret_access_key_file",
                self.storage_s3_secret_access_key_file.is_some(),
            ),
            (
                "storage_s3_session_token",
                self.storage_s3_session_token.is_some(),
            ),
            (
                "storage_azure_account",
                self.storage_azure_account.is_some(),
            ),
            (
                "storage_azure_container",
                self.storage_azure_container.is_some(),
            ),
            ("storage_azure_prefix", self.storage_azure_prefix.is_some()),
            (
                "storage_azure_endpoint",
                self.storage_azure_endpoint.is_some(),
            ),
            (
                "storage_azure_account_key",
                self.storage_azure_account_key.is_some(),
            ),
            (
                "storage_azure_account_key_file",
                self.storage_azure_account_key_file.is_some(),
            ),
            (
                "storage_azure_connection_string",
                self.storage_azure_connection_string.is_some(),
            ),
            (
                "storage_azure_connection_string_file",
                self.storage_azure_connection_string_file.is_some(),
            ),
            (
                "storage_azure_managed_identity",
                self.storage_azure_managed_identity.is_some(),
            ),
            ("storage_gcs_bucket", self.storage_gcs_bucket.is_some()),
            ("storage_gcs_prefix", self.storage_gcs_prefix.is_some()),
            ("storage_gcs_endpoint", self.storage_gcs_endpoint.is_some()),
            (
                "storage_gcs_credentials_file",
                self.storage_gcs_credentials_file.is_some(),
            ),
            (
                "storage_gcs_credentials_json",
                self.storage_gcs_credentials_json.is_some(),
            ),
        ];
        set.into_iter()
            .filter_map(|(key, is_set)| is_set.then_some(key))
            .collect()
    }
}

/// Connection strings hold `Key=Value;` pairs; returns the value of `name`.
fn connection_string_part<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split(';').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

impl Validator<'_> {
    pub(super) fn storage(&self, raw: RawStorage) -> Result<StorageSettings, ConfigError> {
        let backend = raw
            .storage_backend
            .as_deref()
            .map(|b| b.trim().to_ascii_lowercase())
            .unwrap_or_else(|| "local".to_string());
        let own: &[&str] = match backend.as_str() {
            "local" | "fs" => LOCAL_KEYS,
            "s3" => S3_KEYS,
            "azure" => AZURE_KEYS,
            "gcs" => GCS_KEYS,
            other => {
                return Err(self.err(
                    "storage_backend",
                    format!("unknown backend {other:?} (expected local, s3, azure or gcs)"),
                ));
            }
        };
        if let Some(stray) = raw.set_keys().into_iter().find(|k| !own.contains(k)) {
            return Err(self.err(
                stray,
                format!("is set but storage_backend is {backend}; remove it or change the backend"),
            ));
        }
        match backend.as_str() {
            "s3" => self.s3(raw).map(StorageSettings::S3),
            "azure" => self.azure(raw).map(StorageSettings::Azure),
            "gcs" => self.gcs(raw).map(StorageSettings::Gcs),
            _ => {
                if let Some(dir) = &raw.storage_local_dir
                    && dir.as_os_str().is_empty()
                {
                    return Err(self.err("storage_local_dir", "must not be empty"));
                }
                Ok(StorageSettings::Local {
                    dir: raw.storage_local_dir,
                })
            }
        }
    }

    /// `""` or `a/b`: surrounding slashes dropped, no empty, `.` or `..` segments.
    fn prefix(&self, key: &str, value: Option<String>) -> Result<String, ConfigError> {
        let text = value.unwrap_or_default();
        let trimmed = text.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Ok(String::new());
        }
        let valid = trimmed.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
        if !valid {
            return Err(self.err(
                key,
                format!("invalid prefix {text:?} (segments of letters, digits, '-', '_' and '.', separated by '/')"),
            ));
        }
        Ok(trimmed.to_string())
    }

    fn endpoint(&self, key: &str, value: Option<String>) -> Result<Option<String>, ConfigError> {
        let Some(text) = value.map(|v| v.trim().trim_end_matches('/').to_string()) else {
            return Ok(None);
        };
        match url::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(self.err(key, "must not carry credentials in the URL"));
                }
                Ok(Some(text))
            }
            _ => Err(self.err(
                key,
                format!("invalid URL {text:?} (expected http(s)://host[:port][/path])"),
            )),
        }
    }

    fn s3(&self, raw: RawStorage) -> Result<S3StorageSettings, ConfigError> {
        let because = "storage_backend is s3";
        let bucket = self.required("storage_s3_bucket", raw.storage_s3_bucket, because)?;
        // S3's own bucket rules (3-63 of a-z 0-9 . -); S3-compatible stores accept a subset.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(self.err(
                "storage_s3_bucket",
                format!("invalid bucket name {bucket:?} (3-63 of a-z, 0-9, '.', '-')"),
            ));
        }
        let secret = self.secret_pair(
            "storage_s3_secret_access_key",
            raw.storage_s3_secret_access_key,
            "storage_s3_secret_access_key_file",
            raw.storage_s3_secret_access_key_file,
        )?;
        let access_key_id = raw
            .storage_s3_access_key_id
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        match (&access_key_id, &secret) {
            (Some(_), None) => {
                return Err(self.err(
                    "storage_s3_secret_access_key",
                    "is required when storage_s3_access_key_id is set (or storage_s3_secret_access_key_file)",
                ));
            }
            (None, Some(_)) => {
                return Err(self.err(
                    "storage_s3_access_key_id",
                    "is required when a secret access key is set",
                ));
            }
            _ => {}
        }
        if raw.storage_s3_session_token.is_some() && access_key_id.is_none() {
            return Err(self.err(
                "storage_s3_session_token",
                "needs storage_s3_access_key_id and storage_s3_secret_access_key",
            ));
        }
        Ok(S3StorageSettings {
            bucket,
            region: raw
                .storage_s3_region
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
            prefix: self.prefix("storage_s3_prefix", raw.storage_s3_prefix)?,
            endpoint: self.endpoint("storage_s3_endpoint", raw.storage_s3_endpoint)?,
            force_path_style: raw.storage_s3_force_path_style.unwrap_or(false),
            access_key_id,
            secret_access_key: secret,
            session_token: raw.storage_s3_session_token,
        })
    }

    fn azure(&self, raw: RawStorage) -> Result<AzureStorageSettings, ConfigError> {
        let because = "storage_backend is azure";
        let key = self.secret_pair(
            "storage_azure_account_key",
            raw.storage_azure_account_key,
            "storage_azure_account_key_file",
            raw.storage_azure_account_key_file,
        )?;
        let connection = self.secret_pair(
            "storage_azure_connection_string",
            raw.storage_azure_connection_string,
            "storage_azure_connection_string_file",
            raw.storage_azure_connection_string_file,
        )?;
        let managed = raw.storage_azure_managed_identity.unwrap_or(false);
        if managed && (key.is_some() || connection.is_some()) {
            return Err(self.err(
                "storage_azure_managed_identity",
                "set either a managed identity or an account key / connection string, not both",
            ));
        }
        let (credentials, from_connection) = match (key, connection) {
            (None, None) if managed => (AzureStorageCredentials::ManagedIdentity, None),
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "storage_azure_connection_string",
                    "set either storage_azure_account_key or storage_azure_connection_string, not both",
                ));
            }
            (Some(key), None) => (AzureStorageCredentials::AccountKey(key), None),
            (None, Some(conn)) => {
                let text = conn.expose();
                let account = connection_string_part(text, "AccountName").map(str::to_string);
                let has_key = connection_string_part(text, "AccountKey").is_some();
                if account.is_none() || !has_key {
                    return Err(self.err(
                        "storage_azure_connection_string",
                        "must contain AccountName and AccountKey",
                    ));
                }
                let endpoint = connection_string_part(text, "BlobEndpoint").map(str::to_string);
                (
                    AzureStorageCredentials::ConnectionString(conn),
                    Some((account, endpoint)),
                )
            }
            (None, None) => {
                return Err(self.err(
                    "storage_azure_account_key",
                    format!("is required when {because} (or storage_azure_account_key_file, storage_azure_connection_string, or storage_azure_managed_identity = true)"),
                ));
            }
        };
        let (conn_account, conn_endpoint) = from_connection.unwrap_or((None, None));
        let account = match (raw.storage_azure_account, conn_account) {
            (Some(a), _) => a.trim().to_string(),
            (None, Some(a)) => a,
            (None, None) => String::new(),
        };
        let account_ok = (3..=24).contains(&account.len())
            && account
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !account_ok {
            return Err(self.err(
                "storage_azure_account",
                if account.is_empty() {
                    format!("is required when {because}")
                } else {
                    format!("invalid account name {account:?} (3-24 of a-z, 0-9)")
                },
            ));
        }
        let container = self.required(
            "storage_azure_container",
            raw.storage_azure_container,
            because,
        )?;
        let container_ok = (3..=63).contains(&container.len())
            && container
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !container.starts_with('-')
            && !container.contains("--");
        if !container_ok {
            return Err(self.err(
                "storage_azure_container",
                format!("invalid container name {container:?} (3-63 of a-z, 0-9, single '-')"),
            ));
        }
        let endpoint = self.endpoint(
            "storage_azure_endpoint",
            raw.storage_azure_endpoint.or(conn_endpoint),
        )?;
        Ok(AzureStorageSettings {
            account,
            container,
            prefix: self.prefix("storage_azure_prefix", raw.storage_azure_prefix)?,
            endpoint,
            credentials,
        })
    }

    fn gcs(&self, raw: RawStorage) -> Result<GcsStorageSettings, ConfigError> {
        let because = "storage_backend is gcs";
        let bucket = self.required("storage_gcs_bucket", raw.storage_gcs_bucket, because)?;
        let bucket_ok = (3..=222).contains(&bucket.len())
            && bucket.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
            });
        if !bucket_ok {
            return Err(self.err(
                "storage_gcs_bucket",
                format!("invalid bucket name {bucket:?} (a-z, 0-9, '.', '-', '_')"),
            ));
        }
        let endpoint_raw = raw.storage_gcs_endpoint.or_else(|| {
            std::env::var(STORAGE_EMULATOR_HOST)
                .ok()
                .filter(|v| !v.trim().is_empty())
        });
        let endpoint = self.endpoint("storage_gcs_endpoint", endpoint_raw)?;
        let credentials = match (
            raw.storage_gcs_credentials_file,
            raw.storage_gcs_credentials_json,
        ) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "storage_gcs_credentials_json",
                    "set either storage_gcs_credentials_file or storage_gcs_credentials_json, not both",
                ));
            }
            (Some(path), None) => {
                if !path.is_file() {
                    return Err(self.err(
                        "storage_gcs_credentials_file",
                        format!("file {} does not exist", path.display()),
                    ));
                }
                GcsStorageCredentials::ServiceAccountFile(path)
            }
            (None, Some(json)) => {
                if serde_json::from_str::<serde_json::Value>(json.expose()).is_err() {
                    return Err(self.err("storage_gcs_credentials_json", "is not valid JSON"));
                }
                GcsStorageCredentials::ServiceAccountJson(json)
            }
            (None, None) if endpoint.is_some() => GcsStorageCredentials::Anonymous,
            (None, None) => GcsStorageCredentials::ApplicationDefault,
        };
        Ok(GcsStorageSettings {
            bucket,
            prefix: self.prefix("storage_gcs_prefix", raw.storage_gcs_prefix)?,
            endpoint,
            credentials,
        })
    }
}
