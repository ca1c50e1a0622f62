//! Opens the configured blob store and checks it with a real call before anything is
//! served: a missing bucket or a refused credential stops startup with an error naming
//! the setting to fix.

use std::path::Path;
use std::sync::Arc;

use tfr_blob_azure::{AzureBlobStore, AzureConfig, AzureCredentials};
use tfr_blob_fs::FsBlobStore;
use tfr_blob_gcs::{GcsBlobStore, GcsConfig, GcsCredentials};
use tfr_blob_s3::{S3BlobStore, S3Config, S3Credentials};
use tfr_ports::driven::{BlobStore, StoreCheckError};

use crate::config::{AzureStorageCredentials, ConfigError, GcsStorageCredentials, StorageSettings};

/// Builds the store `settings` describe (`data_dir` places the local backend by default)
/// and runs its startup check. Errors are [`ConfigError`]s naming the key.
pub async fn open_checked(
    settings: &StorageSettings,
    data_dir: &Path,
) -> Result<Arc<dyn BlobStore>, ConfigError> {
    let store = open(settings, data_dir).await?;
    if let Err(err) = store.check_writable().await {
        return Err(check_failure(settings, &err));
    }
    tracing::info!(
        backend = settings.backend(),
        store = %settings.describe(data_dir),
        "blob store ready"
    );
    Ok(store)
}

/// Builds the store without checking it.
pub async fn open(
    settings: &StorageSettings,
    data_dir: &Path,
) -> Result<Arc<dyn BlobStore>, ConfigError> {
    Ok(match settings {
        StorageSettings::Local { dir } => {
            let dir = dir.clone().unwrap_or_else(|| data_dir.join("blobs"));
            let store = FsBlobStore::new(dir.clone()).map_err(|e| {
                ConfigError::new(
                    env_key("storage_local_dir"),
                    format!("cannot open the blob directory {}: {e}", dir.display()),
                )
            })?;
            Arc::new(store)
        }
        StorageSettings::S3(s3) => {
            let credentials = match (&s3.access_key_id, &s3.secret_access_key) {
                (Some(id), Some(secret)) => S3Credentials::Static {
                    access_key_id: id.clone(),
                    secret_access_key: secret.expose().to_string(),
                    session_token: s3.session_token.as_ref().map(|t| t.expose().to_string()),
                },
                _ => S3Credentials::Chain,
            };
            let config = S3Config {
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                prefix: s3.prefix.clone(),
                endpoint: s3.endpoint.clone(),
                force_path_style: s3.force_path_style,
                credentials,
            };
            let store = S3BlobStore::connect(config)
                .await
                .map_err(|e| ConfigError::new(env_key("storage_backend"), e.to_string()))?;
            Arc::new(store)
        }
        StorageSettings::Azure(az) => {
            let credentials = match &az.credentials {
                AzureStorageCredentials::AccountKey(key) => {
                    AzureCredentials::AccountKey(key.expose().to_string())
                }
                AzureStorageCredentials::ConnectionString(conn) => {
                    AzureCredentials::ConnectionString(conn.expose().to_string())
                }
                AzureStorageCredentials::ManagedIdentity => AzureCredentials::ManagedIdentity,
            };
            let config = AzureConfig {
                account: az.account.clone(),
                container: az.container.clone(),
                prefix: az.prefix.clone(),
                endpoint: az.endpoint.clone(),
                credentials,
            };
            let store = AzureBlobStore::new(config)
                .map_err(|e| ConfigError::new(credentials_key(settings), e.to_string()))?;
            Arc::new(store)
        }
        StorageSettings::Gcs(gcs) => {
            let credentials = match &gcs.credentials {
                GcsStorageCredentials::ApplicationDefault => GcsCredentials::ApplicationDefault,
                GcsStorageCredentials::ServiceAccountFile(path) => {
                    GcsCredentials::ServiceAccountFile(path.clone())
                }
                GcsStorageCredentials::ServiceAccountJson(json) => {
                    GcsCredentials::ServiceAccountJson(json.expose().to_string())
                }
                GcsStorageCredentials::Anonymous => GcsCredentials::Anonymous,
            };
            let config = GcsConfig {
                bucket: gcs.bucket.clone(),
                prefix: gcs.prefix.clone(),
                endpoint: gcs.endpoint.clone(),
                credentials,
            };
            let store = GcsBlobStore::connect(config)
                .await
                .map_err(|e| ConfigError::new(credentials_key(settings), e.to_string()))?;
            Arc::new(store)
        }
    })
}

/// `TFR_STORAGE_S3_BUCKET (storage_s3_bucket)`: both spellings, since the value may come
/// from the environment or the file.
fn env_key(key: &str) -> String {
    format!("TFR_{} ({key})", key.to_ascii_uppercase())
}

/// The key(s) holding the credentials `settings` use.
fn credentials_key(settings: &StorageSettings) -> String {
    match settings {
        StorageSettings::Local { .. } => env_key("storage_local_dir"),
        StorageSettings::S3(s3) if s3.access_key_id.is_some() => format!(
            "{} / {}",
            env_key("storage_s3_access_key_id"),
            env_key("storage_s3_secret_access_key")
        ),
        StorageSettings::S3(_) => "the AWS credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, instance role; or set TFR_STORAGE_S3_ACCESS_KEY_ID)".to_string(),
        StorageSettings::Azure(az) => match az.credentials {
            AzureStorageCredentials::AccountKey(_) => env_key("storage_azure_account_key"),
            AzureStorageCredentials::ConnectionString(_) => {
                env_key("storage_azure_connection_string")
            }
            AzureStorageCredentials::ManagedIdentity => format!(
                "the managed identity ({}; it needs the Storage Blob Data Contributor role)",
                env_key("storage_azure_managed_identity")
            ),
        },
        StorageSettings::Gcs(gcs) => match gcs.credentials {
            GcsStorageCredentials::ServiceAccountFile(_) => {
                env_key("storage_gcs_credentials_file")
            }
            GcsStorageCredentials::ServiceAccountJson(_) => {
                env_key("storage_gcs_credentials_json")
            }
            GcsStorageCredentials::ApplicationDefault => "the application default credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity; or set TFR_STORAGE_GCS_CREDENTIALS_FILE)".to_string(),
            GcsStorageCredentials::Anonymous => env_key("storage_gcs_credentials_file"),
        },
    }
}

/// The startup check's failure as an error naming the key to fix.
fn check_failure(settings: &StorageSettings, err: &StoreCheckError) -> ConfigError {
    let (bucket_key, place_key) = match settings {
        StorageSettings::Local { .. } => ("storage_local_dir", "storage_local_dir"),
        StorageSettings::S3(s3) => (
            "storage_s3_bucket",
            if s3.endpoint.is_some() {
                "storage_s3_endpoint"
            } else {
                "storage_s3_region"
            },
        ),
        StorageSettings::Azure(az) => (
            "storage_azure_container",
            if az.endpoint.is_some() {
                "storage_azure_endpoint"
            } else {
                "storage_azure_account"
            },
        ),
        StorageSettings::Gcs(_) => ("storage_gcs_bucket", "storage_gcs_endpoint"),
    };
    let backend = settings.backend();
    match err {
        StoreCheckError::BucketMissing(_) => ConfigError::new(
            env_key(bucket_key),
            format!("{err} ({backend} storage check at startup); create it or fix the name"),
        ),
        StoreCheckError::CredentialsRejected(_) => ConfigError::new(
            credentials_key(settings),
            format!("{err} ({backend} storage check at startup)"),
        ),
        StoreCheckError::AccessDenied(_) => ConfigError::new(
            credentials_key(settings),
            format!(
                "{err} ({backend} storage check at startup: the credentials need read, write and delete on {})",
                env_key(bucket_key)
            ),
        ),
        StoreCheckError::Unreachable(_) => ConfigError::new(
            env_key(place_key),
            format!("{err} ({backend} storage check at startup)"),
        ),
        StoreCheckError::Other(_) => ConfigError::new(
            env_key(bucket_key),
            format!("{err} ({backend} storage check at startup)"),
        ),
    }
}
